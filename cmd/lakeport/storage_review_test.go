package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestStorageReviewAndPolicyFormats(t *testing.T) {
	url, dir := startServer(t)
	role := "arn:aws:iam::123456789012:role/lakeport-access"

	out, code := run(t, url, dir, "storage", "policy", "--bucket", "acme-lake", "--json")
	var docs struct {
		Permission json.RawMessage `json:"permission_policy"`
		Trust      json.RawMessage `json:"trust_policy"`
	}
	if err := json.Unmarshal([]byte(out), &docs); err != nil || code != 0 {
		t.Fatalf("storage policy --json: exit %d %v\n%s", code, err, out)
	}
	files := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trust, perms := write("trust.json", docs.Trust), write("perms.json", docs.Permission)

	out, code = run(t, url, dir, "storage", "review", "--role-arn", role, "--trust-policy", trust, "--permission-policy", perms)
	if code != 0 || !strings.Contains(out, "No problems found (role "+role+", bucket acme-lake)") || !strings.Contains(out, "Checked:") || !strings.Contains(out, "Not checked") {
		t.Fatalf("storage review of lakeport's own documents: exit %d\n%s", code, out)
	}

	// Two problems at once, each with its statement and fix; exit code 1.
	var compact bytes.Buffer
	if err := json.Compact(&compact, docs.Trust); err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(compact.String(), "arn:aws:iam::111122223333:root", "arn:aws:iam::999988887777:root", 1)
	broken = strings.Replace(broken, `"StringEquals"`, `"StringLike"`, 1)
	broken = strings.Replace(broken, `"sts:ExternalId":"`, `"sts:ExternalId":"*`, 1)
	out, code = run(t, url, dir, "storage", "review", "--role-arn", role, "--trust-policy", write("broken.json", []byte(broken)), "--permission-policy", perms)
	for _, want := range []string{"ERROR    trust policy, statement LakeportAssumeRole  [external_id_wildcard]", "[missing_principal]", "fix: add \"arn:aws:iam::111122223333:root\"", "2 error(s), 0 warning(s)"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("storage review of a broken trust policy: exit %d, want %q\n%s", code, want, out)
		}
	}
	out, code = run(t, url, dir, "storage", "review", "--role-arn", role, "--trust-policy", write("broken.json", []byte(broken)), "--permission-policy", perms, "--json")
	var rep struct {
		OK       bool `json:"ok"`
		Findings []struct{ Code, Statement, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || len(rep.Findings) != 2 {
		t.Fatalf("storage review --json: exit %d %v\n%s", code, err, out)
	}
	if _, code = run(t, url, dir, "storage", "review", "--role-arn", role, "--trust-policy", filepath.Join(files, "missing.json"), "--permission-policy", perms); code != 1 {
		t.Fatal("a missing file is an error")
	}

	key := "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	out, code = run(t, url, dir, "storage", "policy", "--bucket", "acme-lake", "--kms-key-arn", key, "--format", "terraform")
	for _, want := range []string{`resource "aws_iam_role" "lakeport"`, `resource "aws_s3_bucket_public_access_block" "lakeport"`, `kms_master_key_id = "` + key + `"`, `"sts:ExternalId" = "lp-`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("--format terraform lacks %q: exit %d\n%s", want, code, out)
		}
	}
	out, code = run(t, url, dir, "storage", "policy", "--bucket", "acme-lake", "--format", "cloudformation", "--role-name", "acme-lakeport")
	var tmpl struct {
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(out), &tmpl); err != nil || code != 0 || tmpl.Resources["LakeportRole"].Properties["RoleName"] != "acme-lakeport" {
		t.Fatalf("--format cloudformation: exit %d %v\n%s", code, err, out)
	}
	out, code = run(t, url, dir, "storage", "policy", "--bucket", "acme-lake", "--format", "json")
	if !json.Valid([]byte(out)) || code != 0 || !strings.Contains(out, `"block_public_access"`) {
		t.Fatalf("--format json: exit %d\n%s", code, out)
	}
	if out, code = run(t, url, dir, "storage", "policy", "--bucket", "acme-lake", "--format", "pulumi"); code != 1 || !strings.Contains(out, "json, terraform, cloudformation") {
		t.Fatalf("--format pulumi: exit %d\n%s", code, out)
	}
}
