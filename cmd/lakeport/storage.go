package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/storage/policy"
	"github.com/lakeport/lakeport/validation"
)

func newStorageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "storage", Short: "Where your organization's data lives: managed, or your own S3 bucket"}
	cmd.AddCommand(storageShowCmd(g), storagePolicyCmd(g), storageReviewCmd(g), storageTestCmd(g, false), storageTestCmd(g, true), storageManagedCmd(g), storageMigrateCmd(g))
	return cmd
}

func storageShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the storage setting and the values to put in your AWS account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.Storage(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "mode:\t%s\n", v.Mode)
			if s := v.Setting; s != nil {
				fmt.Fprintf(w, "bucket:\t%s\nregion:\t%s\n", s.Bucket, s.Region)
				for _, kv := range [][2]string{{"role ARN", s.RoleARN}, {"KMS key ARN", s.KMSKeyARN}, {"endpoint", s.Endpoint}, {"access key ID", s.AccessKeyID}} {
					if kv[1] != "" {
						fmt.Fprintf(w, "%s:\t%s\n", kv[0], kv[1])
					}
				}
				if v.SecretAccessKeySet {
					fmt.Fprintf(w, "secret access key:\t(set, encrypted at rest)\n")
				}
			}
			if v.ValidatedAt != nil {
				fmt.Fprintf(w, "last validated:\t%s\n", v.ValidatedAt.Local().Format(time.RFC3339))
			}
			if h := v.Health; h != nil {
				if h.OK {
					fmt.Fprintf(w, "health:\tok (checked %s)\n", h.CheckedAt.Local().Format(time.RFC3339))
				} else {
					fmt.Fprintf(w, "health:\tFAILING since the check at %s: %s (%s)\n", h.CheckedAt.Local().Format(time.RFC3339), h.Message, h.Cause)
					fmt.Fprintf(w, "\tsyncs are paused until it passes; lakeport storage test shows the details\n")
				}
			}
			fmt.Fprintf(w, "\nfor your IAM role's trust policy:\t\n")
			fmt.Fprintf(w, "  platform AWS account ID:\t%s\n", orUnset(v.Platform.AccountID))
			fmt.Fprintf(w, "  sync workers' principal ARN:\t%s\n", orUnset(v.Platform.WorkerPrincipalARN))
			fmt.Fprintf(w, "  your external ID:\t%s\n", v.ExternalID)
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "\nlakeport storage policy --bucket BUCKET prints both IAM documents, ready to paste.")
			return nil
		},
	}
}

func orUnset(s string) string {
	if s == "" {
		return "(not configured by this install's operator)"
	}
	return s
}

