package connector

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/lake"
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

// QueryTables returns the organization's tables for the query engine: local data files
// of the current snapshot, or an Arrow scan for tables in a bucket. close releases the
// catalogs once the query is done.
func (s *Service) QueryTables(ctx context.Context, org store.Org) (tables []query.Table, close func(), err error) {
	var lakes []*lake.Lake
	close = func() {
		for _, l := range lakes {
			l.Close()
		}
	}
	err = s.eachLake(ctx, org, func(c store.Connector, l *lake.Lake) error {
		lakes = append(lakes, l)
		names, err := l.ListTables(ctx, c.Name)
		if err != nil {
			return err
		}
		for _, n := range names {
			t, err := l.LoadTable(ctx, c.Name, n)
			if err != nil {
				return err
			}
			qt, err := queryTable(ctx, c.Name, n, t)
			if err != nil {
				return err
			}
			tables = append(tables, qt)
		}
		return nil
	})
	if err != nil {
		close()
		return nil, nil, err
	}
	return tables, close, nil
}

func queryTable(ctx context.Context, ns, name string, t *lake.Table) (query.Table, error) {
	as, err := t.ArrowSchema()
	if err != nil {
		return query.Table{}, err
	}
	qt := query.Table{Schema: ns, Name: name, ArrowSchema: as}
	tbl := t.Iceberg()
	if tbl.CurrentSnapshot() == nil {
		return qt, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return qt, err
	}
	local := true
	for _, task := range tasks {
		p := task.File.FilePath()
		if !strings.HasPrefix(p, "file://") && !strings.HasPrefix(p, "/") || len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
			local = false
			break
		}
		qt.Files = append(qt.Files, strings.TrimPrefix(p, "file://"))
	}
	if !local {
		qt.Files = nil
		qt.Scan = func(ctx context.Context) (array.RecordReader, error) {
			sc, seq, err := tbl.Scan().ToArrowRecords(ctx)
			if err != nil {
				return nil, err
			}
			return array.ReaderFromIter(sc, seq), nil
		}
	}
	return qt, nil
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
