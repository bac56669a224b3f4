// Package review checks an organization's proposed IAM documents — the role's
// trust policy and permission policy, and optionally the bucket policy and
// the KMS key policy — before anything is saved: it evaluates, offline and
// with IAM's evaluation rules (package iam), every request lakeport will make
// (AssumeRole as the platform and as the sync workers, the S3 calls of Test
// connection and of syncs, the KMS calls S3 makes for SSE-KMS), and lists
// every problem at once, each with the statement it comes from and the fix.
//
// Where evaluation cannot tell (a wildcard external ID that happens to match
// this organization's ID, a principal "*" behind an external ID condition),
// structural checks ("lint") add the finding.
package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

// Document names one of the reviewed inputs.
type Document string

const (
	DocRoleARN    Document = "role_arn"
	DocTrust      Document = "trust_policy"
	DocPermission Document = "permission_policy"
	DocBucket     Document = "bucket_policy"
	DocKeyPolicy  Document = "kms_key_policy"
	DocInput      Document = "input"
)

var docRank = map[Document]int{DocInput: 0, DocRoleARN: 1, DocTrust: 2, DocPermission: 3, DocBucket: 4, DocKeyPolicy: 5}

// Label names a document for people.
func (d Document) Label() string {
	switch d {
	case DocTrust:
		return "trust policy"
	case DocPermission:
		return "permission policy"
	case DocBucket:
		return "bucket policy"
	case DocKeyPolicy:
		return "KMS key policy"
	case DocRoleARN:
		return "role ARN"
	}
	return "input"
}

// Severity of a finding: an error makes lakeport fail or unsafe; a warning
// is a risk or something lakeport cannot decide offline.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding codes (stable: API clients and tests match on them).
const (
	CodeInvalidDocument      = "invalid_document"   // not a policy IAM would accept
	CodeInvalidStatement     = "invalid_statement"  // an element this kind of policy must (not) have
	CodeMissingPrincipal     = "missing_principal"  // a lakeport principal is not trusted
	CodePrincipalWildcard    = "principal_wildcard" // the role trusts everyone (confused deputy)
	CodePartialWildcard      = "principal_partial_wildcard"
	CodeExternalIDMissing    = "external_id_missing"  // lakeport's principals may assume the role without the external ID
	CodeExternalIDMismatch   = "external_id_mismatch" // the condition names another external ID
	CodeExternalIDWildcard   = "external_id_wildcard" // StringLike with a wildcard
	CodeMissingAction        = "missing_action"       // no statement allows an action lakeport uses
	CodeResourceTooNarrow    = "resource_too_narrow"  // an Allow covers the action but not lakeport's resources
	CodeKMSActionMissing     = "kms_action_missing"   // the role cannot use the bucket's KMS key
	CodeExplicitDeny         = "explicit_deny"        // a Deny applies to a lakeport request
	CodeConditionUnmet       = "condition_unsatisfiable"
	CodeDependsOnUnknown     = "depends_on_unknown" // decided by values lakeport cannot know offline
	CodeAccountMismatch      = "account_mismatch"   // the role's account is not the one the policy names
	CodePublicAccess         = "public_access"      // a bucket or key policy grants every principal
	CodePolicyVersion        = "policy_version"
	CodeBucketUnknown        = "bucket_unknown"
	CodeKMSKeyUnknown        = "kms_key_unknown"
	CodeInvalidRoleARN       = "invalid_role_arn"
	CodePlatformUnconfigured = "platform_not_configured"
)

// Finding is one problem.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Document Document `json:"document"`
	// Statement is the statement's Sid, or "#N" (its position from 1) when it
	// has none; empty when the problem is a missing statement.
	Statement string `json:"statement,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix"`
}

func (f Finding) String() string {
	where := f.Document.Label()
	if f.Statement != "" {
		where += ", statement " + f.Statement
	}
	return fmt.Sprintf("%s [%s] %s: %s — fix: %s", strings.ToUpper(string(f.Severity)), f.Code, where, f.Message, f.Fix)
}

// Platform is the install's AWS identity: the two principals a trust policy
// must name.
type Platform struct {
	AccountID          string `json:"aws_account_id"`
	WorkerPrincipalARN string `json:"worker_principal_arn"`
}

// Input is what a review looks at.
type Input struct {
	RoleARN          string
	TrustPolicy      []byte
	PermissionPolicy []byte
	BucketPolicy     []byte // optional
	KeyPolicy        []byte // optional
	// Bucket is the bucket the role is for; empty: the one bucket the
	// permission policy names.
	Bucket string
	// Region is the bucket's region, when known (KMS conditions on
	// kms:ViaService need it); a KMS key ARN's region is used otherwise.
	Region string
	// KMSKeyARN is the bucket's SSE-KMS key; empty: the one key the
	// permission policy names, if any.
	KMSKeyARN  string
	Platform   Platform
	ExternalID string
	// Now is the time conditions on aws:CurrentTime see; zero means now.
	Now time.Time
}

