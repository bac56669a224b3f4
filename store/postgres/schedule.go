package postgres

import (
	"context"
	"time"

	"github.com/lakeport/lakeport/store"
)

var (
	_ store.Schedules = (*Store)(nil)
	_ store.Health    = (*Store)(nil)
)

func (s *Store) PutSchedule(ctx context.Context, sc store.Schedule) error {
	if sc.Spec == "" {
		_, err := s.pool.Exec(ctx, `DELETE FROM schedules WHERE org_id = $1 AND connector_id = $2`, sc.OrgID, sc.ConnectorID)
		return wrap(err, "delete schedule")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO schedules (connector_id, org_id, spec, next_run_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (connector_id) DO UPDATE SET spec = excluded.spec, next_run_at = excluded.next_run_at`,
		sc.ConnectorID, sc.OrgID, sc.Spec, sc.NextRunAt.UTC())
	return wrap(err, "put schedule of connector "+sc.ConnectorID)
}

func (s *Store) Schedule(ctx context.Context, orgID, connectorID string) (store.Schedule, error) {
	sc := store.Schedule{OrgID: orgID, ConnectorID: connectorID}
	err := s.pool.QueryRow(ctx, `SELECT spec, next_run_at FROM schedules WHERE org_id = $1 AND connector_id = $2`, orgID, connectorID).
		Scan(&sc.Spec, &sc.NextRunAt)
	sc.NextRunAt = sc.NextRunAt.UTC()
	return sc, wrap(err, "schedule of connector "+connectorID)
}

func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]store.Schedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT org_id, connector_id, spec, next_run_at FROM schedules WHERE next_run_at <= $1 ORDER BY next_run_at`, now.UTC())
	if err != nil {
		return nil, wrap(err, "due schedules")
	}
	defer rows.Close()
	var out []store.Schedule
	for rows.Next() {
		var sc store.Schedule
		if err := rows.Scan(&sc.OrgID, &sc.ConnectorID, &sc.Spec, &sc.NextRunAt); err != nil {
			return nil, wrap(err, "due schedules")
		}
		sc.NextRunAt = sc.NextRunAt.UTC()
		out = append(out, sc)
	}
	return out, wrap(rows.Err(), "due schedules")
}

func (s *Store) AdvanceSchedule(ctx context.Context, sc store.Schedule, next time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE schedules SET next_run_at = $1 WHERE connector_id = $2 AND org_id = $3 AND next_run_at = $4`,
		next.UTC(), sc.ConnectorID, sc.OrgID, sc.NextRunAt.UTC())
	if err != nil {
		return false, wrap(err, "advance schedule of connector "+sc.ConnectorID)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *Store) PutStorageHealth(ctx context.Context, h store.StorageHealth) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO storage_health (org_id, ok, cause, message, checked_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id) DO UPDATE SET ok = excluded.ok, cause = excluded.cause, message = excluded.message, checked_at = excluded.checked_at`,
		h.OrgID, h.OK, h.Cause, h.Message, h.CheckedAt.UTC())
	return wrap(err, "put storage health of org "+h.OrgID)
}

func (s *Store) StorageHealth(ctx context.Context, orgID string) (store.StorageHealth, error) {
	h := store.StorageHealth{OrgID: orgID}
	err := s.pool.QueryRow(ctx, `SELECT ok, cause, message, checked_at FROM storage_health WHERE org_id = $1`, orgID).
		Scan(&h.OK, &h.Cause, &h.Message, &h.CheckedAt)
	h.CheckedAt = h.CheckedAt.UTC()
	return h, wrap(err, "storage health of org "+orgID)
}

func (s *Store) CustomerHostedOrgs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT org_id FROM storage_settings WHERE mode = 'customer_hosted' ORDER BY org_id`)
	if err != nil {
		return nil, wrap(err, "customer-hosted orgs")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(err, "customer-hosted orgs")
		}
		out = append(out, id)
	}
	return out, wrap(rows.Err(), "customer-hosted orgs")
}
