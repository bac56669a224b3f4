// Package storage holds an organization's storage setting (managed, or a
// customer-hosted S3 bucket), the offline checks of its fields, and the
// construction of the S3 client lakeport uses to reach a customer bucket.
package storage

import (
	"fmt"
	"net/url"
	"strings"
)

// Mode is where an organization's synced data lives.
type Mode string

const (
	// ModeManaged keeps the data in the platform's own warehouse.
	ModeManaged Mode = "managed"
	// ModeCustomerHosted keeps the data in a bucket the customer owns.
	ModeCustomerHosted Mode = "customer_hosted"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeManaged || m == ModeCustomerHosted }

// Setting is an organization's customer-hosted bucket.
//
// An AWS bucket is reached by assuming RoleARN with the organization's
// external ID. An S3-compatible endpoint (MinIO, Ceph, R2, ...) has no STS and
// is reached with Endpoint, AccessKeyID and SecretAccessKey instead.
type Setting struct {
	Bucket          string `json:"bucket"`
	Region          string `json:"region"`
	RoleARN         string `json:"role_arn,omitempty"`
	KMSKeyARN       string `json:"kms_key_arn,omitempty"`
	Endpoint        string `json:"endpoint,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
}

// S3Compatible reports whether the setting names an S3-compatible endpoint
// (reached with access keys) rather than an AWS bucket (reached with a role).
func (s Setting) S3Compatible() bool { return s.Endpoint != "" }

// FieldError is one problem with one field of a Setting. Field is the field's
// JSON name ("bucket", "role_arn", ...); Message says what is wrong and what
// to do about it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Check validates every field of s without any network call and returns all
// the problems it finds, or nil when there are none.
//
// Exactly one way to reach the bucket must be given: RoleARN (an AWS bucket),
// or Endpoint with AccessKeyID and SecretAccessKey (an S3-compatible server).
func (s Setting) Check() []FieldError {
	var errs []FieldError
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, FieldError{Field: field, Message: err.Error()})
		}
	}

	add("bucket", CheckBucketName(s.Bucket))

	compatible := s.Endpoint != ""
	if compatible {
		add("region", CheckCompatibleRegion(s.Region))
	} else {
		add("region", CheckRegion(s.Region))
	}

	hasKeys := s.AccessKeyID != "" || s.SecretAccessKey != ""
	switch {
	case s.RoleARN != "" && (compatible || hasKeys):
		errs = append(errs, FieldError{Field: "role_arn", Message: "a role ARN cannot be combined with an endpoint or access keys: " +
			"for an AWS bucket give only role_arn and clear endpoint, access_key_id and secret_access_key; " +
			"for an S3-compatible server clear role_arn"})
	case s.RoleARN != "":
		role, err := ParseRoleARN(s.RoleARN)
		add("role_arn", err)
		if err == nil && CheckRegion(s.Region) == nil {
			if p := PartitionOf(s.Region); p != "" && p != role.Partition {
				errs = append(errs, FieldError{Field: "role_arn", Message: fmt.Sprintf(
					"the role is in partition %q but region %q is in partition %q: use a role from the same partition as the bucket (arn:%s:iam::...)",
					role.Partition, s.Region, p, p)})
			}
		}
	case compatible:
		add("endpoint", CheckEndpoint(s.Endpoint))
		if s.AccessKeyID == "" {
			errs = append(errs, FieldError{Field: "access_key_id", Message: "required with an endpoint: " +
				"give the access key ID of a user of the S3-compatible server that may read and write the bucket"})
		} else if err := checkKeyText(s.AccessKeyID, 3, 128); err != nil {
			add("access_key_id", err)
		}
		if s.SecretAccessKey == "" {
			errs = append(errs, FieldError{Field: "secret_access_key", Message: "required with an endpoint: " +
				"give the secret access key that belongs to access_key_id"})
		} else if err := checkKeyText(s.SecretAccessKey, 3, 256); err != nil {
			add("secret_access_key", err)
		}
	case hasKeys:
		errs = append(errs, FieldError{Field: "endpoint", Message: "access keys are only for S3-compatible servers and need their endpoint URL " +
			"(like https://minio.example.com:9000); for an AWS bucket clear access_key_id and secret_access_key and give role_arn"})
	default:
		errs = append(errs, FieldError{Field: "role_arn", Message: "required: give the ARN of the IAM role lakeport assumes to reach the bucket, " +
			"like arn:aws:iam::123456789012:role/lakeport-access " +
			"(or, for an S3-compatible server, give endpoint, access_key_id and secret_access_key instead)"})
	}

	if s.KMSKeyARN != "" {
		key, err := ParseKMSKeyARN(s.KMSKeyARN)
		add("kms_key_arn", err)
		if err == nil && !compatible && CheckRegion(s.Region) == nil && key.Region != s.Region {
			errs = append(errs, FieldError{Field: "kms_key_arn", Message: fmt.Sprintf(
				"the KMS key is in region %q but the bucket is in %q: S3 only uses KMS keys from the bucket's own region; "+
					"give a key (or a multi-Region replica key) in %s", key.Region, s.Region, s.Region)})
		}
	}
	return errs
}

// CheckEndpoint validates the URL of an S3-compatible server: http or https,
// a host, and nothing else (no path, query, fragment or user info).
func CheckEndpoint(endpoint string) error {
	const example = "like https://minio.example.com:9000"
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%q is not a URL: give the server's base URL, %s", endpoint, example)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with http:// or https://: give the server's base URL, %s", endpoint, example)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host: give the server's base URL, %s", endpoint, example)
	case u.User != nil:
		return fmt.Errorf("the endpoint must not carry user info (user:password@): put the keys in access_key_id and secret_access_key, and give the URL %s", example)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("%q has a path (%s): give only the server's base URL, %s; the bucket goes in the bucket field", endpoint, u.Path, example)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("%q has a query string: give only the server's base URL, %s", endpoint, example)
	case u.Fragment != "":
		return fmt.Errorf("%q has a fragment (#...): give only the server's base URL, %s", endpoint, example)
	}
	if p := u.Port(); p != "" {
		n := 0
		for _, c := range p {
			n = n*10 + int(c-'0')
			if n > 65535 {
				break
			}
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("%q has port %s, which is not between 1 and 65535: give the server's base URL, %s", endpoint, p, example)
		}
	}
	return nil
}

// checkKeyText rejects access keys that cannot be right: wrong length, or
// whitespace and control characters, which are usually copy-paste accidents.
// It never echoes the value, which may be a secret.
func checkKeyText(v string, minLen, maxLen int) error {
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("starts or ends with whitespace: paste the key again without spaces or line breaks")
	}
	if len(v) < minLen || len(v) > maxLen {
		return fmt.Errorf("is %d characters long, expected %d to %d: paste the whole key as the server shows it", len(v), minLen, maxLen)
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("contains a space or a character that is not printable ASCII: paste the key again exactly as the server shows it")
		}
	}
	return nil
}
