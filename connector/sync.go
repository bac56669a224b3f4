package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/syncer"
)

// RunPolicy says how sync runs hold their leases and share the workers.
type RunPolicy struct {
	// Node names this process in the attempts it runs (default: host name and pid).
	Node string
	// LeaseTimeout is how long a run's lease lasts without a heartbeat before another
	// process takes the run over (default DefaultLeaseTimeout).
	LeaseTimeout time.Duration
	// Heartbeat is how often a running sync renews its lease (default a twelfth of
	// LeaseTimeout, at most 5 s).
	Heartbeat time.Duration
	// MaxPerOrg is how many syncs of one organization run at once (0: the default,
	// DefaultMaxSyncsPerOrg; negative: no limit). A sync over the cap waits without
	// holding a worker, so other organizations' syncs go first.
	MaxPerOrg int
	// MaxAttempts fails a run whose process died this many times (default 5).
	MaxAttempts int
	// LeftoverWindow spares files younger than this when a finished sync removes what
	// attempts that never committed left behind (default DefaultLeftoverWindow).
	LeftoverWindow time.Duration
}

// Defaults of RunPolicy.
const (
	DefaultLeaseTimeout   = 60 * time.Second
	DefaultMaxSyncsPerOrg = 1
	DefaultLeftoverWindow = time.Hour
)

func (p RunPolicy) withDefaults() RunPolicy {
	if p.Node == "" {
		host, _ := os.Hostname()
		p.Node = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), auth.NewID("")[:8])
	}
	if p.LeaseTimeout <= 0 {
		p.LeaseTimeout = DefaultLeaseTimeout
	}
	if p.Heartbeat <= 0 {
		p.Heartbeat = min(p.LeaseTimeout/12, 5*time.Second)
	}
	switch {
	case p.MaxPerOrg == 0:
		p.MaxPerOrg = DefaultMaxSyncsPerOrg
	case p.MaxPerOrg < 0:
		p.MaxPerOrg = 0
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.LeftoverWindow <= 0 {
		p.LeftoverWindow = DefaultLeftoverWindow
	}
	return p
}

func (s *Service) leases() (store.Leases, error) {
	l, ok := s.Store.(store.Leases)
	if !ok {
		return nil, errors.New("connector: the metadata store keeps no run leases")
	}
	return l, nil
}

// StartSync queues a sync of the connector and returns its run. When the connector's
// run was interrupted (its process died) and is being resumed, the caller joins that
// run instead: a sync is never refused because of a dead process.
func (s *Service) StartSync(ctx context.Context, org store.Org, name string) (RunView, error) {
	return s.startRun(ctx, org, name, store.RunSync, func(c store.Connector, active store.Run) (RunView, error) {
		return s.join(ctx, active, c)
	}, func(c store.Connector) error { return s.checkHealth(ctx, org, c) })
}

// startRun queues a run of kind (a sync or maintenance) for the connector and returns
// it. The connector's tables must not be moving and its storage must be reachable;
// ready is the kind's own check. When the connector has a queued or running run
// already (also one another request created a moment ago), onActive answers instead.
func (s *Service) startRun(ctx context.Context, org store.Org, name, kind string,
	onActive func(store.Connector, store.Run) (RunView, error), ready func(store.Connector) error) (RunView, error) {
	what := "the sync"
	if kind == store.RunMaintenance {
		what = "the maintenance"
	}
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return RunView{}, err
	}
	leases, err := s.leases()
	if err != nil {
		return RunView{}, err
	}
	if s.Enqueue == nil {
		return RunView{}, fmt.Errorf("connector: no job queue: this process does not run %s", what)
	}
	if active, err := leases.ActiveRun(ctx, org.ID, c.ID); err == nil {
		return onActive(c, active)
	}
	if err := s.checkMigration(ctx, org, c); err != nil {
		return RunView{}, err
	}
	if _, err := s.locate(ctx, org, c, storage.Platform); err != nil {
		return RunView{}, err
	}
	if ready != nil {
		if err := ready(c); err != nil {
			return RunView{}, err
		}
	}
	r := store.Run{ID: newRunID(), OrgID: org.ID, ConnectorID: c.ID, Kind: kind, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := s.Store.CreateRun(ctx, r); errors.Is(err, store.ErrConflict) {
		if active, aerr := leases.ActiveRun(ctx, org.ID, c.ID); aerr == nil {
			return onActive(c, active)
		}
		return RunView{}, fmt.Errorf("%w: %v", ErrBusy, err)
	} else if err != nil {
		return RunView{}, err
	}
	if err := s.Enqueue(ctx, jobs.SyncArgs{OrgID: org.ID, ConnectorID: c.ID, RunID: r.ID}); err != nil {
		r.Status, r.Error, r.FinishedAt = store.RunFailed, "could not queue "+what+": "+err.Error(), time.Now().UTC()
		_ = s.Store.UpdateRun(context.WithoutCancel(ctx), r)
		return RunView{}, err
	}
	return runView(r, c.Name), nil
}

