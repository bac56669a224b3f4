package policy_test

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/storage/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, d policy.Document) {
	t.Helper()
	got, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenBytes(t, name, append(got, '\n'))
}

func TestPermissions(t *testing.T) {
	d, err := policy.Permissions("", "acme-lake", "")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "permissions.json", d)
	if len(d.Statement) != 1 {
		t.Fatalf("without a key: %d statements, want 1 (no KMS statement)", len(d.Statement))
	}

	key := "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	d, err = policy.Permissions("aws", "acme-lake", key)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "permissions_kms.json", d)
	kms := d.Statement[1]
	if strings.Join(kms.Action, ",") != "kms:Decrypt,kms:Encrypt,kms:GenerateDataKey,kms:DescribeKey" || kms.Resource[0] != key {
		t.Fatalf("KMS statement = %+v", kms)
	}
	if _, err := policy.Permissions("aws", "", ""); err == nil {
		t.Fatal("no bucket: want an error")
	}
}

func TestTrust(t *testing.T) {
	d, err := policy.Trust("", "111122223333", "arn:aws:iam::111122223333:role/lakeport-sync-worker", "lp-abc")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trust.json", d)
	raw, _ := json.Marshal(d)
	for _, want := range []string{`"arn:aws:iam::111122223333:root"`, `"arn:aws:iam::111122223333:role/lakeport-sync-worker"`, `"sts:AssumeRole"`, `"StringEquals":{"sts:ExternalId":"lp-abc"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("trust policy lacks %s: %s", want, raw)
		}
	}
	for _, c := range []struct{ acct, worker, ext string }{{"", "w", "e"}, {"1", "", "e"}, {"1", "w", ""}} {
		if _, err := policy.Trust("aws", c.acct, c.worker, c.ext); err == nil {
			t.Errorf("Trust(%q, %q, %q): want an error for the missing value", c.acct, c.worker, c.ext)
		}
	}
	gov, _ := policy.Trust("", "111122223333", "arn:aws-us-gov:iam::111122223333:role/w", "e")
	if gov.Statement[0].Principal.AWS[0] != "arn:aws-us-gov:iam::111122223333:root" {
		t.Fatalf("GovCloud principal = %v", gov.Statement[0].Principal.AWS)
	}
}