func storagePolicyCmd(g *globals) *cobra.Command {
	var bucket, key, format, roleName string
	cmd := &cobra.Command{
		Use:   "policy [--format json|terraform|cloudformation]",
		Short: "Print the IAM permission policy and trust policy for your bucket, or the whole setup as Terraform or CloudFormation",
		Long: `Without --format: both IAM documents, ready to paste. With --format: the role, both
policies (with the KMS statement when a key is given) and the bucket's recommended settings
(Block Public Access on, ACLs off, TLS only, default SSE-KMS with the key) as one JSON
document, a Terraform configuration (hashicorp/aws) or a CloudFormation template to apply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.StoragePolicy(cmd.Context(), bucket, key)
			if err != nil {
				return err
			}
			if format != "" {
				out, err := policy.Render(format, policy.Setup{Bucket: p.Bucket, KMSKeyARN: p.KMSKeyARN, RoleName: roleName,
					Trust: p.TrustPolicy, Permissions: p.PermissionPolicy})
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(out)
				return err
			}
			if g.json {
				return g.printJSON(p)
			}
			perm, _ := json.MarshalIndent(p.PermissionPolicy, "", "  ")
			trust, _ := json.MarshalIndent(p.TrustPolicy, "", "  ")
			fmt.Fprintf(g.stdout, "# Permission policy: attach it to the IAM role lakeport assumes (bucket %s)\n%s\n\n", p.Bucket, perm)
			fmt.Fprintf(g.stdout, "# Trust policy: set it as the role's trust relationship\n%s\n", trust)
			fmt.Fprintf(g.stdout, "\n# lakeport storage review checks your edited documents; --format terraform|cloudformation writes the whole setup.\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&bucket, "bucket", "", "bucket name (default: the saved bucket)")
	cmd.Flags().StringVar(&key, "kms-key-arn", "", "KMS key ARN when the bucket uses SSE-KMS")
	cmd.Flags().StringVar(&format, "format", "", "json, terraform or cloudformation: the role, both policies and the bucket's settings")
	cmd.Flags().StringVar(&roleName, "role-name", policy.DefaultRoleName, "the IAM role's name in --format output")
	return cmd
}

func storageTestCmd(g *globals, save bool) *cobra.Command {
	var s storage.Setting
	use, short := "test", "Run Test connection against a bucket without saving anything"
	if save {
		use, short = "save", "Run Test connection and save the setting only when it passes (admins)"
	}
	cmd := &cobra.Command{
		Use:   use + " --bucket B --region R (--role-arn ARN | --endpoint URL --access-key-id K --secret-access-key S) [--kms-key-arn ARN]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if !save {
				if g.json {
					report, err := c.TestStorage(cmd.Context(), s)
					if err != nil {
						return err
					}
					return g.printReport(report, "")
				}
				// One line per step as it finishes.
				report, err := c.TestStorageEvents(cmd.Context(), s, func(st validation.Step) {
					printSteps(g.stdout, validation.Report{Steps: []validation.Step{st}})
				})
				if err != nil {
					return err
				}
				printSteps(g.stdout, validation.Report{Warnings: report.Warnings})
				if report.OK {
					fmt.Fprintln(g.stdout, "\nTest connection passed.")
					return nil
				}
				fmt.Fprintln(g.stdout, "\nTest connection failed.")
				return exitError{1}
			}
			out, err := c.SaveStorage(cmd.Context(), s)
			if e, ok := client.AsError(err); ok && e.Body.Report != nil {
				return g.printReport(*e.Body.Report, "not saved: Test connection failed; fix the failing step and run save again")
			}
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			printSteps(g.stdout, out.Report)
			fmt.Fprintf(g.stdout, "\nsaved: organization data now goes to s3://%s/ (%s)\n", out.Storage.Setting.Bucket, out.Storage.Setting.Region)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Bucket, "bucket", "", "bucket name")
	f.StringVar(&s.Region, "region", "", "bucket region, e.g. eu-west-1")
	f.StringVar(&s.RoleARN, "role-arn", "", "IAM role lakeport assumes (AWS buckets)")
	f.StringVar(&s.KMSKeyARN, "kms-key-arn", "", "KMS key ARN for SSE-KMS")
	f.StringVar(&s.Endpoint, "endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph, R2; no STS)")
	f.StringVar(&s.AccessKeyID, "access-key-id", "", "access key ID (S3-compatible endpoints)")
	f.StringVar(&s.SecretAccessKey, "secret-access-key", "", "secret access key (S3-compatible endpoints)")
	return cmd
}

// printReport prints a Test connection report and turns a failing one into exit code 1.
func (g *globals) printReport(r validation.Report, failed string) error {
	if g.json {
		if err := g.printJSON(r); err != nil {
			return err
		}
	} else {
		printSteps(g.stdout, r)
		if r.OK {
			fmt.Fprintln(g.stdout, "\nTest connection passed.")
		} else if failed != "" {
			fmt.Fprintln(g.stdout, "\n"+failed)
		} else {
			fmt.Fprintln(g.stdout, "\nTest connection failed.")
		}
	}
	if !r.OK {
		return exitError{1}
	}
	return nil
}

func printSteps(w io.Writer, r validation.Report) {
	for _, s := range r.Steps {
		mark := map[validation.Status]string{validation.StatusPassed: "ok  ", validation.StatusFailed: "FAIL", validation.StatusSkipped: "skip"}[s.Status]
		line := fmt.Sprintf("%s  %-9s %-14s %6dms", mark, s.Principal, s.Name, s.DurationMS)
		if s.Message != "" {
			line += "  " + s.Message
		}
		fmt.Fprintln(w, line)
		if s.ErrorCode != "" || s.RequestID != "" {
			var parts []string
			if s.ErrorCode != "" {
				parts = append(parts, "AWS error "+s.ErrorCode)
			}
			if s.RequestID != "" {
				parts = append(parts, "request ID "+s.RequestID)
			}
			fmt.Fprintln(w, "      "+strings.Join(parts, ", "))
		}
		if s.Hint != "" {
			for _, l := range strings.Split(s.Hint, "\n") {
				fmt.Fprintln(w, "      check: "+l)
			}
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "WARNING: "+warn)
	}
}

func storageManagedCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "use-managed",
		Short: "Switch back to the platform's managed storage (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.UseManaged(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			fmt.Fprintln(g.stdout, "storage mode is now managed: new data goes to the platform's warehouse")
			fmt.Fprintln(g.stdout, "connectors still write where they were set up: lakeport storage migrate moves their tables here without a re-sync")
			return nil
		},
	}
}

func storageMigrateCmd(g *globals) *cobra.Command {
	var deleteSource bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move every connector's tables to the storage saved last, without a re-sync (admins)",
		Long: `Moves every connector bound to an earlier storage to the organization's current one:
copies its data files, rewrites its table metadata for the new place, checks the copy
(rows, files, checksums), registers the tables there and switches the connector. Its
next sync goes on incrementally from the migrated state. Syncs of a connector wait while
it moves; run the command again to resume a migration that stopped. --delete-source
deletes each old copy after its connector moved, only under the connector's own prefix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			onEvent := func(e migration.Event) {
				if g.json {
					return
				}
				where := e.Connector
				if e.Table != "" {
					where += "." + e.Table
				}
				fmt.Fprintf(g.stdout, "%-24s %s\n", where, e.Message)
			}
			rep, err := c.MigrateStorage(cmd.Context(), deleteSource, onEvent)
			if g.json {
				if jerr := g.printJSON(rep); jerr != nil {
					return jerr
				}
				return err
			}
			for _, cr := range rep.Connectors {
				line := fmt.Sprintf("%-24s %s", cr.Connector, cr.State)
				switch cr.State {
				case migration.StateAlreadyThere, migration.StateRolledBack:
					line += " (" + cr.To + ")"
				default:
					line += fmt.Sprintf(": %s -> %s, %d tables", cr.From, cr.To, len(cr.Tables))
					var rows int64
					for _, t := range cr.Tables {
						rows += t.Rows
					}
					line += fmt.Sprintf(", %d rows checked", rows)
				}
				if cr.SourceObjectsDeleted > 0 {
					line += fmt.Sprintf(", %d old objects deleted", cr.SourceObjectsDeleted)
				}
				if cr.Error != "" {
					line += "\n    " + cr.Error
				}
				fmt.Fprintln(g.stdout, line)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&deleteSource, "delete-source", false, "after each connector moved, delete its old copy (only under its own prefix, after reading its owner marker)")
	return cmd
}
