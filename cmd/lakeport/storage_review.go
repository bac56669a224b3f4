package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/storage/policy/review"
)

// maxPolicyFile bounds a policy file; IAM's largest documents are a few KB.
const maxPolicyFile = 256 << 10

func storageReviewCmd(g *globals) *cobra.Command {
	var req api.ReviewRequest
	var trust, perms, bucketPolicy, keyPolicy string
	cmd := &cobra.Command{
		Use:   "review --role-arn ARN --trust-policy FILE --permission-policy FILE [--bucket-policy FILE] [--kms-key-policy FILE]",
		Short: "Review a proposed role, trust policy and permission policy (and bucket and KMS key policies) before saving: every problem at once, with its fix",
		Long: `Evaluates the documents offline with IAM's rules against every request lakeport makes:
AssumeRole as the platform and as the sync workers with your external ID, the S3 calls of
Test connection and of syncs, and the KMS calls of SSE-KMS. Lists every problem, each with
the statement it comes from and the fix, and what was checked. Exits 1 when a problem is an
error. Bucket, region and KMS key default to the saved setting's, else to what the
permission policy names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []struct {
				path string
				dst  *json.RawMessage
			}{{trust, &req.TrustPolicy}, {perms, &req.PermissionPolicy}, {bucketPolicy, &req.BucketPolicy}, {keyPolicy, &req.KMSKeyPolicy}} {
				if f.path == "" {
					continue
				}
				text, err := readPolicyFile(f.path)
				if err != nil {
					return err
				}
				*f.dst, _ = json.Marshal(text)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			rep, err := c.ReviewStorage(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.json {
				if err := g.printJSON(rep); err != nil {
					return err
				}
			} else {
				printReview(g.stdout, rep)
			}
			if !rep.OK {
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.RoleARN, "role-arn", "", "the IAM role lakeport is to assume")
	f.StringVar(&trust, "trust-policy", "", "file with the role's trust policy (JSON)")
	f.StringVar(&perms, "permission-policy", "", "file with the role's permission policy (JSON)")
	f.StringVar(&bucketPolicy, "bucket-policy", "", "file with the bucket's policy (optional)")
	f.StringVar(&keyPolicy, "kms-key-policy", "", "file with the KMS key's policy (optional)")
	f.StringVar(&req.Bucket, "bucket", "", "bucket name (default: the saved bucket, else the one the permission policy names)")
	f.StringVar(&req.Region, "region", "", "bucket region (default: the saved one, else the KMS key's)")
	f.StringVar(&req.KMSKeyARN, "kms-key-arn", "", "the bucket's SSE-KMS key (default: the saved one, else the one the permission policy names)")
	return cmd
}

func readPolicyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the policy file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > maxPolicyFile {
		return "", fmt.Errorf("%s is over %d KiB; an IAM policy is a few KB: check the file", path, maxPolicyFile>>10)
	}
	return string(b), nil
}

func printReview(w io.Writer, rep review.Report) {
	errs, warns := 0, 0
	for _, f := range rep.Findings {
		where := f.Document.Label()
		if f.Statement != "" {
			where += ", statement " + f.Statement
		}
		label := "ERROR  "
		if f.Severity == review.SeverityWarning {
			label = "WARNING"
			warns++
		} else {
			errs++
		}
		fmt.Fprintf(w, "%s  %s  [%s]\n", label, where, f.Code)
		fmt.Fprintf(w, "         %s\n", f.Message)
		fmt.Fprintf(w, "    fix: %s\n\n", f.Fix)
	}
	target := "role " + rep.RoleARN
	if rep.Bucket != "" {
		target += ", bucket " + rep.Bucket
	}
	if rep.KMSKeyARN != "" {
		target += ", KMS key " + rep.KMSKeyARN
	}
	switch {
	case len(rep.Findings) == 0:
		fmt.Fprintf(w, "No problems found (%s).\n", target)
	default:
		fmt.Fprintf(w, "%d error(s), %d warning(s) (%s).\n", errs, warns, target)
	}
	fmt.Fprintln(w, "\nChecked:")
	for _, c := range rep.Checked {
		fmt.Fprintln(w, "  - "+c)
	}
	fmt.Fprintln(w, "Not checked (Test connection exercises these with real calls):")
	for _, c := range rep.NotChecked {
		fmt.Fprintln(w, "  - "+strings.TrimSuffix(c, "."))
	}
}
