package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/store"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens of your organization"}
	var role, name, expires string
	create := &cobra.Command{
		Use:   "create [--role admin|member] [--name NAME] [--expires 30d|2030-01-31]",
		Short: "Create an API token for your organization (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := api.CreateTokenRequest{Role: store.Role(role), Name: name}
			if expires != "" {
				at, err := parseExpires(expires, time.Now())
				if err != nil {
					return err
				}
				req.ExpiresAt = &at
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.CreateTokenWith(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			until := "does not expire"
			if out.ExpiresAt != nil {
				until = "expires " + out.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(g.stdout, "created %s token %s for organization %s (%s; shown once, keep it secret):\n%s\n", out.Role, out.ID, out.Org.Name, until, out.Token)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "member", "admin or member")
	create.Flags().StringVar(&name, "name", "", "what the token is for, shown by token list (e.g. ci, ann-laptop)")
	create.Flags().StringVar(&expires, "expires", "", "when it stops working: a duration (90d, 12h) or a date (2030-01-31, or RFC 3339); default never")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens: an admin sees the organization's, a member their own (never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tokens, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(tokens)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tKIND\tCREATED\tLAST USED\tEXPIRES\t")
			now := time.Now()
			for _, t := range tokens {
				id := t.ID
				if t.Current {
					id += " (this one)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", id, orDash(t.Name), t.Role, t.Kind, t.CreatedAt.UTC().Format(time.RFC3339),
					whenOr(t.LastUsedAt, "never"), expiry(t.ExpiresAt, now))
			}
			return w.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (and the console sessions signed in with it): admins any of the organization's, members their own",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			fmt.Fprintf(g.stdout, "revoked token %s: it no longer works, nor do console sessions signed in with it\n", out.ID)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// parseExpires reads --expires: a duration from now (Go's, plus d for days and w for
// weeks: 90d, 2w, 12h) or a time (2030-01-31, or RFC 3339). It must be in the future.
func parseExpires(s string, now time.Time) (time.Time, error) {
	bad := fmt.Errorf("--expires %q: give a duration such as 90d, 2w or 12h, or a date such as 2030-01-31 (or an RFC 3339 time)", s)
	var at time.Time
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); n != s && (unit == "d" || unit == "w") {
		k, err := strconv.Atoi(n)
		if err != nil || k <= 0 {
			return time.Time{}, bad
		}
		days := k
		if unit == "w" {
			days = 7 * k
		}
		at = now.AddDate(0, 0, days)
	} else if d, err := time.ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		at = t
	} else {
		return time.Time{}, bad
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("--expires %q is not in the future", s)
	}
	return at.UTC(), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func whenOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

func expiry(t *time.Time, now time.Time) string {
	switch {
	case t == nil:
		return "never"
	case t.Before(now):
		return "expired " + t.UTC().Format(time.RFC3339)
	default:
		return t.UTC().Format(time.RFC3339)
	}
}
