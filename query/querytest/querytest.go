// Package querytest is the conformance suite every query.Engine runs, and
// helpers to write the Parquet files it reads.
package querytest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // the lake fixtures' catalog

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
)

// Record builds a record batch from JSON rows (arrow's JSON form: one object
// per row, timestamps as RFC 3339 strings).
func Record(t testing.TB, schema *arrow.Schema, rows string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("querytest: record from JSON: %v", err)
	}
	t.Cleanup(rec.Release)
	return rec
}

// WriteParquet writes recs (which share a schema) to a new Parquet file at path.
func WriteParquet(t testing.TB, path string, recs ...arrow.RecordBatch) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(recs[0].Schema(), f,
		parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(128*1024)),
		pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatalf("querytest: parquet writer: %v", err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("querytest: write parquet: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("querytest: close parquet: %v", err)
	}
	return path
}

var extractedAt = arrow.Field{Name: query.ExtractedAtColumn, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}

// Fixtures are the tables the suite queries, written under a temp dir:
//
//	shop.orders     two files; the second adds column "note" (schema evolution)
//	shop.customers  append+dedup by id, cursor updated_at
//	shop.empty      no files, schema only
//	other.secret    a table of "another organization": written, never passed in
type Fixtures struct {
	Orders, Customers, Empty query.Table
	// SecretFile is the Parquet file of other.secret.
	SecretFile string
}

// Tables is what an organization may query.
func (f Fixtures) Tables() []query.Table { return []query.Table{f.Orders, f.Customers, f.Empty} }

// WriteFixtures writes the suite's tables into dir.
func WriteFixtures(t testing.TB, dir string) Fixtures {
	t.Helper()
	v1 := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "customer", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		extractedAt,
	}, nil)
	v2 := arrow.NewSchema(append(v1.Fields(), arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	v3 := arrow.NewSchema(append(v2.Fields(), arrow.Field{Name: "discount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}), nil)
	f1 := WriteParquet(t, filepath.Join(dir, "shop/orders/data/00000-a.parquet"), Record(t, v1, `[
		{"id": 1, "customer": "ann", "amount": 10.5, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"},
		{"id": 2, "customer": "bob", "amount": 20, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"},
		{"id": 3, "customer": "ann", "amount": 30, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"}
	]`))
	f2 := WriteParquet(t, filepath.Join(dir, "shop/orders/data/00001-b.parquet"), Record(t, v2, `[
		{"id": 4, "customer": "cy", "amount": 40, "_lakeport_extracted_at": "2024-01-02T00:00:00Z", "note": "gift"},
		{"id": 5, "customer": "bob", "amount": 50, "_lakeport_extracted_at": "2024-01-02T00:00:00Z", "note": null}
	]`))

	cs := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "updated_at", Type: arrow.PrimitiveTypes.Int64},
		extractedAt,
	}, nil)
	c1 := WriteParquet(t, filepath.Join(dir, "shop/customers/data/00000-a.parquet"), Record(t, cs, `[
		{"id": 1, "name": "ann v1", "updated_at": 1, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"},
		{"id": 2, "name": "bob v1", "updated_at": 1, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"},
		{"id": 1, "name": "ann v2", "updated_at": 2, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"}
	]`))
	c2 := WriteParquet(t, filepath.Join(dir, "shop/customers/data/00001-b.parquet"), Record(t, cs, `[
		{"id": 2, "name": "bob v0 (late, older cursor)", "updated_at": 0, "_lakeport_extracted_at": "2024-01-03T00:00:00Z"},
		{"id": 3, "name": "cy old extract", "updated_at": 5, "_lakeport_extracted_at": "2024-01-01T00:00:00Z"},
		{"id": 3, "name": "cy new extract", "updated_at": 5, "_lakeport_extracted_at": "2024-01-02T00:00:00Z"}
	]`))

	secret := WriteParquet(t, filepath.Join(dir, "other/secret/data/00000-a.parquet"), Record(t,
		arrow.NewSchema([]arrow.Field{{Name: "password", Type: arrow.BinaryTypes.String}}, nil),
		`[{"password": "hunter2"}]`))

	return Fixtures{
		Orders:    query.Table{Schema: "shop", Name: "orders", Files: []string{f1, f2}, ArrowSchema: v3},
		Customers: query.Table{Schema: "shop", Name: "customers", Files: []string{c1, c2}, PrimaryKey: []string{"id"}, Cursor: "updated_at", ArrowSchema: cs},
		Empty: query.Table{Schema: "shop", Name: "empty", ArrowSchema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
			{Name: "at", Type: arrow.FixedWidthTypes.Timestamp_us},
		}, nil)},
		SecretFile: secret,
	}
}

// Run is the conformance suite over plain Parquet files (Table.Files).
// newEngine returns the engine under test.
func Run(t *testing.T, newEngine func(t *testing.T) query.Engine) {
	RunOn(t, WriteFixtures(t, t.TempDir()), newEngine)
}

