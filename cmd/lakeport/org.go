package main

import (
	"fmt"

	"github.com/spf13/cobra"

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

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens of your organization"}
	var role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token for your organization (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.CreateToken(cmd.Context(), store.Role(role))
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			fmt.Fprintf(g.stdout, "created a %s token for organization %s (shown once, keep it secret):\n%s\n", out.Role, out.Org.Name, out.Token)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "member", "admin or member")
	cmd.AddCommand(create)
	return cmd
}
