package glue_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/lakeport/lakeport/catalog"
	"github.com/lakeport/lakeport/catalog/catalogtest"
	"github.com/lakeport/lakeport/catalog/glue"
	"github.com/lakeport/lakeport/catalog/glue/gluetest"
	"github.com/lakeport/lakeport/query/athena"
)

// fakeS3 is an in-process S3 with bucket "lake", for the tables' files.
func fakeS3(t *testing.T) iceberg.Properties {
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return iceberg.Properties{icebergio.S3EndpointURL: srv.URL, icebergio.S3AccessKeyID: "AKIAS3", icebergio.S3SecretAccessKey: "s3secret",
		icebergio.S3Region: "us-east-1", icebergio.S3ForceVirtualAddressing: "false"}
}

// TestConformance runs the catalog suite against Glue's wire format (gluetest),
// through iceberg-go's Glue catalog and the real AWS SDK.
func TestConformance(t *testing.T) {
	fake := gluetest.New(t, "eu-west-1")
	b, err := glue.New(t.Context(), glue.Config{Region: "eu-west-1", CatalogID: "123456789012", Endpoint: fake.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAGLUE", "gluesecret", "")})
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Run(t, catalogtest.Env{Backend: b, Warehouse: "s3://lake/conformance", Props: fakeS3(t)})
	for _, r := range fake.Calls("") {
		if r.Body["CatalogId"] != "123456789012" {
			t.Errorf("%s without the configured CatalogId: %v", r.Op, r.Body["CatalogId"])
			break
		}
	}
}

func TestNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	if _, err := catalog.New(t.Context(), "glue", catalog.Settings{}); !errors.Is(err, catalog.ErrInvalidConfig) {
		t.Errorf("err = %v, want ErrInvalidConfig", err)
	}
	if _, err := catalog.New(t.Context(), "hive", catalog.Settings{}); !errors.Is(err, catalog.ErrInvalidConfig) {
		t.Errorf("kind hive: err = %v, want ErrInvalidConfig", err)
	}
}

// TestDefaultNamespaceMatchesAthena: Athena looks for the Glue databases lake writes.
func TestDefaultNamespaceMatchesAthena(t *testing.T) {
	for _, c := range []struct{ org, ns string }{
		{"org_a", "crm"}, {"org_k3j2", "stripe_v2"}, {"org__a", "crm"}, {"org_", "crm"}, {"Org", "crm"},
		{"org", "2crm"}, {"org", "c"}, {"o", strings.Repeat("x", 250)},
	} {
		got, gerr := catalog.DefaultNamespace("lakeport_", c.org, c.ns)
		want, werr := athena.DefaultDatabase("lakeport_", c.org, c.ns)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Errorf("(%q, %q): catalog %q %v, athena %q %v", c.org, c.ns, got, gerr, want, werr)
		}
	}
}
