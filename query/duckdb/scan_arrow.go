//go:build duckdb_arrow

package duckdb

import (
	"context"
	"fmt"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// registerScan registers the table's Arrow reader as the view name. The
// reader is wrapped in a channel-fed reader so that the source (iceberg-go's
// iterator reader, say) is always pulled from one goroutine: DuckDB calls
// Next from its own threads, which iterator-based readers do not survive.
func (s *session) registerScan(ctx context.Context, t query.Table, name string) error {
	src, err := t.Scan(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: scan table %s: %w", t.QualifiedName(), err)
	}
	rr := newChanReader(ctx, src)
	a, err := duck.NewArrowFromConn(s.conn)
	if err != nil {
		rr.Release()
		return fmt.Errorf("duckdb: arrow interface: %w", err)
	}
	release, err := a.RegisterView(rr, name)
	if err != nil {
		rr.Release()
		return fmt.Errorf("duckdb: register scan of table %s: %w", t.QualifiedName(), err)
	}
	s.releases = append(s.releases, release)
	return nil
}
