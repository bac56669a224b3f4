package duckdb_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	_ "modernc.org/sqlite"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/querytest"
)

// A database kept for the next query over the same tables never answers a
// query over another snapshot of them, nor one of another organization.
func TestKeptDatabaseFollowsSnapshotsAndOrganizations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tbl, sc := oneColumnTable(t, dir)
	tablesNow := func() []query.Table {
		as, _ := tbl.ArrowSchema()
		snap := tbl.Snapshot()
		return []query.Table{{Schema: "crm", Name: "t", Snapshot: &snap, ArrowSchema: as}}
	}
	e, err := duckdb.New(duckdb.Config{TempDir: t.TempDir(), Ready: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	count := func(ctx context.Context, tables []query.Table) int64 {
		t.Helper()
		res, err := e.Query(ctx, tables, query.Request{SQL: `SELECT count(*) FROM crm.t`, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := query.Collect(res)
		if err != nil {
			t.Fatal(err)
		}
		return rows[0][0].(int64)
	}
	a := query.WithOrg(ctx, "org_a")
	if err := tbl.Commit(ctx, []arrow.RecordBatch{querytest.Record(t, sc, `[{"id": 1}]`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	first := tablesNow()
	if n := count(a, first); n != 1 {
		t.Fatalf("first snapshot: %d rows", n)
	}
	if n := count(a, first); n != 1 { // the kept database
		t.Fatalf("first snapshot again: %d rows", n)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{querytest.Record(t, sc, `[{"id": 2}]`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	if n := count(a, tablesNow()); n != 2 {
		t.Fatalf("after a new commit: %d rows, want 2 (a database kept from the first snapshot answered)", n)
	}
	// The same tables asked by another organization get a database of their own
	// (here the answer is the same; what matters is that it comes).
	if n := count(query.WithOrg(ctx, "org_b"), tablesNow()); n != 2 {
		t.Fatalf("another organization: %d rows", n)
	}
	if n := count(a, first); n != 1 {
		t.Fatalf("the first snapshot after the second: %d rows, want 1", n)
	}
}

// A data file lost while a database that read it is kept: the next query over
// the same snapshot fails naming the table (table_unreadable), never as a
// refusal of the caller's SQL and never showing the descriptor it was read by.
func TestKeptDatabaseLosesADataFile(t *testing.T) {
	ctx := query.WithOrg(context.Background(), "org_a")
	dir := t.TempDir()
	tbl, sc := oneColumnTable(t, dir)
	if err := tbl.Commit(ctx, []arrow.RecordBatch{querytest.Record(t, sc, `[{"id": 1}]`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	as, _ := tbl.ArrowSchema()
	snap := tbl.Snapshot()
	tables := []query.Table{{Schema: "crm", Name: "t", Snapshot: &snap, ArrowSchema: as}}
	e, err := duckdb.New(duckdb.Config{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	count := func() error {
		res, err := e.Query(ctx, tables, query.Request{SQL: `SELECT count(*) FROM crm.t`, Timeout: time.Minute})
		if err != nil {
			return err
		}
		_, err = query.Collect(res)
		return err
	}
	if err := count(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "wh", "*", "t", "data", "*.parquet"))
	if len(files) != 1 {
		t.Fatalf("data files: %v", files)
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	err = count()
	if err == nil {
		return // the kept database still reads the file it opened: the snapshot's rows
	}
	if query.Code(err) != "table_unreadable" || !strings.Contains(err.Error(), "crm.t") || strings.Contains(err.Error(), "/dev/fd/") {
		t.Fatalf("a lost data file under a kept database: %s: %v", query.Code(err), err)
	}
}

// oneColumnTable is the empty local lake table crm.t (id BIGINT) in dir, and
// its Arrow schema.
func oneColumnTable(t *testing.T, dir string) (*lake.Table, *arrow.Schema) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "c.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := lake.Open(ctx, lake.Config{DB: db, Warehouse: filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.EnsureNamespace(ctx, "crm", "")
	tbl, err := l.EnsureTable(ctx, "crm", "t", iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64}), "")
	if err != nil {
		t.Fatal(err)
	}
	return tbl, arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
}
