package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Setup is everything a platform team applies in its AWS account to give
// lakeport a bucket: the bucket's recommended settings (Block Public Access
// on, ACLs off, TLS only, and default SSE-KMS when a key is given) and the
// IAM role lakeport assumes, with its trust policy and permission policy.
type Setup struct {
	Bucket    string
	KMSKeyARN string // optional
	// RoleName is the IAM role's name; empty means DefaultRoleName.
	RoleName    string
	Trust       Document
	Permissions Document
}

// DefaultRoleName is the role name the generated configurations use.
const DefaultRoleName = "lakeport-access"

// Formats are the formats Render writes.
var Formats = []string{"json", "terraform", "cloudformation"}

var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// Check reports what is missing or malformed, naming the field.
func (s *Setup) Check() error {
	if s.RoleName == "" {
		s.RoleName = DefaultRoleName
	}
	switch {
	case s.Bucket == "":
		return fmt.Errorf("policy: bucket is required")
	case !roleNameRE.MatchString(s.RoleName):
		return fmt.Errorf("policy: role name %q: IAM role names are 1 to 64 letters, digits and +=,.@_-", s.RoleName)
	case len(s.Trust.Statement) == 0:
		return fmt.Errorf("policy: the trust policy has no statement")
	case len(s.Permissions.Statement) == 0:
		return fmt.Errorf("policy: the permission policy has no statement")
	}
	return nil
}

// Render writes the setup as format: "json" (the documents and bucket
// settings as one JSON object), "terraform" (an HCL configuration for the
// hashicorp/aws provider) or "cloudformation" (a YAML template).
func Render(format string, s Setup) ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	switch format {
	case "json":
		return renderJSON(s)
	case "terraform":
		return renderTerraform(s)
	case "cloudformation":
		return renderCloudFormation(s)
	}
	return nil, fmt.Errorf("policy: format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// BucketSettings are the bucket's recommended settings.
type BucketSettings struct {
	BlockPublicAccess BlockPublicAccess `json:"block_public_access"`
	// ObjectOwnership "BucketOwnerEnforced" turns ACLs off: the bucket owner
	// owns every object.
	ObjectOwnership string `json:"object_ownership"`
	// Encryption is the default encryption (SSE-KMS with the key), when a
	// key is given; S3 encrypts with SSE-S3 otherwise.
	Encryption *Encryption `json:"default_encryption,omitempty"`
	// Policy denies every request not made over TLS.
	Policy Document `json:"bucket_policy"`
}

// BlockPublicAccess is S3's Block Public Access configuration.
type BlockPublicAccess struct {
	BlockPublicACLs       bool `json:"block_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	IgnorePublicACLs      bool `json:"ignore_public_acls"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

// Encryption is a bucket's default encryption.
type Encryption struct {
	SSEAlgorithm     string `json:"sse_algorithm"`
	KMSKeyARN        string `json:"kms_key_arn"`
	BucketKeyEnabled bool   `json:"bucket_key_enabled"`
}

// Settings returns the bucket's recommended settings.
func (s Setup) Settings() BucketSettings {
	b := BucketSettings{
		BlockPublicAccess: BlockPublicAccess{true, true, true, true},
		ObjectOwnership:   "BucketOwnerEnforced",
		Policy:            TLSOnly(partitionOfBucketARN(s), s.Bucket),
	}
	if s.KMSKeyARN != "" {
		b.Encryption = &Encryption{SSEAlgorithm: "aws:kms", KMSKeyARN: s.KMSKeyARN, BucketKeyEnabled: true}
	}
	return b
}

// TLSOnly is a bucket policy that denies every request not made over TLS.
// lakeport always uses TLS, so it never denies lakeport.
func TLSOnly(partition, bucket string) Document {
	if partition == "" {
		partition = "aws"
	}
	return Document{Version: "2012-10-17", Statement: []Statement{{
		Sid: "DenyInsecureTransport", Effect: "Deny", Principal: &Principal{AWS: []string{"*"}}, Action: []string{"s3:*"},
		Resource:  []string{"arn:" + partition + ":s3:::" + bucket, "arn:" + partition + ":s3:::" + bucket + "/*"},
		Condition: Condition{"Bool": {"aws:SecureTransport": "false"}},
	}}}
}

// partitionOfBucketARN reads the partition from the permission policy's
// first resource (arn:PARTITION:s3:::bucket).
func partitionOfBucketARN(s Setup) string {
	for _, st := range s.Permissions.Statement {
		for _, r := range st.Resource {
			if strings.Contains(r, ":s3:::") {
				return partitionOf(r)
			}
		}
	}
	return "aws"
}

func renderJSON(s Setup) ([]byte, error) {
	out, err := json.MarshalIndent(struct {
		Bucket           string         `json:"bucket"`
		RoleName         string         `json:"role_name"`
		TrustPolicy      Document       `json:"trust_policy"`
		PermissionPolicy Document       `json:"permission_policy"`
		BucketSettings   BucketSettings `json:"bucket_settings"`
	}{s.Bucket, s.RoleName, s.Trust, s.Permissions, s.Settings()}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
