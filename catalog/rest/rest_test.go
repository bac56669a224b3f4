package rest_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "modernc.org/sqlite"

	"github.com/lakeport/lakeport/catalog"
	"github.com/lakeport/lakeport/catalog/catalogtest"
	"github.com/lakeport/lakeport/catalog/rest"
	"github.com/lakeport/lakeport/catalog/rest/resttest"
)

// TestConformance runs the catalog suite against the REST catalog's wire format
// (resttest), through iceberg-go's REST client.
func TestConformance(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	props := iceberg.Properties{icebergio.S3EndpointURL: s3srv.URL, icebergio.S3AccessKeyID: "AKIAS3", icebergio.S3SecretAccessKey: "s3secret",
		icebergio.S3Region: "us-east-1", icebergio.S3ForceVirtualAddressing: "false"}
	fake := resttest.New(t, props)
	b, err := catalog.New(t.Context(), "rest", catalog.Settings{Props: map[string]string{"uri": fake.URL, "token": "tok-1"}})
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Run(t, catalogtest.Env{Backend: b, Warehouse: "s3://lake/conformance", Props: props})
	for _, tok := range fake.Tokens() {
		if tok != "Bearer tok-1" {
			t.Errorf("Authorization %q, want the configured token", tok)
			break
		}
	}
	seen := false
	for _, r := range fake.Requests() {
		seen = seen || strings.Contains(r, "/namespaces/lakeport_org_")
	}
	if !seen {
		t.Error("no request under a lakeport_<org>__<ns> namespace")
	}
}

func TestNew(t *testing.T) {
	if _, err := rest.New(rest.Config{}); !errors.Is(err, catalog.ErrInvalidConfig) {
		t.Errorf("no URI: %v", err)
	}
	if _, err := rest.New(rest.Config{URI: "http://x", Token: "a", Credential: "b:c"}); !errors.Is(err, catalog.ErrInvalidConfig) {
		t.Errorf("token and credential: %v", err)
	}
}
