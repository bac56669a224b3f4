// Package sqlite is the embedded metadata store: one SQLite file in the data dir,
// through the pure-Go modernc.org/sqlite driver, with versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lakeport/lakeport/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on a SQLite database.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the database file at path and applies migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway and this avoids SQLITE_BUSY
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// DB exposes the database for other embedded components (the Iceberg SQL catalog, the
// job queue) that keep their tables in the same file.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) Close() error { return s.db.Close() }

// migrations are applied in order; each runs once, recorded in schema_migrations.
var migrations = []string{
	// 1: organizations, tokens, storage settings
	`CREATE TABLE orgs (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		external_id TEXT NOT NULL UNIQUE,
		created_at TEXT NOT NULL
	);
	CREATE TABLE tokens (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		role TEXT NOT NULL CHECK (role IN ('admin','member')),
		operator INTEGER NOT NULL DEFAULT 0,
		hash BLOB NOT NULL UNIQUE,
		created_at TEXT NOT NULL
	);
	CREATE TABLE storage_settings (
		org_id TEXT PRIMARY KEY REFERENCES orgs(id),
		mode TEXT NOT NULL CHECK (mode IN ('managed','customer_hosted')),
		bucket TEXT NOT NULL DEFAULT '',
		region TEXT NOT NULL DEFAULT '',
		role_arn TEXT NOT NULL DEFAULT '',
		kms_key_arn TEXT NOT NULL DEFAULT '',
		endpoint TEXT NOT NULL DEFAULT '',
		access_key_id TEXT NOT NULL DEFAULT '',
		secret_access_key_sealed TEXT NOT NULL DEFAULT '',
		validated_at TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL
	);`,
	// 2: connectors and their sync runs
	`CREATE TABLE connectors (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		name TEXT NOT NULL,
		source TEXT NOT NULL,
		config_sealed TEXT NOT NULL,
		catalog BLOB NOT NULL,
		warehouse TEXT NOT NULL,
		storage_mode TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		UNIQUE (org_id, name)
	);
	CREATE TABLE runs (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
		status TEXT NOT NULL,
		records INTEGER NOT NULL DEFAULT 0,
		bytes INTEGER NOT NULL DEFAULT 0,
		streams BLOB,
		error TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL,
		started_at TEXT NOT NULL DEFAULT '',
		finished_at TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_connector ON runs (org_id, connector_id, created_at);`,
	// 3: web console users (name + bcrypt password hash)
	`CREATE TABLE users (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		name TEXT NOT NULL UNIQUE,
		role TEXT NOT NULL CHECK (role IN ('admin','member')),
		password_hash BLOB NOT NULL,
		created_at TEXT NOT NULL
	);`,
	// 4: connector schedules and storage health
	`CREATE TABLE schedules (
		connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		spec TEXT NOT NULL,
		next_run_at TEXT NOT NULL
	);
	CREATE INDEX schedules_due ON schedules (next_run_at);
	CREATE TABLE storage_health (
		org_id TEXT PRIMARY KEY REFERENCES orgs(id),
		ok INTEGER NOT NULL,
		cause TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT '',
		checked_at TEXT NOT NULL
	);`,
	// 5: tokens that expire (the console's password sign-ins)
	`ALTER TABLE tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';`,
	// 6: the declarative manifest of a manifest: connector
	`ALTER TABLE connectors ADD COLUMN manifest TEXT NOT NULL DEFAULT '';`,
	// 7: run attempts and their leases; one active (queued or running) run per connector
	`ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
	UPDATE runs SET status = 'failed', error = 'superseded by a later run of the same connector', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
		WHERE status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM runs r2 WHERE r2.connector_id = runs.connector_id
		AND r2.status IN ('queued', 'running') AND (r2.created_at > runs.created_at OR (r2.created_at = runs.created_at AND r2.id > runs.id)));
	CREATE UNIQUE INDEX runs_active ON runs (connector_id) WHERE status IN ('queued', 'running');
	CREATE TABLE run_attempts (
		run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
		org_id TEXT NOT NULL,
		number INTEGER NOT NULL,
		owner TEXT NOT NULL,
		status TEXT NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		started_ms INTEGER NOT NULL,
		heartbeat_ms INTEGER NOT NULL,
		finished_ms INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (run_id, number)
	);
	CREATE INDEX run_attempts_live ON run_attempts (status, heartbeat_ms);`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("database is at schema version %d but this lakeport knows only %d: run a newer lakeport", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, now()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func now() string { return formatTime(time.Now()) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (s *Store) CreateOrg(ctx context.Context, o store.Org) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO orgs (id, name, external_id, created_at) VALUES (?, ?, ?, ?)`,
		o.ID, o.Name, o.ExternalID, formatTime(o.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create org %q: %w", o.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create org %q: %w", o.Name, err)
	}
	return nil
}

func (s *Store) Org(ctx context.Context, id string) (store.Org, error) {
	return s.org(ctx, `id = ?`, id)
}

func (s *Store) OrgByName(ctx context.Context, name string) (store.Org, error) {
	return s.org(ctx, `name = ?`, name)
}

func (s *Store) org(ctx context.Context, where string, arg string) (store.Org, error) {
	var o store.Org
	var created string
	err := s.db.QueryRowContext(ctx, `SELECT id, name, external_id, created_at FROM orgs WHERE `+where, arg).
		Scan(&o.ID, &o.Name, &o.ExternalID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("sqlite: org %q: %w", arg, store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("sqlite: org %q: %w", arg, err)
	}
	o.CreatedAt = parseTime(created)
	return o, nil
}

func (s *Store) CountOrgs(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)
	return n, err
}

func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (id, org_id, role, operator, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, string(t.Role), t.Operator, t.Hash, formatTime(t.CreatedAt), formatTime(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create token for org %s: %w", t.OrgID, err)
	}
	return nil
}

func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var t store.Token
	var role, created, expires string
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, role, operator, hash, created_at, expires_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.OrgID, &role, &t.Operator, &t.Hash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("sqlite: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: token: %w", err)
	}
	t.Role = store.Role(role)
	t.CreatedAt, t.ExpiresAt = parseTime(created), parseTime(expires)
	return t, nil
}

func (s *Store) StorageSetting(ctx context.Context, orgID string) (store.StorageSetting, error) {
	st := store.StorageSetting{OrgID: orgID}
	var validated, updated string
	err := s.db.QueryRowContext(ctx, `SELECT mode, bucket, region, role_arn, kms_key_arn, endpoint, access_key_id,
		secret_access_key_sealed, validated_at, updated_at FROM storage_settings WHERE org_id = ?`, orgID).
		Scan(&st.Mode, &st.Bucket, &st.Region, &st.RoleARN, &st.KMSKeyARN, &st.Endpoint, &st.AccessKeyID,
			&st.SecretAccessKeySealed, &validated, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		st.Mode = "managed"
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("sqlite: storage setting of org %s: %w", orgID, err)
	}
	st.ValidatedAt = parseTime(validated)
	st.UpdatedAt = parseTime(updated)
	return st, nil
}

func (s *Store) PutStorageSetting(ctx context.Context, st store.StorageSetting) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO storage_settings (org_id, mode, bucket, region, role_arn, kms_key_arn,
		endpoint, access_key_id, secret_access_key_sealed, validated_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET mode = excluded.mode, bucket = excluded.bucket, region = excluded.region,
		role_arn = excluded.role_arn, kms_key_arn = excluded.kms_key_arn, endpoint = excluded.endpoint,
		access_key_id = excluded.access_key_id, secret_access_key_sealed = excluded.secret_access_key_sealed,
		validated_at = excluded.validated_at, updated_at = excluded.updated_at`,
		st.OrgID, st.Mode, st.Bucket, st.Region, st.RoleARN, st.KMSKeyARN, st.Endpoint, st.AccessKeyID,
		st.SecretAccessKeySealed, formatTime(st.ValidatedAt), formatTime(st.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: save storage setting of org %s: %w", st.OrgID, err)
	}
	return nil
}
