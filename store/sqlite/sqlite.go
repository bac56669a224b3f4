// Package sqlite is the embedded metadata store: one SQLite file in the data dir,
// through the pure-Go modernc.org/sqlite driver, with versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lakeport/lakeport/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on a SQLite database.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the database file at path and applies migrations. A
// new file is made 0600, and SQLite gives its -wal and -shm files the same mode.
func Open(ctx context.Context, path string) (*Store, error) {
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
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
	// 8: accounts: user names unique per organization (SQLite cannot drop a constraint:
	// the table is rebuilt); named, listed and revocable tokens; console sessions in the
	// store; sign-in failures for throttling
	`CREATE TABLE users_v6 (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		name TEXT NOT NULL,
		role TEXT NOT NULL CHECK (role IN ('admin','member')),
		password_hash BLOB NOT NULL,
		created_at TEXT NOT NULL,
		UNIQUE (org_id, name)
	);
	INSERT INTO users_v6 (id, org_id, name, role, password_hash, created_at)
		SELECT id, org_id, name, role, password_hash, created_at FROM users;
	DROP TABLE users;
	ALTER TABLE users_v6 RENAME TO users;
	ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
	CREATE INDEX tokens_org ON tokens (org_id, created_at);
	CREATE INDEX tokens_parent ON tokens (parent_id);
	CREATE TABLE sessions (
		token_id TEXT PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
		user_name TEXT NOT NULL DEFAULT '',
		csrf TEXT NOT NULL,
		created_at TEXT NOT NULL,
		last_seen_at TEXT NOT NULL,
		flash TEXT NOT NULL DEFAULT '',
		tested BLOB
	);
	CREATE TABLE signin_failures (
		key BLOB NOT NULL,
		at INTEGER NOT NULL
	);
	CREATE INDEX signin_failures_key ON signin_failures (key, at);
	CREATE INDEX signin_failures_at ON signin_failures (at);`,
	// 9: a console session's absolute end (its token's expiry slides with use)
	`ALTER TABLE sessions ADD COLUMN ends_at TEXT NOT NULL DEFAULT '';`,
	// 10: the settings of earlier storage, by the root they reach; connectors' migrations
	`CREATE TABLE storage_locations (
		org_id TEXT NOT NULL REFERENCES orgs(id),
		root TEXT NOT NULL,
		mode TEXT NOT NULL,
		bucket TEXT NOT NULL DEFAULT '',
		region TEXT NOT NULL DEFAULT '',
		role_arn TEXT NOT NULL DEFAULT '',
		kms_key_arn TEXT NOT NULL DEFAULT '',
		endpoint TEXT NOT NULL DEFAULT '',
		access_key_id TEXT NOT NULL DEFAULT '',
		secret_access_key_sealed TEXT NOT NULL DEFAULT '',
		saved_at TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (org_id, root)
	);
	CREATE TABLE migrations (
		org_id TEXT NOT NULL REFERENCES orgs(id),
		connector_id TEXT NOT NULL,
		source TEXT NOT NULL,
		target TEXT NOT NULL,
		state TEXT NOT NULL,
		tables TEXT NOT NULL DEFAULT '',
		delete_source INTEGER NOT NULL DEFAULT 0,
		error TEXT NOT NULL DEFAULT '',
		started_at TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL DEFAULT '',
		finished_at TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (org_id, connector_id)
	);`,
	// 11: run kinds: sync, or table maintenance (package maintain)
	`ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'sync';`,
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

// isUnique reports whether err is the driver's unique or primary-key constraint
// violation, by its extended result code (never by its message).
func isUnique(err error) bool {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (id, org_id, role, operator, hash, name, created_at, expires_at, last_used_at, parent_id, user_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, string(t.Role), t.Operator, t.Hash, t.Name, formatTime(t.CreatedAt), formatTime(t.ExpiresAt), formatTime(t.LastUsedAt), t.ParentID, t.UserID)
	if isUnique(err) {
		return fmt.Errorf("sqlite: create token for org %s: %w", t.OrgID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create token for org %s: %w", t.OrgID, err)
	}
	return nil
}

const tokenColumns = `id, org_id, role, operator, hash, name, created_at, expires_at, last_used_at, parent_id, user_id`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var role, created, expires, used string
	err := row.Scan(&t.ID, &t.OrgID, &role, &t.Operator, &t.Hash, &t.Name, &created, &expires, &used, &t.ParentID, &t.UserID)
	t.Role = store.Role(role)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = parseTime(created), parseTime(expires), parseTime(used)
	return t, err
}

func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("sqlite: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: token: %w", err)
	}
	return t, nil
}

func (s *Store) ListTokens(ctx context.Context, orgID string) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens of org %s: %w", orgID, err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens of org %s: %w", orgID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Store) RevokeToken(ctx context.Context, orgID, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, store.ErrNotFound)
	}
	// Sessions go with their tokens (ON DELETE CASCADE).
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE org_id = ? AND parent_id = ?`, orgID, id); err != nil {
		return fmt.Errorf("sqlite: revoke the session tokens of token %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	return nil
}

func (s *Store) TouchToken(ctx context.Context, id string, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, formatTime(t), id); err != nil {
		return fmt.Errorf("sqlite: touch token %s: %w", id, err)
	}
	return nil
}

// DeleteExpiredTokens compares times as text, which RFC3339Nano orders to the second
// (not within one): enough to collect tokens that expired; authentication compares exactly.
func (s *Store) DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at != '' AND expires_at < ?`, formatTime(t))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
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
