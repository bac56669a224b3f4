package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

type env struct {
	url      string
	store    store.Store
	operator *client.Client // the bootstrap admin of org "default"
	dataDir  string
}

func newEnv(t *testing.T, platform config.Platform) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	path, err := tenant.Bootstrap(ctx, st, dir)
	if err != nil || path == "" {
		t.Fatalf("bootstrap: %q, %v", path, err)
	}
	tok, _ := os.ReadFile(path)
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	srv := &api.Server{Store: st, Secrets: box, Platform: platform, StepTimeout: 5 * time.Second,
		// versitygw listens on loopback: allow it as an operator with private networks would.
		Storage: &storage.Resolver{Store: st, Secrets: box, Identity: storage.Identity{Guard: netguard.New(true)}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil))}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{url: hs.URL, store: st, operator: client.New(hs.URL, strings.TrimSpace(string(tok))), dataDir: dir}
}

func (e *env) newOrg(t *testing.T, name string) *client.Client {
	t.Helper()
	out, err := e.operator.CreateOrg(context.Background(), name)
	if err != nil {
		t.Fatalf("create org %s: %v", name, err)
	}
	return client.New(e.url, out.AdminToken)
}

func wantCode(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	e, ok := client.AsError(err)
	if !ok {
		t.Fatalf("got %v, want HTTP %d %s", err, status, code)
	}
	if e.Status != status || e.Body.Code != code {
		t.Fatalf("got HTTP %d %s (%s), want %d %s", e.Status, e.Body.Code, e.Body.Message, status, code)
	}
	return e
}

// goodSetting returns a bucket on the shared versitygw owned by a fresh user, reached
// with that user's access keys.
func goodSetting(t *testing.T) (storage.Setting, *s3test.Server) {
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	srv.CreateUser(t, ak, sk)
	b := srv.NewBucket(t, "api")
	srv.ChangeBucketOwner(t, b, ak)
	return storage.Setting{Bucket: b, Region: srv.Region, Endpoint: srv.Endpoint, AccessKeyID: ak, SecretAccessKey: sk}, srv
}

