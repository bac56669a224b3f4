package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// sameplace writes a file through iceberg-go's file IO with loc.Props and
// reads it back through loc.Bucket: both must reach the same place.
func samePlace(t *testing.T, loc storage.Location) {
	t.Helper()
	fsys, err := icebergio.LoadFS(ctx(t), loc.Props, loc.Root)
	if err != nil {
		t.Fatalf("iceberg file IO for %s: %v", loc.Root, err)
	}
	w, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		t.Fatalf("file IO %T cannot write", fsys)
	}
	if err := w.WriteFile(loc.Root+"/crm/contacts/metadata/v1.json", []byte(`{"v":1}`)); err != nil {
		t.Fatalf("write through iceberg file IO: %v", err)
	}
	got, err := loc.Bucket.Get(ctx(t), "crm/contacts/metadata/v1.json")
	if err != nil || string(got) != `{"v":1}` {
		t.Fatalf("read through Bucket: %q, %v", got, err)
	}
	if err := loc.Bucket.Put(ctx(t), "crm/.lakeport-owner.json", []byte("{}")); err != nil {
		t.Fatalf("put through Bucket: %v", err)
	}
}

func TestResolveManaged(t *testing.T) {
	dataDir := t.TempDir()
	loc, err := storage.Resolve(ctx(t), dataDir, "org-1", storage.ModeManaged, storage.Setting{}, storage.Access{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dataDir, "warehouse", "org-1")
	if want := "file://" + dir; loc.Root != want {
		t.Errorf("root %q, want %q", loc.Root, want)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("warehouse folder: %v, %v; want a folder with mode 0700", fi, err)
	}
	if len(loc.Props) != 0 || !loc.Expires.IsZero() || loc.Mode != storage.ModeManaged {
		t.Errorf("props %v, expires %v, mode %q; want none, zero, managed", loc.Props, loc.Expires, loc.Mode)
	}
	if loc.Bucket.Location() != loc.Root {
		t.Errorf("bucket at %s, root %s", loc.Bucket.Location(), loc.Root)
	}
	samePlace(t, loc)
	if _, err := os.Stat(filepath.Join(dir, "crm", ".lakeport-owner.json")); err != nil {
		t.Errorf("the marker is not in the org's folder: %v", err)
	}

	// Again: the folder is already there, the objects stay.
	again, err := storage.Resolve(ctx(t), dataDir, "org-1", storage.ModeManaged, storage.Setting{}, storage.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Bucket.Get(ctx(t), "crm/.lakeport-owner.json"); err != nil {
		t.Errorf("second resolve: %v", err)
	}
	// Another org gets another folder.
	other, err := storage.Resolve(ctx(t), dataDir, "org-2", storage.ModeManaged, storage.Setting{}, storage.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Bucket.Get(ctx(t), "crm/.lakeport-owner.json"); !objstore.IsNotFound(err) {
		t.Errorf("org-2 sees org-1's object: %v", err)
	}
}

func TestResolveManagedRejectsBadOrgIDs(t *testing.T) {
	dataDir := t.TempDir()
	for _, id := range []string{"", "..", "../x", "a/b", ".hidden", `a\b`, "a b", strings.Repeat("x", 129)} {
		if _, err := storage.Resolve(ctx(t), dataDir, id, storage.ModeManaged, storage.Setting{}, storage.Access{}); !errors.Is(err, storage.ErrInvalidOrgID) {
			t.Errorf("org ID %q: %v, want ErrInvalidOrgID", id, err)
		}
	}
	if ents, _ := os.ReadDir(dataDir); len(ents) != 0 {
		t.Errorf("the data dir holds %d entries after refused org IDs", len(ents))
	}
}

func TestResolveAccessKeys(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "wh-keys")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)

	setting := storage.Setting{Bucket: bucket, Region: s.Region, Endpoint: s.Endpoint, AccessKeyID: ak, SecretAccessKey: sk}
	loc, err := storage.Resolve(ctx(t), t.TempDir(), "org-1", storage.ModeCustomerHosted, setting, storage.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Root != "s3://"+bucket || loc.Mode != storage.ModeCustomerHosted || !loc.Expires.IsZero() {
		t.Errorf("root %q, mode %q, expires %v", loc.Root, loc.Mode, loc.Expires)
	}
	want := map[string]string{
		lake.PropS3Endpoint:               s.Endpoint,
		lake.PropS3AccessKeyID:            ak,
		lake.PropS3SecretAccessKey:        sk,
		lake.PropS3Region:                 s.Region,
		lake.PropS3ForceVirtualAddressing: "false",
	}
	if len(loc.Props) != len(want) {
		t.Errorf("props %v, want %v", loc.Props, want)
	}
	for k, v := range want {
		if loc.Props[k] != v {
			t.Errorf("prop %s = %q, want %q", k, loc.Props[k], v)
		}
	}
	samePlace(t, loc)
	if !s.ObjectExists(t, bucket, "crm/.lakeport-owner.json") {
		t.Error("the object is not in the bucket")
	}
}

func TestResolveRole(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "wh-role")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)

	const role = "arn:aws:iam::123456789012:role/lakeport-access"
	fake := s3test.NewSTS(t)
	fake.AddRole(s3test.Role{ARN: role, ExternalID: "ext-org-1", Trusted: []string{"PLATFORMKEY"}, AccessKey: ak, SecretKey: sk})
	setting := storage.Setting{Bucket: bucket, Region: "eu-west-1", RoleARN: role}
	access := storage.Access{
		ExternalID:  "ext-org-1",
		SessionName: "lakeport-org-1",
		STSEndpoint: fake.URL,
		Credentials: credentials.NewStaticCredentialsProvider("PLATFORMKEY", "platform-secret", ""),
	}
	// Bucket (not Props) goes to versitygw, which takes no session token.
	toLocal := func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
		o.Region = s.Region
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	before := time.Now()
	loc, err := storage.Resolve(ctx(t), t.TempDir(), "org-1", storage.ModeCustomerHosted, setting, access, toLocal, s3test.IgnoreSessionToken)
	if err != nil {
		t.Fatal(err)
	}

	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(reqs))
	}
	f := reqs[0].Form
	if f.Get("ExternalId") != "ext-org-1" || f.Get("RoleArn") != role || f.Get("RoleSessionName") != "lakeport-org-1" || reqs[0].CallerAccessKey != "PLATFORMKEY" {
		t.Errorf("AssumeRole by %s with %v", reqs[0].CallerAccessKey, f)
	}

	if loc.Root != "s3://"+bucket {
		t.Errorf("root %q", loc.Root)
	}
	p := loc.Props
	if p[lake.PropS3AccessKeyID] != ak || p[lake.PropS3SecretAccessKey] != sk || p[lake.PropS3Region] != "eu-west-1" {
		t.Errorf("props %v: want the role's keys %s and region eu-west-1", p, ak)
	}
	if !strings.HasPrefix(p[lake.PropS3SessionToken], "FQoGZXIvYXdzEfake") {
		t.Errorf("session token %q, want the one STS returned", p[lake.PropS3SessionToken])
	}
	if _, ok := p[lake.PropS3Endpoint]; ok {
		t.Errorf("an AWS bucket has an endpoint in props: %v", p)
	}
	if loc.Expires.Before(before.Add(55*time.Minute)) || loc.Expires.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("expires %v, want about an hour from now", loc.Expires)
	}

	if err := loc.Bucket.Put(ctx(t), "crm/.lakeport-owner.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if got, err := loc.Bucket.Get(ctx(t), "crm/.lakeport-owner.json"); err != nil || string(got) != "{}" {
		t.Fatalf("get: %q, %v", got, err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d AssumeRole calls after using the bucket, want 1 (Bucket shares Resolve's credentials)", n)
	}
}

func TestResolveRoleDenied(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/lakeport-access"
	fake := s3test.NewSTS(t)
	fake.AddRole(s3test.Role{ARN: role, ExternalID: "ext-org-1", Trusted: []string{"PLATFORMKEY"}, AccessKey: "a", SecretKey: "b"})
	setting := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: role}
	access := storage.Access{
		ExternalID:  "ext-org-2",
		STSEndpoint: fake.URL,
		Credentials: credentials.NewStaticCredentialsProvider("PLATFORMKEY", "platform-secret", ""),
	}
	_, err := storage.Resolve(ctx(t), "", "org-2", storage.ModeCustomerHosted, setting, access)
	if !errors.Is(err, storage.ErrNoCredentials) || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "Test connection") {
		t.Fatalf("wrong external ID: %v, want ErrNoCredentials naming AccessDenied and Test connection", err)
	}
	if f := fake.Requests()[0].Form; f.Get("ExternalId") != "ext-org-2" {
		t.Errorf("external ID sent %q", f.Get("ExternalId"))
	}
}

func TestResolveRejects(t *testing.T) {
	role := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/x"}
	cases := []struct {
		name string
		mode storage.Mode
		s    storage.Setting
		a    storage.Access
		want error
	}{
		{"unknown mode", "glacier", storage.Setting{}, storage.Access{}, storage.ErrUnknownMode},
		{"empty mode", "", storage.Setting{}, storage.Access{}, storage.ErrUnknownMode},
		{"no bucket", storage.ModeCustomerHosted, storage.Setting{}, storage.Access{}, storage.ErrInvalidSetting},
		{"bad bucket", storage.ModeCustomerHosted, storage.Setting{Bucket: "Acme_Data", Region: "us-east-1", RoleARN: role.RoleARN}, storage.Access{}, storage.ErrInvalidSetting},
		{"no external ID", storage.ModeCustomerHosted, role, storage.Access{Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}, storage.ErrInvalidAccess},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := storage.Resolve(ctx(t), t.TempDir(), "org-1", c.mode, c.s, c.a)
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}
