package connector

import (
	"context"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/store"
)

// Column is one column of a synced table.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TableInfo is one synced table of the organization, queried as connector.stream.
type TableInfo struct {
	Name      string     `json:"name"`
	Connector string     `json:"connector"`
	Stream    string     `json:"stream"`
	Rows      int64      `json:"rows"`
	Columns   []Column   `json:"columns"`
	LastSync  *time.Time `json:"last_sync,omitempty"`
	Location  string     `json:"location"`
}

// Tables lists the organization's synced tables (and only its own).
func (s *Service) Tables(ctx context.Context, org store.Org) ([]TableInfo, error) {
	var out []TableInfo
	err := s.eachTable(ctx, org, func(c store.Connector, t *lake.Table) error {
		as, err := t.ArrowSchema()
		if err != nil {
			return err
		}
		ns, name := t.Identifier()
		info := TableInfo{Name: ns + "." + name, Connector: ns, Stream: name, Location: t.Location(), Columns: []Column{}}
		for _, f := range as.Fields() {
			info.Columns = append(info.Columns, Column{Name: f.Name, Type: f.Type.String()})
		}
		if snap := t.Iceberg().CurrentSnapshot(); snap != nil {
			if snap.Summary != nil {
				info.Rows, _ = strconv.ParseInt(snap.Summary.Properties["total-records"], 10, 64)
			}
			ts := time.UnixMilli(snap.TimestampMs).UTC()
			info.LastSync = &ts
		}
		out = append(out, info)
		return nil
	})
	return out, err
}

// QueryTables returns the organization's tables for the query engine: each table's
// columns, its current snapshot in the lake (which the engine opens only if the query
// names the table), and for append_dedup streams the primary key and cursor, so that
// every engine reads one row per key.
func (s *Service) QueryTables(ctx context.Context, org store.Org) ([]query.Table, error) {
	var tables []query.Table
	err := s.eachTable(ctx, org, func(c store.Connector, t *lake.Table) error {
		as, err := t.ArrowSchema()
		if err != nil {
			return err
		}
		ns, name := t.Identifier()
		snap := t.Snapshot()
		qt := query.Table{Schema: ns, Name: name, ArrowSchema: as, Snapshot: &snap}
		cat, err := catalogOf(c)
		if err != nil {
			return err
		}
		qt.PrimaryKey, qt.Cursor = dedupKey(cat, name, as)
		tables = append(tables, qt)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tables, nil
}

// dedupKey is the primary key and cursor of stream name when it is synced with
// append_dedup: the columns a reader deduplicates by. Only top-level columns the
// table has count; nil when the stream is not deduplicated.
func dedupKey(cat *protocol.ConfiguredCatalog, name string, as *arrow.Schema) (pk []string, cursor string) {
	has := func(col string) bool { return len(as.FieldIndices(col)) == 1 }
	for _, cs := range cat.Streams {
		if cs.Stream.Name != name || cs.DestinationSyncMode != protocol.AppendDedup {
			continue
		}
		for _, path := range cs.PrimaryKey {
			if len(path) != 1 || !has(path[0]) {
				return nil, "" // the syncer refuses such keys; read the rows as they are
			}
			pk = append(pk, path[0])
		}
		field := cs.CursorField
		if len(field) == 0 {
			field = cs.Stream.DefaultCursorField
		}
		if len(field) == 1 && has(field[0]) {
			cursor = field[0]
		}
		return pk, cursor
	}
	return nil, ""
}

// eachTable calls fn for every table of every connector of the organization that is
// bound to its current storage.
func (s *Service) eachTable(ctx context.Context, org store.Org, fn func(store.Connector, *lake.Table) error) error {
	return s.eachLake(ctx, org, func(c store.Connector, l *lake.Lake) error {
		defer l.Close()
		names, err := l.ListTables(ctx, c.Name)
		if err != nil {
			return err
		}
		for _, n := range names {
			t, err := l.LoadTable(ctx, c.Name, n)
			if err != nil {
				return err
			}
			if err := fn(c, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachLake opens the lake of every connector bound to the organization's current
// storage; fn owns the lake and closes it.
func (s *Service) eachLake(ctx context.Context, org store.Org, fn func(store.Connector, *lake.Lake) error) error {
	cs, err := s.Store.ListConnectors(ctx, org.ID)
	if err != nil || len(cs) == 0 {
		return err
	}
	loc, err := s.Storage.Locate(ctx, org)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Warehouse != loc.Root {
			continue // bound to an earlier storage: not reachable until setup
		}
		l, err := s.openLake(ctx, org, loc)
		if err != nil {
			return err
		}
		if err := fn(c, l); err != nil {
			if lake.IsNotFound(err) {
				continue // never synced: no namespace yet
			}
			return err
		}
	}
	return nil
}
