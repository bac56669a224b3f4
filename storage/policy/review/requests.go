package review

import (
	"strconv"
	"strings"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

// The keys under which lakeport writes, used as the concrete resources of the
// requests a review evaluates: Test connection's object, and a connector's
// owner marker, table metadata and data files (every connector owns one
// top-level prefix; "crm" and "invoices" stand for any connector and stream).
const (
	validationKey = ".lakeport/validation.txt"
	validationDir = ".lakeport/"
	connectorDir  = "crm/"
	markerKey     = "crm/.lakeport-owner.json"
	metadataKey   = "crm/invoices/metadata/00001-6f1c.metadata.json"
	dataKey       = "crm/invoices/data/00000-0-6f1c.parquet"
)

// strangerAccount is an account that is neither lakeport's nor the
// customer's: a role that trusts it trusts everyone.
const strangerAccount = "000000000000"

// otherExternalID is another organization's external ID.
const otherExternalID = "lakeport-review-another-organization"

// need is one request lakeport makes, and why.
type need struct {
	action   string
	resource string
	keys     map[string][]string // request-specific condition keys
	what     string              // what lakeport does with it, for people
	// recommended needs make warnings when refused: lakeport works without
	// them, with a cost (see what).
	recommended bool
}

func (r *reviewer) bucketARN() string { return "arn:" + r.partition + ":s3:::" + r.bucket }
func (r *reviewer) objectARN(key string) string {
	return "arn:" + r.partition + ":s3:::" + r.bucket + "/" + key
}

// s3Needs are the S3 requests of Test connection, syncs, queries and
// cleanup. HeadBucket is authorized as s3:ListBucket; multipart uploads
// (Create, UploadPart, Complete) as s3:PutObject; HeadObject as s3:GetObject;
// DeleteObjects as s3:DeleteObject for each key.
func (r *reviewer) s3Needs() []need {
	var put map[string][]string
	if r.keyARN != "" {
		put = map[string][]string{
			"s3:x-amz-server-side-encryption":                {"aws:kms"},
			"s3:x-amz-server-side-encryption-aws-kms-key-id": {r.keyARN},
		}
	}
	list := func(prefix string) map[string][]string {
		return map[string][]string{"s3:prefix": {prefix}, "s3:max-keys": {"1000"}}
	}
	return []need{
		{action: "s3:ListBucket", resource: r.bucketARN(), what: "HeadBucket: reach the bucket and confirm its region (Test connection, every sync)"},
		{action: "s3:ListBucket", resource: r.bucketARN(), keys: list(validationDir), what: "list " + validationDir + " (Test connection)"},
		{action: "s3:ListBucket", resource: r.bucketARN(), keys: list(connectorDir), what: "list a connector's prefix (cleanup, migration)"},
		{action: "s3:PutObject", resource: r.objectARN(validationKey), keys: put, what: "write " + validationKey + " (Test connection)"},
		{action: "s3:GetObject", resource: r.objectARN(validationKey), what: "read " + validationKey + " back (Test connection)"},
		{action: "s3:DeleteObject", resource: r.objectARN(validationKey), what: "delete " + validationKey + " (Test connection)"},
		{action: "s3:PutObject", resource: r.objectARN(markerKey), keys: put, what: "write a connector's owner marker"},
		{action: "s3:PutObject", resource: r.objectARN(metadataKey), keys: put, what: "write Iceberg metadata (every commit)"},
		{action: "s3:PutObject", resource: r.objectARN(dataKey), keys: put, what: "write Parquet data files, large ones as multipart uploads (syncs)"},
		{action: "s3:GetObject", resource: r.objectARN(markerKey), what: "read a connector's owner marker before any cleanup"},
		{action: "s3:GetObject", resource: r.objectARN(metadataKey), what: "read Iceberg metadata (commits, queries)"},
		{action: "s3:GetObject", resource: r.objectARN(dataKey), what: "read Parquet data files (queries, merges)"},
		{action: "s3:DeleteObject", resource: r.objectARN(dataKey), what: "delete a connector's files (connector delete, overwrite cleanup)"},
		{action: "s3:AbortMultipartUpload", resource: r.objectARN(dataKey), recommended: true,
			what: "abort a failed multipart upload; without it, the parts of an interrupted large upload stay in the bucket (and are billed) until a lifecycle rule removes them"},
		{action: "s3:GetBucketLocation", resource: r.bucketARN(), recommended: true,
			what: "let tools that use the role (the AWS CLI, Athena) find the bucket's region; lakeport itself reads it from HeadBucket"},
	}
}

// kmsNeeds are the KMS requests S3 makes on the role's behalf for SSE-KMS:
// GenerateDataKey to write (PutObject, CreateMultipartUpload), Decrypt to
// read and to complete multipart uploads.
func (r *reviewer) kmsNeeds() []need {
	return []need{
		{action: "kms:GenerateDataKey", resource: r.keyARN, keys: map[string][]string{"kms:DataKeySpec": {"AES_256"}},
			what: "encrypt every object lakeport writes with the bucket's key (SSE-KMS)"},
		{action: "kms:Decrypt", resource: r.keyARN, what: "read SSE-KMS objects, and complete multipart uploads of large data files"},
	}
}

// who is one of lakeport's principals (or a stranger).
type who struct {
	name      string // for people
	principal iam.Principal
	// trustValue is what a trust policy names to trust it.
	trustValue string
}

func (r *reviewer) platform() who {
	acct := r.in.Platform.AccountID
	return who{name: "lakeport's platform account " + acct, principal: iam.Principal{Account: acct},
		trustValue: "arn:" + r.partition + ":iam::" + acct + ":root"}
}

func (r *reviewer) worker() who {
	w := r.in.Platform.WorkerPrincipalARN
	acct := ""
	if p := strings.SplitN(w, ":", 6); len(p) == 6 {
		acct = p[4]
	}
	return who{name: "lakeport's sync workers (" + w + ")", principal: iam.Principal{Account: acct, ARN: w}, trustValue: w}
}

func (r *reviewer) role() iam.Principal {
	return iam.Principal{Account: r.roleAcct, ARN: r.in.RoleARN}
}

// reqContext is the condition context of one of lakeport's requests: the
// keys lakeport knows, the keys its requests never carry, and for the rest,
// "unknown".
type reqContext struct {
	service string              // "sts", "s3" or "kms": keys of other services are absent
	known   map[string][]string // lower-case key → values
	absent  map[string]bool
}

func (c reqContext) Key(key string) ([]string, iam.KeyState) {
	if v, ok := c.known[key]; ok {
		return v, iam.Present
	}
	if c.absent[key] {
		return nil, iam.Absent
	}
	prefix, rest, _ := strings.Cut(key, ":")
	switch prefix {
	case "aws":
		if globalAbsent[key] || strings.HasPrefix(rest, "requesttag/") {
			return nil, iam.Absent
		}
		// aws:PrincipalTag/…, aws:ResourceTag/…, aws:userid, aws:SourceIp, …
		return nil, iam.UnknownValue
	case c.service:
		switch {
		case prefix == "s3" && strings.HasPrefix(rest, "existingobjecttag/"),
			prefix == "s3" && rest == "resourceaccount",
			prefix == "kms" && (strings.HasPrefix(rest, "encryptioncontext:") || rest == "resourcealiases" || rest == "keyorigin" || rest == "keyspec" || rest == "keyusage" || rest == "multiregion" || rest == "viaservice"),
			prefix == "sts" && (rest == "rolesessionname" || rest == "durationseconds"):
			return nil, iam.UnknownValue
		}
		// Request headers and parameters: lakeport's requests carry only
		// the ones listed as known.
		return nil, iam.Absent
	}
	return nil, iam.Absent // another service's key
}

// globalAbsent are global keys lakeport's requests never carry: they come
// from a VPC endpoint, a service acting for a resource, MFA, an IAM user, or
// request tags.
var globalAbsent = map[string]bool{
	"aws:sourcevpce": true, "aws:sourcevpc": true, "aws:vpcsourceip": true,
	"aws:sourceaccount": true, "aws:sourcearn": true, "aws:sourceorgid": true, "aws:sourceorgpaths": true,
	"aws:multifactorauthpresent": true, "aws:multifactorauthage": true,
	"aws:username": true, "aws:federatedprovider": true, "aws:sourceidentity": true,
	"aws:tagkeys": true, "aws:referer": true,
}

func (r *reviewer) baseKeys(p iam.Principal, principalType string) map[string][]string {
	k := map[string][]string{
		"aws:securetransport":       {"true"}, // lakeport calls AWS over TLS only
		"aws:currenttime":           {r.now.UTC().Format("2006-01-02T15:04:05Z")},
		"aws:principalaccount":      {p.Account},
		"aws:principalisawsservice": {"false"},
		"aws:resourceaccount":       {r.roleAcct},
		"aws:principaltype":         {principalType},
		"aws:viaawsservice":         {"false"},
		"aws:epochtime":             {strconv.FormatInt(r.now.Unix(), 10)},
	}
	if p.ARN != "" {
		k["aws:principalarn"] = []string{p.ARN}
	}
	return k
}

// assumeRoleContext is the context of lakeport's sts:AssumeRole call as w,
// with the external ID (or none when externalID is "").
func (r *reviewer) assumeRoleContext(w who, externalID string) reqContext {
	keys := r.baseKeys(w.principal, "AssumedRole")
	if w.principal.ARN == "" {
		delete(keys, "aws:principaltype") // the platform's credentials: a role or a user
	}
	if externalID != "" {
		keys["sts:externalid"] = []string{externalID}
	}
	// lakeport's principals belong to lakeport's account, outside the
	// customer's AWS Organization.
	return reqContext{service: "sts", known: keys, absent: map[string]bool{"aws:principalorgid": true, "aws:principalorgpaths": true}}
}

// s3Context is the context of an S3 request by the role's session.
func (r *reviewer) s3Context(n need) reqContext {
	keys := r.baseKeys(r.role(), "AssumedRole")
	if r.region != "" {
		keys["aws:requestedregion"] = []string{r.region}
	}
	keys["s3:signatureversion"] = []string{"AWS4-HMAC-SHA256"}
	keys["s3:authtype"] = []string{"REST-HEADER"}
	keys["s3:tlsversion"] = []string{"1.2"} // Go's minimum; newer when the endpoint offers it
	for k, v := range n.keys {
		keys[strings.ToLower(k)] = v
	}
	return reqContext{service: "s3", known: keys}
}

// kmsContext is the context of a KMS request S3 makes for the role's
// session (a forward access session: aws:ViaAWSService is true).
func (r *reviewer) kmsContext(n need) reqContext {
	keys := r.baseKeys(r.role(), "AssumedRole")
	keys["aws:viaawsservice"] = []string{"true"}
	keys["aws:calledvia"] = []string{"s3.amazonaws.com"}
	keys["kms:calleraccount"] = []string{r.roleAcct}
	keys["kms:encryptioncontextkeys"] = []string{"aws:s3:arn"}
	keys["kms:encryptionalgorithm"] = []string{"SYMMETRIC_DEFAULT"}
	if r.region != "" {
		keys["kms:viaservice"] = []string{"s3." + r.region + ".amazonaws.com"}
		keys["aws:requestedregion"] = []string{r.region}
	}
	for k, v := range n.keys {
		keys[strings.ToLower(k)] = v
	}
	return reqContext{service: "kms", known: keys}
}
