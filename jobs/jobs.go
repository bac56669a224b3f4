// Package jobs is lakeport's job queue: sync runs as River jobs in the metadata store, so
// the embedded server (SQLite) and several processes sharing PostgreSQL run the same
// jobs the same way.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// SyncArgs asks for one sync run of one connector. At most one sync job per connector
// is pending or running at a time.
type SyncArgs struct {
	OrgID       string `json:"org_id" river:"unique"`
	ConnectorID string `json:"connector_id" river:"unique"`
	RunID       string `json:"run_id"`
}

// Kind is the River job kind.
func (SyncArgs) Kind() string { return "sync" }

// InsertOpts makes sync jobs unique per connector while one is waiting or running.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 1, // a failed run is recorded as failed; the next sync resumes from committed state
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
				rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
		},
	}
}

// ErrAlreadyQueued means the connector already has a sync waiting or running.
var ErrAlreadyQueued = errors.New("jobs: a sync of this connector is already queued or running")

// SyncFunc runs one sync.
type SyncFunc func(ctx context.Context, args SyncArgs) error

// Queue enqueues and works jobs.
type Queue struct {
	client *river.Client[*sql.Tx]
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	run SyncFunc
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	return w.run(ctx, job.Args)
}

// Timeout lets a sync run as long as it needs; cancellation comes from Stop.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return -1 }

// Config tunes a Queue.
type Config struct {
	Workers int // concurrent syncs in this process; default 2
	Logger  *slog.Logger
}

// Open migrates River's tables in db (a SQLite database with one open connection) and
// returns a Queue whose workers call run.
func Open(ctx context.Context, db *sql.DB, run SyncFunc, cfg Config) (*Queue, error) {
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate the queue tables: %w", err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{run: run})
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		Logger:            cfg.Logger,
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{client: client}, nil
}

// Start starts working jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops taking jobs and waits for running ones (their context is cancelled when
// ctx ends).
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// EnqueueSync queues a sync; ErrAlreadyQueued when the connector already has one.
func (q *Queue) EnqueueSync(ctx context.Context, a SyncArgs) error {
	res, err := q.client.Insert(ctx, a, nil)
	if err != nil {
		return fmt.Errorf("jobs: enqueue sync of connector %s: %w", a.ConnectorID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return ErrAlreadyQueued
	}
	return nil
}
