package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/syncer"
	"github.com/lakeport/lakeport/warehouse"
)

// StartSync queues a sync of the connector and returns its run.
func (s *Service) StartSync(ctx context.Context, org store.Org, name string) (RunView, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return RunView{}, err
	}
	if err := s.idle(ctx, c); err != nil {
		return RunView{}, err
	}
	if _, err := s.locate(ctx, org, c); err != nil {
		return RunView{}, err
	}
	if err := s.checkHealth(ctx, org, c); err != nil {
		return RunView{}, err
	}
	r := store.Run{ID: newRunID(), OrgID: org.ID, ConnectorID: c.ID, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := s.Store.CreateRun(ctx, r); err != nil {
		return RunView{}, err
	}
	if s.Enqueue == nil {
		return RunView{}, errors.New("connector: no job queue: this process does not run syncs")
	}
	err = s.Enqueue(ctx, jobs.SyncArgs{OrgID: org.ID, ConnectorID: c.ID, RunID: r.ID})
	// The queue records a finished job's completion a moment after the run row says
	// so; give it that moment before calling the connector busy.
	for wait := 0; errors.Is(err, jobs.ErrAlreadyQueued) && wait < 40; wait++ {
		time.Sleep(50 * time.Millisecond)
		err = s.Enqueue(ctx, jobs.SyncArgs{OrgID: org.ID, ConnectorID: c.ID, RunID: r.ID})
	}
	if err != nil {
		r.Status, r.Error, r.FinishedAt = store.RunFailed, err.Error(), time.Now().UTC()
		_ = s.Store.UpdateRun(ctx, r)
		if errors.Is(err, jobs.ErrAlreadyQueued) {
			return RunView{}, fmt.Errorf("%w: %v", ErrBusy, err)
		}
		return RunView{}, err
	}
	return runView(r, c.Name), nil
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

// RunSync is the job worker: it runs one queued sync and records its outcome.
func (s *Service) RunSync(ctx context.Context, a jobs.SyncArgs) error {
	r, err := s.Store.Run(ctx, a.OrgID, a.RunID)
	if err != nil {
		return err
	}
	r.Status, r.StartedAt = store.RunRunning, time.Now().UTC()
	if err := s.Store.UpdateRun(ctx, r); err != nil {
		return err
	}
	res, err := s.sync(ctx, a, &r)
	r.Records, r.Bytes = res.Records, res.Bytes
	if raw, jerr := json.Marshal(res.Streams); jerr == nil {
		r.Streams = raw
	}
	r.FinishedAt = time.Now().UTC()
	r.Status = store.RunSucceeded
	if err != nil {
		r.Status, r.Error = store.RunFailed, err.Error()
		s.logger().Warn("sync failed", "org", a.OrgID, "connector", a.ConnectorID, "run", a.RunID, "err", err)
	} else {
		s.logger().Info("sync finished", "org", a.OrgID, "connector", a.ConnectorID, "run", a.RunID, "records", r.Records, "bytes", r.Bytes)
	}
	s.Metrics.SyncFinished(r.Status, r.Records, r.Bytes, r.FinishedAt.Sub(r.StartedAt))
	// The run's outcome is recorded even when ctx ended (shutdown).
	if uerr := s.Store.UpdateRun(context.WithoutCancel(ctx), r); uerr != nil {
		return errors.Join(err, uerr)
	}
	return nil // a failed sync is a recorded run, not a job to retry
}

func (s *Service) sync(ctx context.Context, a jobs.SyncArgs, r *store.Run) (syncer.Result, error) {
	org, err := s.Store.Org(ctx, a.OrgID)
	if err != nil {
		return syncer.Result{}, err
	}
	c, err := s.Store.ConnectorByID(ctx, a.OrgID, a.ConnectorID)
	if err != nil {
		return syncer.Result{}, err
	}
	loc, err := s.locate(ctx, org, c)
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
	if !loc.Expires.IsZero() {
		stop := make(chan struct{})
		defer close(stop)
		go s.renewCredentials(ctx, org, loc, l, stop)
	}
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
		r.Records, r.Bytes = p.Records, p.Bytes
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
		Location: location, SyncID: r.ID}, opts)
}

// CredentialMargin is how long before temporary bucket credentials expire a running sync
// fetches new ones.
const CredentialMargin = 10 * time.Minute

// renewCredentials assumes the organization's role again before the sync's temporary
// credentials expire, so a long sync keeps writing; later commits use the new ones.
func (s *Service) renewCredentials(ctx context.Context, org store.Org, loc warehouse.Location, l *lake.Lake, stop <-chan struct{}) {
	for {
		wait := time.Until(loc.Expires.Add(-CredentialMargin))
		if wait < 5*time.Second {
			wait = 5 * time.Second
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		next, err := s.resolve(ctx, org, true)
		if err != nil {
			s.logger().Warn("could not renew the bucket credentials of a running sync; it fails at its next commit if they expire", "org", org.ID, "err", err)
			continue
		}
		if err := l.SetProps(next.Props); err != nil {
			s.logger().Warn("could not apply renewed bucket credentials", "org", org.ID, "err", err)
			continue
		}
		loc = next
		s.logger().Info("renewed the bucket credentials of a running sync", "org", org.ID, "expires", loc.Expires)
	}
}