// RunOn is the conformance suite over the given fixtures (WriteFixtures or
// WriteLakeFixtures).
func RunOn(t *testing.T, fx Fixtures, newEngine func(t *testing.T) query.Engine) {
	e := newEngine(t)
	tables := fx.Tables()

	q := func(t *testing.T, sql string) ([]query.Column, [][]any, error) {
		t.Helper()
		res, err := e.Query(context.Background(), tables, query.Request{SQL: sql, Timeout: time.Minute})
		if err != nil {
			return nil, nil, err
		}
		cols := res.Columns()
		rows, err := query.Collect(res)
		return cols, rows, err
	}
	one := func(t *testing.T, sql string) []any {
		t.Helper()
		_, rows, err := q(t, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows, want 1: %v", sql, len(rows), rows)
		}
		return rows[0]
	}
	num := func(v any) float64 {
		switch v := v.(type) {
		case int64:
			return float64(v)
		case uint64:
			return float64(v)
		case float64:
			return v
		}
		t.Fatalf("not a number: %T %v", v, v)
		return 0
	}

	t.Run("CountAcrossFilesWithDifferentColumns", func(t *testing.T) {
		row := one(t, `SELECT count(*), count(note), sum(amount) FROM shop.orders`)
		if num(row[0]) != 5 || num(row[1]) != 1 || num(row[2]) != 150.5 {
			t.Fatalf("got %v, want [5 1 150.5]", row)
		}
	})
	t.Run("AggregateAndFilter", func(t *testing.T) {
		cols, rows, err := q(t, `SELECT customer, sum(amount) AS total FROM shop.orders WHERE amount > 15 GROUP BY customer ORDER BY customer`)
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != 2 || cols[0].Name != "customer" || cols[1].Name != "total" || cols[0].Type == "" {
			t.Fatalf("columns %+v", cols)
		}
		want := [][]any{{"ann", 30.0}, {"bob", 70.0}, {"cy", 40.0}}
		if len(rows) != len(want) {
			t.Fatalf("rows %v, want %v", rows, want)
		}
		for i := range want {
			if rows[i][0] != want[i][0] || num(rows[i][1]) != want[i][1] {
				t.Fatalf("row %d = %v, want %v", i, rows[i], want[i])
			}
		}
	})
	t.Run("SchemaColumnNotInAnyFileReadsNull", func(t *testing.T) {
		row := one(t, `SELECT count(*), count(discount) FROM shop.orders`)
		if num(row[0]) != 5 || num(row[1]) != 0 {
			t.Fatalf("got %v", row)
		}
	})
	t.Run("DedupKeepsLatestPerKey", func(t *testing.T) {
		_, rows, err := q(t, `SELECT id, name, _lakeport_extracted_at IS NOT NULL FROM shop.customers ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"ann v2", "bob v1", "cy new extract"}
		if len(rows) != len(want) {
			t.Fatalf("rows %v, want names %v", rows, want)
		}
		for i, w := range want {
			if rows[i][1] != w || rows[i][2] != true {
				t.Fatalf("row %d = %v, want name %q and lakeport's column visible", i, rows[i], w)
			}
		}
	})
	t.Run("EmptyTableHasColumns", func(t *testing.T) {
		cols, rows, err := q(t, `SELECT * FROM shop.empty`)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 || len(cols) != 3 || cols[1].Name != "tags" {
			t.Fatalf("cols %+v rows %v", cols, rows)
		}
	})
	t.Run("WithValuesDescribeShowExplain", func(t *testing.T) {
		for _, sql := range []string{
			`WITH big AS (SELECT * FROM shop.orders WHERE amount > 25) SELECT count(*) FROM big`,
			`VALUES (1, 'a'), (2, 'b')`,
			`DESCRIBE shop.orders`,
			`SHOW ALL TABLES`,
			`EXPLAIN SELECT * FROM shop.orders`,
		} {
			if _, _, err := q(t, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
	t.Run("RowLimit", func(t *testing.T) {
		res, err := e.Query(context.Background(), tables, query.Request{SQL: `SELECT * FROM shop.orders ORDER BY id`, MaxRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := query.Collect(res)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || !res.Truncated() || num(rows[0][0]) != 1 || num(rows[1][0]) != 2 {
			t.Fatalf("rows %v truncated %v, want ids 1,2 and truncated", rows, res.Truncated())
		}
		res, err = e.Query(context.Background(), tables, query.Request{SQL: `SELECT * FROM shop.orders`, MaxRows: 5})
		if err != nil {
			t.Fatal(err)
		}
		if rows, err := query.Collect(res); err != nil || len(rows) != 5 || res.Truncated() {
			t.Fatalf("exactly MaxRows rows: %d rows, truncated %v, err %v", len(rows), res.Truncated(), err)
		}
	})
	t.Run("BadSQL", func(t *testing.T) {
		_, _, err := q(t, "SELECT count(*)\nFROM shop.orders WHER amount > 1")
		var se *query.SQLError
		if !errors.Is(err, query.ErrBadSQL) || !errors.As(err, &se) || !query.IsClientError(err) {
			t.Fatalf("err %v (%T), want a *query.SQLError wrapping ErrBadSQL", err, err)
		}
		if se.Line != 2 || se.Column == 0 {
			t.Errorf("position line %d column %d, want line 2 and a column; message %q", se.Line, se.Column, se.Message)
		}
	})
	t.Run("OtherTablesDoNotExist", func(t *testing.T) {
		_, _, errOther := q(t, `SELECT * FROM other.secret`)
		_, _, errNone := q(t, `SELECT * FROM other.nothing`)
		if !errors.Is(errOther, query.ErrBadSQL) || !errors.Is(errNone, query.ErrBadSQL) {
			t.Fatalf("errs %v / %v, want ErrBadSQL", errOther, errNone)
		}
		if !strings.Contains(errOther.Error(), "does not exist") {
			t.Errorf("message %q does not say the table does not exist", errOther)
		}
		if a, b := strings.ReplaceAll(errOther.Error(), "secret", "X"), strings.ReplaceAll(errNone.Error(), "nothing", "X"); a != b {
			t.Errorf("another organization's table answers differently from a missing one:\n%s\n%s", a, b)
		}
	})
	t.Run("NotReadOnly", func(t *testing.T) {
		for _, sql := range []string{
			`CREATE TABLE t AS SELECT 1`,
			`INSERT INTO shop.orders VALUES (1)`,
			`DELETE FROM shop.orders`,
			`DROP VIEW shop.orders`,
			`SELECT 1; SELECT 2`,
		} {
			if _, _, err := q(t, sql); !errors.Is(err, query.ErrNotReadOnly) && !errors.Is(err, query.ErrBadSQL) {
				t.Errorf("%s: err %v, want ErrNotReadOnly (or ErrBadSQL)", sql, err)
			}
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		start := time.Now()
		_, err := e.Query(context.Background(), tables, query.Request{
			SQL:     `SELECT count(*) FROM range(1000000000000) a`,
			Timeout: 300 * time.Millisecond,
		})
		if !errors.Is(err, query.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("the query stopped %s after its 300ms limit", d)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := e.Query(ctx, tables, query.Request{SQL: `SELECT count(*) FROM range(1000000000000) a`})
		if !errors.Is(err, query.ErrCanceled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want ErrCanceled", err)
		}
	})
}

// WriteLakeFixtures writes the suite's tables as Iceberg tables of a local
// lake under dir (what lakeport's syncs write), and returns them as lake
// tables (Table.Snapshot): shop.orders in two commits with a column added
// between them, shop.customers in two appends that keep duplicate keys,
// shop.empty with no snapshot, and other.secret in another lake.
func WriteLakeFixtures(t testing.TB, dir string) Fixtures {
	t.Helper()
	files := WriteFixtures(t, filepath.Join(dir, "plain"))
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "catalog.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	open := func(name string) *lake.Lake {
		l, err := lake.Open(ctx, lake.Config{DB: db, CatalogName: name, Warehouse: filepath.Join(dir, name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	commit := func(l *lake.Lake, qt query.Table, sc *arrow.Schema, paths ...string) query.Table {
		t.Helper()
		if err := l.EnsureNamespace(ctx, qt.Schema, ""); err != nil {
			t.Fatal(err)
		}
		isc, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := l.EnsureTable(ctx, qt.Schema, qt.Name, isc, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if strings.Contains(p, "/orders/data/00001") { // the second file: the schema grew first
				if tbl, err = l.EnsureTable(ctx, qt.Schema, qt.Name, mustIceberg(t, qt.ArrowSchema), ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := tbl.Commit(ctx, readParquet(t, p), lake.Commit{}); err != nil {
				t.Fatal(err)
			}
		}
		if qt.ArrowSchema, err = tbl.ArrowSchema(); err != nil {
			t.Fatal(err)
		}
		snap := tbl.Snapshot()
		qt.Snapshot, qt.Files = &snap, nil
		return qt
	}
	org, other := open("org"), open("other")
	fx := Fixtures{
		Orders:    commit(org, files.Orders, readParquet(t, files.Orders.Files[0])[0].Schema(), files.Orders.Files...),
		Customers: commit(org, files.Customers, files.Customers.ArrowSchema, files.Customers.Files...),
		Empty:     commit(org, files.Empty, files.Empty.ArrowSchema),
	}
	secret := commit(other, query.Table{Schema: "other", Name: "secret"}, readParquet(t, files.SecretFile)[0].Schema(), files.SecretFile)
	lfiles, err := lake.OpenFiles(ctx, *secret.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	defer lfiles.Close()
	for p := range lfiles {
		if strings.HasSuffix(p, ".parquet") {
			fx.SecretFile = strings.TrimPrefix(p, "file://")
		}
	}
	return fx
}

func mustIceberg(t testing.TB, sc *arrow.Schema) *iceberg.Schema {
	t.Helper()
	isc, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		t.Fatal(err)
	}
	return isc
}

// readParquet reads a Parquet file the suite wrote back into record batches.
func readParquet(t testing.TB, path string) []arrow.RecordBatch {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	r := array.NewTableReader(tbl, 1024)
	defer r.Release()
	var out []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		t.Cleanup(rec.Release)
		out = append(out, rec)
	}
	return out
}
