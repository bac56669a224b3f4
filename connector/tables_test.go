package connector_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/store"
)

// An append_dedup table reads as one row per key, the latest by cursor, even
// when its files hold a key twice (a writer other than the merge: an older
// lakeport, a crash between files, another engine): the query tables carry the
// stream's primary key and cursor to every engine.
func TestDedupTablesReadOneRowPerKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"customers:incremental:append_dedup", "events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", r)
	}

	// Another copy of customer 1, appended (not merged), with an older cursor.
	l, err := e.svc.Lake(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tbl, err := l.LoadTable(ctx, "crm", "customers")
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	rr := array.NewTableReader(at, 1)
	defer rr.Release()
	if !rr.Next() {
		t.Fatal("customers is empty")
	}
	first := rr.RecordBatch()
	first.Retain()
	defer first.Release()
	dup := stale(t, first)
	defer dup.Release()
	if err := tbl.Commit(ctx, []arrow.RecordBatch{dup}, lake.Commit{Mode: lake.Append}); err != nil {
		t.Fatal(err)
	}

	tables, err := e.svc.QueryTables(ctx, e.org)
	if err != nil {
		t.Fatal(err)
	}
	var customers, events query.Table
	for _, qt := range tables {
		switch qt.QualifiedName() {
		case "crm.customers":
			customers = qt
		case "crm.events":
			events = qt
		}
	}
	if len(customers.PrimaryKey) != 1 || customers.PrimaryKey[0] != "id" || customers.Cursor == "" {
		t.Fatalf("crm.customers (append_dedup) has key %v and cursor %q", customers.PrimaryKey, customers.Cursor)
	}
	if events.PrimaryKey != nil {
		t.Fatalf("crm.events (append) has key %v", events.PrimaryKey)
	}
	engine, err := duckdb.New(duckdb.Config{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	id := first.Column(first.Schema().FieldIndices("id")[0]).ValueStr(0)
	res, err := engine.Query(ctx, tables, query.Request{SQL: `SELECT count(*), count(DISTINCT id),
		count(*) FILTER (WHERE id = ` + id + ` AND name LIKE 'stale%') FROM crm.customers`, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := query.Collect(res)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != rows[0][1] || rows[0][0] != int64(40) {
		t.Fatalf("customers: %v rows for %v keys, want 40 and 40", rows[0][0], rows[0][1])
	}
	if rows[0][2] != int64(0) {
		t.Fatalf("customer %s reads as its stale copy (older cursor)", id)
	}
}

// stale is a copy of the one-row batch rec whose cursor (updated_at) is a day
// older and whose name says it is the stale copy.
func stale(t *testing.T, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, rec.NumCols())
	for i, f := range rec.Schema().Fields() {
		col := rec.Column(i)
		switch {
		case f.Name == "updated_at":
			ts := col.(*array.Timestamp)
			b := array.NewTimestampBuilder(memory.DefaultAllocator, f.Type.(*arrow.TimestampType))
			b.Append(ts.Value(0) - arrow.Timestamp(24*time.Hour/time.Microsecond))
			cols[i] = b.NewArray()
		case f.Name == "name":
			b := array.NewStringBuilder(memory.DefaultAllocator)
			b.Append("stale copy")
			cols[i] = b.NewArray()
		default:
			col.Retain()
			cols[i] = col
		}
	}
	return array.NewRecordBatch(rec.Schema(), cols, 1)
}
