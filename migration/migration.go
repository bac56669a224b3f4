// Package migration moves an organization's connectors, with their tables, from the
// storage they were bound to (managed, or a customer's bucket) to the organization's
// current storage, without a re-sync: it copies every data file, rewrites the table
// metadata that names files by absolute path (metadata JSON, manifest lists,
// manifests) for the new place, checks the copy (the same rows and files, every
// file's SHA-256 read back), registers the tables in the catalog at their new place
// and only then switches the connector. The sync state rides in the snapshot
// summaries, so the next sync goes on incrementally from where the last one stopped.
//
// Each connector's progress is kept in the metadata store (store.Migration): running
// the migration again after an interruption resumes it. The old copy is deleted only
// when asked, after success, and only under the connector's own prefix, after its
// owner marker is read (package owner).
package migration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/lakeport/lakeport/catalog"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/owner"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
)

// Store is what a migration keeps and reads.
type Store interface {
	store.Store
	store.Migrations
}

// Storage is where an organization's data lives (storage.Resolver).
type Storage interface {
	// LocateAs is the organization's current storage.
	LocateAs(ctx context.Context, org store.Org, who storage.Principal) (storage.Location, error)
	// At is the storage at a root a connector is bound to.
	At(ctx context.Context, org store.Org, root string, who storage.Principal) (storage.Location, error)
}

var _ Storage = (*storage.Resolver)(nil)

// Service migrates connectors.
type Service struct {
	Store   Store
	Storage Storage
	// Catalog keeps the tables (the same catalog the connectors use).
	Catalog catalog.Backend
	Logger  *slog.Logger
	// IdleWait bounds how long a migration waits for a running sync of a connector
	// (default 10 minutes); Poll is how often it looks (default 1s).
	IdleWait, Poll time.Duration

	mu      sync.Mutex
	running map[string]bool // organizations with a migration in this process
}

// Options tune a migration.
type Options struct {
	// DeleteSource deletes each connector's old copy after its migration succeeded:
	// only under its own prefix, after reading its owner marker.
	DeleteSource bool
	// OnEvent, when set, hears each step as it is done.
	OnEvent func(Event)
}

// Event is one step of a migration, for progress.
type Event struct {
	Connector string `json:"connector"`
	Table     string `json:"table,omitempty"`
	Message   string `json:"message"`
}

// Report says what a migration did.
type Report struct {
	Target     string            `json:"target"`
	Connectors []ConnectorReport `json:"connectors"`
}

// ConnectorReport is one connector's migration.
type ConnectorReport struct {
	Connector string        `json:"connector"`
	From      string        `json:"from"`
	To        string        `json:"to"`
	State     string        `json:"state"` // done, failed, rolled_back or already_there
	Tables    []TableReport `json:"tables"`
	// SourceObjectsDeleted counts the objects deleted under the old prefix
	// (DeleteSource).
	SourceObjectsDeleted int    `json:"source_objects_deleted,omitempty"`
	Error                string `json:"error,omitempty"`
}

// TableReport is one table's move, and the checks that passed.
type TableReport struct {
	Name             string `json:"name"`
	MetadataLocation string `json:"metadata_location"` // at the new place
	Snapshots        int    `json:"snapshots"`
	Rows             int64  `json:"rows"`       // live rows of the current snapshot, the same on both sides
	DataFiles        int    `json:"data_files"` // data files copied, each read back with the same SHA-256
	Bytes            int64  `json:"bytes"`
	Registered       bool   `json:"registered"` // the catalog points at the new place
}

// StateAlreadyThere is a connector already bound to the organization's storage.
const StateAlreadyThere = "already_there"

// StateRolledBack is a connector whose migration stopped half way and whose tables
// went back to where it is bound, the organization's storage again.
const StateRolledBack = store.MigrationRolledBack

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Migrate moves every connector of org that is bound to another storage than the
// organization's current one (or whose migration stopped half way) to the current
// storage. One connector failing does not stop the others; the error joins every
// failure, and running Migrate again resumes them.
func (s *Service) Migrate(ctx context.Context, org store.Org, opts Options) (Report, error) {
	if !s.start(org.ID) {
		return Report{Connectors: []ConnectorReport{}}, fmt.Errorf("%w: organization %s; wait for it to finish (its progress shows where it started)", ErrRunning, org.Name)
	}
	defer s.finish(org.ID)
	target, err := s.Storage.LocateAs(ctx, org, storage.Platform)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Target: target.Root, Connectors: []ConnectorReport{}}
	cs, err := s.Store.ListConnectors(ctx, org.ID)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, c := range cs {
		cr, err := s.connector(ctx, org, c, target, opts)
		if err != nil {
			cr.State, cr.Error = store.MigrationFailed, err.Error()
			errs = append(errs, fmt.Errorf("connector %s: %w", c.Name, err))
			s.logger().Warn("migration of a connector failed; run it again to resume", "org", org.ID, "connector", c.Name, "err", err)
		}
		rep.Connectors = append(rep.Connectors, cr)
	}
	return rep, errors.Join(errs...)
}

