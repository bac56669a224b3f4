package athena_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// An append_dedup table reads as one row per key through Athena too: the SQL
// Athena receives, run by a real SQL engine (DuckDB standing in for Athena's
// Trino) over a Glue database whose table holds a key three times, counts
// each key once and reads its latest row by cursor, ties broken by the
// latest extraction.
func TestDedupTableReadsOneRowPerKey(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`CREATE SCHEMA "lakeport_org_a__shop"`,
		`CREATE TABLE "lakeport_org_a__shop"."customers" (id BIGINT, name VARCHAR, updated_at BIGINT, _lakeport_extracted_at TIMESTAMP)`,
		`INSERT INTO "lakeport_org_a__shop"."customers" VALUES
			(1, 'ada (old)', 10, TIMESTAMP '2026-01-01 00:00:00'),
			(1, 'ada', 20, TIMESTAMP '2026-01-01 00:00:00'),
			(1, 'ada (older extract)', 20, TIMESTAMP '2025-12-01 00:00:00'),
			(2, 'grace', 5, TIMESTAMP '2026-01-01 00:00:00'),
			(3, 'linus', NULL, TIMESTAMP '2026-01-01 00:00:00')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	f, e := newFake(t)
	f.exec = func(q string) ([][2]string, [][]*string, error) {
		rows, err := db.Query(q)
		if err != nil {
			return nil, nil, err
		}
		defer rows.Close()
		names, _ := rows.Columns()
		cols := make([][2]string, len(names))
		for i, n := range names {
			cols[i] = [2]string{n, "varchar"}
		}
		var out [][]*string
		for rows.Next() {
			vals := make([]any, len(names))
			ptrs := make([]any, len(names))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, nil, err
			}
			row := make([]*string, len(names))
			for i, v := range vals {
				if v != nil {
					s := fmt.Sprint(v)
					row[i] = &s
				}
			}
			out = append(out, row)
		}
		return cols, out, rows.Err()
	}
	tables := []query.Table{{Schema: "shop", Name: "customers", PrimaryKey: []string{"id"}, Cursor: "updated_at",
		ArrowSchema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String},
			{Name: "updated_at", Type: arrow.PrimitiveTypes.Int64},
			{Name: query.ExtractedAtColumn, Type: arrow.FixedWidthTypes.Timestamp_us},
		}, nil)}}
	for _, q := range []string{
		`SELECT count(*), count(DISTINCT id), max(name) FILTER (WHERE id = 1) FROM shop.customers`,
		`SELECT count(*), count(DISTINCT c.id), max(c.name) FILTER (WHERE c.id = 1) FROM shop.customers c`,
	} {
		res, err := e.Query(orgCtx, tables, query.Request{SQL: q, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rows, err := query.Collect(res)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(rows) != 1 || fmt.Sprint(rows[0]) != "[3 3 ada]" {
			t.Fatalf("%s\nsent as:\n%s\nanswered %v, want 3 rows for 3 keys, customer 1 as its latest row (ada)", q, f.lastStart()["QueryString"], rows)
		}
	}
}
