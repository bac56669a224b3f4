package storage_test

import (
	"strings"
	"testing"

	"github.com/lakeport/lakeport/storage"
)

func FuzzParseARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/lakeport-access",
		"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:s3:::bucket/key:with:colons",
		"arn:aws:iam::12:role/x", "arn::::::", "", "arn:aws", "arn:aws:iam::aws:policy/Admin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := storage.ParseARN(s)
		if err == nil {
			if got := a.String(); got != s {
				t.Fatalf("ParseARN(%q).String() = %q", s, got)
			}
			if b, err := storage.ParseARN(a.String()); err != nil || b != a {
				t.Fatalf("round trip of %q: %+v, %v", s, b, err)
			}
		}
		if r, err := storage.ParseRoleARN(s); err == nil {
			if r.String() != s || r.Service != "iam" || len(r.AccountID) != 12 || !strings.HasPrefix(r.Resource, "role/") {
				t.Fatalf("ParseRoleARN accepted %q as %+v", s, r)
			}
		}
		if k, err := storage.ParseKMSKeyARN(s); err == nil {
			if k.String() != s || k.Service != "kms" || k.Region == "" {
				t.Fatalf("ParseKMSKeyARN accepted %q as %+v", s, k)
			}
		}
	})
}

func FuzzCheckBucketName(f *testing.F) {
	for _, s := range []string{"abc", "my.bucket", "192.168.0.1", "xn--a", "a..b", "A", "bucket--x-s3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := storage.CheckBucketName(name); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(name) < 3 || len(name) > 63 {
			t.Fatalf("accepted %q of length %d", name, len(name))
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				t.Fatalf("accepted %q with %q", name, c)
			}
		}
		first, last := name[0], name[len(name)-1]
		if first == '.' || first == '-' || last == '.' || last == '-' || strings.Contains(name, "..") {
			t.Fatalf("accepted %q", name)
		}
	})
}