// checkMigration refuses a sync while the connector's tables are being moved.
func (s *Service) checkMigration(ctx context.Context, org store.Org, c store.Connector) error {
	ms, ok := s.Store.(store.Migrations)
	if !ok {
		return nil
	}
	m, err := ms.Migration(ctx, org.ID, c.ID)
	if err != nil || m.Source != c.Warehouse {
		return nil
	}
	switch m.State {
	case store.MigrationRunning:
		return fmt.Errorf("%w: connector %s is moving from %s to %s (lakeport storage migrate, started %s); its syncs start again once the move is done. "+
			"If the migration stopped, run lakeport storage migrate again: it resumes where it stopped",
			ErrMigrating, c.Name, m.Source, m.Target, m.StartedAt.Format(time.RFC3339))
	case store.MigrationFailed:
		return fmt.Errorf("%w: the move of connector %s from %s to %s stopped half way (%s); run lakeport storage migrate again: it resumes where it stopped, "+
			"and its syncs start again once the move is done", ErrMigrating, c.Name, m.Source, m.Target, m.Error)
	}
	return nil
}

// join answers a sync request for a connector that has an active run: a run being
// resumed after its process died (or whose process died just now) is joined; a run
// whose first attempt is queued or running is busy.
func (s *Service) join(ctx context.Context, active store.Run, c store.Connector) (RunView, error) {
	if active.IsMaintenance() {
		return RunView{}, busy(active, c)
	}
	pol := s.RunPolicy.withDefaults()
	leases, err := s.leases()
	if err != nil {
		return RunView{}, err
	}
	atts, err := leases.Attempts(ctx, active.OrgID, active.ID)
	if err != nil {
		return RunView{}, err
	}
	resumed := len(atts) > 1 || (len(atts) == 1 && atts[0].Status == store.AttemptInterrupted)
	if !resumed && len(atts) == 1 && atts[0].Status == store.AttemptRunning && atts[0].HeartbeatAt.Before(time.Now().Add(-pol.LeaseTimeout)) {
		// Its process is gone and nobody noticed yet: resume it now.
		if _, err := s.Resume(ctx, false); err != nil {
			return RunView{}, err
		}
		if active, err = s.Store.Run(ctx, active.OrgID, active.ID); err != nil {
			return RunView{}, err
		}
		resumed = true
	}
	if !resumed {
		return RunView{}, fmt.Errorf("%w: run %s of connector %s is %s; wait for it to finish", ErrBusy, active.ID, c.Name, active.Status)
	}
	v := runView(active, c.Name)
	v.Joined = true
	return v, nil
}

