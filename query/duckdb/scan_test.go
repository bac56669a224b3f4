package duckdb_test

import (
	"context"
	"iter"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/querytest"
)

// TestScan: a remote table read through Table.Scan, fed by an iterator-based
// reader (what iceberg-go returns), deduplicated, and only scanned when the
// query names it.
func TestScan(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.BinaryTypes.String},
		{Name: "c", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	r1 := querytest.Record(t, schema, `[{"id":1,"v":"a","c":1},{"id":1,"v":"b","c":2}]`)
	r2 := querytest.Record(t, schema, `[{"id":2,"v":"c","c":1}]`)
	scans := 0
	scan := func(ctx context.Context) (array.RecordReader, error) {
		scans++
		seq := iter.Seq2[arrow.RecordBatch, error](func(yield func(arrow.RecordBatch, error) bool) {
			for _, r := range []arrow.RecordBatch{r1, r2} {
				r.Retain()
				if !yield(r, nil) {
					return
				}
			}
		})
		return array.ReaderFromIter(schema, seq), nil
	}
	e := newEngine(t, duckdb.Config{})
	tables := []query.Table{
		{Schema: "s3", Name: "items", Scan: scan, PrimaryKey: []string{"id"}, Cursor: "c", ArrowSchema: schema},
		{Schema: "s3", Name: "unused", Scan: func(context.Context) (array.RecordReader, error) {
			t.Error("a table the query does not name was scanned")
			return nil, nil
		}, ArrowSchema: schema},
	}
	rows, err := run(t, e, tables, `SELECT id, v FROM s3.items ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][1] != "b" || rows[1][1] != "c" {
		t.Fatalf("rows %v", rows)
	}
	// A fresh reader per query: the second query sees the data again.
	if rows, err := run(t, e, tables, `SELECT count(*) FROM s3.items`); err != nil || rows[0][0] != int64(2) {
		t.Fatalf("second query: %v %v", rows, err)
	}
	if scans != 2 {
		t.Fatalf("%d scans, want 2", scans)
	}
}

// TestScanProjection: a query that reads only some of a remote table's columns gets those
// columns, not the first ones of the Arrow stream (DuckDB pushes projections into Arrow
// scans, and a scan that returns every column would misalign them).
func TestScanProjection(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "raw", Type: arrow.BinaryTypes.String},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "status", Type: arrow.BinaryTypes.String},
	}, nil)
	rec := querytest.Record(t, schema, `[{"raw":"r1","id":1,"status":"paid"},{"raw":"r2","id":2,"status":"open"},{"raw":"r3","id":3,"status":"paid"}]`)
	scan := oneBatch(schema, rec)
	e := newEngine(t, duckdb.Config{})
	tables := []query.Table{{Schema: "s3", Name: "invoices", Scan: scan, ArrowSchema: schema}}
	rows, err := run(t, e, tables, `SELECT status, count(*) AS n FROM s3.invoices GROUP BY status ORDER BY status`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "open" || rows[0][1] != int64(1) || rows[1][0] != "paid" || rows[1][1] != int64(2) {
		t.Fatalf("projected query over a scan: %v, want [[open 1] [paid 2]]", rows)
	}
	rows, err = run(t, e, tables, `SELECT id FROM s3.invoices WHERE status = 'paid' ORDER BY id`)
	if err != nil || len(rows) != 2 || rows[0][0] != int64(1) || rows[1][0] != int64(3) {
		t.Fatalf("filter on one column, select another: %v, %v", rows, err)
	}
}

// TestScanKeywordSchema: a remote table whose schema is a DuckDB keyword (the sample
// connector's "sample", which DuckDB names back quoted) is found by the query that
// names it.
func TestScanKeywordSchema(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := querytest.Record(t, schema, `[{"id":1},{"id":2}]`)
	scan := oneBatch(schema, rec)
	e := newEngine(t, duckdb.Config{})
	tables := []query.Table{{Schema: "sample", Name: "events", Scan: scan, ArrowSchema: schema}}
	for _, sql := range []string{`SELECT count(*) FROM sample.events`, `SELECT count(*) FROM "sample"."events"`, `SELECT count(*) FROM memory.sample.events`} {
		rows, err := run(t, e, tables, sql)
		if err != nil || len(rows) != 1 || rows[0][0] != int64(2) {
			t.Fatalf("%s: %v, %v", sql, rows, err)
		}
	}
}

// oneBatch is a Table.Scan that reads rec, once per query.
func oneBatch(schema *arrow.Schema, rec arrow.RecordBatch) func(context.Context) (array.RecordReader, error) {
	return func(ctx context.Context) (array.RecordReader, error) {
		seq := iter.Seq2[arrow.RecordBatch, error](func(yield func(arrow.RecordBatch, error) bool) {
			rec.Retain()
			yield(rec, nil)
		})
		return array.ReaderFromIter(schema, seq), nil
	}
}
