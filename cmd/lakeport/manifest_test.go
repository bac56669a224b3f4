package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
)

// recentAPI is the test API with n users updated every 6 hours, the last
// 6 hours ago.
func recentAPI(t *testing.T, n int) (*manifesttest.API, time.Time) {
	api := manifesttest.New(t, 0)
	first := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(n) * 6 * time.Hour)
	api.AddUsers(n, first, 6*time.Hour)
	return api, first
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The promise: connector create --source manifest:PATH, then sync,
// lands the API's records; the second sync asks only for the new window.
func TestManifestConnectorSyncsAndResumes(t *testing.T) {
	url, dir := startServer(t)
	api, first := recentAPI(t, 40)
	work := t.TempDir()
	mpath := writeFile(t, work, "my-manifest.yaml", manifesttest.UsersManifest)
	cfg, _ := json.Marshal(map[string]any{"api_key": manifesttest.APIKey, "base_url": api.URL(),
		"start_date": first.Add(-48 * time.Hour).Format("2006-01-02T15:04:05Z")})
	cpath := writeFile(t, work, "cfg.json", string(cfg))

	out, code := run(t, url, dir, "connector", "create", "gh", "--source", "manifest:"+mpath, "--config", cpath)
	if code != 0 || !strings.Contains(out, "created connector gh (manifest:my-manifest.yaml)") || !strings.Contains(out, "users") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	// The secret in the config is masked like any source's.
	out, _ = run(t, url, dir, "connector", "show", "gh", "--json")
	if strings.Contains(out, manifesttest.APIKey) {
		t.Fatalf("connector show reveals the api_key:\n%s", out)
	}
	out, code = run(t, url, dir, "connector", "sync", "gh")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	out, _ = run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM gh.users", "--format", "csv")
	if !strings.Contains(out, "40,40") {
		t.Fatalf("after the first sync: %q, want 40 users", out)
	}
	lastSeen := first.Add(39 * 6 * time.Hour)

	api.Reset()
	api.AddUsers(3, time.Now().UTC().Add(-3*time.Hour).Truncate(time.Second), time.Hour)
	out, code = run(t, url, dir, "connector", "sync", "gh")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("second sync: exit %d\n%s", code, out)
	}
	reqs := api.RequestsTo("/v1/users")
	if len(reqs) == 0 {
		t.Fatal("the second sync sent no request")
	}
	if got, want := reqs[0].Get("updated_since"), lastSeen.Add(time.Second).Format("2006-01-02T15:04:05Z"); got != want {
		t.Errorf("the second sync starts its window at %s, want just after the last record seen (%s)", got, want)
	}
	out, _ = run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM gh.users", "--format", "csv")
	if !strings.Contains(out, "43,43") {
		t.Fatalf("after the second sync: %q, want 43 distinct users", out)
	}
}

func TestManifestWithCustomComponentRefusedAtCreate(t *testing.T) {
	url, dir := startServer(t)
	work := t.TempDir()
	m := strings.Replace(manifesttest.UsersManifest, "    retriever:\n      type: SimpleRetriever\n", "    retriever:\n      type: CustomRetriever\n      class_name: source_x.components.R\n", 1)
	mpath := writeFile(t, work, "custom.yaml", m)
	cpath := writeFile(t, work, "cfg.json", `{"api_key": "k", "base_url": "https://api.example.com", "start_date": "2024-01-01T00:00:00Z"}`)
	out, code := run(t, url, dir, "connector", "create", "bad", "--source", "manifest:"+mpath, "--config", cpath)
	if code == 0 || !strings.Contains(out, "manifest.streams.0.retriever") || !strings.Contains(out, "CustomRetriever") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	out, _ = run(t, url, dir, "connector", "list", "--json")
	if strings.Contains(out, `"bad"`) {
		t.Fatalf("a refused connector was created: %s", out)
	}
	// check-manifest says the same, offline.
	out, code = run(t, url, dir, "sources", "check-manifest", mpath)
	if code == 0 || !strings.Contains(out, "CustomRetriever") || !strings.Contains(out, "NOT SUPPORTED") || !strings.Contains(out, "streams.0.retriever") {
		t.Fatalf("check-manifest: exit %d\n%s", code, out)
	}
	good := writeFile(t, work, "good.yaml", manifesttest.UsersManifest)
	out, code = run(t, url, dir, "sources", "check-manifest", good)
	if code != 0 || !strings.Contains(out, "lakeport runs this manifest: streams users") {
		t.Fatalf("check-manifest of a good manifest: exit %d\n%s", code, out)
	}
}

func TestPublishedManifestsAreSources(t *testing.T) {
	pub := t.TempDir()
	writeFile(t, pub, "users/manifest.yaml", manifesttest.UsersManifest)
	writeFile(t, pub, "flat.yaml", manifesttest.UsersManifest)
	writeFile(t, pub, "broken.yaml", "type: DeclarativeSource\nstreams:\n  - type: CustomStream\n")
	t.Cleanup(func() { source.Default.ManifestsDir = "" })
	url, dir := startServerConfig(t, func(c *config.Config) { c.ManifestsDir = pub })
	out, code := run(t, url, dir, "sources")
	if code != 0 {
		t.Fatalf("sources: exit %d\n%s", code, out)
	}
	for _, want := range []string{"users ", "flat ", "broken ", "manifest:PATH"} {
		if !strings.Contains(out, want) {
			t.Errorf("lakeport sources does not list %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "cannot run") {
		t.Errorf("the broken manifest is not flagged:\n%s", out)
	}
	api, first := recentAPI(t, 5)
	cpath := writeFile(t, t.TempDir(), "cfg.json", fmt.Sprintf(`{"api_key": %q, "base_url": %q, "start_date": %q}`,
		manifesttest.APIKey, api.URL(), first.Add(-time.Hour).Format("2006-01-02T15:04:05Z")))
	out, code = run(t, url, dir, "connector", "create", "pub", "--source", "users", "--config", cpath)
	if code != 0 {
		t.Fatalf("create from a published manifest: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "connector", "sync", "pub")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
}