// Report is the review's answer.
type Report struct {
	// OK is true when no finding is an error.
	OK        bool      `json:"ok"`
	RoleARN   string    `json:"role_arn"`
	Bucket    string    `json:"bucket,omitempty"`
	KMSKeyARN string    `json:"kms_key_arn,omitempty"`
	Findings  []Finding `json:"findings"`
	// Checked says what the review evaluated, so a clean review says what
	// it means; NotChecked, what no offline review can see.
	Checked    []string `json:"checked"`
	NotChecked []string `json:"not_checked"`
}

// Errors returns the findings of severity error.
func (r Report) Errors() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			out = append(out, f)
		}
	}
	return out
}

// notChecked is what only real calls (Test connection) can see.
var notChecked = []string{
	"service control policies and resource control policies of your AWS Organization",
	"a permissions boundary on the role",
	"VPC endpoint policies between lakeport and S3 (lakeport does not use your VPC endpoints)",
	"S3 Block Public Access, object ownership and ACLs, and whether the bucket and KMS key exist",
	"Test connection makes the real calls: run it (lakeport storage test) after fixing what this review finds",
}

// reviewer holds one review's state.
type reviewer struct {
	in        Input
	partition string
	roleAcct  string
	bucket    string
	keyARN    string
	region    string
	now       time.Time

	trust, perm, bucketPol, keyPol *iam.Policy

	findings []Finding
	// details of aggregated findings (one finding per statement and cause,
	// listing every request it hits): index in findings → details.
	aggIndex map[string]int
	details  map[int][]string
	checked  []string
}

// Review runs every check and returns all findings at once.
func Review(in Input) Report {
	r := &reviewer{in: in, now: in.Now}
	if r.now.IsZero() {
		r.now = time.Now()
	}
	r.prepare()
	if r.trust != nil {
		r.lintTrust()
		r.checkTrust()
	}
	if r.perm != nil {
		r.lintIdentity()
	}
	if r.bucketPol != nil {
		r.lintResourcePolicy(DocBucket, r.bucketPol)
	}
	if r.keyPol != nil {
		r.lintResourcePolicy(DocKeyPolicy, r.keyPol)
	}
	r.checkAccounts()
	if r.perm != nil && r.bucket != "" {
		r.checkS3()
		if r.keyARN != "" {
			r.checkKMS()
		}
	}
	return r.report()
}

func (r *reviewer) add(f Finding) {
	for _, g := range r.findings {
		if g == f {
			return
		}
	}
	r.findings = append(r.findings, f)
}

// addDetail adds f once per key, its Message's "{details}" listing every
// detail added under the key.
func (r *reviewer) addDetail(key string, f Finding, detail string) {
	if r.aggIndex == nil {
		r.aggIndex, r.details = map[string]int{}, map[int][]string{}
	}
	i, ok := r.aggIndex[key]
	if !ok {
		i = len(r.findings)
		r.aggIndex[key] = i
		r.findings = append(r.findings, f)
	}
	if !slices.Contains(r.details[i], detail) {
		r.details[i] = append(r.details[i], detail)
	}
}

func (r *reviewer) check(format string, args ...any) {
	r.checked = append(r.checked, fmt.Sprintf(format, args...))
}

func (r *reviewer) report() Report {
	for i, d := range r.details {
		r.findings[i].Message = strings.Replace(r.findings[i].Message, "{details}", strings.Join(d, "; "), 1)
	}
	slices.SortStableFunc(r.findings, func(a, b Finding) int { return docRank[a.Document] - docRank[b.Document] })
	rep := Report{OK: true, RoleARN: r.in.RoleARN, Bucket: r.bucket, KMSKeyARN: r.keyARN,
		Findings: r.findings, Checked: r.checked, NotChecked: notChecked}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	for _, f := range r.findings {
		if f.Severity == SeverityError {
			rep.OK = false
		}
	}
	return rep
}

