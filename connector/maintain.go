package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
)

// Table maintenance (package maintain) runs as a run of the connector, of kind
// store.RunMaintenance: it shares the connector's one active run with its syncs, holds
// the run's lease like a sync and, when its process dies, is resumed the same way
// (the next attempt plans again from the tables as they are, and finishes). The
// maintenance commits are safe against a racing commit anyway (see package maintain);
// taking turns keeps a finished sync's removal of its leftover files from ever
// meeting a compaction's files in flight.

// StartMaintenance queues maintenance of the connector's tables and returns its run.
func (s *Service) StartMaintenance(ctx context.Context, org store.Org, name string) (RunView, error) {
	return s.startRun(ctx, org, name, store.RunMaintenance, func(c store.Connector, active store.Run) (RunView, error) {
		return RunView{}, busy(active, c)
	}, nil)
}

// StartScheduledMaintenance starts maintenance of a connector the scheduler found due;
// it is the maintenance scheduler's Starter. A connector that is syncing right now, or
// whose tables are moving to new storage, is left for the scheduler's next look.
func (s *Service) StartScheduledMaintenance(ctx context.Context, orgID, connectorID string) error {
	org, err := s.Store.Org(ctx, orgID)
	if err != nil {
		return err
	}
	c, err := s.Store.ConnectorByID(ctx, orgID, connectorID)
	if err != nil {
		return err
	}
	if _, err := s.StartMaintenance(ctx, org, c.Name); err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, ErrMigrating) {
		return err
	}
	return nil
}

// busy is ErrBusy naming the connector's active run.
func busy(active store.Run, c store.Connector) error {
	what, sentinel := "a sync", ErrBusy
	if active.IsMaintenance() {
		what, sentinel = "table maintenance", ErrMaintaining
	}
	return fmt.Errorf("%w: %s (run %s) of connector %s is %s; try again when it finishes (lakeport connector runs %s)",
		sentinel, what, active.ID, c.Name, active.Status, c.Name)
}

// kindOf is r's kind for people: "sync" or "maintenance".
func kindOf(r store.Run) string {
	if r.IsMaintenance() {
		return store.RunMaintenance
	}
	return store.RunSync
}

// maintain runs maintenance of every table of the connector's catalog that exists,
// recording each table's report in the run as it goes. A table that fails does not
// stop the others; the run fails naming it.
func (s *Service) maintain(ctx context.Context, a jobs.SyncArgs, r *store.Run) error {
	org, err := s.Store.Org(ctx, a.OrgID)
	if err != nil {
		return err
	}
	c, err := s.Store.ConnectorByID(ctx, a.OrgID, a.ConnectorID)
	if err != nil {
		return err
	}
	// Queued before a move of the connector's tables started: the move waits for this
	// run, or this run sees the move (as a sync does).
	if err := s.checkMigration(ctx, org, c); err != nil {
		return err
	}
	// The workers rewrite the tables, as they write them in syncs.
	loc, err := s.locate(ctx, org, c, storage.Workers)
	if err != nil {
		return err
	}
	if h, ok := s.Store.(store.Health); ok && c.StorageMode == "customer_hosted" {
		if last, err := h.StorageHealth(ctx, org.ID); err == nil && !last.OK {
			return fmt.Errorf("%w: %s (%s); nothing was changed", ErrStoragePaused, last.Message, last.Cause)
		}
	}
	l, err := s.openLake(ctx, org, loc)
	if err != nil {
		return err
	}
	defer l.Close()
	// A long compaction outlives the role's temporary credentials: renew them.
	renewCtx, stopRenewing := context.WithCancel(ctx)
	defer stopRenewing()
	go s.Storage.Renew(renewCtx, org, loc, func(next storage.Location) error { return l.SetProps(next.Props) })
	cat, err := catalogOf(c)
	if err != nil {
		return err
	}
	opts := s.Maintenance
	opts.RunID = r.ID
	opts.Logger = s.logger().With("org", org.ID, "connector", c.Name, "run", r.ID)
	if files, ok := loc.Bucket.(lake.Files); ok {
		opts.Files = files
	}
	reports := []maintain.Report{}
	save := func() {
		if raw, err := json.Marshal(reports); err == nil {
			r.Streams = raw
			_ = s.Store.UpdateRun(ctx, *r)
		}
	}
	var errs []error
	for _, cs := range cat.Streams {
		name, err := names.Segment(cs.Stream.Name)
		if err != nil {
			continue // never a table
		}
		t, err := l.LoadTable(ctx, c.Name, name)
		if lake.IsNotFound(err) {
			continue // never synced
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", name, err))
			continue
		}
		i := len(reports)
		reports = append(reports, maintain.Report{Table: c.Name + "." + name})
		opts.Progress = func(rep maintain.Report) { reports[i] = rep; save() }
		rep, err := maintain.Table(ctx, t, opts)
		reports[i] = rep
		save()
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", name, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}