// Resume queues again every run whose process is gone: with all, every running run
// (a server that owns its SQLite file alone, at start: no run of an earlier process is
// still going), otherwise those whose lease went stale. It also gives every queued run
// a job (a run handed back at the last stop may have none). It returns how many runs
// it resumed.
func (s *Service) Resume(ctx context.Context, all bool) (int, error) {
	leases, err := s.leases()
	if err != nil {
		return 0, err
	}
	pol := s.RunPolicy.withDefaults()
	now := time.Now().UTC()
	staleBefore := now.Add(-pol.LeaseTimeout)
	msg := fmt.Sprintf("its process stopped renewing the run's lease for %s", pol.LeaseTimeout)
	if all {
		staleBefore = now.Add(time.Hour)
		msg = "lakeport stopped during this attempt"
	}
	runs, err := leases.RequeueStale(ctx, now, staleBefore, msg)
	if err != nil {
		return 0, err
	}
	if all {
		queued, err := leases.QueuedRuns(ctx)
		if err != nil {
			return 0, err
		}
		runs = append(runs, queued...)
	}
	n := 0
	seen := map[string]bool{}
	for _, r := range runs {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if r.Attempts >= pol.MaxAttempts {
			r.Status, r.FinishedAt = store.RunFailed, now
			r.Error = fmt.Sprintf("the process running this sync stopped %d times; giving up (what was committed stays, and the next sync resumes from it)", r.Attempts)
			if err := s.Store.UpdateRun(ctx, r); err != nil {
				return n, err
			}
			continue
		}
		if s.Enqueue == nil {
			continue
		}
		if err := s.Enqueue(ctx, jobs.SyncArgs{OrgID: r.OrgID, ConnectorID: r.ConnectorID, RunID: r.ID}); err != nil {
			return n, err
		}
		if r.Attempts > 0 {
			n++
			s.logger().Info("resuming a sync whose process stopped, from its last committed state", "org", r.OrgID, "run", r.ID, "attempts", r.Attempts)
		}
	}
	return n, nil
}

// WatchLeases resumes, until ctx ends, the runs of processes that stopped renewing
// their leases (PostgreSQL: another process died).
func (s *Service) WatchLeases(ctx context.Context) {
	pol := s.RunPolicy.withDefaults()
	every := max(pol.LeaseTimeout/4, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Resume(ctx, false); err != nil && ctx.Err() == nil {
			s.logger().Warn("could not look for syncs whose process stopped", "err", err)
		}
	}
}

func newRunID() string { return auth.NewID("run_") }

// Run returns one run of the organization.
func (s *Service) Run(ctx context.Context, org store.Org, id string) (RunView, error) {
	r, err := s.Store.Run(ctx, org.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return RunView{}, fmt.Errorf("%w: no run %s in this organization", ErrNotFound, id)
	}
	if err != nil {
		return RunView{}, err
	}
	name := ""
	if c, err := s.Store.ConnectorByID(ctx, org.ID, r.ConnectorID); err == nil {
		name = c.Name
	}
	return runView(r, name), nil
}

// Runs returns the connector's runs, newest first.
func (s *Service) Runs(ctx context.Context, org store.Org, name string, limit int) ([]RunView, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return nil, err
	}
	runs, err := s.Store.Runs(ctx, org.ID, c.ID, limit)
	if err != nil {
		return nil, err
	}
	out := []RunView{}
	for _, r := range runs {
		out = append(out, runView(r, c.Name))
	}
	return out, nil
}

// errLeaseLost ends a sync whose run another process took over.
var errLeaseLost = errors.New("connector: this process lost the run's lease to another")

