package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lakeport/lakeport/store"
)

const connectorCols = `id, org_id, name, source, config_sealed, catalog, warehouse, storage_mode, created_at, updated_at, manifest`

func scanConnector(row pgx.Row) (store.Connector, error) {
	var c store.Connector
	err := row.Scan(&c.ID, &c.OrgID, &c.Name, &c.Source, &c.ConfigSealed, &c.Catalog, &c.Warehouse, &c.StorageMode, &c.CreatedAt, &c.UpdatedAt, &c.Manifest)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

func (s *Store) CreateConnector(ctx context.Context, c store.Connector) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO connectors (`+connectorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.OrgID, c.Name, c.Source, c.ConfigSealed, c.Catalog, c.Warehouse, c.StorageMode, c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.Manifest)
	return wrap(err, "create connector "+c.Name)
}

func (s *Store) Connector(ctx context.Context, orgID, name string) (store.Connector, error) {
	c, err := scanConnector(s.pool.QueryRow(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = $1 AND name = $2`, orgID, name))
	return c, wrap(err, "connector "+name)
}

func (s *Store) ConnectorByID(ctx context.Context, orgID, id string) (store.Connector, error) {
	c, err := scanConnector(s.pool.QueryRow(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = $1 AND id = $2`, orgID, id))
	return c, wrap(err, "connector "+id)
}

func (s *Store) ListConnectors(ctx context.Context, orgID string) ([]store.Connector, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = $1 ORDER BY name`, orgID)
	if err != nil {
		return nil, wrap(err, "list connectors")
	}
	defer rows.Close()
	var out []store.Connector
	for rows.Next() {
		c, err := scanConnector(rows)
		if err != nil {
			return nil, wrap(err, "list connectors")
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "list connectors")
}

func (s *Store) UpdateConnector(ctx context.Context, c store.Connector) error {
	tag, err := s.pool.Exec(ctx, `UPDATE connectors SET source = $1, config_sealed = $2, catalog = $3, warehouse = $4, storage_mode = $5, updated_at = $6, manifest = $7
		WHERE org_id = $8 AND id = $9`, c.Source, c.ConfigSealed, c.Catalog, c.Warehouse, c.StorageMode, c.UpdatedAt.UTC(), c.Manifest, c.OrgID, c.ID)
	return affected(tag, err, "update connector "+c.Name)
}

func (s *Store) DeleteConnector(ctx context.Context, orgID, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM runs WHERE org_id = $1 AND connector_id = $2`, orgID, id); err != nil {
			return wrap(err, "delete runs of connector "+id)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM connectors WHERE org_id = $1 AND id = $2`, orgID, id)
		return affected(tag, err, "delete connector "+id)
	})
}

const runCols = `id, org_id, connector_id, status, records, bytes, streams, error, created_at, started_at, finished_at, attempts, kind`

func scanRun(row pgx.Row) (store.Run, error) {
	var r store.Run
	var started, finished pgtype.Timestamptz
	err := row.Scan(&r.ID, &r.OrgID, &r.ConnectorID, &r.Status, &r.Records, &r.Bytes, &r.Streams, &r.Error, &r.CreatedAt, &started, &finished, &r.Attempts, &r.Kind)
	r.CreatedAt, r.StartedAt, r.FinishedAt = r.CreatedAt.UTC(), timeOf(started), timeOf(finished)
	return r, err
}

func (s *Store) CreateRun(ctx context.Context, r store.Run) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO runs (`+runCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.ID, r.OrgID, r.ConnectorID, r.Status, r.Records, r.Bytes, r.Streams, r.Error, r.CreatedAt.UTC(), nullTime(r.StartedAt), nullTime(r.FinishedAt), r.Attempts, runKind(r))
	return wrap(err, "create run "+r.ID)
}

// runKind is r's kind as stored: RunSync when empty.
func runKind(r store.Run) string {
	if r.Kind == "" {
		return store.RunSync
	}
	return r.Kind
}

// MaintenanceDue implements store.Maintenance.
func (s *Store) MaintenanceDue(ctx context.Context, before time.Time) ([]store.Due, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.org_id, c.id FROM connectors c
		WHERE EXISTS (SELECT 1 FROM runs r WHERE r.connector_id = c.id AND r.kind = $1 AND r.finished_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM runs m WHERE m.connector_id = c.id AND m.kind = $2 AND m.created_at >= r.finished_at))
		AND NOT EXISTS (SELECT 1 FROM runs m WHERE m.connector_id = c.id AND m.kind = $2 AND m.created_at >= $3)
		ORDER BY c.org_id, c.id`, store.RunSync, store.RunMaintenance, before.UTC())
	if err != nil {
		return nil, fmt.Errorf("postgres: connectors due for maintenance: %w", err)
	}
	defer rows.Close()
	var out []store.Due
	for rows.Next() {
		var d store.Due
		if err := rows.Scan(&d.OrgID, &d.ConnectorID); err != nil {
			return nil, fmt.Errorf("postgres: connectors due for maintenance: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) UpdateRun(ctx context.Context, r store.Run) error {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET status = $1, records = $2, bytes = $3, streams = $4, error = $5, started_at = $6, finished_at = $7
		WHERE org_id = $8 AND id = $9`, r.Status, r.Records, r.Bytes, r.Streams, r.Error, nullTime(r.StartedAt), nullTime(r.FinishedAt), r.OrgID, r.ID)
	return affected(tag, err, "update run "+r.ID)
}

func (s *Store) Run(ctx context.Context, orgID, id string) (store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = $1 AND id = $2`, orgID, id))
	return r, wrap(err, "run "+id)
}

func (s *Store) Runs(ctx context.Context, orgID, connectorID string, limit int) ([]store.Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = $1 AND connector_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, orgID, connectorID, limit)
	if err != nil {
		return nil, wrap(err, "list runs")
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, wrap(err, "list runs")
		}
		out = append(out, r)
	}
	return out, wrap(rows.Err(), "list runs")
}
