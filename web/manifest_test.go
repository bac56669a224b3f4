package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
)

// The console's connector form takes a pasted (or uploaded) manifest: it
// discovers the manifest's streams, creates the connector with the
// manifest, and shows a refused component with its place in the manifest.
func TestConsoleCreatesAManifestConnector(t *testing.T) {
	s := startStack(t)
	api := manifesttest.New(t, 4)
	b := newBrowser(t, s.URL)
	b.signInToken(s.AdminToken)
	code, body, _ := b.get("/connectors/new?source=manifest")
	if code != 200 || !strings.Contains(body, `name="manifest_text"`) || !strings.Contains(body, `type="file"`) {
		t.Fatalf("the form has no manifest box: %d\n%s", code, body)
	}
	cfg := fmt.Sprintf(`{"api_key": %q, "base_url": %q, "start_date": "2024-01-01T00:00:00Z"}`, manifesttest.APIKey, api.URL())
	form := url.Values{"source": {"manifest"}, "name": {"people"}, "manifest_text": {manifesttest.UsersManifest}, "config_json": {cfg}}
	form.Set("action", "discover")
	code, body, _ = b.post("/connectors/new", form)
	if code != 200 || !strings.Contains(body, `name="stream.users"`) {
		t.Fatalf("discover: %d\n%s", code, body)
	}
	form.Set("action", "create")
	form.Set("stream.users", "on")
	form.Set("mode.users", "incremental:append_dedup")
	code, body, hdr := b.post("/connectors/new", form)
	if code != 303 || hdr.Get("Location") != "/connectors/people" {
		t.Fatalf("create: %d %v\n%s", code, hdr, body)
	}
	v, err := client.New(s.URL, s.AdminToken).Connector(context.Background(), "people")
	if err != nil || v.Source != "manifest:console.yaml" {
		t.Fatalf("connector: %+v, %v", v, err)
	}

	bad := strings.Replace(manifesttest.UsersManifest, "    retriever:\n      type: SimpleRetriever\n", "    retriever:\n      type: CustomRetriever\n", 1)
	form = url.Values{"source": {"manifest"}, "name": {"bad"}, "manifest_text": {bad}, "config_json": {cfg}, "action": {"discover"}}
	if code, body, _ = b.post("/connectors/new", form); code == 200 || !strings.Contains(body, "CustomRetriever") || !strings.Contains(body, "streams.0.retriever") {
		t.Fatalf("a Custom component: %d\n%s", code, body)
	}
}
