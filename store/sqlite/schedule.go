package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/store"
)

var (
	_ store.Schedules = (*Store)(nil)
	_ store.Health    = (*Store)(nil)
)

func (s *Store) PutSchedule(ctx context.Context, sc store.Schedule) error {
	if sc.Spec == "" {
		_, err := s.db.ExecContext(ctx, `DELETE FROM schedules WHERE org_id = ? AND connector_id = ?`, sc.OrgID, sc.ConnectorID)
		return notFound(err, "delete schedule")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedules (connector_id, org_id, spec, next_run_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (connector_id) DO UPDATE SET spec = excluded.spec, next_run_at = excluded.next_run_at`,
		sc.ConnectorID, sc.OrgID, sc.Spec, formatTime(sc.NextRunAt))
	if err != nil {
		return fmt.Errorf("sqlite: put schedule of connector %s: %w", sc.ConnectorID, err)
	}
	return nil
}

func (s *Store) Schedule(ctx context.Context, orgID, connectorID string) (store.Schedule, error) {
	sc := store.Schedule{OrgID: orgID, ConnectorID: connectorID}
	var next string
	err := s.db.QueryRowContext(ctx, `SELECT spec, next_run_at FROM schedules WHERE org_id = ? AND connector_id = ?`, orgID, connectorID).Scan(&sc.Spec, &next)
	sc.NextRunAt = parseTime(next)
	return sc, notFound(err, "schedule of connector "+connectorID)
}

func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]store.Schedule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT org_id, connector_id, spec, next_run_at FROM schedules WHERE next_run_at <= ? ORDER BY next_run_at`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due schedules: %w", err)
	}
	defer rows.Close()
	var out []store.Schedule
	for rows.Next() {
		var sc store.Schedule
		var next string
		if err := rows.Scan(&sc.OrgID, &sc.ConnectorID, &sc.Spec, &next); err != nil {
			return nil, err
		}
		sc.NextRunAt = parseTime(next)
		out = append(out, sc)
	}
	return out, rows.Err()
}

func (s *Store) AdvanceSchedule(ctx context.Context, sc store.Schedule, next time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedules SET next_run_at = ? WHERE connector_id = ? AND org_id = ? AND next_run_at = ?`,
		formatTime(next), sc.ConnectorID, sc.OrgID, formatTime(sc.NextRunAt))
	if err != nil {
		return false, fmt.Errorf("sqlite: advance schedule of connector %s: %w", sc.ConnectorID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *Store) PutStorageHealth(ctx context.Context, h store.StorageHealth) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO storage_health (org_id, ok, cause, message, checked_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET ok = excluded.ok, cause = excluded.cause, message = excluded.message, checked_at = excluded.checked_at`,
		h.OrgID, h.OK, h.Cause, h.Message, formatTime(h.CheckedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put storage health of org %s: %w", h.OrgID, err)
	}
	return nil
}

func (s *Store) StorageHealth(ctx context.Context, orgID string) (store.StorageHealth, error) {
	h := store.StorageHealth{OrgID: orgID}
	var checked string
	err := s.db.QueryRowContext(ctx, `SELECT ok, cause, message, checked_at FROM storage_health WHERE org_id = ?`, orgID).Scan(&h.OK, &h.Cause, &h.Message, &checked)
	h.CheckedAt = parseTime(checked)
	return h, notFound(err, "storage health of org "+orgID)
}

func (s *Store) CustomerHostedOrgs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT org_id FROM storage_settings WHERE mode = 'customer_hosted' ORDER BY org_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: customer-hosted orgs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
