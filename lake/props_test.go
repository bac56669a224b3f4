package lake_test

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/lakeport/lakeport/lake"
)

// TestSetPropsAppliesToLaterCommits is how a long sync renews its temporary S3
// credentials: commits after SetProps use the new properties.
func TestSetPropsAppliesToLaterCommits(t *testing.T) {
	ctx := t.Context()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	good := iceberg.Properties{
		lake.PropS3Endpoint: srv.URL, lake.PropS3AccessKeyID: "AKIAOLD", lake.PropS3SecretAccessKey: "old",
		lake.PropS3Region: "us-east-1", lake.PropS3ForceVirtualAddressing: "false",
	}
	l := openLake(t, openDB(t), "s3://lake/org-1", good)
	tbl := ensureTable(t, l, "conn", "users", usersSchema)

	// Point the lake at an endpoint where nothing listens: the next commit fails.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	if err := l.SetProps(iceberg.Properties{lake.PropS3Endpoint: deadURL}); err != nil {
		t.Fatal(err)
	}
	err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`)}, lake.Commit{State: json.RawMessage(`{"n":1}`)})
	if err == nil {
		t.Fatal("a commit after SetProps to a dead endpoint succeeded: SetProps had no effect")
	}
	// Renewed properties: commits work again.
	good[lake.PropS3AccessKeyID], good[lake.PropS3SecretAccessKey] = "AKIANEW", "new"
	if err := l.SetProps(good); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":2,"name":"b"}`)}, lake.Commit{State: json.RawMessage(`{"n":2}`)}); err != nil {
		t.Fatalf("commit after renewing the properties: %v", err)
	}
	if state, _, ok, err := tbl.LastState(ctx); err != nil || !ok || string(state) != `{"n":2}` {
		t.Fatalf("state = %s %v %v", state, ok, err)
	}
}

// New tables write Parquet with zstd at its fastest level, without a
// dictionary for the raw ids (unique by construction) and in 256 KiB pages
// (the sync's encoding cost depends on all three), in row groups DuckDB
// reads in parallel.
func TestNewTablesParquetSettings(t *testing.T) {
	l := openLake(t, openDB(t), t.TempDir(), nil)
	tbl := ensureTable(t, l, "conn", "users", usersSchema)
	props := tbl.Iceberg().Properties()
	for k, want := range map[string]string{
		"write.parquet.compression-level":                             "1",
		"write.parquet.dict-encoding-enabled.column._lakeport_raw_id": "false",
		"write.parquet.page-size-bytes":                               "262144",
		"write.parquet.row-group-limit":                               "122880",
	} {
		if got := props[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
