package review_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/storage/policy"
	"github.com/lakeport/lakeport/storage/policy/review"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	platformAcct = "111122223333"
	workerARN    = "arn:aws:iam::111122223333:role/lakeport-sync-worker"
	externalID   = "lp-7f3a9c2e41d8"
	roleARN      = "arn:aws:iam::123456789012:role/lakeport-access"
	bucket       = "acme-lake"
	keyARN       = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func marshal(t *testing.T, d policy.Document) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lakeportTrust and lakeportPerms are the documents lakeport prints.
func lakeportTrust(t *testing.T) string {
	d, err := policy.Trust("", platformAcct, workerARN, externalID)
	if err != nil {
		t.Fatal(err)
	}
	return marshal(t, d)
}

func lakeportPerms(t *testing.T, key string) string {
	d, err := policy.Permissions("", bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return marshal(t, d)
}

func input(trust, perms string) review.Input {
	return review.Input{RoleARN: roleARN, TrustPolicy: []byte(trust), PermissionPolicy: []byte(perms),
		Platform: review.Platform{AccountID: platformAcct, WorkerPrincipalARN: workerARN}, ExternalID: externalID, Now: now}
}

// trustWith is a trust policy with one statement built from its parts.
func trustWith(principal, action, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Sid":"LakeportAssumeRole","Effect":"Allow","Principal":` + principal + `,"Action":` + action
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

const (
	bothPrincipals = `{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/lakeport-sync-worker"]}`
	extCond        = `{"StringEquals":{"sts:ExternalId":"lp-7f3a9c2e41d8"}}`
)

// permsWith is a permission policy with the given statements.
func permsWith(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

const (
	s3Stmt        = `{"Sid":"LakeportBucketAccess","Effect":"Allow","Action":["s3:GetObject*","s3:PutObject","s3:DeleteObject","s3:ListBucket*","s3:AbortMultipartUpload","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"]}`
	kmsStmt       = `{"Sid":"LakeportKMSKey","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}`
	defaultKeyPol = `{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`
)

func bucketPolicy(statements ...string) string { return permsWith(statements...) }

// want is one expected finding: its code, document, statement, and words
// its fix must contain.
type want struct {
	code      string
	doc       review.Document
	statement string
	fix       string
	severity  review.Severity
}

func e(code string, doc review.Document, statement, fix string) want {
	return want{code, doc, statement, fix, review.SeverityError}
}

func w(code string, doc review.Document, statement, fix string) want {
	return want{code, doc, statement, fix, review.SeverityWarning}
}

// TestBrokenPolicies is a table of broken documents, each written from IAM's
// documented evaluation logic, with the exact findings the review must list.
func TestBrokenPolicies(t *testing.T) {
	cases := []struct {
		name  string
		in    func(t *testing.T) review.Input
		wants []want
	}{
		// ---- the trust policy ----
		{"workers_in_another_account_not_trusted", func(t *testing.T) review.Input {
			// The account principal "delegates authority to the account": it
			// covers the workers only when they live in that account.
			in := input(trustWith(`{"AWS":"arn:aws:iam::111122223333:root"}`, `"sts:AssumeRole"`, extCond), lakeportPerms(t, ""))
			in.Platform.WorkerPrincipalARN = "arn:aws:iam::444455556666:role/lakeport-sync-worker"
			return in
		}, []want{e(review.CodeMissingPrincipal, review.DocTrust, "", `add "arn:aws:iam::444455556666:role/lakeport-sync-worker" to Principal.AWS of statement LakeportAssumeRole`)}},
		{"platform_account_not_trusted", func(t *testing.T) review.Input {
			// Only the workers' role is named: the platform's own credentials
			// in account 111122223333 are not that role.
			return input(trustWith(`{"AWS":"`+workerARN+`"}`, `"sts:AssumeRole"`, extCond), lakeportPerms(t, ""))
		}, []want{e(review.CodeMissingPrincipal, review.DocTrust, "LakeportAssumeRole", `add "arn:aws:iam::111122223333:root"`)}},
		{"no_lakeport_principal_at_all", func(t *testing.T) review.Input {
			return input(trustWith(`{"AWS":"arn:aws:iam::999988887777:root"}`, `"sts:AssumeRole"`, extCond), lakeportPerms(t, ""))
		}, []want{
			e(review.CodeMissingPrincipal, review.DocTrust, "", `add "arn:aws:iam::111122223333:root"`),
			e(review.CodeMissingPrincipal, review.DocTrust, "", `add "`+workerARN+`"`),
		}},
		{"external_id_missing", func(t *testing.T) review.Input {
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, ""), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDMissing, review.DocTrust, "LakeportAssumeRole", `"StringEquals": {"sts:ExternalId": "lp-7f3a9c2e41d8"}`)}},
		{"external_id_different", func(t *testing.T) review.Input {
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, `{"StringEquals":{"sts:ExternalId":"lp-0000"}}`), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDMismatch, review.DocTrust, "LakeportAssumeRole", `"sts:ExternalId": "lp-7f3a9c2e41d8"`)}},
		{"external_id_case_differs", func(t *testing.T) review.Input {
			// StringEquals is "Exact matching, case sensitive".
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, `{"StringEquals":{"sts:ExternalId":"LP-7F3A9C2E41D8"}}`), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDMismatch, review.DocTrust, "LakeportAssumeRole", `"lp-7f3a9c2e41d8"`)}},
		{"external_id_star", func(t *testing.T) review.Input {
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, `{"StringLike":{"sts:ExternalId":"*"}}`), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDWildcard, review.DocTrust, "LakeportAssumeRole", `no wildcard`)}},
		{"external_id_prefix_wildcard", func(t *testing.T) review.Input {
			// Matches this organization's ID, and every ID starting "lp-": only lint sees it.
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, `{"StringLike":{"sts:ExternalId":"lp-*"}}`), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDWildcard, review.DocTrust, "LakeportAssumeRole", `no wildcard`)}},
		{"external_id_if_exists", func(t *testing.T) review.Input {
			// "...IfExists ... If the key is not present, evaluate the condition element as true."
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, `{"StringEqualsIfExists":{"sts:ExternalId":"lp-7f3a9c2e41d8"}}`), lakeportPerms(t, ""))
		}, []want{e(review.CodeExternalIDMissing, review.DocTrust, "LakeportAssumeRole", `no IfExists`)}},
		{"principal_star", func(t *testing.T) review.Input {
			return input(trustWith(`"*"`, `"sts:AssumeRole"`, extCond), lakeportPerms(t, ""))
		}, []want{e(review.CodePrincipalWildcard, review.DocTrust, "LakeportAssumeRole", `"Principal": {"AWS": ["arn:aws:iam::111122223333:root", "`+workerARN+`"]}`)}},
		{"principal_aws_star_in_a_second_statement", func(t *testing.T) review.Input {
			trust := `{"Version":"2012-10-17","Statement":[{"Sid":"LakeportAssumeRole","Effect":"Allow","Principal":` + bothPrincipals + `,"Action":"sts:AssumeRole","Condition":` + extCond + `},
				{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":` + extCond + `}]}`
			return input(trust, lakeportPerms(t, ""))
		}, []want{e(review.CodePrincipalWildcard, review.DocTrust, "#2", `"Principal": {"AWS"`)}},
		{"principal_partial_wildcard", func(t *testing.T) review.Input {
			// "You cannot use a wildcard to match part of a principal name or ARN."
			return input(trustWith(`{"AWS":"arn:aws:iam::111122223333:role/lakeport-*"}`, `"sts:AssumeRole"`, extCond), lakeportPerms(t, ""))
		}, []want{
			e(review.CodePartialWildcard, review.DocTrust, "LakeportAssumeRole", "ArnLike condition on aws:PrincipalArn"),
			e(review.CodeMissingPrincipal, review.DocTrust, "", `add "arn:aws:iam::111122223333:root"`),
			e(review.CodeMissingPrincipal, review.DocTrust, "", `add "`+workerARN+`"`),
		}},
		{"trust_wrong_action", func(t *testing.T) review.Input {
			return input(trustWith(bothPrincipals, `"sts:AssumeRoleWithWebIdentity"`, extCond), lakeportPerms(t, ""))
		}, []want{e(review.CodeMissingAction, review.DocTrust, "LakeportAssumeRole", `"Action": "sts:AssumeRole"`)}},
		{"trust_requires_mfa", func(t *testing.T) review.Input {
			cond := `{"StringEquals":{"sts:ExternalId":"lp-7f3a9c2e41d8"},"Bool":{"aws:MultiFactorAuthPresent":"true"}}`
			return input(trustWith(bothPrincipals, `"sts:AssumeRole"`, cond), lakeportPerms(t, ""))
		}, []want{e(review.CodeConditionUnmet, review.DocTrust, "LakeportAssumeRole", "remove this condition")}},
		{"trust_deny_outside_organization", func(t *testing.T) review.Input {
			// A negated operator whose key is absent is true: the Deny applies.
			trust := `{"Version":"2012-10-17","Statement":[{"Sid":"LakeportAssumeRole","Effect":"Allow","Principal":` + bothPrincipals + `,"Action":"sts:AssumeRole","Condition":` + extCond + `},
				{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}`
			return input(trust, lakeportPerms(t, ""))
		}, []want{e(review.CodeExplicitDeny, review.DocTrust, "OrgOnly", `"StringNotEquals": {"aws:PrincipalAccount": ["111122223333"]}`)}},

		// ---- the permission policy ----
		{"put_object_missing", func(t *testing.T) review.Input {
			return input(lakeportTrust(t), permsWith(strings.Replace(s3Stmt, `"s3:PutObject",`, "", 1)))
		}, []want{e(review.CodeMissingAction, review.DocPermission, "", `add "s3:PutObject" to the Action list of statement LakeportBucketAccess`)}},
		{"delete_and_list_missing", func(t *testing.T) review.Input {
			stmt := strings.Replace(strings.Replace(s3Stmt, `"s3:DeleteObject",`, "", 1), `"s3:ListBucket*",`, "", 1)
			return input(lakeportTrust(t), permsWith(stmt))
		}, []want{
			e(review.CodeMissingAction, review.DocPermission, "", `add "s3:ListBucket" to the Action list of statement LakeportBucketAccess`),
			e(review.CodeMissingAction, review.DocPermission, "", `add "s3:DeleteObject" to the Action list of statement LakeportBucketAccess`),
		}},
		{"bucket_arn_missing", func(t *testing.T) review.Input {
			// ListBucket is on the bucket's ARN, which "acme-lake/*" does not cover.
			return input(lakeportTrust(t), permsWith(strings.Replace(s3Stmt, `"arn:aws:s3:::acme-lake",`, "", 1)))
		}, []want{
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "s3:ListBucket applies to the bucket ARN arn:aws:s3:::acme-lake, not to arn:aws:s3:::acme-lake/*"),
			w(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "s3:GetBucketLocation applies to the bucket ARN"),
		}},
		{"object_prefix_too_narrow", func(t *testing.T) review.Input {
			return input(lakeportTrust(t), permsWith(strings.Replace(s3Stmt, `"arn:aws:s3:::acme-lake/*"`, `"arn:aws:s3:::acme-lake/lakeport/*"`, 1)))
		}, []want{
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "use arn:aws:s3:::acme-lake/*"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "use arn:aws:s3:::acme-lake/*"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "use arn:aws:s3:::acme-lake/*"),
			w(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "use arn:aws:s3:::acme-lake/*"),
		}},
		{"resource_case_differs", func(t *testing.T) review.Input {
			// Resource ARNs match case-sensitively: "Acme-Lake" is another bucket.
			in := input(lakeportTrust(t), permsWith(strings.ReplaceAll(s3Stmt, "acme-lake", "Acme-Lake")))
			in.Bucket = bucket
			return in
		}, []want{
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "s3:ListBucket applies to the bucket ARN arn:aws:s3:::acme-lake"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "make its Resource cover arn:aws:s3:::acme-lake/.lakeport/validation.txt"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "make its Resource cover arn:aws:s3:::acme-lake/.lakeport/validation.txt"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "make its Resource cover arn:aws:s3:::acme-lake/.lakeport/validation.txt"),
			w(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "use arn:aws:s3:::acme-lake/*"),
			w(review.CodeResourceTooNarrow, review.DocPermission, "LakeportBucketAccess", "s3:GetBucketLocation applies to the bucket ARN"),
		}},
		{"list_limited_by_prefix", func(t *testing.T) review.Input {
			list := `{"Sid":"ListData","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::acme-lake","Condition":{"StringLike":{"s3:prefix":"data/*"}}}`
			return input(lakeportTrust(t), permsWith(strings.Replace(s3Stmt, `"s3:ListBucket*",`, "", 1), list))
		}, []want{e(review.CodeConditionUnmet, review.DocPermission, "ListData", "remove that condition")}},
		{"deny_with_not_action", func(t *testing.T) review.Input {
			// NotAction with Deny denies every action except those listed.
			deny := `{"Sid":"ReadOnly","Effect":"Deny","NotAction":["s3:GetObject","s3:ListBucket"],"Resource":"*"}`
			return input(lakeportTrust(t), permsWith(s3Stmt, deny))
		}, []want{e(review.CodeExplicitDeny, review.DocPermission, "ReadOnly", "remove or narrow this Deny")}},
		{"deny_with_not_resource", func(t *testing.T) review.Input {
			deny := `{"Sid":"OnlyCRM","Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::acme-lake/crm/*"}`
			return input(lakeportTrust(t), permsWith(s3Stmt, deny))
		}, []want{e(review.CodeExplicitDeny, review.DocPermission, "OnlyCRM", "remove or narrow this Deny")}},
		{"principal_in_permission_policy", func(t *testing.T) review.Input {
			return input(lakeportTrust(t), permsWith(strings.Replace(s3Stmt, `"Effect":"Allow",`, `"Effect":"Allow","Principal":{"AWS":"`+roleARN+`"},`, 1)))
		}, []want{e(review.CodeInvalidStatement, review.DocPermission, "LakeportBucketAccess", "remove Principal")}},
		{"allow_depends_on_source_ip", func(t *testing.T) review.Input {
			stmt := strings.Replace(s3Stmt, `"Effect":"Allow",`, `"Effect":"Allow","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}},`, 1)
			return input(lakeportTrust(t), permsWith(stmt))
		}, []want{w(review.CodeDependsOnUnknown, review.DocPermission, "LakeportBucketAccess", "Test connection")}},
		{"not_json", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",}]}`)
			in.Bucket = bucket
			return in
		}, []want{e(review.CodeInvalidDocument, review.DocPermission, "", "correct the element")}},

		// ---- the bucket policy ----
		{"bucket_policy_vpc_endpoint_only", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"VPCOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"],"Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}`))
			return in
		}, []want{e(review.CodeExplicitDeny, review.DocBucket, "VPCOnly", `"ArnNotEquals": {"aws:PrincipalArn": "`+roleARN+`"}`)}},
		{"bucket_policy_tls_only_is_fine", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`))
			return in
		}, nil},
		{"bucket_policy_organization_only", func(t *testing.T) review.Input {
			// The role's session is in the customer's account; whether that
			// account is in o-a1b2c3d4e5 is not in the documents.
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"],"Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`))
			return in
		}, []want{w(review.CodeDependsOnUnknown, review.DocBucket, "OrgOnly", "exempt the role")}},
		{"bucket_policy_requires_sse_kms_without_key", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"RequireKMS","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::acme-lake/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}`))
			return in
		}, []want{e(review.CodeExplicitDeny, review.DocBucket, "RequireKMS", "give lakeport the bucket's KMS key (--kms-key-arn)")}},
		{"bucket_policy_grants_role_directly", func(t *testing.T) review.Input {
			// "If either the identity-based policy or the resource-based policy
			// within the same account allows the request ... the request is still allowed."
			in := input(lakeportTrust(t), permsWith(`{"Sid":"Nothing","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}`))
			in.Bucket = bucket
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"Lakeport","Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"s3:*","Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"]}`))
			return in
		}, nil},
		{"bucket_policy_grants_account_only", func(t *testing.T) review.Input {
			// The account principal delegates to the account's identity
			// policies: on its own it grants the role nothing.
			in := input(lakeportTrust(t), permsWith(`{"Sid":"Nothing","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}`))
			in.Bucket = bucket
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:*","Resource":["arn:aws:s3:::acme-lake","arn:aws:s3:::acme-lake/*"]}`))
			return in
		}, []want{
			e(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:ListBucket" on "arn:aws:s3:::acme-lake"`),
			e(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:PutObject"`),
			e(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:GetObject"`),
			e(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:DeleteObject"`),
			w(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:AbortMultipartUpload"`),
			w(review.CodeMissingAction, review.DocPermission, "", `add a statement allowing "s3:GetBucketLocation"`),
		}},
		{"bucket_policy_names_role_in_other_account", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"Lakeport","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/lakeport-access"},"Action":"s3:*","Resource":"arn:aws:s3:::acme-lake/*"}`))
			return in
		}, []want{e(review.CodeAccountMismatch, review.DocBucket, "", "check the role ARN")}},
		{"bucket_policy_public_read", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.BucketPolicy = []byte(bucketPolicy(`{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-lake/*"}`))
			return in
		}, []want{w(review.CodePublicAccess, review.DocBucket, "PublicRead", "name the principals")}},

		// ---- KMS ----
		{"kms_statement_missing", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.KMSKeyARN = keyARN
			return in
		}, []want{
			e(review.CodeKMSActionMissing, review.DocPermission, "", `add a statement allowing "kms:GenerateDataKey" on "`+keyARN+`"`),
			e(review.CodeKMSActionMissing, review.DocPermission, "", `add a statement allowing "kms:Decrypt"`),
		}},
		{"kms_generate_data_key_missing", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), permsWith(s3Stmt, strings.Replace(kmsStmt, `,"kms:GenerateDataKey"`, "", 1)))
			in.KeyPolicy = []byte(defaultKeyPol)
			return in
		}, []want{e(review.CodeKMSActionMissing, review.DocPermission, "", `add "kms:GenerateDataKey" to the Action list of statement LakeportKMSKey`)}},
		{"kms_statement_for_another_key", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), permsWith(s3Stmt, strings.Replace(kmsStmt, "1234abcd-12ab", "9999abcd-12ab", 1)))
			in.KMSKeyARN = keyARN
			return in
		}, []want{
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportKMSKey", "the bucket's KMS key ARN"),
			e(review.CodeResourceTooNarrow, review.DocPermission, "LakeportKMSKey", "the bucket's KMS key ARN"),
		}},
		{"key_policy_neither_role_nor_iam", func(t *testing.T) review.Input {
			// "Unless the key policy explicitly allows it, you cannot use IAM
			// policies to allow access to a KMS key."
			in := input(lakeportTrust(t), lakeportPerms(t, keyARN))
			in.KeyPolicy = []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/admin"},"Action":"kms:*","Resource":"*"}]}`)
			return in
		}, []want{e(review.CodeKMSActionMissing, review.DocKeyPolicy, "", `"Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*"`)}},
		{"key_policy_wrong_via_service_region", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, keyARN))
			in.KeyPolicy = []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"LakeportViaS3","Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}`)
			return in
		}, []want{e(review.CodeConditionUnmet, review.DocKeyPolicy, "LakeportViaS3", "correct this condition")}},
		{"key_policy_denies_via_other_service", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, keyARN))
			in.KeyPolicy = []byte(`{"Version":"2012-10-17","Statement":[` + strings.TrimSuffix(strings.TrimPrefix(defaultKeyPol, `{"Version":"2012-10-17","Statement":[`), `]}`) +
				`,{"Sid":"OnlyViaEBS","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotLike":{"kms:ViaService":"ec2.*.amazonaws.com"}}}]}`)
			return in
		}, []want{e(review.CodeExplicitDeny, review.DocKeyPolicy, "OnlyViaEBS", `"ArnNotEquals": {"aws:PrincipalArn"`)}},

		// ---- inputs ----
		{"role_arn_malformed", func(t *testing.T) review.Input {
			in := input(lakeportTrust(t), lakeportPerms(t, ""))
			in.RoleARN = "arn:aws:iam::123456789012:user/lakeport"
			return in
		}, []want{e(review.CodeInvalidRoleARN, review.DocRoleARN, "", "copy the role's ARN")}},
		{"old_policy_version", func(t *testing.T) review.Input {
			return input(lakeportTrust(t), strings.Replace(lakeportPerms(t, ""), "2012-10-17", "2008-10-17", 1))
		}, []want{w(review.CodePolicyVersion, review.DocPermission, "", `"Version": "2012-10-17"`)}},
	}
	if len(cases) < 25 {
		t.Fatalf("%d cases; the table keeps at least 25", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := review.Review(c.in(t))
			assertFindings(t, rep, c.wants)
			golden(t, filepath.Join("review", c.name+".json"), rep)
		})
	}
}

func assertFindings(t *testing.T, rep review.Report, wants []want) {
	t.Helper()
	got := slices.Clone(rep.Findings)
	var missing []want
	for _, wnt := range wants {
		i := slices.IndexFunc(got, func(f review.Finding) bool {
			return f.Code == wnt.code && f.Document == wnt.doc && f.Statement == wnt.statement && f.Severity == wnt.severity && strings.Contains(f.Fix, wnt.fix)
		})
		if i < 0 {
			missing = append(missing, wnt)
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	if len(missing) > 0 || len(got) > 0 {
		var b strings.Builder
		for _, m := range missing {
			fmt.Fprintf(&b, "  missing: %+v\n", m)
		}
		for _, f := range got {
			fmt.Fprintf(&b, "  unexpected: %s\n", f)
		}
		fmt.Fprintf(&b, "all findings:\n")
		for _, f := range rep.Findings {
			fmt.Fprintf(&b, "  %s\n", f)
		}
		t.Fatalf("findings differ:\n%s", b.String())
	}
	wantOK := !slices.ContainsFunc(wants, func(w want) bool { return w.severity == review.SeverityError })
	if rep.OK != wantOK {
		t.Fatalf("OK = %v, want %v", rep.OK, wantOK)
	}
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, got)
	}
}

// TestLakeportPoliciesPass: the documents lakeport prints, with and without
// a KMS key, pass the review, alone and with the AWS default key policy.
func TestLakeportPoliciesPass(t *testing.T) {
	for _, key := range []string{"", keyARN} {
		in := input(lakeportTrust(t), lakeportPerms(t, key))
		in.KMSKeyARN = key
		if key != "" {
			in.KeyPolicy = []byte(defaultKeyPol)
		}
		rep := review.Review(in)
		assertFindings(t, rep, nil)
		if rep.Bucket != bucket || rep.KMSKeyARN != key {
			t.Fatalf("report for bucket %q key %q", rep.Bucket, rep.KMSKeyARN)
		}
		// A clean review says what it checked.
		all := strings.Join(rep.Checked, "\n")
		for _, s := range []string{"lakeport's platform account 111122223333", workerARN, "another organization's external ID",
			"s3:PutObject on arn:aws:s3:::acme-lake/.lakeport/validation.txt", "s3:ListBucket on arn:aws:s3:::acme-lake", "multipart"} {
			if !strings.Contains(all, s) {
				t.Errorf("checked list lacks %q:\n%s", s, all)
			}
		}
		if key != "" && !strings.Contains(all, "kms:GenerateDataKey on "+keyARN) {
			t.Errorf("checked list lacks the KMS calls:\n%s", all)
		}
		if len(rep.NotChecked) == 0 {
			t.Error("a review says what it cannot see")
		}
	}
	golden(t, "review/lakeport_policies.json", review.Review(input(lakeportTrust(t), lakeportPerms(t, ""))))
}
