package duckdb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/querytest"
)

func newEngine(t testing.TB, cfg duckdb.Config) *duckdb.Engine {
	t.Helper()
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	e, err := duckdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	querytest.Run(t, func(t *testing.T) query.Engine { return newEngine(t, duckdb.Config{}) })
}

// TestConformanceLake reads the suite's tables as lakeport writes them:
// Iceberg tables of a local lake, opened per query.
func TestConformanceLake(t *testing.T) {
	querytest.RunOn(t, querytest.WriteLakeFixtures(t, t.TempDir()), func(t *testing.T) query.Engine { return newEngine(t, duckdb.Config{}) })
}

func TestSettings(t *testing.T) {
	if _, err := duckdb.ConfigFromProps(map[string]string{"memory_limt": "1GB"}); err == nil {
		t.Fatal("a misspelt setting was accepted")
	}
	if _, err := duckdb.New(duckdb.Config{MemoryLimit: "1GB'; SET x='"}); err == nil {
		t.Fatal("a memory limit that is not a size was accepted")
	}
	if _, err := duckdb.New(duckdb.Config{MaxTempSize: "1 parsec"}); err == nil {
		t.Fatal("a temp size that is not a size was accepted")
	}
}

// run runs sql over the fixtures and returns all rows.
func run(t *testing.T, e *duckdb.Engine, tables []query.Table, sql string) ([][]any, error) {
	t.Helper()
	res, err := e.Query(context.Background(), tables, query.Request{SQL: sql, Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	return query.Collect(res)
}

// TestDoorsStayShut: every way out of the tables' own data is refused, and
// nothing on disk changes.
func TestDoorsStayShut(t *testing.T) {
	dir := t.TempDir()
	fx := querytest.WriteFixtures(t, dir)
	e := newEngine(t, duckdb.Config{})
	tables := fx.Tables()
	ownFile := fx.Orders.Files[0]
	before := snapshot(t, dir)
	outside := filepath.Join(dir, "outside")
	csv := filepath.Join(dir, "plain.csv")
	if err := os.WriteFile(csv, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, dir)

	cases := []struct{ name, sql string }{
		{"create table", `CREATE TABLE x AS SELECT 1`},
		{"create view", `CREATE VIEW v AS SELECT 1`},
		{"create macro", `CREATE MACRO m(a) AS a`},
		{"insert", `INSERT INTO shop.orders SELECT * FROM shop.orders`},
		{"update", `UPDATE shop.orders SET amount = 0`},
		{"delete", `DELETE FROM shop.orders`},
		{"drop", `DROP VIEW shop.orders`},
		{"alter", `ALTER VIEW shop.orders RENAME TO o2`},
		{"copy to file", `COPY (SELECT 1) TO '` + outside + `.csv'`},
		{"copy over own file", `COPY (SELECT 1 AS id) TO '` + ownFile + `' (FORMAT parquet, USE_TMP_FILE false)`},
		{"copy from", `COPY shop.orders FROM '` + csv + `'`},
		{"explain analyze copy", `EXPLAIN ANALYZE COPY (SELECT 1 AS id) TO '` + ownFile + `' (FORMAT parquet, USE_TMP_FILE false)`},
		{"explain analyze select", `EXPLAIN ANALYZE SELECT 1`},
		{"explain with comment", `EXPLAIN /* x */ ANALYZE COPY (SELECT 1) TO '` + outside + `.csv'`},
		{"explain create", `EXPLAIN CREATE TABLE x AS SELECT 1`},
		{"attach", `ATTACH '` + outside + `.db' AS o`},
		{"attach memory", `ATTACH ':memory:' AS m`},
		{"detach", `DETACH memory`},
		{"install", `INSTALL httpfs`},
		{"load", `LOAD httpfs`},
		{"pragma", `PRAGMA enable_profiling`},
		{"pragma table_info", `PRAGMA table_info('shop.orders')`},
		{"pivot statement", `PIVOT shop.orders ON customer USING sum(amount)`},
		{"set", `SET enable_external_access = true`},
		{"set lock", `SET lock_configuration = false`},
		{"reset", `RESET allowed_paths`},
		{"set variable", `SET VARIABLE x = 1`},
		{"call", `CALL pragma_version()`},
		{"export", `EXPORT DATABASE '` + outside + `'`},
		{"import", `IMPORT DATABASE '` + dir + `'`},
		{"checkpoint", `CHECKPOINT`},
		{"vacuum", `VACUUM`},
		{"begin", `BEGIN TRANSACTION`},
		{"use", `USE shop`},
		{"prepare", `PREPARE p AS SELECT 1`},
		{"two statements", `SELECT 1; DROP VIEW shop.orders`},
		{"select then copy", `SELECT 1; COPY (SELECT 1) TO '` + outside + `.csv'`},
		{"read other parquet", `SELECT * FROM read_parquet('` + fx.SecretFile + `')`},
		{"other parquet by name", `SELECT * FROM '` + fx.SecretFile + `'`},
		{"parquet glob", `SELECT * FROM read_parquet('` + dir + `/**/*.parquet')`},
		{"parquet metadata", `SELECT * FROM parquet_metadata('` + fx.SecretFile + `')`},
		{"read_csv passwd", `SELECT * FROM read_csv('/etc/passwd')`},
		{"read_csv_auto", `SELECT * FROM read_csv_auto('` + csv + `')`},
		{"csv by name", `SELECT * FROM '` + csv + `'`},
		{"read_text", `SELECT * FROM read_text('/etc/passwd')`},
		{"read_blob", `SELECT * FROM read_blob('/etc/passwd')`},
		{"read_json", `SELECT * FROM read_json('/etc/passwd')`},
		{"glob", `SELECT * FROM glob('/etc/*')`},
		{"sniff_csv", `SELECT * FROM sniff_csv('/etc/passwd')`},
		{"http", `SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')`},
		{"https by name", `SELECT * FROM 'https://example.com/x.csv'`},
		{"s3", `SELECT * FROM read_parquet('s3://bucket/x.parquet')`},
		{"iceberg", `SELECT * FROM iceberg_scan('` + dir + `')`},
		{"query() with ddl", `SELECT * FROM query('CREATE TABLE x AS SELECT 1')`},
		{"query_table of file", `SELECT * FROM query_table('` + fx.SecretFile + `')`},
		{"other org table", `SELECT * FROM other.secret`},
		{"logging to a file", `SELECT * FROM enable_logging(storage = 'file', storage_path = '` + outside + `')`},
		{"logging via query()", `SELECT * FROM query('SELECT * FROM enable_logging()')`},
		{"logging in a subquery", `SELECT (SELECT count(*) FROM ENABLE_LOGGING())`},
		{"json_execute_serialized_sql", `SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM read_csv(''/etc/passwd'')'))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := run(t, e, tables, c.sql)
			if err == nil {
				t.Fatalf("%s: ran and returned %v; want it refused", c.sql, rows)
			}
			if !query.IsClientError(err) {
				t.Errorf("%s: err %v is classified as internal (code %s), want a client error", c.sql, err, query.Code(err))
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks another table's data: %v", err)
			}
		})
	}
	if after := snapshot(t, dir); !equalSnapshots(before, after) {
		t.Fatalf("files changed on disk:\nbefore %v\nafter  %v", before, after)
	}

	// The tables' own views still work in the locked-down database.
	rows, err := run(t, e, tables, `SELECT count(*) FROM shop.orders`)
	if err != nil || len(rows) != 1 || rows[0][0] != int64(5) {
		t.Fatalf("own table after lock down: %v %v", rows, err)
	}
	// A query reads only the tables it names: not even the organization's
	// own files by path.
	if _, err := run(t, e, tables, `SELECT count(*) FROM read_parquet('`+ownFile+`')`); !errors.Is(err, query.ErrNotReadOnly) {
		t.Fatalf("own file by path: %v, want refused", err)
	}
}

// TestStatementClasses: what the read-only rule lets through.
func TestStatementClasses(t *testing.T) {
	fx := querytest.WriteFixtures(t, t.TempDir())
	e := newEngine(t, duckdb.Config{})
	for _, sql := range []string{
		`SELECT 1`,
		`  select 1 ;  `,
		`-- a comment
SELECT 1 -- trailing comment`,
		`/* c */ SELECT 1`,
		`FROM shop.orders SELECT id`,
		`WITH x AS (SELECT 1 AS a) SELECT * FROM x`,
		`VALUES (1)`,
		`DESCRIBE shop.orders`,
		`DESCRIBE SELECT * FROM shop.orders`,
		`SHOW TABLES`,
		`SUMMARIZE shop.orders`,
		`EXPLAIN SELECT count(*) FROM shop.orders`,
		`explain
  with x as (select 1) select * from x`,
		`SELECT * FROM duckdb_tables()`,
		`SELECT * FROM shop.orders ORDER BY id DESC`,
	} {
		if _, err := run(t, e, fx.Tables(), sql); err != nil {
			t.Errorf("%q: %v", sql, err)
		}
	}
	// What shows where the server keeps its files is not for queries.
	for _, sql := range []string{
		`SELECT * FROM duckdb_settings()`,
		`FROM duckdb_settings() WHERE name = 'temp_directory'`,
		`SELECT current_setting('allowed_paths')`,
		`SELECT * FROM duckdb_extensions()`,
		`SELECT * FROM duckdb_temporary_files()`,
		`SELECT * FROM duckdb_databases()`,
		`SELECT * FROM pragma_database_list()`,
		`SELECT * FROM duckdb_secrets()`,
		`SELECT (SELECT value FROM duckdb_settings() LIMIT 1) AS v`,
	} {
		if _, err := run(t, e, fx.Tables(), sql); !errors.Is(err, query.ErrNotReadOnly) {
			t.Errorf("%q: %v, want refused", sql, err)
		}
	}
}

func TestOrderSurvivesRowLimit(t *testing.T) {
	e := newEngine(t, duckdb.Config{})
	res, err := e.Query(context.Background(), nil, query.Request{SQL: `SELECT * FROM range(100000) t(i) ORDER BY i DESC`, MaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := query.Collect(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != int64(99999) || rows[2][0] != int64(99997) || !res.Truncated() {
		t.Fatalf("rows %v truncated %v", rows, res.Truncated())
	}
}

// TestRowLimitStopsEarly: a limit far below the result size stops the
// query instead of producing everything first.
func TestRowLimitStopsEarly(t *testing.T) {
	e := newEngine(t, duckdb.Config{MemoryLimit: "64MB"})
	start := time.Now()
	res, err := e.Query(context.Background(), nil, query.Request{
		SQL: `SELECT i, repeat('x', 100) FROM range(1000000000000) t(i)`, MaxRows: 10, Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := query.Collect(res)
	if err != nil || len(rows) != 10 || !res.Truncated() {
		t.Fatalf("%d rows, truncated %v, err %v", len(rows), res.Truncated(), err)
	}
	t.Logf("10 of 10^12 rows in %s", time.Since(start))
}

func TestLimits(t *testing.T) {
	e := newEngine(t, duckdb.Config{Limits: query.Limits{MaxRows: 100}})
	if _, err := e.Query(context.Background(), nil, query.Request{SQL: `SELECT 1`, MaxRows: 101}); !errors.Is(err, query.ErrTooManyRows) {
		t.Fatalf("MaxRows above the cap: %v", err)
	}
	_, err := e.Query(context.Background(), nil, query.Request{SQL: `   `})
	if !errors.Is(err, query.ErrBadSQL) {
		t.Fatalf("empty SQL: %v", err)
	}
	// Default row limit applies when the request sets none.
	res, err := e.Query(context.Background(), nil, query.Request{SQL: `SELECT * FROM range(1000)`})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := query.Collect(res)
	if err != nil || len(rows) != 100 || !res.Truncated() {
		t.Fatalf("default limit: %d rows truncated %v err %v", len(rows), res.Truncated(), err)
	}
}

func TestMemoryLimit(t *testing.T) {
	e := newEngine(t, duckdb.Config{MemoryLimit: "32MB", MaxTempSize: "0B"})
	// (A DISTINCT aggregate over 20M strings used to be the bomb here; on a
	// loaded machine it ran into the time limit before the memory limit.)
	_, err := run(t, e, nil, `SELECT max(len(l)) FROM (SELECT list(i::VARCHAR || 'pad') AS l FROM range(10000000) t(i))`)
	if !errors.Is(err, query.ErrResources) {
		t.Fatalf("err %v (code %s), want ErrResources", err, query.Code(err))
	}
}

// TestCancelWhileReading: a context canceled after the query started stops
// the reading too.
func TestCancelWhileReading(t *testing.T) {
	e := newEngine(t, duckdb.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	res, err := e.Query(ctx, nil, query.Request{SQL: `SELECT * FROM range(100000)`, MaxRows: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if _, err := res.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := res.Next(); !errors.Is(err, query.ErrCanceled) {
		t.Fatalf("err %v, want ErrCanceled", err)
	}
}

func TestValues(t *testing.T) {
	e := newEngine(t, duckdb.Config{})
	res, err := e.Query(context.Background(), nil, query.Request{SQL: `SELECT
		1.50::DECIMAL(10,2) AS dec, 170141183460469231731687303715884105727::HUGEINT AS huge,
		'8e884ace-bee4-11e4-8dfc-aa07a5b093db'::UUID AS id, DATE '2024-02-03' AS d, TIME '10:11:12' AS tm,
		TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts, [1, 2] AS l, {'a': 1} AS s, MAP {'k': 2} AS m,
		'nan'::DOUBLE AS nan, 1.1::FLOAT AS f, 3::TINYINT AS i8, 4::UBIGINT AS u, 'x'::BLOB AS b, INTERVAL 3 DAY AS iv`})
	if err != nil {
		t.Fatal(err)
	}
	cols := res.Columns()
	rows, err := query.Collect(res)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for i, c := range cols {
		got[c.Name] = rows[0][i]
	}
	check := func(name string, want any) {
		t.Helper()
		if g := got[name]; !equal(g, want) {
			t.Errorf("%s = %#v (%T), want %#v", name, g, g, want)
		}
	}
	check("dec", "1.5")
	check("huge", "170141183460469231731687303715884105727")
	check("id", "8e884ace-bee4-11e4-8dfc-aa07a5b093db")
	check("d", "2024-02-03")
	check("tm", "10:11:12")
	check("nan", "NaN")
	check("f", 1.1)
	check("i8", int64(3))
	check("u", uint64(4))
	check("l", []any{int64(1), int64(2)})
	check("s", map[string]any{"a": int64(1)})
	check("m", map[string]any{"k": int64(2)})
	if ts, ok := got["ts"].(time.Time); !ok || !ts.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ts = %#v", got["ts"])
	}
	if cols[0].Type != "DECIMAL(10,2)" {
		t.Errorf("dec type %q", cols[0].Type)
	}
}

func TestBadTables(t *testing.T) {
	e := newEngine(t, duckdb.Config{})
	for _, tables := range [][]query.Table{
		{{Schema: "a", Name: "b", Files: []string{"/data/*.parquet"}}},
		{{Schema: "a", Name: "b"}},
		{{Schema: "a", Name: "b", Files: []string{"/x.parquet"}}, {Schema: "A", Name: "B", Files: []string{"/y.parquet"}}},
	} {
		if _, err := e.Query(context.Background(), tables, query.Request{SQL: `SELECT 1`}); err == nil {
			t.Errorf("tables %+v accepted", tables)
		}
	}
}

// TestConcurrent runs queries side by side (with -race it checks the engine's
// own state is shared safely).
func TestConcurrent(t *testing.T) {
	fx := querytest.WriteFixtures(t, t.TempDir())
	e := newEngine(t, duckdb.Config{Threads: 1})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			rows, err := run(t, e, fx.Tables(), `SELECT count(*) FROM shop.customers`)
			if err == nil && rows[0][0] != int64(3) {
				err = errors.New("wrong count")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k := range a {
			if !equal(a[k], b[k]) {
				return false
			}
		}
		return true
	}
	if n, ok := a.(interface{ String() string }); ok {
		if s, ok := b.(string); ok {
			return n.String() == s
		}
	}
	return a == b
}

type fileState struct {
	size int64
	mod  time.Time
}

func snapshot(t testing.TB, dir string) map[string]fileState {
	t.Helper()
	s := map[string]fileState{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		s[p] = fileState{info.Size(), info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalSnapshots(a, b map[string]fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || (v != w && !(v.size == w.size && v.mod.Equal(w.mod))) {
			return false
		}
	}
	return true
}

// A table whose connector name is a keyword (sample) is read, not taken for
// unreferenced; and a table the SQL reads where the name extraction cannot
// see it fails loudly instead of reading as empty.
func TestTablesTheSQLNamesAreRead(t *testing.T) {
	fx := querytest.WriteFixtures(t, t.TempDir())
	e := newEngine(t, duckdb.Config{})
	orders := fx.Orders
	orders.Schema, orders.Name = "sample", "events"
	tables := []query.Table{orders}
	for _, sql := range []string{
		`SELECT count(*) FROM sample.events`,
		`SELECT count(*) FROM "sample"."events"`,
		`SELECT count(*) FROM SAMPLE.Events e`,
		`WITH x AS (SELECT * FROM sample.events) SELECT count(*) FROM x`,
		`SELECT count(*) FROM sample.events a JOIN sample.events b USING (id)`,
		`SELECT count(*) FROM (VALUES (1)) v(x), LATERAL (SELECT * FROM sample.events)`,
		`SELECT (SELECT count(*) FROM sample.events WHERE id > 0)`,
	} {
		rows, err := run(t, e, tables, sql)
		if err != nil || len(rows) != 1 || rows[0][0] != int64(5) {
			t.Errorf("%s: %v %v, want 5", sql, rows, err)
		}
	}
}
