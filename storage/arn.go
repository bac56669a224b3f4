package storage

import (
	"fmt"
	"strings"
)

// ARN is an Amazon Resource Name split into its parts:
// arn:Partition:Service:Region:AccountID:Resource.
type ARN struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	Resource  string
}

// String joins the parts back into "arn:partition:service:region:account:resource".
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.AccountID + ":" + a.Resource
}

// rolePartitions are the partitions a customer role (and bucket) can live in.
var rolePartitions = map[string]bool{"aws": true, "aws-us-gov": true, "aws-cn": true, "aws-eusc": true}

const (
	roleExample = "arn:aws:iam::123456789012:role/lakeport-access"
	keyExample  = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// ParseARN splits s into its parts. It checks only the general ARN shape:
// six colon-separated parts (the resource may hold more colons), a partition
// and a service, and no spaces or control characters.
func ParseARN(s string) (ARN, error) {
	a, why := parseARN(s)
	if why != "" {
		return ARN{}, fmt.Errorf("%q is not an ARN: %s", clip(s), why)
	}
	return a, nil
}

// parseARN is ParseARN with the reason for a rejection as plain words
// ("" when s is accepted), so callers can phrase their own errors.
func parseARN(s string) (ARN, string) {
	if s == "" {
		return ARN{}, "it is empty"
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			if strings.TrimSpace(s) != s {
				return ARN{}, "it starts or ends with whitespace; paste it again without spaces or line breaks"
			}
			return ARN{}, fmt.Sprintf("it has a space or control character at position %d", i+1)
		}
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, "ARNs look like arn:partition:service:region:account-id:resource"
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], AccountID: parts[4], Resource: parts[5]}
	switch {
	case !isToken(a.Partition) || !strings.HasPrefix(a.Partition, "aws"):
		return ARN{}, fmt.Sprintf("the partition is %q, it must be aws, aws-us-gov or aws-cn", clip(a.Partition))
	case !isToken(a.Service):
		return ARN{}, "the service (third part, like iam or kms) is missing or malformed"
	case a.Region != "" && !isToken(a.Region):
		return ARN{}, fmt.Sprintf("the region is %q, regions are lowercase letters, digits and hyphens", clip(a.Region))
	case a.Resource == "":
		return ARN{}, "the resource (the part after the account ID) is missing"
	}
	return a, ""
}

// ParseRoleARN parses the ARN of an IAM role:
// arn:aws:iam::123456789012:role/optional/path/name.
func ParseRoleARN(s string) (ARN, error) {
	fail := func(why string) (ARN, error) {
		return ARN{}, fmt.Errorf("%q is not an IAM role ARN: %s; copy the role's ARN from the IAM console, like %s", clip(s), why, roleExample)
	}
	if s == "" {
		return ARN{}, fmt.Errorf("required: give the ARN of the IAM role lakeport assumes, like %s", roleExample)
	}
	if isDigits(s) && len(s) == 12 {
		return fail("this is an account ID, not a role")
	}
	a, why := parseARN(s)
	if why != "" {
		return fail(why)
	}
	switch {
	case a.Service == "sts" && strings.HasPrefix(a.Resource, "assumed-role/"):
		return fail("this is the ARN of a session of a role (sts assumed-role), not of the role itself")
	case a.Service != "iam":
		return fail(fmt.Sprintf("the service is %q, it must be iam", a.Service))
	case !rolePartitions[a.Partition]:
		return fail(fmt.Sprintf("the partition is %q, it must be aws, aws-us-gov or aws-cn", a.Partition))
	case a.Region != "":
		return fail("IAM ARNs have no region (the fourth part is empty: arn:aws:iam::...)")
	case !isDigits(a.AccountID) || len(a.AccountID) != 12:
		return fail("the account ID must be 12 digits")
	}
	kind, rest, _ := strings.Cut(a.Resource, "/")
	if kind != "role" {
		switch kind {
		case "user":
			return fail("this is an IAM user, lakeport needs a role")
		case "instance-profile":
			return fail("this is an instance profile, lakeport needs the role itself")
		}
		return fail(fmt.Sprintf("the resource must start with role/, it starts with %q", clip(kind)))
	}
	if rest == "" {
		return fail("the role name is missing after role/")
	}
	// rest is "path/.../name"; the path (with its surrounding slashes) may be
	// empty, otherwise it is printable ASCII up to 512 characters.
	name := rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		path := "/" + rest[:i+1]
		name = rest[i+1:]
		if len(path) > 512 {
			return fail("the role's path is longer than 512 characters")
		}
		if strings.Contains(path, "//") {
			return fail("the role's path has an empty segment (//)")
		}
		for j := 0; j < len(path); j++ {
			if path[j] < 0x21 || path[j] > 0x7e {
				return fail("the role's path may only have printable ASCII characters")
			}
		}
	}
	if name == "" {
		return fail("the role name is missing after the last /")
	}
	if len(name) > 64 {
		return fail(fmt.Sprintf("the role name is %d characters long, IAM allows at most 64", len(name)))
	}
	for j := 0; j < len(name); j++ {
		if !isRoleNameChar(name[j]) {
			return fail(fmt.Sprintf("the role name has %q, IAM role names use only letters, digits and + = , . @ _ -", name[j]))
		}
	}
	return a, nil
}

