package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/querytest"
)

const benchRows = 1_000_000

// benchTable writes a 1,000,000-row table in four files.
func benchTable(b *testing.B) query.Table {
	b.Helper()
	dir := b.TempDir()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "customer", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	var files []string
	const perFile = benchRows / 4
	for f := range 4 {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := f * perFile; i < (f+1)*perFile; i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i))
			bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("c%d", i%1000))
			bld.Field(2).(*array.Float64Builder).Append(float64(i%997) / 10)
		}
		rec := bld.NewRecordBatch()
		bld.Release()
		files = append(files, querytest.WriteParquet(b, filepath.Join(dir, fmt.Sprintf("part-%d.parquet", f)), rec))
		rec.Release()
	}
	return query.Table{Schema: "shop", Name: "orders", Files: files}
}

var benchQueries = []struct{ name, sql string }{
	{"ScanAggregate", `SELECT customer, count(*), sum(amount) FROM %s GROUP BY customer ORDER BY customer`},
	{"PointFilter", `SELECT * FROM %s WHERE id = 777777`},
}

// BenchmarkEngine: the full engine path per query — a fresh database, views,
// lock down, checks, the query, and converting the rows.
func BenchmarkEngine(b *testing.B) {
	tbl := benchTable(b)
	e, err := duckdb.New(duckdb.Config{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				res, err := e.Query(context.Background(), []query.Table{tbl}, query.Request{SQL: fmt.Sprintf(bq.sql, "shop.orders")})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := query.Collect(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDirect: DuckDB reading the same files on one long-lived
// connection, with the same threads and memory limit: the floor.
func BenchmarkDirect(b *testing.B) {
	tbl := benchTable(b)
	c, err := duck.NewConnector("?threads=2&memory_limit=512MB", nil)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	quoted := make([]string, len(tbl.Files))
	for i, f := range tbl.Files {
		quoted[i] = "'" + f + "'"
	}
	src := "read_parquet([" + strings.Join(quoted, ",") + "], union_by_name = true)"
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := db.Query(fmt.Sprintf(bq.sql, src))
				if err != nil {
					b.Fatal(err)
				}
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				for rows.Next() {
					if err := rows.Scan(ptrs...); err != nil {
						b.Fatal(err)
					}
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
		})
	}
}

// BenchmarkDirectFreshDB: DuckDB reading the files in a new database per
// query, without the engine's checks: what isolation alone costs.
func BenchmarkDirectFreshDB(b *testing.B) {
	tbl := benchTable(b)
	quoted := make([]string, len(tbl.Files))
	for i, f := range tbl.Files {
		quoted[i] = "'" + f + "'"
	}
	src := "read_parquet([" + strings.Join(quoted, ",") + "], union_by_name = true)"
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				c, err := duck.NewConnector("?threads=2&memory_limit=512MB", nil)
				if err != nil {
					b.Fatal(err)
				}
				db := sql.OpenDB(c)
				rows, err := db.Query(fmt.Sprintf(bq.sql, src))
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				rows.Close()
				db.Close()
			}
		})
	}
}

// BenchmarkOpenEmpty: the fixed cost of a query: a fresh database for SELECT 1.
func BenchmarkOpenEmpty(b *testing.B) { benchSelect1(b, duckdb.Config{TempDir: b.TempDir()}) }

// BenchmarkOpenEmptyReady: the same with the next database opened ahead and
// the last one kept for the next query over the same tables.
func BenchmarkOpenEmptyReady(b *testing.B) {
	benchSelect1(b, duckdb.Config{TempDir: b.TempDir(), Ready: 1})
}

func benchSelect1(b *testing.B, cfg duckdb.Config) {
	e, err := duckdb.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for b.Loop() {
		res, err := e.Query(context.Background(), nil, query.Request{SQL: `SELECT 1`})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := query.Collect(res); err != nil {
			b.Fatal(err)
		}
	}
}