// RunSync is the job worker: it claims the run (its next attempt holds the run's
// lease), runs the sync while renewing the lease, and records the outcome.
func (s *Service) RunSync(ctx context.Context, a jobs.SyncArgs) error {
	leases, err := s.leases()
	if err != nil {
		return err
	}
	pol := s.RunPolicy.withDefaults()
	now := time.Now().UTC()
	att, err := leases.ClaimRun(ctx, a.OrgID, a.RunID, pol.Node, now, now.Add(-pol.LeaseTimeout), pol.MaxPerOrg)
	switch {
	case errors.Is(err, store.ErrOrgBusy):
		return jobs.Later(2 * time.Second)
	case errors.Is(err, store.ErrRunDone), errors.Is(err, store.ErrLeaseHeld), errors.Is(err, store.ErrNotFound):
		s.logger().Debug("nothing to do for this sync job", "run", a.RunID, "why", err)
		return nil
	case err != nil:
		return err
	}
	r, err := s.Store.Run(ctx, a.OrgID, a.RunID)
	if err != nil {
		return err
	}
	syncCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	beat := make(chan struct{})
	go s.heartbeat(syncCtx, leases, att, pol.Heartbeat, cancel, beat)
	base := r.Records
	var res syncer.Result
	if r.IsMaintenance() {
		err = s.maintain(syncCtx, a, &r)
	} else {
		res, err = s.sync(syncCtx, a, &r, base)
	}
	cancel(nil)
	<-beat
	if errors.Is(context.Cause(syncCtx), errLeaseLost) {
		s.logger().Warn("another process took this sync over; this attempt stops", "run", a.RunID, "attempt", att.Number)
		return nil
	}
	done := context.WithoutCancel(ctx)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// This process is stopping: hand the run back, to be resumed from its last
		// committed state by another process, or by this one when it starts again.
		if rerr := leases.ReleaseLease(done, att, "lakeport stopped during this attempt", time.Now().UTC()); rerr != nil {
			return rerr
		}
		if s.Enqueue != nil {
			_ = s.Enqueue(done, a)
		}
		s.logger().Info("stopping: the sync resumes from its last committed state", "run", a.RunID)
		return nil
	}
	if !r.IsMaintenance() {
		r.Records, r.Bytes = base+res.Records, res.Bytes
		if raw, jerr := json.Marshal(res.Streams); jerr == nil {
			r.Streams = raw
		}
	}
	r.FinishedAt = time.Now().UTC()
	r.Status, r.Error = store.RunSucceeded, ""
	status := store.AttemptSucceeded
	if err != nil {
		r.Status, r.Error, status = store.RunFailed, err.Error(), store.AttemptFailed
		s.logger().Warn(kindOf(r)+" failed", "org", a.OrgID, "connector", a.ConnectorID, "run", a.RunID, "err", err)
	} else if r.IsMaintenance() {
		s.logger().Info("table maintenance finished", "org", a.OrgID, "connector", a.ConnectorID, "run", a.RunID)
	} else {
		s.logger().Info("sync finished", "org", a.OrgID, "connector", a.ConnectorID, "run", a.RunID, "records", r.Records, "bytes", r.Bytes)
	}
	if eerr := leases.EndAttempt(done, att, status, r.Error, r.FinishedAt); errors.Is(eerr, store.ErrLeaseLost) {
		s.logger().Warn("another process took this sync over as it ended; its outcome is that process's", "run", a.RunID)
		return nil
	} else if eerr != nil {
		return errors.Join(err, eerr)
	}
	if !r.IsMaintenance() {
		s.Metrics.SyncFinished(r.Status, r.Records, r.Bytes, r.FinishedAt.Sub(r.StartedAt))
	}
	if uerr := s.Store.UpdateRun(done, r); uerr != nil {
		return errors.Join(err, uerr)
	}
	if err == nil && (!r.IsMaintenance() || att.Number > 1) {
		// Leftovers: files no snapshot references, written by an attempt that never
		// committed. After a resumed run every file from before this attempt is one;
		// otherwise only those older than the safety window (a run of another process
		// may be writing the newer ones). Maintenance removes orphans itself, past its
		// own window; after a resumed one, the dead attempt's compaction output goes now.
		cutoff := time.Now().Add(-pol.LeftoverWindow)
		if att.Number > 1 {
			cutoff = att.StartedAt
		}
		if n, lerr := s.RemoveLeftovers(done, a.OrgID, a.ConnectorID, cutoff); lerr != nil {
			s.logger().Warn("could not remove the files of attempts that never committed; the next run tries again", "run", a.RunID, "err", lerr)
		} else if n > 0 {
			s.logger().Info("removed files of attempts that never committed", "run", a.RunID, "files", n)
		}
	}
	return nil // a failed sync is a recorded run, not a job to retry
}

// RemoveLeftovers removes the files under the connector's tables that no snapshot
// references and that were written before cutoff (see lake.Table.OrphanFiles), and
// returns how many.
func (s *Service) RemoveLeftovers(ctx context.Context, orgID, connectorID string, cutoff time.Time) (int, error) {
	org, err := s.Store.Org(ctx, orgID)
	if err != nil {
		return 0, err
	}
	c, err := s.Store.ConnectorByID(ctx, orgID, connectorID)
	if err != nil {
		return 0, err
	}
	// The workers remove what their attempts left, right after a sync.
	loc, err := s.locate(ctx, org, c, storage.Workers)
	if err != nil {
		return 0, err
	}
	files, ok := loc.Bucket.(lake.Files)
	if !ok {
		return 0, fmt.Errorf("connector %s: its storage cannot date its files", c.Name)
	}
	cat, err := catalogOf(c)
	if err != nil {
		return 0, err
	}
	l, err := s.openLake(ctx, org, loc)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	n := 0
	for _, cs := range cat.Streams {
		name, err := names.Segment(cs.Stream.Name)
		if err != nil {
			continue
		}
		t, err := l.LoadTable(ctx, c.Name, name)
		if err != nil {
			continue // never synced
		}
		removed, err := t.RemoveOrphanFiles(ctx, files, cutoff)
		n += len(removed)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// heartbeat renews the attempt's lease every interval until ctx ends; a lease lost to
// another process cancels the sync.
func (s *Service) heartbeat(ctx context.Context, leases store.Leases, att store.Attempt, every time.Duration, cancel context.CancelCauseFunc, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := leases.RenewLease(ctx, att, time.Now().UTC())
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			cancel(errLeaseLost)
			return
		case err != nil && ctx.Err() == nil:
			s.logger().Warn("could not renew a running sync's lease; another process takes it over if this lasts", "run", att.RunID, "err", err)
		}
	}
}

