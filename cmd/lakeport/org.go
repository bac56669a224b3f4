package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/store"
)

func newOrgCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organizations (the install's operator)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create an organization and print its first admin token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.CreateOrg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			fmt.Fprintf(g.stdout, "created organization %s (%s)\nits first admin token (shown once, keep it secret):\n%s\n", out.Org.Name, out.Org.ID, out.AdminToken)
			return nil
		},
	})
	return cmd
}

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage console users of your organization (admins)"}
	var role, passwordFile string
	create := &cobra.Command{
		Use:   "create NAME [--role admin|member] [--password-file FILE]",
		Short: "Create a user who signs in to the web console with a name and password",
		Long:  "The password is read from --password-file, or from standard input (one line). It is stored only as a bcrypt hash.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw []byte
			var err error
			if passwordFile != "" {
				raw, err = os.ReadFile(passwordFile)
			} else {
				raw, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1024))
			}
			if err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
			password := strings.TrimRight(string(raw), "\r\n")
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), api.CreateUserRequest{Name: args[0], Password: password, Role: store.Role(role)})
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(u)
			}
			fmt.Fprintf(g.stdout, "created %s %s in organization %s: they sign in to the console with this name and password\n", u.Role, u.Name, u.Org.Name)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "member", "admin or member")
	create.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (default: standard input)")
	cmd.AddCommand(create)
	return cmd
}