// start marks org's migration as running in this process; false when one already is.
func (s *Service) start(orgID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[orgID] {
		return false
	}
	if s.running == nil {
		s.running = map[string]bool{}
	}
	s.running[orgID] = true
	return true
}

func (s *Service) finish(orgID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, orgID)
}

// tableRecord is a table's progress, kept in store.Migration.Tables.
type tableRecord struct {
	TableReport
	Source string `json:"source_metadata_location"`
}

func (s *Service) emit(opts Options, c, table, format string, args ...any) {
	if opts.OnEvent != nil {
		opts.OnEvent(Event{Connector: c, Table: table, Message: fmt.Sprintf(format, args...)})
	}
}

// connector migrates one connector.
func (s *Service) connector(ctx context.Context, org store.Org, c store.Connector, target storage.Location, opts Options) (ConnectorReport, error) {
	cr := ConnectorReport{Connector: c.Name, From: c.Warehouse, To: target.Root, Tables: []TableReport{}}
	prev, err := s.Store.Migration(ctx, org.ID, c.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return cr, err
	}
	if err == nil && prev.State != store.MigrationDone && prev.State != store.MigrationRolledBack &&
		prev.Source == c.Warehouse && prev.Target != target.Root {
		// A migration that stopped half way, to a storage the organization left since:
		// the tables it registered there go back to their metadata at the source
		// (untouched: the connector never switched), then the move starts afresh.
		if err := s.rollback(ctx, org, c, prev, opts); err != nil {
			return cr, fmt.Errorf("roll back the migration to %s that stopped half way: %w", prev.Target, err)
		}
		prev.State = store.MigrationRolledBack
	}
	if c.Warehouse == target.Root {
		// Already here: a finished migration may still owe its source's deletion.
		cr.State = StateAlreadyThere
		if err == nil && prev.State == store.MigrationRolledBack {
			cr.State = store.MigrationRolledBack
			return cr, nil
		}
		if err == nil && opts.DeleteSource && prev.State == store.MigrationDone && prev.Target == target.Root && prev.Source != target.Root {
			cr.From = prev.Source
			n, err := s.deleteSource(ctx, org, c, prev.Source)
			cr.SourceObjectsDeleted = n
			if err != nil {
				return cr, err
			}
			s.emit(opts, c.Name, "", "deleted %d objects of the old copy under %s/", n, prev.Source+"/"+c.Name)
		}
		return cr, nil
	}

	now := time.Now().UTC()
	m := store.Migration{OrgID: org.ID, ConnectorID: c.ID, Source: c.Warehouse, Target: target.Root, State: store.MigrationRunning,
		DeleteSource: opts.DeleteSource, StartedAt: now, UpdatedAt: now}
	if err == nil && prev.Source == c.Warehouse && prev.Target == target.Root && prev.State != store.MigrationDone {
		m.Tables, m.StartedAt = prev.Tables, prev.StartedAt // resume
		s.emit(opts, c.Name, "", "resuming the migration started %s", prev.StartedAt.Format(time.RFC3339))
	}
	if err := s.Store.PutMigration(ctx, m); err != nil {
		return cr, err
	}
	fail := func(err error) (ConnectorReport, error) {
		m.State, m.Error, m.UpdatedAt = store.MigrationFailed, err.Error(), time.Now().UTC()
		if perr := s.Store.PutMigration(context.WithoutCancel(ctx), m); perr != nil {
			err = errors.Join(err, perr)
		}
		return cr, err
	}

	// From here syncs of c are refused (connector.ErrMigrating); wait for a running one.
	if err := s.waitIdle(ctx, org, c); err != nil {
		return fail(err)
	}
	src, err := s.Storage.At(ctx, org, c.Warehouse, storage.Platform)
	if err != nil {
		return fail(err)
	}
	// The old prefix must be this connector's; the new one becomes it.
	if err := owns(ctx, src, c); err != nil {
		return fail(err)
	}
	if err := owner.Claim(ctx, target.Bucket, c.Name, owner.Marker{OrgID: org.ID, ConnectorID: c.ID, ConnectorName: c.Name}); err != nil {
		return fail(fmt.Errorf("claim %s/: %w", target.NamespaceRoot(c.Name), err))
	}
	s.emit(opts, c.Name, "", "claimed %s/", target.NamespaceRoot(c.Name))

	srcLake, err := s.open(ctx, org, src)
	if err != nil {
		return fail(err)
	}
	defer srcLake.Close()
	dstLake, err := s.open(ctx, org, target)
	if err != nil {
		return fail(err)
	}
	defer dstLake.Close()

	recs := records(m.Tables)
	names, err := srcLake.ListTables(ctx, c.Name)
	if err != nil && !lake.IsNotFound(err) {
		return fail(err)
	}
	for _, r := range recs { // a table dropped from the catalog before it was registered again
		if !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		rec := recs[name]
		if rec == nil {
			rec = &tableRecord{TableReport: TableReport{Name: name}}
			recs[name] = rec
		}
		if !rec.Registered {
			save := func() error {
				m.Tables, m.UpdatedAt = marshal(recs), time.Now().UTC()
				return s.Store.PutMigration(ctx, m)
			}
			if err := s.table(ctx, c, src, target, srcLake, dstLake, rec, save, opts); err != nil {
				return fail(fmt.Errorf("table %s: %w", name, err))
			}
		}
		cr.Tables = append(cr.Tables, rec.TableReport)
	}
	if len(names) > 0 {
		if err := dstLake.SetNamespaceLocation(ctx, c.Name, target.NamespaceRoot(c.Name)); err != nil {
			return fail(err)
		}
	}

	// Switch: the connector's syncs, queries and cleanup now go to the new place.
	c.Warehouse, c.StorageMode, c.UpdatedAt = target.Root, string(target.Mode), time.Now().UTC()
	if err := s.Store.UpdateConnector(ctx, c); err != nil {
		return fail(err)
	}
	m.State, m.Error, m.Tables = store.MigrationDone, "", marshal(recs)
	m.UpdatedAt = time.Now().UTC()
	m.FinishedAt = m.UpdatedAt
	if err := s.Store.PutMigration(ctx, m); err != nil {
		return cr, err
	}
	cr.State = store.MigrationDone
	s.emit(opts, c.Name, "", "switched to %s", target.Root)
	s.logger().Info("connector migrated", "org", org.ID, "connector", c.Name, "from", src.Root, "to", target.Root, "tables", len(names))

	if opts.DeleteSource {
		n, err := s.deleteSource(ctx, org, c, src.Root)
		cr.SourceObjectsDeleted = n
		if err != nil {
			return cr, err
		}
		s.emit(opts, c.Name, "", "deleted %d objects of the old copy under %s/", n, src.NamespaceRoot(c.Name))
	}
	return cr, nil
}

