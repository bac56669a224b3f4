// Package query answers read-only SQL over an organization's tables.
//
// The caller (the API) resolves which tables the organization may see from the
// catalog and hands exactly those to an Engine; an engine must not be able to
// reach anything else. Backends live in their own packages (query/duckdb is the
// embedded default) and register themselves by name, see Register.
package query

import (
	"context"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/lake"
)

// ExtractedAtColumn is the column lakeport adds to every row it writes: when the
// row was read from the source. Dedup views use it to break cursor ties.
const ExtractedAtColumn = "_lakeport_extracted_at"

// Table is one table the caller's organization may query, named "<connector>.<stream>".
// Its rows come from Snapshot (a lake table), or else from Files, or else from Scan;
// a table with none of them is empty (ArrowSchema gives its columns).
type Table struct {
	// Schema and Name are the connector (namespace) and the stream: the table
	// is queried as schema.name.
	Schema, Name string
	// Snapshot locates the table's current snapshot in the lake. Engines that
	// read files (query/duckdb) open it only when the query names the table,
	// and read only files under the table's own location (lake.CheckPath);
	// engines with a catalog of their own (Athena over Glue) use the name.
	Snapshot *lake.Snapshot
	// Files are Parquet data files the engine may read (tests, benchmarks).
	Files []string
	// Scan returns an Arrow reader over the table's rows. Engines call it at
	// most once per query, and only for tables the query references.
	Scan func(ctx context.Context) (array.RecordReader, error)
	// PrimaryKey is set for append+dedup streams: queries see one row per key,
	// the latest by Cursor.
	PrimaryKey []string
	// Cursor orders rows of one key: the latest cursor wins, ties are broken by
	// ExtractedAtColumn (latest wins).
	Cursor string
	// ArrowSchema is the table's columns. It is required for a table with no
	// files and no Scan (an empty table), and used to add columns that no data
	// file holds yet.
	ArrowSchema *arrow.Schema
}

// QualifiedName is "schema.name", as a query names the table.
func (t Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Request is one SQL query.
type Request struct {
	SQL string
	// MaxRows is how many rows the result may hold; 0 means the engine's
	// default. More rows than that are cut and the Result says Truncated.
	MaxRows int
	// Timeout bounds the whole query, reading included; 0 means the engine's
	// default.
	Timeout time.Duration
}

// Column is one column of a result: its name and the engine's type name
// (for DuckDB e.g. "BIGINT", "DECIMAL(18,2)", "TIMESTAMP WITH TIME ZONE").
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result streams the rows of one query. Columns is known before the first
// row; Next returns batches of rows until it returns io.EOF. Values are plain
// Go values, ready for encoding/json or CSV:
//
//	nil, bool, int64, uint64, float64, string, []byte, time.Time,
//	json.Number (exact decimals and 128-bit integers), []any (lists),
//	map[string]any (structs, and maps with their keys as strings)
//
// Close must be called; it releases the engine's resources.
type Result interface {
	Columns() []Column
	// Next returns the next batch of rows, or io.EOF after the last one. A
	// batch's rows are owned by the caller.
	Next() ([][]any, error)
	// Truncated reports whether MaxRows cut the result; it is final once Next
	// has returned io.EOF.
	Truncated() bool
	Close() error
}

// Engine runs one read-only query over the given tables, and nothing else.
type Engine interface {
	Query(ctx context.Context, tables []Table, req Request) (Result, error)
}

// Collect reads a whole result into memory and closes it. For tests and small
// results; streaming callers use Next.
func Collect(res Result) (rows [][]any, err error) {
	defer func() {
		if cerr := res.Close(); err == nil {
			err = cerr
		}
	}()
	for {
		batch, err := res.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, batch...)
	}
}

type orgKey struct{}

// WithOrg returns ctx carrying the caller's organization ID, for engines that name
// per-organization resources (Athena's Glue databases).
func WithOrg(ctx context.Context, orgID string) context.Context {
	return context.WithValue(ctx, orgKey{}, orgID)
}

// OrgFrom returns the organization ID WithOrg put in ctx.
func OrgFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(orgKey{}).(string)
	return id, ok && id != ""
}
