package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
)

// TestFirstStartSyncsSampleAndQueries is the README's promise: start lakeport, and the
// sample connector is synced and queryable at once, for this organization only.
func TestFirstStartSyncsSampleAndQueries(t *testing.T) {
	url, dir := startServerWith(t, true)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := run(t, url, dir, "connector", "runs", "sample", "--json")
		if strings.Contains(out, `"status": "succeeded"`) {
			break
		}
		if strings.Contains(out, `"status": "failed"`) || time.Now().After(deadline) {
			t.Fatalf("the sample's first sync did not succeed:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, code := run(t, url, dir, "query", "SELECT count(*) AS n FROM sample.events", "--json")
	var res struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || len(res.Rows) != 1 || res.Rows[0][0] != float64(1000) {
		t.Fatalf("count of sample.events: exit %d\n%s", code, out)
	}

	// A second sync adds the next 1000 events; customers stay one row per id.
	out, code = run(t, url, dir, "connector", "sync", "sample")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("connector sync: exit %d\n%s", code, out)
	}
	out, _ = run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM sample.events", "--format", "csv")
	if !strings.Contains(out, "2000,2000") {
		t.Fatalf("after two syncs events = %q, want 2000 distinct rows", out)
	}
	out, _ = run(t, url, dir, "query", "SELECT count(*) = count(DISTINCT id) FROM sample.customers", "--format", "csv")
	if !strings.Contains(out, "true") {
		t.Fatalf("customers are not one row per id: %q", out)
	}
	out, code = run(t, url, dir, "tables")
	if code != 0 || !strings.Contains(out, "sample.events") || !strings.Contains(out, "2000") {
		t.Fatalf("tables: exit %d\n%s", code, out)
	}

	// Another organization sees none of it: its query answers "does not exist", exactly
	// as for a table that does not exist at all.
	out, _ = run(t, url, dir, "org", "create", "globex", "--json")
	var created struct {
		AdminToken string `json:"admin_token"`
	}
	json.Unmarshal([]byte(out), &created)
	other, missing := "", ""
	other, code = run(t, url, dir, "--token", created.AdminToken, "query", "SELECT count(*) FROM sample.events")
	if code == 0 || !strings.Contains(other, "does not exist") {
		t.Fatalf("org globex reading default's table: exit %d\n%s", code, other)
	}
	missing, _ = run(t, url, dir, "--token", created.AdminToken, "query", "SELECT count(*) FROM nosuch.events")
	strip := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "sample", "X"), "nosuch", "X") }
	if strip(other) != strip(missing) {
		t.Fatalf("another org's table and a missing one answer differently:\n%s\n%s", other, missing)
	}
	out, _ = run(t, url, dir, "--token", created.AdminToken, "tables", "--json")
	if strings.Contains(out, "sample") {
		t.Fatalf("org globex lists default's tables: %s", out)
	}
	out, code = run(t, url, dir, "--token", created.AdminToken, "connector", "delete", "sample")
	if code == 0 || !strings.Contains(out, "no connector named") {
		t.Fatalf("org globex deleting default's connector: exit %d\n%s", code, out)
	}

	// A member may query and sync but not delete.
	out, _ = run(t, url, dir, "token", "create", "--role", "member", "--json")
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(out), &tok)
	if out, code = run(t, url, dir, "--token", tok.Token, "connector", "delete", "sample"); code == 0 || !strings.Contains(out, "admin") {
		t.Fatalf("a member deleted a connector: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "connector", "delete", "sample")
	if code != 0 || !strings.Contains(out, "3 tables") {
		t.Fatalf("connector delete: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "warehouse")); err != nil {
		t.Fatal(err)
	}
	if out, _ = run(t, url, dir, "query", "SELECT 1 FROM sample.events"); !strings.Contains(out, "does not exist") {
		t.Fatalf("a deleted connector's table is still queryable:\n%s", out)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	maddr := freeAddr(t)
	url, dir := startServerConfig(t, func(c *config.Config) { c.MetricsAddr = maddr })
	run(t, url, dir, "storage", "test", "--bucket", "Bad_Bucket", "--region", "us-east-1", "--role-arn", "arn:aws:iam::123456789012:role/x")
	for path, want := range map[string]string{
		url + "/healthz":               `"ok"`,
		url + "/readyz":                `"ready"`,
		"http://" + maddr + "/metrics": `lakeport_storage_validations_total{cause="invalid_input",result="failed"} 1`,
	} {
		resp, err := http.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in:\n%.2000s", path, resp.StatusCode, want, body)
		}
	}
}

func TestUserCreate(t *testing.T) {
	url, dir := startServer(t)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("correct horse battery\n"), 0o600)
	out, code := run(t, url, dir, "user", "create", "ann", "--role", "admin", "--password-file", pw)
	if code != 0 || !strings.Contains(out, "created admin ann") || strings.Contains(out, "correct horse") {
		t.Fatalf("user create: exit %d\n%s", code, out)
	}
	if out, code = run(t, url, dir, "user", "create", "ann", "--password-file", pw); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate user: exit %d\n%s", code, out)
	}
	os.WriteFile(pw, []byte("short\n"), 0o600)
	if out, code = run(t, url, dir, "user", "create", "bob", "--password-file", pw); code == 0 || !strings.Contains(out, "at least 12") {
		t.Fatalf("weak password: exit %d\n%s", code, out)
	}
	// The console is served at / next to the API.
	resp, err := http.Get(url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<form") {
		t.Fatalf("GET /signin: %d\n%.500s", resp.StatusCode, body)
	}
}

// A query whose HTTP request goes away is cancelled: with room for one query at a time,
// the next query runs at once instead of waiting for the abandoned one.
func TestCancelledRequestCancelsQuery(t *testing.T) {
	url, dir := startServerConfig(t, func(c *config.Config) {
		c.QueryProps = map[string]string{"max_concurrent": "1", "default_timeout": "2m", "max_timeout": "5m"}
	})
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(ctx context.Context, sql string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/query", strings.NewReader(`{"sql": "`+sql+`"}`))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	// Minutes of work, unless it is cancelled.
	if resp, err := post(ctx, "SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3"); err == nil {
		resp.Body.Close()
		t.Fatalf("the long query answered %d within 500ms", resp.StatusCode)
	}
	start := time.Now()
	// The abandoned query would hold the slot for its 2m timeout; a fresh query worker
	// may take seconds to start on a loaded machine (race detector), so the bound is a
	// minute: far below the abandoned query's time, far above a worker's start.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel2()
	resp, err := post(ctx2, "SELECT 42")
	if err != nil {
		t.Fatalf("the next query waited for the abandoned one: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "42") {
		t.Fatalf("next query: %d %s", resp.StatusCode, body)
	}
	if waited := time.Since(start); waited > time.Minute {
		t.Fatalf("the next query took %s: the abandoned one kept the only slot", waited)
	}
}
