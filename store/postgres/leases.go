package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lakeport/lakeport/store"
)

var _ store.Leases = (*Store)(nil)

// Attempt times are milliseconds since the epoch: lease checks compare them as numbers.
var ms, fromMS = store.Millis, store.FromMillis

const attemptCols = `run_id, org_id, number, owner, status, error, started_ms, heartbeat_ms, finished_ms`

func scanAttempt(row pgx.Row) (store.Attempt, error) {
	var a store.Attempt
	var started, beat, finished int64
	err := row.Scan(&a.RunID, &a.OrgID, &a.Number, &a.Owner, &a.Status, &a.Error, &started, &beat, &finished)
	a.StartedAt, a.HeartbeatAt, a.FinishedAt = fromMS(started), fromMS(beat), fromMS(finished)
	return a, err
}

// orgLockSpace keeps the per-organization claim locks apart from other advisory locks.
const orgLockSpace int32 = 0x6c70 // "lp"

func (s *Store) ClaimRun(ctx context.Context, orgID, runID, owner string, now, staleBefore time.Time, maxPerOrg int) (store.Attempt, error) {
	var a store.Attempt
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Claims of one organization take turns, so two processes cannot both see
		// room under its cap.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, orgLockSpace, orgID); err != nil {
			return err
		}
		var status string
		var attempts int
		if err := tx.QueryRow(ctx, `SELECT status, attempts FROM runs WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, runID).Scan(&status, &attempts); err != nil {
			return wrap(err, "claim run "+runID)
		}
		if status != store.RunQueued && status != store.RunRunning {
			return fmt.Errorf("postgres: claim run %s (%s): %w", runID, status, store.ErrRunDone)
		}
		var live int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM run_attempts WHERE run_id = $1 AND status = $2 AND heartbeat_ms >= $3`,
			runID, store.AttemptRunning, ms(staleBefore)).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return fmt.Errorf("postgres: claim run %s: %w", runID, store.ErrLeaseHeld)
		}
		if maxPerOrg > 0 {
			var busy int
			if err := tx.QueryRow(ctx, `SELECT COUNT(DISTINCT run_id) FROM run_attempts WHERE org_id = $1 AND run_id <> $2 AND status = $3 AND heartbeat_ms >= $4`,
				orgID, runID, store.AttemptRunning, ms(staleBefore)).Scan(&busy); err != nil {
				return err
			}
			if busy >= maxPerOrg {
				return fmt.Errorf("postgres: claim run %s: %d running: %w", runID, busy, store.ErrOrgBusy)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE run_attempts SET status = $1, finished_ms = $2, error = $3 WHERE run_id = $4 AND status = $5`,
			store.AttemptInterrupted, ms(now), "its process stopped renewing the lease", runID, store.AttemptRunning); err != nil {
			return err
		}
		a = store.Attempt{RunID: runID, OrgID: orgID, Number: attempts + 1, Owner: owner, Status: store.AttemptRunning, StartedAt: now, HeartbeatAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO run_attempts (`+attemptCols+`) VALUES ($1, $2, $3, $4, $5, '', $6, $7, 0)`,
			a.RunID, a.OrgID, a.Number, a.Owner, a.Status, ms(now), ms(now)); err != nil {
			return wrap(err, "claim run "+runID)
		}
		_, err := tx.Exec(ctx, `UPDATE runs SET status = $1, attempts = $2, started_at = COALESCE(started_at, $3) WHERE id = $4`,
			store.RunRunning, a.Number, now.UTC(), runID)
		return err
	})
	return a, err
}

func (s *Store) RenewLease(ctx context.Context, a store.Attempt, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE run_attempts SET heartbeat_ms = $1 WHERE run_id = $2 AND number = $3 AND owner = $4 AND status = $5`,
		ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
	return leaseAffected(tag, err, a)
}

func (s *Store) EndAttempt(ctx context.Context, a store.Attempt, status, msg string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE run_attempts SET status = $1, error = $2, finished_ms = $3 WHERE run_id = $4 AND number = $5 AND owner = $6 AND status = $7`,
		status, msg, ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
	return leaseAffected(tag, err, a)
}

func (s *Store) ReleaseLease(ctx context.Context, a store.Attempt, msg string, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE run_attempts SET status = $1, error = $2, finished_ms = $3 WHERE run_id = $4 AND number = $5 AND owner = $6 AND status = $7`,
			store.AttemptInterrupted, msg, ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
		if err := leaseAffected(tag, err, a); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE runs SET status = $1 WHERE id = $2 AND status = $3`, store.RunQueued, a.RunID, store.RunRunning)
		return err
	})
}

func leaseAffected(tag pgconn.CommandTag, err error, a store.Attempt) error {
	if err != nil {
		return wrap(err, fmt.Sprintf("lease of run %s attempt %d", a.RunID, a.Number))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: lease of run %s attempt %d: %w", a.RunID, a.Number, store.ErrLeaseLost)
	}
	return nil
}

func (s *Store) Attempts(ctx context.Context, orgID, runID string) ([]store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+attemptCols+` FROM run_attempts WHERE org_id = $1 AND run_id = $2 ORDER BY number`, orgID, runID)
	if err != nil {
		return nil, wrap(err, "attempts of run "+runID)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, wrap(err, "attempts of run "+runID)
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "attempts of run "+runID)
}

func (s *Store) ActiveRun(ctx context.Context, orgID, connectorID string) (store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = $1 AND connector_id = $2 AND status IN ($3, $4)`,
		orgID, connectorID, store.RunQueued, store.RunRunning))
	return r, wrap(err, "active run of connector "+connectorID)
}

func (s *Store) RequeueStale(ctx context.Context, now, staleBefore time.Time, msg string) ([]store.Run, error) {
	var out []store.Run
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE run_attempts SET status = $1, error = $2, finished_ms = $3 WHERE status = $4 AND heartbeat_ms < $5`,
			store.AttemptInterrupted, msg, ms(now), store.AttemptRunning, ms(staleBefore)); err != nil {
			return wrap(err, "interrupt stale attempts")
		}
		rows, err := tx.Query(ctx, `UPDATE runs SET status = $1 WHERE status = $2
			AND NOT EXISTS (SELECT 1 FROM run_attempts a WHERE a.run_id = runs.id AND a.status = $3) RETURNING `+runCols,
			store.RunQueued, store.RunRunning, store.AttemptRunning)
		if err != nil {
			return wrap(err, "requeue stale runs")
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return wrap(err, "requeue stale runs")
			}
			out = append(out, r)
		}
		return wrap(rows.Err(), "requeue stale runs")
	})
	return out, err
}

func (s *Store) QueuedRuns(ctx context.Context) ([]store.Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runCols+` FROM runs WHERE status = $1 ORDER BY created_at`, store.RunQueued)
	if err != nil {
		return nil, wrap(err, "queued runs")
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, wrap(err, "queued runs")
		}
		out = append(out, r)
	}
	return out, wrap(rows.Err(), "queued runs")
}
