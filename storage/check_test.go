package storage_test

import (
	"strings"
	"testing"

	"github.com/lakeport/lakeport/storage"
)

func TestCheckBucketName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" = valid; else a word of the error
	}{
		{"abc", ""},
		{"acme-lakeport-data", ""},
		{"my.bucket.name", ""},
		{"1bucket2", ""},
		{strings.Repeat("a", 63), ""},
		{"", "required"},
		{"ab", "3 to 63"},
		{strings.Repeat("a", 64), "3 to 63"},
		{"My-Bucket", "uppercase"},
		{"my_bucket", "underscore"},
		{"my bucket", "space"},
		{"s3://my-bucket", "slash"},
		{"-bucket", "begin and end"},
		{"bucket-", "begin and end"},
		{"bucket.", "begin and end"},
		{"my..bucket", "two dots"},
		{"192.168.5.4", "IP address"},
		{"10.0.0.1", "IP address"},
		{"xn--bucket", "xn--"},
		{"sthree-bucket", "sthree-"},
		{"amzn-s3-demo-bucket", "amzn-s3-demo-"},
		{"bucket-s3alias", "-s3alias"},
		{"bucket--ol-s3", "--ol-s3"},
		{"bucket.mrap", ".mrap"},
		{"bucket--x-s3", "--x-s3"},
		{"bucket--table-s3", "--table-s3"},
		{"bucket\u00e9", "position"},
	} {
		err := storage.CheckBucketName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckBucketName(%q) = %v, want nil", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("CheckBucketName(%q) = nil, want an error about %q", tc.name, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("CheckBucketName(%q) = %q, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckRegion(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ca-west-1",
		"il-central-1", "ap-east-2", "us-gov-west-1", "cn-north-1", "cn-northwest-1"} {
		if err := storage.CheckRegion(r); err != nil {
			t.Errorf("CheckRegion(%q) = %v", r, err)
		}
	}
	for _, tc := range []struct{ region, want string }{
		{"", "required"},
		{"US-EAST-1", `use "us-east-1"`},
		{"us-east-1a", "availability zone"},
		{"frankfurt", `"eu-central-1"`},
		{"us-east-9", "not an AWS region"},
		{"auto", "not an AWS region"},
	} {
		err := storage.CheckRegion(tc.region)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckRegion(%q) = %v, want it to mention %q", tc.region, err, tc.want)
		}
	}
	for _, r := range []string{"us-east-1", "auto", "garage", "minio-1"} {
		if err := storage.CheckCompatibleRegion(r); err != nil {
			t.Errorf("CheckCompatibleRegion(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"", "US", "us_east", "-x", "a b"} {
		if err := storage.CheckCompatibleRegion(r); err == nil {
			t.Errorf("CheckCompatibleRegion(%q) = nil, want an error", r)
		}
	}
}

func TestParseRoleARN(t *testing.T) {
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/lakeport-access",
		"arn:aws:iam::123456789012:role/service-role/lakeport+=,.@_-",
		"arn:aws-us-gov:iam::123456789012:role/a/b/c/name",
		"arn:aws-cn:iam::123456789012:role/x",
	} {
		a, err := storage.ParseRoleARN(s)
		if err != nil {
			t.Errorf("ParseRoleARN(%q) = %v", s, err)
			continue
		}
		if a.String() != s || a.Service != "iam" || a.AccountID != "123456789012" {
			t.Errorf("ParseRoleARN(%q) = %+v", s, a)
		}
	}
	for _, tc := range []struct{ arn, want string }{
		{"", "required"},
		{"arn:aws:iam::12:role/x", "the account ID must be 12 digits"},
		{"123456789012", "account ID, not a role"},
		{"lakeport-access", "ARNs look like"},
		{"arn:aws:iam::123456789012:user/bob", "IAM user"},
		{"arn:aws:sts::123456789012:assumed-role/r/s", "session"},
		{"arn:aws:s3:::bucket", "must be iam"},
		{"arn:aws:iam:us-east-1:123456789012:role/x", "no region"},
		{"arn:foo:iam::123456789012:role/x", "partition"},
		{"arn:aws:iam::123456789012:role/", "name is missing"},
		{"arn:aws:iam::123456789012:role/a//b", "empty segment"},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65), "at most 64"},
		{"arn:aws:iam::123456789012:role/bad*name", "role names use only"},
		{" arn:aws:iam::123456789012:role/x", "whitespace"},
		{"arn:aws:iam::123456789012:instance-profile/x", "instance profile"},
	} {
		_, err := storage.ParseRoleARN(tc.arn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRoleARN(%q) = %v, want it to mention %q", tc.arn, err, tc.want)
		}
		if err != nil && tc.arn != "" && !strings.Contains(err.Error(), "arn:aws:iam::123456789012:role/lakeport-access") {
			t.Errorf("ParseRoleARN(%q) error %q gives no example of a right ARN", tc.arn, err)
		}
	}
}

