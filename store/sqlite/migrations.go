package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lakeport/lakeport/store"
)

var _ store.Migrations = (*Store)(nil)

func (s *Store) PutStorageLocation(ctx context.Context, l store.StorageLocation) error {
	st := l.Setting
	_, err := s.db.ExecContext(ctx, `INSERT INTO storage_locations (org_id, root, mode, bucket, region, role_arn, kms_key_arn,
		endpoint, access_key_id, secret_access_key_sealed, saved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, root) DO UPDATE SET mode = excluded.mode, bucket = excluded.bucket, region = excluded.region,
		role_arn = excluded.role_arn, kms_key_arn = excluded.kms_key_arn, endpoint = excluded.endpoint,
		access_key_id = excluded.access_key_id, secret_access_key_sealed = excluded.secret_access_key_sealed, saved_at = excluded.saved_at`,
		st.OrgID, l.Root, st.Mode, st.Bucket, st.Region, st.RoleARN, st.KMSKeyARN, st.Endpoint, st.AccessKeyID,
		st.SecretAccessKeySealed, formatTime(st.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: remember storage location %s of org %s: %w", l.Root, st.OrgID, err)
	}
	return nil
}

func (s *Store) StorageLocation(ctx context.Context, orgID, root string) (store.StorageLocation, error) {
	l := store.StorageLocation{Root: root, Setting: store.StorageSetting{OrgID: orgID}}
	st := &l.Setting
	var saved string
	err := s.db.QueryRowContext(ctx, `SELECT mode, bucket, region, role_arn, kms_key_arn, endpoint, access_key_id,
		secret_access_key_sealed, saved_at FROM storage_locations WHERE org_id = ? AND root = ?`, orgID, root).
		Scan(&st.Mode, &st.Bucket, &st.Region, &st.RoleARN, &st.KMSKeyARN, &st.Endpoint, &st.AccessKeyID, &st.SecretAccessKeySealed, &saved)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("sqlite: storage location %s of org %s: %w", root, orgID, store.ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("sqlite: storage location %s of org %s: %w", root, orgID, err)
	}
	st.UpdatedAt = parseTime(saved)
	return l, nil
}

func (s *Store) PutMigration(ctx context.Context, m store.Migration) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO migrations (org_id, connector_id, source, target, state, tables, delete_source,
		error, started_at, updated_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, connector_id) DO UPDATE SET source = excluded.source, target = excluded.target, state = excluded.state,
		tables = excluded.tables, delete_source = excluded.delete_source, error = excluded.error, started_at = excluded.started_at,
		updated_at = excluded.updated_at, finished_at = excluded.finished_at`,
		m.OrgID, m.ConnectorID, m.Source, m.Target, m.State, string(m.Tables), m.DeleteSource, m.Error,
		formatTime(m.StartedAt), formatTime(m.UpdatedAt), formatTime(m.FinishedAt))
	if err != nil {
		return fmt.Errorf("sqlite: save migration of connector %s: %w", m.ConnectorID, err)
	}
	return nil
}

func (s *Store) Migration(ctx context.Context, orgID, connectorID string) (store.Migration, error) {
	m := store.Migration{OrgID: orgID, ConnectorID: connectorID}
	var tables, started, updated, finished string
	err := s.db.QueryRowContext(ctx, `SELECT source, target, state, tables, delete_source, error, started_at, updated_at, finished_at
		FROM migrations WHERE org_id = ? AND connector_id = ?`, orgID, connectorID).
		Scan(&m.Source, &m.Target, &m.State, &tables, &m.DeleteSource, &m.Error, &started, &updated, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("sqlite: migration of connector %s: %w", connectorID, store.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("sqlite: migration of connector %s: %w", connectorID, err)
	}
	if tables != "" {
		m.Tables = []byte(tables)
	}
	m.StartedAt, m.UpdatedAt, m.FinishedAt = parseTime(started), parseTime(updated), parseTime(finished)
	return m, nil
}
