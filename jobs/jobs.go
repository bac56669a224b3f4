// Package jobs is lakeport's job queue: sync runs as River jobs in the metadata store, so
// the embedded server (SQLite) and several processes sharing PostgreSQL run the same
// jobs the same way.
//
// A job carries work to a process; what a sync run is, who holds it and whether it may
// start now are the run's (store.Leases, in package connector): one active run per
// connector, a lease its process renews, a cap per organization. So the queue itself
// dedupes nothing: a job of a run that another process holds, or that has finished,
// does nothing. A sync that fails is a recorded failed run, not a job to retry: the next
// sync resumes from the last committed state. A run that may not start yet (its
// organization's cap) returns Later and its job waits without holding a worker.
//
// River's own rescue of jobs left "running" by a dead process stays as a backstop
// (Config.RescueAfter); leases resume such a run much sooner, and a rescued job of a run
// already resumed or finished does nothing.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// SyncArgs asks for one sync run of one connector (to start it, or to resume it).
type SyncArgs struct {
	OrgID       string `json:"org_id"`
	ConnectorID string `json:"connector_id"`
	RunID       string `json:"run_id"`
}

// Kind is the River job kind.
func (SyncArgs) Kind() string { return "sync" }

// SyncMaxAttempts bounds how often River starts one sync job: errors do not use
// attempts (a failed sync is not retried, see Work), only River's rescue of a job whose
// process died does.
const SyncMaxAttempts = 3

// InsertOpts of sync jobs.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: SyncMaxAttempts}
}

// later is what Later returns.
type later struct{ wait time.Duration }

func (l *later) Error() string { return fmt.Sprintf("jobs: try again in %s", l.wait) }

// Later is the error a SyncFunc returns when its run may not start yet: the job waits
// wait, without holding a worker, and is worked again.
func Later(wait time.Duration) error { return &later{wait: wait} }

// SyncFunc runs one sync.
type SyncFunc func(ctx context.Context, args SyncArgs) error

// client is what a Queue needs of a River client, whatever its driver's transaction type.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

var (
	_ client = (*river.Client[*sql.Tx])(nil)
	_ client = (*river.Client[pgx.Tx])(nil)
)

// Queue enqueues and works jobs.
type Queue struct {
	client client
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	run     SyncFunc
	timeout time.Duration
}

// Work runs the sync. Its error cancels the job instead of scheduling a retry: the run
// is recorded as failed and the next sync resumes from committed state.
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	err := w.run(ctx, job.Args)
	var l *later
	switch {
	case err == nil:
		return nil
	case errors.As(err, &l):
		return river.JobSnooze(l.wait)
	default:
		return river.JobCancel(err)
	}
}

// Timeout bounds one attempt; the rescuer also waits at least this long before it takes
// a running sync for dead.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return w.timeout }

// Defaults of Config.
const (
	DefaultWorkers     = 2
	DefaultSyncTimeout = 6 * time.Hour
	// DefaultRescueGrace is how much longer than SyncTimeout a sync may show as running
	// before it is presumed dead, by default: time for a timed-out sync to record its run.
	DefaultRescueGrace = 10 * time.Minute
)

// Config tunes a Queue.
type Config struct {
	Workers int // concurrent syncs in this process; default DefaultWorkers
	Logger  *slog.Logger

	// SyncTimeout is the longest one sync may run: its context is cancelled then (the run
	// is recorded as failed and the next sync resumes). Default DefaultSyncTimeout.
	SyncTimeout time.Duration
	// RescueAfter is how long after it started a sync still shown as running is presumed
	// to belong to a dead process and is queued again. A live process never runs a sync
	// that long (SyncTimeout), so it must be at least SyncTimeout; the default is
	// SyncTimeout + DefaultRescueGrace. River's rescuer looks every 30 seconds.
	RescueAfter time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = c.SyncTimeout + DefaultRescueGrace
	}
	if c.RescueAfter < c.SyncTimeout {
		return c, fmt.Errorf("jobs: RescueAfter (%s) is shorter than SyncTimeout (%s): a sync still running would be started a second time; make RescueAfter longer", c.RescueAfter, c.SyncTimeout)
	}
	return c, nil
}

// Open is OpenSQLite, kept for existing callers.
func Open(ctx context.Context, db *sql.DB, run SyncFunc, cfg Config) (*Queue, error) {
	return OpenSQLite(ctx, db, run, cfg)
}

// OpenSQLite migrates River's tables in db (a SQLite database with one open connection,
// as store/sqlite opens it) and returns a Queue whose workers call run.
func OpenSQLite(ctx context.Context, db *sql.DB, run SyncFunc, cfg Config) (*Queue, error) {
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate the queue tables: %w", err)
	}
	return open(driver, run, cfg)
}

// MigrationLockKey is the pg_advisory_lock key held while River's tables are migrated in
// PostgreSQL, so that several processes starting at once migrate once.
const MigrationLockKey int64 = 0x6c616b65_706f7202 // "lakepor" + 2

// OpenPostgres migrates River's tables in the database of pool (several lakeport
// processes may share it, and may start at once) and returns a Queue whose workers call
// run. Jobs are spread over every process's workers; each is worked by one.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, run SyncFunc, cfg Config) (*Queue, error) {
	driver := riverpgxv5.New(pool)
	if err := migratePostgres(ctx, pool, driver); err != nil {
		return nil, fmt.Errorf("jobs: migrate the queue tables: %w", err)
	}
	return open(driver, run, cfg)
}

// migratePostgres applies River's migrations while one session holds MigrationLockKey.
// Each migration runs in its own transaction (River's later ones use enum values an
// earlier one adds, which PostgreSQL refuses within one transaction), so the lock is a
// session lock, released with the connection if the process dies.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, MigrationLockKey); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, MigrationLockKey) //nolint:errcheck // released with the session anyway
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

func open[TTx any](driver riverdriver.Driver[TTx], run SyncFunc, cfg Config) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{run: run, timeout: cfg.SyncTimeout})
	c, err := river.NewClient(driver, &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		Logger:               cfg.Logger,
		FetchCooldown:        50 * time.Millisecond,
		FetchPollInterval:    200 * time.Millisecond,
		JobTimeout:           cfg.SyncTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{client: c}, nil
}

// Start starts working jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops taking jobs and waits for running ones (their context is cancelled when
// ctx ends).
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// EnqueueSync queues a job for the sync run a.
func (q *Queue) EnqueueSync(ctx context.Context, a SyncArgs) error {
	if _, err := q.client.Insert(ctx, a, nil); err != nil {
		return fmt.Errorf("jobs: enqueue sync of connector %s: %w", a.ConnectorID, err)
	}
	return nil
}
