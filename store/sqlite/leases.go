package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/store"
)

var _ store.Leases = (*Store)(nil)

// Attempt times are milliseconds since the epoch: lease checks compare them as numbers.
var ms, fromMS = store.Millis, store.FromMillis

const attemptCols = `run_id, org_id, number, owner, status, error, started_ms, heartbeat_ms, finished_ms`

func scanAttempt(row interface{ Scan(...any) error }) (store.Attempt, error) {
	var a store.Attempt
	var started, beat, finished int64
	err := row.Scan(&a.RunID, &a.OrgID, &a.Number, &a.Owner, &a.Status, &a.Error, &started, &beat, &finished)
	a.StartedAt, a.HeartbeatAt, a.FinishedAt = fromMS(started), fromMS(beat), fromMS(finished)
	return a, err
}

func (s *Store) ClaimRun(ctx context.Context, orgID, runID, owner string, now, staleBefore time.Time, maxPerOrg int) (store.Attempt, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Attempt{}, err
	}
	defer tx.Rollback()
	var status string
	var attempts int
	err = tx.QueryRowContext(ctx, `SELECT status, attempts FROM runs WHERE org_id = ? AND id = ?`, orgID, runID).Scan(&status, &attempts)
	if err != nil {
		return store.Attempt{}, notFound(err, "claim run "+runID)
	}
	if status != store.RunQueued && status != store.RunRunning {
		return store.Attempt{}, fmt.Errorf("sqlite: claim run %s (%s): %w", runID, status, store.ErrRunDone)
	}
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM run_attempts WHERE run_id = ? AND status = ? AND heartbeat_ms >= ?`,
		runID, store.AttemptRunning, ms(staleBefore)).Scan(&live); err != nil {
		return store.Attempt{}, err
	}
	if live > 0 {
		return store.Attempt{}, fmt.Errorf("sqlite: claim run %s: %w", runID, store.ErrLeaseHeld)
	}
	if maxPerOrg > 0 {
		var busy int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT run_id) FROM run_attempts WHERE org_id = ? AND run_id <> ? AND status = ? AND heartbeat_ms >= ?`,
			orgID, runID, store.AttemptRunning, ms(staleBefore)).Scan(&busy); err != nil {
			return store.Attempt{}, err
		}
		if busy >= maxPerOrg {
			return store.Attempt{}, fmt.Errorf("sqlite: claim run %s: %d running: %w", runID, busy, store.ErrOrgBusy)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE run_attempts SET status = ?, finished_ms = ?, error = ? WHERE run_id = ? AND status = ?`,
		store.AttemptInterrupted, ms(now), "its process stopped renewing the lease", runID, store.AttemptRunning); err != nil {
		return store.Attempt{}, err
	}
	a := store.Attempt{RunID: runID, OrgID: orgID, Number: attempts + 1, Owner: owner, Status: store.AttemptRunning, StartedAt: now, HeartbeatAt: now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_attempts (`+attemptCols+`) VALUES (?, ?, ?, ?, ?, '', ?, ?, 0)`,
		a.RunID, a.OrgID, a.Number, a.Owner, a.Status, ms(now), ms(now)); err != nil {
		return store.Attempt{}, fmt.Errorf("sqlite: claim run %s: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, attempts = ?, started_at = CASE WHEN started_at = '' THEN ? ELSE started_at END WHERE id = ?`,
		store.RunRunning, a.Number, formatTime(now), runID); err != nil {
		return store.Attempt{}, err
	}
	return a, tx.Commit()
}

func (s *Store) RenewLease(ctx context.Context, a store.Attempt, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE run_attempts SET heartbeat_ms = ? WHERE run_id = ? AND number = ? AND owner = ? AND status = ?`,
		ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
	return leaseAffected(res, err, a)
}

func (s *Store) EndAttempt(ctx context.Context, a store.Attempt, status, msg string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE run_attempts SET status = ?, error = ?, finished_ms = ? WHERE run_id = ? AND number = ? AND owner = ? AND status = ?`,
		status, msg, ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
	return leaseAffected(res, err, a)
}

func (s *Store) ReleaseLease(ctx context.Context, a store.Attempt, msg string, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE run_attempts SET status = ?, error = ?, finished_ms = ? WHERE run_id = ? AND number = ? AND owner = ? AND status = ?`,
		store.AttemptInterrupted, msg, ms(now), a.RunID, a.Number, a.Owner, store.AttemptRunning)
	if err := leaseAffected(res, err, a); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ? WHERE id = ? AND status = ?`, store.RunQueued, a.RunID, store.RunRunning); err != nil {
		return err
	}
	return tx.Commit()
}

func leaseAffected(res sql.Result, err error, a store.Attempt) error {
	if err != nil {
		return fmt.Errorf("sqlite: lease of run %s attempt %d: %w", a.RunID, a.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: lease of run %s attempt %d: %w", a.RunID, a.Number, store.ErrLeaseLost)
	}
	return nil
}

func (s *Store) Attempts(ctx context.Context, orgID, runID string) ([]store.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+attemptCols+` FROM run_attempts WHERE org_id = ? AND run_id = ? ORDER BY number`, orgID, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: attempts of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) ActiveRun(ctx context.Context, orgID, connectorID string) (store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = ? AND connector_id = ? AND status IN (?, ?)`,
		orgID, connectorID, store.RunQueued, store.RunRunning))
	return r, notFound(err, "active run of connector "+connectorID)
}

func (s *Store) RequeueStale(ctx context.Context, now, staleBefore time.Time, msg string) ([]store.Run, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE run_attempts SET status = ?, error = ?, finished_ms = ? WHERE status = ? AND heartbeat_ms < ?`,
		store.AttemptInterrupted, msg, ms(now), store.AttemptRunning, ms(staleBefore)); err != nil {
		return nil, fmt.Errorf("sqlite: interrupt stale attempts: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE runs SET status = ? WHERE status = ?
		AND NOT EXISTS (SELECT 1 FROM run_attempts a WHERE a.run_id = runs.id AND a.status = ?) RETURNING `+runCols,
		store.RunQueued, store.RunRunning, store.AttemptRunning)
	if err != nil {
		return nil, fmt.Errorf("sqlite: requeue stale runs: %w", err)
	}
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

func (s *Store) QueuedRuns(ctx context.Context) ([]store.Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE status = ? ORDER BY created_at`, store.RunQueued)
	if err != nil {
		return nil, fmt.Errorf("sqlite: queued runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