// rollback points the catalog back at the source metadata of every table that m
// registered (or may have registered) at its target, and records m as rolled back.
// The copies at m.Target stay (its owner marker says they are the connector's).
func (s *Service) rollback(ctx context.Context, org store.Org, c store.Connector, m store.Migration, opts Options) error {
	src, err := s.Storage.At(ctx, org, m.Source, storage.Platform)
	if err != nil {
		return err
	}
	srcLake, err := s.open(ctx, org, src)
	if err != nil {
		return err
	}
	defer srcLake.Close()
	recs := records(m.Tables)
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		rec := recs[name]
		if rec.MetadataLocation == "" || rec.Source == "" {
			continue // never left the source
		}
		if err := srcLake.DropTable(ctx, c.Name, name); err != nil {
			return err
		}
		if _, err := srcLake.RegisterTable(ctx, c.Name, name, rec.Source); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
		s.emit(opts, c.Name, name, "back at %s (the migration to %s stopped half way and the organization's storage changed since)", rec.Source, m.Target)
	}
	m.State, m.Tables, m.UpdatedAt = store.MigrationRolledBack, nil, time.Now().UTC()
	m.FinishedAt = m.UpdatedAt
	if err := s.Store.PutMigration(ctx, m); err != nil {
		return err
	}
	s.logger().Info("a migration that stopped half way was rolled back", "org", org.ID, "connector", c.Name, "from", m.Source, "to", m.Target)
	return nil
}