func TestParseKMSKeyARN(t *testing.T) {
	for _, s := range []string{
		"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
		"arn:aws:kms:us-east-1:123456789012:alias/lakeport/data_key-1",
		"arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	} {
		if _, err := storage.ParseKMSKeyARN(s); err != nil {
			t.Errorf("ParseKMSKeyARN(%q) = %v", s, err)
		}
	}
	for _, tc := range []struct{ arn, want string }{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", "full ARN"},
		{"alias/my-key", "full ARN"},
		{"arn:aws:kms:us-east-1:123456789012:key/not-a-uuid", "UUID"},
		{"arn:aws:kms::123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "region"},
		{"arn:aws:kms:us-east-1:1234:key/1234abcd-12ab-34cd-56ef-1234567890ab", "12 digits"},
		{"arn:aws:s3:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "must be kms"},
		{"arn:aws:kms:us-east-1:123456789012:grant/x", "key/ or alias/"},
		{"arn:aws:kms:us-east-1:123456789012:alias/bad alias", "space"},
	} {
		_, err := storage.ParseKMSKeyARN(tc.arn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKMSKeyARN(%q) = %v, want it to mention %q", tc.arn, err, tc.want)
		}
	}
}

func fields(errs []storage.FieldError) map[string]string {
	m := map[string]string{}
	for _, e := range errs {
		m[e.Field] += e.Message + " | "
	}
	return m
}

func TestSettingCheck(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/lakeport-access"
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		name string
		s    storage.Setting
		want map[string]string // field -> a word of its message; nil = valid
	}{
		{"aws role", storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: role, KMSKeyARN: key}, nil},
		{"s3 compatible", storage.Setting{Bucket: "acme-data", Region: "auto", Endpoint: "https://minio.example.com:9000", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"}, nil},
		{"trailing slash endpoint", storage.Setting{Bucket: "acme-data", Region: "garage", Endpoint: "http://127.0.0.1:3900/", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"}, nil},
		{"nothing", storage.Setting{}, map[string]string{"bucket": "required", "region": "required", "role_arn": "required"}},
		{"both role and keys", storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: role, Endpoint: "https://x.example.com", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"role_arn": "cannot be combined"}},
		{"keys without endpoint", storage.Setting{Bucket: "acme-data", Region: "us-east-1", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "only for S3-compatible"}},
		{"endpoint without keys", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://x.example.com"},
			map[string]string{"access_key_id": "required", "secret_access_key": "required"}},
		{"endpoint with path", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://x.example.com/bucket", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "has a path"}},
		{"endpoint with query", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://x.example.com?a=b", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "query"}},
		{"endpoint with userinfo", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://u:p@x.example.com", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "user info"}},
		{"endpoint ftp", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "ftp://x.example.com", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "http://"}},
		{"endpoint no host", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue"},
			map[string]string{"endpoint": "no host"}},
		{"secret with newline", storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://x.example.com", AccessKeyID: "AKID1234", SecretAccessKey: "s3cr3tvalue\n"},
			map[string]string{"secret_access_key": "whitespace"}},
		{"non-AWS region on AWS", storage.Setting{Bucket: "acme-data", Region: "auto", RoleARN: role}, map[string]string{"region": "not an AWS region"}},
		{"KMS key in another region", storage.Setting{Bucket: "acme-data", Region: "eu-west-1", RoleARN: role, KMSKeyARN: key}, map[string]string{"kms_key_arn": "region"}},
		{"role partition mismatch", storage.Setting{Bucket: "acme-data", Region: "cn-north-1", RoleARN: role}, map[string]string{"role_arn": "partition"}},
		{"bad role", storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: "arn:aws:iam::12:role/x"}, map[string]string{"role_arn": "12 digits"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fields(tc.s.Check())
			if tc.want == nil && len(got) > 0 {
				t.Fatalf("Check() = %v, want no problems", got)
			}
			for f, word := range tc.want {
				if !strings.Contains(got[f], word) {
					t.Errorf("field %s: got %q, want it to mention %q (all: %v)", f, got[f], word, got)
				}
			}
			for f := range got {
				if _, ok := tc.want[f]; !ok {
					t.Errorf("unexpected problem with %s: %s", f, got[f])
				}
			}
			if strings.Contains(strings.Join(valuesOf(got), ""), "s3cr3tvalue") {
				t.Error("a message shows the secret access key")
			}
		})
	}
}

func valuesOf(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestFieldErrorText(t *testing.T) {
	errs := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: "arn:aws:iam::12:role/x"}.Check()
	if len(errs) != 1 {
		t.Fatalf("Check() = %v", errs)
	}
	want := `role_arn: "arn:aws:iam::12:role/x" is not an IAM role ARN: the account ID must be 12 digits; copy the role's ARN from the IAM console, like arn:aws:iam::123456789012:role/lakeport-access`
	if errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0].Error(), want)
	}
}

func TestAccessCheck(t *testing.T) {
	good := storage.Access{ExternalID: "lakeport-org-1f2e3d", SessionName: "lakeport-org-42"}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []storage.Access{
		{ExternalID: ""},
		{ExternalID: "x"},
		{ExternalID: "has space"},
		{ExternalID: "ok-external-id", SessionName: "a"},
		{ExternalID: "ok-external-id", SessionName: "bad/slash"},
		{ExternalID: "ok-external-id", SessionName: strings.Repeat("s", 65)},
	} {
		if err := a.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", a)
		}
	}
}
