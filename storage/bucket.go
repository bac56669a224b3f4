package storage

import (
	"fmt"
	"net/netip"
	"strings"
)

// Bucket naming rules for S3 general purpose buckets:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// CheckBucketName reports whether name follows the naming rules of S3
// general purpose buckets. The error says which rule the name breaks.
func CheckBucketName(name string) error {
	const fix = "copy the bucket's name exactly as the S3 console shows it"
	if name == "" {
		return fmt.Errorf("required: give the name of the S3 bucket lakeport writes to, like acme-lakeport-data")
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%q has a slash; give only the bucket's name, without s3:// or a prefix: %s", clip(name), fix)
	}
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("%q is %d characters long; bucket names are 3 to 63 characters: %s", clip(name), len(name), fix)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			what := fmt.Sprintf("%q", c)
			switch {
			case c >= 'A' && c <= 'Z':
				return fmt.Errorf("%q has the uppercase letter %s; bucket names use only lowercase letters, digits, dots and hyphens: %s", name, what, fix)
			case c == ' ':
				what = "a space"
			case c == '_':
				what = "an underscore"
			}
			return fmt.Errorf("%q has %s at position %d; bucket names use only lowercase letters, digits, dots and hyphens: %s", name, what, i+1, fix)
		}
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return fmt.Errorf("%q must begin and end with a lowercase letter or a digit: %s", name, fix)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%q has two dots in a row; bucket names cannot: %s", name, fix)
	}
	if looksLikeIPv4(name) {
		return fmt.Errorf("%q is formatted as an IP address, which bucket names cannot be: %s", name, fix)
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("%q starts with %q, a prefix S3 reserves, so no general purpose bucket has this name: %s", name, p, fix)
		}
	}
	for _, sfx := range reservedBucketSuffixes {
		if strings.HasSuffix(name, sfx) {
			return fmt.Errorf("%q ends with %q, a suffix S3 reserves for access point aliases and other bucket types, so no general purpose bucket has this name: %s", name, sfx, fix)
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// looksLikeIPv4 reports whether name has the shape of an IPv4 address
// (four dot-separated groups of digits), which S3 forbids as a bucket name.
func looksLikeIPv4(name string) bool {
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// clip shortens a long value for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
