//go:build !duckdb_arrow

package duckdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/lakeport/lakeport/query"
)

// ErrNoArrow: a table is only reachable through Scan (an S3 warehouse) and
// this binary was built without DuckDB's Arrow interface.
var ErrNoArrow = errors.New("duckdb: remote tables (Table.Scan) need the duckdb_arrow build tag: go build -tags duckdb_arrow")

func (s *session) registerScan(_ context.Context, t query.Table, _ string) error {
	return fmt.Errorf("table %s: %w", t.QualifiedName(), ErrNoArrow)
}