func TestBootstrapAndTokens(t *testing.T) {
	e := newEnv(t, config.Platform{})
	ctx := context.Background()
	fi, err := os.Stat(filepath.Join(e.dataDir, tenant.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	me, err := e.operator.WhoAmI(ctx)
	if err != nil || me.Org.Name != "default" || me.Role != store.RoleAdmin || !me.Operator {
		t.Fatalf("whoami = %+v, %v", me, err)
	}
	// A second bootstrap (a restart) changes nothing.
	if p, err := tenant.Bootstrap(ctx, e.store, e.dataDir); p != "" || err != nil {
		t.Fatalf("second bootstrap wrote %q, %v", p, err)
	}

	acme := e.newOrg(t, "acme")
	if _, err := acme.CreateOrg(ctx, "evil"); err == nil {
		t.Fatal("an org admin created an organization; only the operator may")
	} else {
		wantCode(t, err, 403, "operator_only")
	}
	_, err = e.operator.CreateOrg(ctx, "acme")
	wantCode(t, err, 409, "org_exists")
	_, err = e.operator.CreateOrg(ctx, "Bad Name!")
	wantCode(t, err, 400, "invalid_input")

	m, err := acme.CreateToken(ctx, store.RoleMember)
	if err != nil || m.Role != store.RoleMember || m.Org.Name != "acme" {
		t.Fatalf("create member token = %+v, %v", m, err)
	}
	member := client.New(e.url, m.Token)
	if me, _ := member.WhoAmI(ctx); me.Role != store.RoleMember || me.Org.Name != "acme" {
		t.Fatalf("member whoami = %+v", me)
	}
	_, err = member.CreateToken(ctx, store.RoleAdmin)
	wantCode(t, err, 403, "admin_only")
	_, err = acme.CreateToken(ctx, "owner")
	wantCode(t, err, 400, "invalid_input")

	_, err = client.New(e.url, "").WhoAmI(ctx)
	wantCode(t, err, 401, "unauthenticated")
	me, _ = acme.WhoAmI(ctx)
	expired, err := tenant.CreateTokenUntil(ctx, e.store, me.Org.ID, store.RoleAdmin, false, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.New(e.url, expired).WhoAmI(ctx)
	wantCode(t, err, 401, "token_expired")
	valid, _ := tenant.CreateTokenUntil(ctx, e.store, me.Org.ID, store.RoleAdmin, false, time.Now().Add(time.Hour))
	if me, err := client.New(e.url, valid).WhoAmI(ctx); err != nil || me.Org.Name != "acme" {
		t.Fatalf("a token before its expiry: %+v, %v", me, err)
	}
	_, err = client.New(e.url, "lpt_not-a-real-token").WhoAmI(ctx)
	wantCode(t, err, 401, "invalid_token")
}

func TestStorageScopedToOrg(t *testing.T) {
	e := newEnv(t, config.Platform{AccountID: "111122223333", WorkerPrincipalARN: "arn:aws:iam::111122223333:role/lakeport-sync-worker"})
	ctx := context.Background()
	a, b := e.newOrg(t, "org-a"), e.newOrg(t, "org-b")

	va, err := a.Storage(ctx)
	if err != nil || va.Mode != storage.ModeManaged || va.ExternalID == "" || va.Platform.AccountID != "111122223333" {
		t.Fatalf("show A = %+v, %v", va, err)
	}
	again, _ := a.Storage(ctx)
	if again.ExternalID != va.ExternalID {
		t.Fatalf("external ID changed between shows: %s then %s", va.ExternalID, again.ExternalID)
	}
	vb, _ := b.Storage(ctx)
	if vb.ExternalID == va.ExternalID {
		t.Fatal("two organizations share an external ID")
	}

	set, _ := goodSetting(t)
	saved, err := a.SaveStorage(ctx, set)
	if err != nil {
		t.Fatalf("save A: %v", err)
	}
	if !saved.Report.OK || saved.Storage.Mode != storage.ModeCustomerHosted || saved.Storage.ValidatedAt == nil {
		t.Fatalf("save A = %+v", saved)
	}
	raw, _ := json.Marshal(saved)
	if strings.Contains(string(raw), set.SecretAccessKey) {
		t.Fatal("the save response echoes the secret access key")
	}
	shown, _ := a.Storage(ctx)
	raw, _ = json.Marshal(shown)
	if shown.Setting == nil || shown.Setting.Bucket != set.Bucket || !shown.SecretAccessKeySet || strings.Contains(string(raw), set.SecretAccessKey) {
		t.Fatalf("show A after save = %s", raw)
	}
	// The secret is encrypted at rest.
	orgA, _ := a.WhoAmI(ctx)
	row, err := e.store.StorageSetting(ctx, orgA.Org.ID)
	if err != nil || row.SecretAccessKeySealed == "" || strings.Contains(row.SecretAccessKeySealed, set.SecretAccessKey) {
		t.Fatalf("stored secret = %q, %v: want it sealed", row.SecretAccessKeySealed, err)
	}

	// Organization B sees only its own setting and external ID, and cannot reach A's org.
	vb, _ = b.Storage(ctx)
	raw, _ = json.Marshal(vb)
	if vb.Mode != storage.ModeManaged || strings.Contains(string(raw), set.Bucket) || strings.Contains(string(raw), va.ExternalID) {
		t.Fatalf("org B sees A's storage: %s", raw)
	}
	req, _ := http.NewRequest("GET", e.url+"/api/v1/orgs/"+orgA.Org.ID, nil)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("org B reading org A: status %v, %v; want 404", resp.StatusCode, err)
	}
	resp.Body.Close()
	if _, err := b.UseManaged(ctx); err != nil {
		t.Fatal(err)
	}
	if shown, _ := a.Storage(ctx); shown.Mode != storage.ModeCustomerHosted {
		t.Fatal("org B's use-managed changed org A's setting")
	}

	// A member of A can read but not save, test or switch.
	m, _ := a.CreateToken(ctx, store.RoleMember)
	member := client.New(e.url, m.Token)
	_, err = member.SaveStorage(ctx, set)
	wantCode(t, err, 403, "admin_only")
	_, err = member.TestStorage(ctx, set)
	wantCode(t, err, 403, "admin_only")
	_, err = member.UseManaged(ctx)
	wantCode(t, err, 403, "admin_only")

	// Policy documents carry every value.
	p, err := a.StoragePolicy(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	praw, _ := json.Marshal(p)
	for _, want := range []string{set.Bucket, va.ExternalID, "arn:aws:iam::111122223333:root", "lakeport-sync-worker", "s3:PutObject"} {
		if !strings.Contains(string(praw), want) {
			t.Errorf("policy lacks %q: %s", want, praw)
		}
	}

	if v, err := a.UseManaged(ctx); err != nil || v.Mode != storage.ModeManaged || v.Setting != nil {
		t.Fatalf("use-managed = %+v, %v", v, err)
	}
}

func TestSaveRefusesFailingSetting(t *testing.T) {
	e := newEnv(t, config.Platform{})
	ctx := context.Background()
	a := e.newOrg(t, "acme")
	set, _ := goodSetting(t)
	set.SecretAccessKey = "wrong-secret"
	_, err := a.SaveStorage(ctx, set)
	ce := wantCode(t, err, 422, "validation_failed")
	if ce.Body.Report == nil || ce.Body.Report.OK {
		t.Fatalf("a refused save must carry the failing report: %+v", ce.Body)
	}
	if v, _ := a.Storage(ctx); v.Mode != storage.ModeManaged || v.Setting != nil {
		t.Fatalf("a failing setting was stored: %+v", v)
	}
	// test answers the same report without saving anything.
	r, err := a.TestStorage(ctx, set)
	if err != nil || r.OK {
		t.Fatalf("test with wrong keys = %+v, %v; want a failing report", r, err)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	e := newEnv(t, config.Platform{AccountID: "111122223333", WorkerPrincipalARN: "arn:aws:iam::111122223333:role/w"})
	ctx := context.Background()
	a := e.newOrg(t, "acme")
	role := "arn:aws:iam::123456789012:role/lakeport"
	cases := []struct {
		name  string
		set   storage.Setting
		field string
	}{
		{"bucket with capitals", storage.Setting{Bucket: "My_Bucket", Region: "us-east-1", RoleARN: role}, "bucket"},
		{"bucket too short", storage.Setting{Bucket: "ab", Region: "us-east-1", RoleARN: role}, "bucket"},
		{"bucket like an IP", storage.Setting{Bucket: "192.168.5.4", Region: "us-east-1", RoleARN: role}, "bucket"},
		{"unknown region", storage.Setting{Bucket: "acme-lake", Region: "us-middle-9", RoleARN: role}, "region"},
		{"role ARN malformed", storage.Setting{Bucket: "acme-lake", Region: "us-east-1", RoleARN: "arn:aws:iam::12:role/x"}, "role_arn"},
		{"role ARN of a user", storage.Setting{Bucket: "acme-lake", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:user/bob"}, "role_arn"},
		{"KMS ARN malformed", storage.Setting{Bucket: "acme-lake", Region: "us-east-1", RoleARN: role, KMSKeyARN: "arn:aws:kms:us-east-1:123456789012:nokey"}, "kms_key_arn"},
		{"endpoint not a URL", storage.Setting{Bucket: "acme-lake", Region: "us-east-1", Endpoint: "not a url", AccessKeyID: "ak", SecretAccessKey: "secret"}, "endpoint"},
		{"endpoint without keys", storage.Setting{Bucket: "acme-lake", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000"}, "access_key_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.SaveStorage(ctx, c.set)
			ce := wantCode(t, err, 400, "invalid_input")
			found := false
			for _, f := range ce.Body.Fields {
				found = found || f.Field == c.field
			}
			if !found || !strings.Contains(ce.Body.Message, "nothing was saved") {
				t.Fatalf("error %+v does not name field %s", ce.Body, c.field)
			}
			r, err := a.TestStorage(ctx, c.set)
			if err != nil || r.OK || len(r.Steps) == 0 || r.Steps[0].Name != "check_inputs" || r.Steps[0].Status != "failed" || !strings.Contains(r.Steps[0].Message, c.field) {
				t.Fatalf("test of bad input = %+v, %v; want check_inputs to fail naming %s", r, err, c.field)
			}
		})
	}
	_, err := a.StoragePolicy(ctx, "Bad_Bucket", "")
	wantCode(t, err, 400, "invalid_input")
	_, err = a.StoragePolicy(ctx, "", "")
	wantCode(t, err, 400, "invalid_input") // no bucket saved and none given

	raw := func(method, path, body string) (int, api.Error) {
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ae api.Error
		json.NewDecoder(resp.Body).Decode(&ae)
		return resp.StatusCode, ae
	}
	if st, ae := raw("PUT", "/api/v1/storage", `{"bucket": "acme-lake",`); st != 400 || ae.Code != "malformed_json" {
		t.Errorf("truncated JSON: %d %+v", st, ae)
	}
	if st, ae := raw("PUT", "/api/v1/storage", `{"bucket": 42}`); st != 400 || ae.Code != "invalid_input" || ae.Fields[0].Field != "bucket" {
		t.Errorf("wrong type: %d %+v", st, ae)
	}
	if st, ae := raw("PUT", "/api/v1/storage", `{"bucket":"acme-lake","region":"us-east-1","role_arn":"`+role+`","external_id":"mine"}`); st != 400 || ae.Fields[0].Field != "external_id" {
		t.Errorf("external_id in a request: %d %+v; want 400 naming external_id", st, ae)
	}
	if st, ae := raw("PUT", "/api/v1/storage", `{"bucket":"`+strings.Repeat("a", 2<<20)+`"}`); st != 413 || ae.Code != "body_too_large" {
		t.Errorf("oversized body: %d %+v", st, ae)
	}
	if st, ae := raw("PUT", "/api/v1/storage", `{} {}`); st != 400 || ae.Code != "malformed_json" {
		t.Errorf("two JSON values: %d %+v", st, ae)
	}
	if v, _ := a.Storage(ctx); v.Mode != storage.ModeManaged {
		t.Fatalf("bad input stored a setting: %+v", v)
	}
}

func TestPolicyNeedsPlatformIdentity(t *testing.T) {
	e := newEnv(t, config.Platform{})
	_, err := e.operator.StoragePolicy(context.Background(), "acme-lake", "")
	wantCode(t, err, 409, "platform_not_configured")
}