func (s *Service) sync(ctx context.Context, a jobs.SyncArgs, r *store.Run, base int64) (syncer.Result, error) {
	org, err := s.Store.Org(ctx, a.OrgID)
	if err != nil {
		return syncer.Result{}, err
	}
	c, err := s.Store.ConnectorByID(ctx, a.OrgID, a.ConnectorID)
	if err != nil {
		return syncer.Result{}, err
	}
	// A run queued before a migration of its connector started finds it at its turn:
	// the run is already queued or running, so the migration waits for it, or this
	// check sees the migration.
	if err := s.checkMigration(ctx, org, c); err != nil {
		return syncer.Result{}, err
	}
	// The workers write, through their own role chain.
	loc, err := s.locate(ctx, org, c, storage.Workers)
	if err != nil {
		return syncer.Result{}, err
	}
	if h, ok := s.Store.(store.Health); ok && c.StorageMode == "customer_hosted" {
		if last, err := h.StorageHealth(ctx, org.ID); err == nil && !last.OK {
			return syncer.Result{}, fmt.Errorf("%w: %s (%s); nothing was written", ErrStoragePaused, last.Message, last.Cause)
		}
	}
	l, err := s.openLake(ctx, org, loc)
	if err != nil {
		return syncer.Result{}, err
	}
	defer l.Close()
	// A long sync outlives the role's temporary credentials: renew them.
	renewCtx, stopRenewing := context.WithCancel(ctx)
	defer stopRenewing()
	go s.Storage.Renew(renewCtx, org, loc, func(next storage.Location) error { return l.SetProps(next.Props) })
	src, err := s.openSource(c)
	if err != nil {
		return syncer.Result{}, err
	}
	cfg, err := s.config(c)
	if err != nil {
		return syncer.Result{}, err
	}
	cat, err := catalogOf(c)
	if err != nil {
		return syncer.Result{}, err
	}
	opts := s.SyncOptions
	opts.Logger = s.logger().With("org", org.ID, "connector", c.Name, "run", r.ID)
	last := time.Time{}
	opts.Progress = func(p syncer.Progress) {
		if time.Since(last) < 300*time.Millisecond {
			return
		}
		last = time.Now()
		r.Records, r.Bytes = base+p.Records, p.Bytes
		if raw, err := json.Marshal(p.Streams); err == nil {
			r.Streams = raw
		}
		_ = s.Store.UpdateRun(ctx, *r)
	}
	location, err := names.Join(loc.Root, c.Name)
	if err != nil {
		return syncer.Result{}, err
	}
	return syncer.Run(ctx, syncer.Job{Source: src, Config: cfg, Catalog: cat, Lake: l, Namespace: c.Name,
		Location: location, SyncID: r.ID, UpdateConfig: s.keepConfig(c)}, opts)
}

// keepConfig stores a config the source sent mid-sync (CONTROL connectorConfig), sealed
// like the one it replaces; the connector's next sync reads with it.
func (s *Service) keepConfig(c store.Connector) func(context.Context, json.RawMessage) error {
	return func(ctx context.Context, cfg json.RawMessage) error {
		cur, err := s.Store.ConnectorByID(ctx, c.OrgID, c.ID)
		if err != nil {
			return err
		}
		if cur.ConfigSealed, err = s.Secrets.Seal(string(cfg), sealContext(cur)); err != nil {
			return err
		}
		cur.UpdatedAt = time.Now().UTC()
		return s.Store.UpdateConnector(ctx, cur)
	}
}
