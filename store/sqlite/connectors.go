package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/store"
)

const connectorCols = `id, org_id, name, source, config_sealed, catalog, warehouse, storage_mode, created_at, updated_at, manifest`

func scanConnector(row interface{ Scan(...any) error }) (store.Connector, error) {
	var c store.Connector
	var created, updated string
	err := row.Scan(&c.ID, &c.OrgID, &c.Name, &c.Source, &c.ConfigSealed, &c.Catalog, &c.Warehouse, &c.StorageMode, &created, &updated, &c.Manifest)
	c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
	return c, err
}

func (s *Store) CreateConnector(ctx context.Context, c store.Connector) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO connectors (`+connectorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OrgID, c.Name, c.Source, c.ConfigSealed, c.Catalog, c.Warehouse, c.StorageMode, formatTime(c.CreatedAt), formatTime(c.UpdatedAt), c.Manifest)
	if isUnique(err) {
		return fmt.Errorf("sqlite: create connector %q: %w", c.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create connector %q: %w", c.Name, err)
	}
	return nil
}

func (s *Store) Connector(ctx context.Context, orgID, name string) (store.Connector, error) {
	c, err := scanConnector(s.db.QueryRowContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = ? AND name = ?`, orgID, name))
	return c, notFound(err, "connector "+name)
}

func (s *Store) ConnectorByID(ctx context.Context, orgID, id string) (store.Connector, error) {
	c, err := scanConnector(s.db.QueryRowContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = ? AND id = ?`, orgID, id))
	return c, notFound(err, "connector "+id)
}

func (s *Store) ListConnectors(ctx context.Context, orgID string) ([]store.Connector, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = ? ORDER BY name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors: %w", err)
	}
	defer rows.Close()
	var out []store.Connector
	for rows.Next() {
		c, err := scanConnector(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list connectors: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) UpdateConnector(ctx context.Context, c store.Connector) error {
	res, err := s.db.ExecContext(ctx, `UPDATE connectors SET source = ?, config_sealed = ?, catalog = ?, warehouse = ?, storage_mode = ?, updated_at = ?, manifest = ?
		WHERE org_id = ? AND id = ?`, c.Source, c.ConfigSealed, c.Catalog, c.Warehouse, c.StorageMode, formatTime(c.UpdatedAt), c.Manifest, c.OrgID, c.ID)
	return affected(res, err, "update connector "+c.Name)
}

func (s *Store) DeleteConnector(ctx context.Context, orgID, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE org_id = ? AND connector_id = ?`, orgID, id); err != nil {
		return fmt.Errorf("sqlite: delete runs of connector %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE org_id = ? AND id = ?`, orgID, id)
	if err := affected(res, err, "delete connector "+id); err != nil {
		return err
	}
	return tx.Commit()
}

const runCols = `id, org_id, connector_id, status, records, bytes, streams, error, created_at, started_at, finished_at, attempts, kind`

func scanRun(row interface{ Scan(...any) error }) (store.Run, error) {
	var r store.Run
	var created, started, finished string
	err := row.Scan(&r.ID, &r.OrgID, &r.ConnectorID, &r.Status, &r.Records, &r.Bytes, &r.Streams, &r.Error, &created, &started, &finished, &r.Attempts, &r.Kind)
	r.CreatedAt, r.StartedAt, r.FinishedAt = parseTime(created), parseTime(started), parseTime(finished)
	return r, err
}

func (s *Store) CreateRun(ctx context.Context, r store.Run) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.OrgID, r.ConnectorID, r.Status, r.Records, r.Bytes, r.Streams, r.Error, formatTime(r.CreatedAt), formatTime(r.StartedAt), formatTime(r.FinishedAt), r.Attempts, runKind(r))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create run: connector %s already has a queued or running run: %w", r.ConnectorID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create run: %w", err)
	}
	return nil
}

// runKind is r's kind as stored: RunSync when empty.
func runKind(r store.Run) string {
	if r.Kind == "" {
		return store.RunSync
	}
	return r.Kind
}

// MaintenanceDue implements store.Maintenance. Times are compared as julianday
// values: RFC 3339 text with trimmed fractions does not sort as time.
func (s *Store) MaintenanceDue(ctx context.Context, before time.Time) ([]store.Due, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.org_id, c.id FROM connectors c
		WHERE EXISTS (SELECT 1 FROM runs r WHERE r.connector_id = c.id AND r.kind = ? AND r.finished_at != ''
			AND NOT EXISTS (SELECT 1 FROM runs m WHERE m.connector_id = c.id AND m.kind = ? AND julianday(m.created_at) >= julianday(r.finished_at)))
		AND NOT EXISTS (SELECT 1 FROM runs m WHERE m.connector_id = c.id AND m.kind = ? AND julianday(m.created_at) >= julianday(?))
		ORDER BY c.org_id, c.id`, store.RunSync, store.RunMaintenance, store.RunMaintenance, formatTime(before))
	if err != nil {
		return nil, fmt.Errorf("sqlite: connectors due for maintenance: %w", err)
	}
	defer rows.Close()
	var out []store.Due
	for rows.Next() {
		var d store.Due
		if err := rows.Scan(&d.OrgID, &d.ConnectorID); err != nil {
			return nil, fmt.Errorf("sqlite: connectors due for maintenance: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) UpdateRun(ctx context.Context, r store.Run) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, records = ?, bytes = ?, streams = ?, error = ?, started_at = ?, finished_at = ?
		WHERE org_id = ? AND id = ?`, r.Status, r.Records, r.Bytes, r.Streams, r.Error, formatTime(r.StartedAt), formatTime(r.FinishedAt), r.OrgID, r.ID)
	return affected(res, err, "update run "+r.ID)
}

func (s *Store) Run(ctx context.Context, orgID, id string) (store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = ? AND id = ?`, orgID, id))
	return r, notFound(err, "run "+id)
}

func (s *Store) Runs(ctx context.Context, orgID, connectorID string, limit int) ([]store.Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = ? AND connector_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, connectorID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, store.ErrNotFound)
	}
	return nil
}
