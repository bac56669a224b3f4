package storage_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

type resolverEnv struct {
	st   *sqlite.Store
	locs *storage.Resolver
	org  store.Org
	fake *s3test.STS
	srv  *s3test.Server
}

const roleARN = "arn:aws:iam::123456789012:role/lakeport-access"

// newResolverEnv is a Resolver on SQLite whose STS is the fake and whose S3 clients
// reach the shared versitygw.
func newResolverEnv(t *testing.T) *resolverEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx(t), filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	org, _, err := tenant.CreateOrg(ctx(t), st, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	srv := s3test.Shared(t)
	fake := s3test.NewSTS(t)
	locs := &storage.Resolver{Store: st, Secrets: box, DataDir: dir,
		Identity: storage.Identity{STSEndpoint: fake.URL, Credentials: credentials.NewStaticCredentialsProvider("PLATFORMKEY", "platform-secret", "")},
		S3Options: []func(*s3.Options){func(o *s3.Options) {
			o.BaseEndpoint = aws.String(srv.Endpoint)
			o.UsePathStyle = true
			o.Region = srv.Region
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}, s3test.IgnoreSessionToken}}
	return &resolverEnv{st: st, locs: locs, org: org, fake: fake, srv: srv}
}

// roleBucket makes a bucket of a new versitygw user and a role (in the fake STS)
// that hands out that user's keys to the platform, with the org's external ID.
func (e *resolverEnv) roleBucket(t *testing.T, arn string, d time.Duration) storage.Setting {
	bucket := e.srv.NewBucket(t, "res")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	e.srv.CreateUser(t, ak, sk)
	e.srv.ChangeBucketOwner(t, bucket, ak)
	e.fake.AddRole(s3test.Role{ARN: arn, ExternalID: e.org.ExternalID, Trusted: []string{"PLATFORMKEY"}, AccessKey: ak, SecretKey: sk, Duration: d})
	return storage.Setting{Bucket: bucket, Region: "eu-west-1", RoleARN: arn}
}

func TestResolverReusesUntilTheSettingChanges(t *testing.T) {
	e := newResolverEnv(t)
	set := e.roleBucket(t, roleARN, 0)
	if _, err := e.locs.Save(ctx(t), e.org, set, time.Now()); err != nil {
		t.Fatal(err)
	}
	first, err := e.locs.Locate(ctx(t), e.org)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		loc, err := e.locs.Locate(ctx(t), e.org)
		if err != nil || loc.Root != first.Root {
			t.Fatalf("locate: %v, %v", loc.Root, err)
		}
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Fatalf("%d AssumeRole calls for 6 locates, want 1 (the location is reused)", n)
	}
	f := e.fake.Requests()[0]
	if f.Form.Get("ExternalId") != e.org.ExternalID || f.Form.Get("RoleSessionName") != "lakeport-"+e.org.ID {
		t.Errorf("AssumeRole with %v", f.Form)
	}
	if _, err := e.locs.Fresh(ctx(t), e.org, storage.Platform); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Requests()); n != 2 {
		t.Fatalf("%d AssumeRole calls after Fresh, want 2", n)
	}

	// Another bucket saved: the next Locate answers with it.
	other := e.roleBucket(t, "arn:aws:iam::123456789012:role/other", 0)
	if _, err := e.locs.Save(ctx(t), e.org, other, time.Now()); err != nil {
		t.Fatal(err)
	}
	loc, err := e.locs.Locate(ctx(t), e.org)
	if err != nil || loc.Root != "s3://"+other.Bucket {
		t.Fatalf("after saving another bucket: %s, %v", loc.Root, err)
	}
	if _, err := e.locs.UseManaged(ctx(t), e.org); err != nil {
		t.Fatal(err)
	}
	loc, err = e.locs.Locate(ctx(t), e.org)
	if err != nil || loc.Mode != storage.ModeManaged || !loc.Local() {
		t.Fatalf("after use-managed: %+v, %v", loc, err)
	}
	root, err := loc.OpenRoot()
	if err != nil {
		t.Fatal(err)
	}
	root.Close()
}

func TestResolverSealsTheSecret(t *testing.T) {
	e := newResolverEnv(t)
	set := storage.Setting{Bucket: "acme-data", Region: "us-east-1", Endpoint: "https://minio.example.com", AccessKeyID: "AKIAKEYS", SecretAccessKey: "very-secret-key"}
	if _, err := e.locs.Save(ctx(t), e.org, set, time.Now()); err != nil {
		t.Fatal(err)
	}
	raw, err := e.st.StorageSetting(ctx(t), e.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if raw.SecretAccessKeySealed == "" || strings.Contains(raw.SecretAccessKeySealed, set.SecretAccessKey) {
		t.Fatalf("the store holds the secret as %q", raw.SecretAccessKeySealed)
	}
	saved, err := e.locs.Saved(ctx(t), e.org)
	if err != nil || saved.Mode != storage.ModeCustomerHosted || saved.Setting != set {
		t.Fatalf("saved %+v, %v; want %+v", saved, err, set)
	}
	// Sealed for this organization only: another one cannot open it.
	other, _, _ := tenant.CreateOrg(ctx(t), e.st, "evil", false)
	raw.OrgID = other.ID
	if err := e.st.PutStorageSetting(ctx(t), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.locs.Saved(ctx(t), other); err == nil {
		t.Fatal("another organization opened the secret sealed for acme")
	}
}

// A running sync's credentials are renewed before they expire and handed to it.
func TestResolverRenews(t *testing.T) {
	e := newResolverEnv(t)
	// Credentials that expire RenewMargin from now: renewal is due at once (after
	// Renew's 5s floor).
	set := e.roleBucket(t, roleARN, storage.RenewMargin)
	if _, err := e.locs.Save(ctx(t), e.org, set, time.Now()); err != nil {
		t.Fatal(err)
	}
	loc, err := e.locs.Locate(ctx(t), e.org)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	got := make(chan storage.Location, 1)
	go e.locs.Renew(c, e.org, loc, func(next storage.Location) error {
		select {
		case got <- next:
		default:
		}
		return nil
	})
	select {
	case next := <-got:
		if next.Props["s3.session-token"] == loc.Props["s3.session-token"] {
			t.Error("renewed properties carry the old session token")
		}
	case <-c.Done():
		t.Fatal("no renewal before the test's deadline")
	}
	if n := len(e.fake.Requests()); n < 2 {
		t.Errorf("%d AssumeRole calls, want a second one for the renewal", n)
	}
	// Static keys never expire: Renew has nothing to do and returns.
	done := make(chan struct{})
	go func() { e.locs.Renew(c, e.org, storage.Location{Root: "s3://x"}, nil); close(done) }()
	select {
	case <-done:
	case <-c.Done():
		t.Fatal("Renew of a location without expiry did not return")
	}
}