// table moves one table: copy and rewrite, check, register.
func (s *Service) table(ctx context.Context, c store.Connector, src, dst storage.Location, srcLake, dstLake *lake.Lake,
	rec *tableRecord, save func() error, opts Options) error {
	if rec.MetadataLocation == "" {
		t, err := srcLake.LoadTable(ctx, c.Name, rec.Name)
		if err != nil {
			return err
		}
		from, to := src.TableRoot(c.Name, rec.Name), dst.TableRoot(c.Name, rec.Name)
		if t.Location() != from {
			return fmt.Errorf("%w: the table is at %s, not under the connector's prefix as %s", ErrUnsafe, t.Location(), from)
		}
		ice := t.Iceberg()
		rw := &rewriter{src: src, dst: dst, from: from, to: to, meta: ice.Metadata()}
		newLoc, err := rw.run(ctx, ice.MetadataLocation())
		if err != nil {
			return err
		}
		s.emit(opts, c.Name, rec.Name, "copied %d data files (%d bytes) and rewrote %d manifests and %d manifest lists", rw.files, rw.bytes,
			len(rw.manifests), len(ice.Metadata().Snapshots()))
		check, err := verify(ctx, ice, dstLake, newLoc, from, to)
		if err != nil {
			return err
		}
		rec.Source, rec.MetadataLocation = ice.MetadataLocation(), newLoc
		rec.Snapshots, rec.Rows, rec.DataFiles, rec.Bytes = len(ice.Metadata().Snapshots()), check.rows, rw.files, rw.bytes
		s.emit(opts, c.Name, rec.Name, "checked: %d rows in %d live files, every file read back with the same SHA-256", check.rows, check.files)
		// Kept before the catalog changes: a migration interrupted between the drop
		// and the register registers this file when it resumes.
		if err := save(); err != nil {
			return err
		}
	}
	// Point the catalog at the new place: forget the table, register it again.
	if err := srcLake.DropTable(ctx, c.Name, rec.Name); err != nil {
		return err
	}
	if _, err := dstLake.RegisterTable(ctx, c.Name, rec.Name, rec.MetadataLocation); err != nil {
		return err
	}
	rec.Registered = true
	s.emit(opts, c.Name, rec.Name, "registered at %s", rec.MetadataLocation)
	return save()
}

func (s *Service) open(ctx context.Context, org store.Org, loc storage.Location) (*lake.Lake, error) {
	return lake.Open(ctx, lake.Config{Catalog: s.Catalog, CatalogName: org.ID, Warehouse: loc.Root, Props: loc.Props,
		HTTPClient: loc.HTTPClient, S3APIOptions: loc.S3APIOptions})
}

// owns checks that the connector's prefix at loc is its own (an empty prefix is
// fine: a connector that never synced there).
func owns(ctx context.Context, loc storage.Location, c store.Connector) error {
	m, err := owner.Read(ctx, loc.Bucket, c.Name)
	if err != nil {
		return err
	}
	if m.OrgID != c.OrgID || m.ConnectorID != c.ID {
		return fmt.Errorf("%w: %s/ belongs to connector %s of organization %s", owner.ErrOwnedByAnother, loc.NamespaceRoot(c.Name), m.ConnectorID, m.OrgID)
	}
	return nil
}

// deleteSource deletes the connector's old copy at root, after reading its owner
// marker (owner.Cleanup); a prefix already gone is fine.
func (s *Service) deleteSource(ctx context.Context, org store.Org, c store.Connector, root string) (int, error) {
	src, err := s.Storage.At(ctx, org, root, storage.Platform)
	if err != nil {
		return 0, err
	}
	n, err := owner.Cleanup(ctx, src.Bucket, c.Name, org.ID, c.ID)
	if errors.Is(err, owner.ErrNotOwned) {
		if k, lerr := count(ctx, src, c.Name); lerr == nil && k == 0 {
			return 0, nil // deleted by an earlier run
		}
	}
	return n, err
}

func count(ctx context.Context, loc storage.Location, ns string) (int, error) {
	n := 0
	err := loc.Bucket.List(ctx, ns+"/", func(string) error { n++; return nil })
	return n, err
}

// waitIdle waits until no sync of c is queued or running.
func (s *Service) waitIdle(ctx context.Context, org store.Org, c store.Connector) error {
	wait, poll := s.IdleWait, s.Poll
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	if poll <= 0 {
		poll = time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		runs, err := s.Store.Runs(ctx, org.ID, c.ID, 1)
		if err != nil {
			return err
		}
		if len(runs) == 0 || runs[0].Status != store.RunQueued && runs[0].Status != store.RunRunning {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: run %s is %s after %s; run the migration again once it finished", ErrBusy, runs[0].ID, runs[0].Status, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

func records(raw []byte) map[string]*tableRecord {
	out := map[string]*tableRecord{}
	var list []tableRecord
	if len(raw) > 0 && json.Unmarshal(raw, &list) == nil {
		for i := range list {
			out[list[i].Name] = &list[i]
		}
	}
	return out
}

func marshal(recs map[string]*tableRecord) []byte {
	list := make([]tableRecord, 0, len(recs))
	for _, r := range recs {
		list = append(list, *r)
	}
	slices.SortFunc(list, func(a, b tableRecord) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	raw, _ := json.Marshal(list)
	return raw
}