// ParseKMSKeyARN parses the ARN of a KMS key or alias:
// arn:aws:kms:us-east-1:123456789012:key/<key-id> (a UUID, or mrk-... for a
// multi-Region key) or arn:aws:kms:us-east-1:123456789012:alias/<name>.
func ParseKMSKeyARN(s string) (ARN, error) {
	fail := func(why string) (ARN, error) {
		return ARN{}, fmt.Errorf("%q is not a KMS key ARN: %s; copy the key's ARN from the KMS console, like %s", clip(s), why, keyExample)
	}
	if s == "" {
		return ARN{}, fmt.Errorf("the KMS key ARN is empty: give the key's ARN, like %s, or leave it out for S3-managed encryption", keyExample)
	}
	if isKeyID(s) || strings.HasPrefix(s, "alias/") {
		return fail("this is a key ID or alias name; give the full ARN so the key is found in the bucket owner's account")
	}
	a, why := parseARN(s)
	if why != "" {
		return fail(why)
	}
	switch {
	case a.Service != "kms":
		return fail(fmt.Sprintf("the service is %q, it must be kms", a.Service))
	case !rolePartitions[a.Partition]:
		return fail(fmt.Sprintf("the partition is %q, it must be aws, aws-us-gov or aws-cn", a.Partition))
	case a.Region == "":
		return fail("the region (fourth part) is missing")
	case !isDigits(a.AccountID) || len(a.AccountID) != 12:
		return fail("the account ID must be 12 digits")
	}
	kind, id, _ := strings.Cut(a.Resource, "/")
	switch kind {
	case "key":
		if !isKeyID(id) {
			return fail("the key ID after key/ must be a UUID like 1234abcd-12ab-34cd-56ef-1234567890ab or a multi-Region key ID like mrk-1234abcd12ab34cd56ef1234567890ab")
		}
	case "alias":
		if id == "" || len(id) > 250 {
			return fail("the alias name after alias/ must be 1 to 250 characters")
		}
		for j := 0; j < len(id); j++ {
			c := id[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-') {
				return fail("alias names use only letters, digits, /, _ and -")
			}
		}
	default:
		return fail("the resource must start with key/ or alias/")
	}
	return a, nil
}

// isKeyID reports whether id is a KMS key ID: a UUID, or "mrk-" and 32
// hexadecimal digits.
func isKeyID(id string) bool {
	if rest, ok := strings.CutPrefix(id, "mrk-"); ok {
		return len(rest) == 32 && isHex(rest)
	}
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if id[i] != '-' {
				return false
			}
		} else if !isHex(id[i : i+1]) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isToken reports whether s is non-empty lowercase letters, digits and hyphens.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

func isRoleNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("+=,.@_-", c) >= 0
}
