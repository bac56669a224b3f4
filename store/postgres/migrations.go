package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lakeport/lakeport/store"
)

var _ store.Migrations = (*Store)(nil)

func (s *Store) PutStorageLocation(ctx context.Context, l store.StorageLocation) error {
	st := l.Setting
	_, err := s.pool.Exec(ctx, `INSERT INTO storage_locations (org_id, root, mode, bucket, region, role_arn, kms_key_arn,
		endpoint, access_key_id, secret_access_key_sealed, saved_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (org_id, root) DO UPDATE SET mode = excluded.mode, bucket = excluded.bucket, region = excluded.region,
		role_arn = excluded.role_arn, kms_key_arn = excluded.kms_key_arn, endpoint = excluded.endpoint,
		access_key_id = excluded.access_key_id, secret_access_key_sealed = excluded.secret_access_key_sealed, saved_at = excluded.saved_at`,
		st.OrgID, l.Root, st.Mode, st.Bucket, st.Region, st.RoleARN, st.KMSKeyARN, st.Endpoint, st.AccessKeyID,
		st.SecretAccessKeySealed, nullTime(st.UpdatedAt))
	return wrap(err, "remember storage location "+l.Root+" of org "+st.OrgID)
}

func (s *Store) StorageLocation(ctx context.Context, orgID, root string) (store.StorageLocation, error) {
	l := store.StorageLocation{Root: root, Setting: store.StorageSetting{OrgID: orgID}}
	st := &l.Setting
	var saved pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT mode, bucket, region, role_arn, kms_key_arn, endpoint, access_key_id,
		secret_access_key_sealed, saved_at FROM storage_locations WHERE org_id = $1 AND root = $2`, orgID, root).
		Scan(&st.Mode, &st.Bucket, &st.Region, &st.RoleARN, &st.KMSKeyARN, &st.Endpoint, &st.AccessKeyID, &st.SecretAccessKeySealed, &saved)
	if err != nil {
		return l, wrap(err, "storage location "+root+" of org "+orgID)
	}
	st.UpdatedAt = timeOf(saved)
	return l, nil
}

func (s *Store) PutMigration(ctx context.Context, m store.Migration) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO migrations (org_id, connector_id, source, target, state, tables, delete_source,
		error, started_at, updated_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (org_id, connector_id) DO UPDATE SET source = excluded.source, target = excluded.target, state = excluded.state,
		tables = excluded.tables, delete_source = excluded.delete_source, error = excluded.error, started_at = excluded.started_at,
		updated_at = excluded.updated_at, finished_at = excluded.finished_at`,
		m.OrgID, m.ConnectorID, m.Source, m.Target, m.State, string(m.Tables), m.DeleteSource, m.Error,
		nullTime(m.StartedAt), nullTime(m.UpdatedAt), nullTime(m.FinishedAt))
	return wrap(err, "save migration of connector "+m.ConnectorID)
}

func (s *Store) Migration(ctx context.Context, orgID, connectorID string) (store.Migration, error) {
	m := store.Migration{OrgID: orgID, ConnectorID: connectorID}
	var tables string
	var started, updated, finished pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT source, target, state, tables, delete_source, error, started_at, updated_at, finished_at
		FROM migrations WHERE org_id = $1 AND connector_id = $2`, orgID, connectorID).
		Scan(&m.Source, &m.Target, &m.State, &tables, &m.DeleteSource, &m.Error, &started, &updated, &finished)
	if err != nil {
		return m, wrap(err, "migration of connector "+connectorID)
	}
	if tables != "" {
		m.Tables = []byte(tables)
	}
	m.StartedAt, m.UpdatedAt, m.FinishedAt = timeOf(started), timeOf(updated), timeOf(finished)
	return m, nil
}
