//go:build !duckdb_arrow

package duckdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
)

func TestScanNeedsArrowTag(t *testing.T) {
	e := newEngine(t, duckdb.Config{})
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	tables := []query.Table{{Schema: "s3", Name: "items", ArrowSchema: schema,
		Scan: func(context.Context) (array.RecordReader, error) { return nil, errors.New("not called") }}}
	if _, err := run(t, e, tables, `SELECT * FROM s3.items`); !errors.Is(err, duckdb.ErrNoArrow) {
		t.Fatalf("err %v, want ErrNoArrow", err)
	}
}