// prepare parses the inputs and settles the bucket and the key.
func (r *reviewer) prepare() {
	in := r.in
	parts := strings.SplitN(in.RoleARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || len(parts[4]) != 12 || !strings.HasPrefix(parts[5], "role/") {
		r.add(Finding{Code: CodeInvalidRoleARN, Severity: SeverityError, Document: DocRoleARN,
			Message: fmt.Sprintf("%q is not an IAM role ARN", in.RoleARN),
			Fix:     "copy the role's ARN from the IAM console, like arn:aws:iam::123456789012:role/lakeport-access"})
	} else {
		r.partition, r.roleAcct = parts[1], parts[4]
	}
	if r.partition == "" {
		r.partition = "aws"
	}
	if in.Platform.AccountID == "" || in.Platform.WorkerPrincipalARN == "" || in.ExternalID == "" {
		r.add(Finding{Code: CodePlatformUnconfigured, Severity: SeverityError, Document: DocInput,
			Message: "this lakeport install has no AWS identity (platform account and workers' principal) or the organization has no external ID, so the trust policy cannot be checked",
			Fix:     "the operator sets LAKEPORT_AWS_ACCOUNT_ID and LAKEPORT_WORKER_PRINCIPAL_ARN and restarts lakeport serve"})
	}
	parse := func(doc Document, raw []byte, required bool) *iam.Policy {
		if len(raw) == 0 {
			if required {
				r.add(Finding{Code: CodeInvalidDocument, Severity: SeverityError, Document: doc,
					Message: "the " + doc.Label() + " is missing", Fix: "paste the " + doc.Label() + "'s JSON"})
			}
			return nil
		}
		p, err := iam.Parse(raw)
		if err != nil {
			r.add(Finding{Code: CodeInvalidDocument, Severity: SeverityError, Document: doc,
				Message: "the " + doc.Label() + " is not a policy IAM accepts: " + strings.TrimPrefix(err.Error(), iam.ErrInvalid.Error()+": "),
				Fix:     "correct the element named; IAM would refuse to save this document"})
			return nil
		}
		if p.Version != "2012-10-17" {
			r.add(Finding{Code: CodePolicyVersion, Severity: SeverityWarning, Document: doc,
				Message: fmt.Sprintf("the %s has Version %q: without \"2012-10-17\" IAM reads policy variables like ${aws:username} as plain text", doc.Label(), p.Version),
				Fix:     `set "Version": "2012-10-17"`})
		}
		return &p
	}
	r.trust = parse(DocTrust, in.TrustPolicy, true)
	r.perm = parse(DocPermission, in.PermissionPolicy, true)
	r.bucketPol = parse(DocBucket, in.BucketPolicy, false)
	r.keyPol = parse(DocKeyPolicy, in.KeyPolicy, false)
	if r.trust == nil || r.roleAcct == "" || in.Platform.AccountID == "" || in.Platform.WorkerPrincipalARN == "" || in.ExternalID == "" {
		r.trust = nil // nothing to evaluate it against
	}

	r.bucket = in.Bucket
	if r.bucket == "" && r.perm != nil {
		names := namedBuckets(r.perm)
		switch len(names) {
		case 1:
			r.bucket = names[0]
		case 0:
			r.add(Finding{Code: CodeBucketUnknown, Severity: SeverityError, Document: DocPermission,
				Message: "the permission policy names no S3 bucket (arn:aws:s3:::BUCKET), and no bucket was given, so lakeport's S3 calls cannot be checked",
				Fix:     "give the bucket (--bucket), and allow lakeport's actions on arn:aws:s3:::BUCKET and arn:aws:s3:::BUCKET/*"})
		default:
			r.add(Finding{Code: CodeBucketUnknown, Severity: SeverityError, Document: DocPermission,
				Message: "the permission policy names several buckets (" + strings.Join(names, ", ") + "), and no bucket was given",
				Fix:     "give the bucket lakeport uses (--bucket)"})
		}
	}
	r.keyARN = in.KMSKeyARN
	if r.keyARN == "" && r.perm != nil {
		if keys := namedKeys(r.perm); len(keys) == 1 {
			r.keyARN = keys[0]
		}
	}
	if r.keyARN == "" && r.keyPol != nil {
		r.add(Finding{Code: CodeKMSKeyUnknown, Severity: SeverityWarning, Document: DocKeyPolicy,
			Message: "a key policy was given, but not the key's ARN (and the permission policy names no single key), so the KMS calls were not checked",
			Fix:     "give the key's ARN (--kms-key-arn arn:aws:kms:REGION:ACCOUNT:key/ID)"})
	}
	r.region = in.Region
	if r.region == "" && r.keyARN != "" {
		if p := strings.SplitN(r.keyARN, ":", 6); len(p) == 6 {
			r.region = p[3] // SSE-KMS keys live in the bucket's region
		}
	}
}

// namedBuckets returns the buckets the Allow statements' S3 resources name
// without wildcards in the bucket name.
func namedBuckets(p *iam.Policy) []string {
	var out []string
	for _, st := range p.Statements {
		if st.Effect != iam.Allow {
			continue
		}
		for _, res := range st.Resource {
			rest, ok := strings.CutPrefix(res, "arn:")
			if !ok {
				continue
			}
			parts := strings.SplitN(rest, ":", 5)
			if len(parts) != 5 || parts[1] != "s3" {
				continue
			}
			name, _, _ := strings.Cut(parts[4], "/")
			if name != "" && !strings.ContainsAny(name, "*?$") && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// namedKeys returns the KMS key ARNs (no wildcards) the Allow statements name.
func namedKeys(p *iam.Policy) []string {
	var out []string
	for _, st := range p.Statements {
		if st.Effect != iam.Allow {
			continue
		}
		for _, res := range st.Resource {
			parts := strings.SplitN(res, ":", 6)
			if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" && strings.HasPrefix(parts[5], "key/") &&
				!strings.ContainsAny(res, "*?$") && !slices.Contains(out, res) {
				out = append(out, res)
			}
		}
	}
	return out
}
