package store

import (
	"context"
	"errors"
	"time"
)

// Attempt statuses. A run has one or more attempts: the first, and one more each time
// the process running it died (or stopped) and another took it over.
const (
	AttemptRunning     = "running"
	AttemptSucceeded   = "succeeded"
	AttemptFailed      = "failed"
	AttemptInterrupted = "interrupted"
)

// Attempt is one process's go at a run. While it runs it holds the run's lease: its
// process renews HeartbeatAt every few seconds, and a lease not renewed for the lease
// timeout is taken over by another process.
type Attempt struct {
	RunID       string
	OrgID       string
	Number      int    // 1, 2, …
	Owner       string // the process that runs it
	Status      string
	Error       string
	StartedAt   time.Time
	HeartbeatAt time.Time
	FinishedAt  time.Time
}

var (
	// ErrRunDone means the run is no longer queued or running: nothing to claim.
	ErrRunDone = errors.New("store: the run has finished")
	// ErrLeaseHeld means a live attempt (its lease renewed recently) holds the run.
	ErrLeaseHeld = errors.New("store: another process holds the run's lease")
	// ErrLeaseLost means the attempt no longer holds its run's lease: another process
	// took it over, or it was ended.
	ErrLeaseLost = errors.New("store: the attempt lost its lease")
	// ErrOrgBusy means the organization already runs as many syncs as it may at once.
	ErrOrgBusy = errors.New("store: the organization runs as many syncs as it may at once")
)

// Leases keeps run attempts and their leases. A run is "active" while it is queued or
// running; a connector has at most one active run (CreateRun answers ErrConflict for
// a second one), found with ActiveRun.
type Leases interface {
	// ClaimRun starts the next attempt of an active run for owner: the run becomes
	// running and the attempt holds its lease. A lease is live when renewed at or after
	// staleBefore. It fails with ErrRunDone when the run is not active, ErrLeaseHeld when
	// a live attempt holds it, and ErrOrgBusy when maxPerOrg other runs of the same
	// organization hold live leases (maxPerOrg <= 0: no limit). An earlier attempt whose
	// lease went stale is marked interrupted.
	ClaimRun(ctx context.Context, orgID, runID, owner string, now, staleBefore time.Time, maxPerOrg int) (Attempt, error)
	// RenewLease moves the attempt's heartbeat to now; ErrLeaseLost when it no longer
	// holds the lease.
	RenewLease(ctx context.Context, a Attempt, now time.Time) error
	// EndAttempt records the attempt's outcome (AttemptSucceeded, AttemptFailed or
	// AttemptInterrupted); ErrLeaseLost when it no longer held the lease.
	EndAttempt(ctx context.Context, a Attempt, status, msg string, now time.Time) error
	// ReleaseLease gives the lease up without ending the run (a process stopping): the
	// attempt is marked interrupted and the run is queued again, to be resumed.
	ReleaseLease(ctx context.Context, a Attempt, msg string, now time.Time) error
	// Attempts returns a run's attempts, first first.
	Attempts(ctx context.Context, orgID, runID string) ([]Attempt, error)
	// ActiveRun returns the connector's queued or running run; ErrNotFound when none.
	ActiveRun(ctx context.Context, orgID, connectorID string) (Run, error)
	// RequeueStale finds running runs whose lease went stale (no live attempt renewed it
	// at or after staleBefore), marks their attempt interrupted and queues the runs
	// again, returning them; of several processes calling it at once, each run is
	// returned to one.
	RequeueStale(ctx context.Context, now, staleBefore time.Time, msg string) ([]Run, error)
	// QueuedRuns returns every queued run (to make sure each has a job after a restart).
	QueuedRuns(ctx context.Context) ([]Run, error)
}

// Millis is how stores keep attempt times: milliseconds since the epoch (0 for the zero
// time), so that lease checks compare numbers.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis reads a time Millis wrote.
func FromMillis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
