// Package postgres is the scale-out metadata store: PostgreSQL through pgx, shared by
// several lakeport processes, with the same versioned migrations as store/sqlite.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lakeport/lakeport/store"
)

var _ store.Store = (*Store)(nil)

// MigrationLockKey is the pg_advisory_lock key held while the store's schema is
// migrated, so that several processes starting at once migrate once.
const MigrationLockKey int64 = 0x6c616b65_706f7201 // "lakepor" + 1

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	db   *sql.DB
}

// Open connects to the database at url (postgres://user@host:port/db?sslmode=…; pgxpool
// settings such as pool_max_conns are accepted) and applies migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse the database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d database %s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate database %s: %w", cfg.ConnConfig.Database, err)
	}
	return &Store{pool: pool, db: stdlib.OpenDBFromPool(pool)}, nil
}

// Pool exposes the connection pool for components that speak pgx (the job queue).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DB exposes the same pool as a *sql.DB for components that need database/sql (the
// Iceberg SQL catalog). Closing the Store closes it.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) Close() error {
	err := s.db.Close()
	s.pool.Close()
	return err
}

// migrations are applied in order; each runs once, recorded in schema_migrations. They
// mirror store/sqlite's: same tables and columns, PostgreSQL types. Times that may be
// unset are NULL.
var migrations = []string{
	// 1: organizations, tokens, storage settings
	`CREATE TABLE orgs (
		id text PRIMARY KEY,
		name text NOT NULL UNIQUE,
		external_id text NOT NULL UNIQUE,
		created_at timestamptz NOT NULL
	);
	CREATE TABLE tokens (
		id text PRIMARY KEY,
		org_id text NOT NULL REFERENCES orgs(id),
		role text NOT NULL CHECK (role IN ('admin','member')),
		operator boolean NOT NULL DEFAULT false,
		hash bytea NOT NULL UNIQUE,
		created_at timestamptz NOT NULL
	);
	CREATE TABLE storage_settings (
		org_id text PRIMARY KEY REFERENCES orgs(id),
		mode text NOT NULL CHECK (mode IN ('managed','customer_hosted')),
		bucket text NOT NULL DEFAULT '',
		region text NOT NULL DEFAULT '',
		role_arn text NOT NULL DEFAULT '',
		kms_key_arn text NOT NULL DEFAULT '',
		endpoint text NOT NULL DEFAULT '',
		access_key_id text NOT NULL DEFAULT '',
		secret_access_key_sealed text NOT NULL DEFAULT '',
		validated_at timestamptz,
		updated_at timestamptz NOT NULL
	);`,
	// 2: connectors and their sync runs
	`CREATE TABLE connectors (
		id text PRIMARY KEY,
		org_id text NOT NULL REFERENCES orgs(id),
		name text NOT NULL,
		source text NOT NULL,
		config_sealed text NOT NULL,
		catalog bytea NOT NULL,
		warehouse text NOT NULL,
		storage_mode text NOT NULL,
		created_at timestamptz NOT NULL,
		updated_at timestamptz NOT NULL,
		UNIQUE (org_id, name)
	);
	CREATE TABLE runs (
		id text PRIMARY KEY,
		org_id text NOT NULL REFERENCES orgs(id),
		connector_id text NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
		status text NOT NULL,
		records bigint NOT NULL DEFAULT 0,
		bytes bigint NOT NULL DEFAULT 0,
		streams bytea,
		error text NOT NULL DEFAULT '',
		created_at timestamptz NOT NULL,
		started_at timestamptz,
		finished_at timestamptz
	);
	CREATE INDEX runs_connector ON runs (org_id, connector_id, created_at);`,
	// 3: web console users (name + bcrypt password hash)
	`CREATE TABLE users (
		id text PRIMARY KEY,
		org_id text NOT NULL REFERENCES orgs(id),
		name text NOT NULL UNIQUE,
		role text NOT NULL CHECK (role IN ('admin','member')),
		password_hash bytea NOT NULL,
		created_at timestamptz NOT NULL
	);`,
	// 4: connector schedules and storage health
	`CREATE TABLE schedules (
		connector_id text PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
		org_id text NOT NULL REFERENCES orgs(id),
		spec text NOT NULL,
		next_run_at timestamptz NOT NULL
	);
	CREATE INDEX schedules_due ON schedules (next_run_at);
	CREATE TABLE storage_health (
		org_id text PRIMARY KEY REFERENCES orgs(id),
		ok boolean NOT NULL,
		cause text NOT NULL DEFAULT '',
		message text NOT NULL DEFAULT '',
		checked_at timestamptz NOT NULL
	);`,
	// 5: tokens that expire (the console's password sign-ins)
	`ALTER TABLE tokens ADD COLUMN expires_at timestamptz;`,
	// 6: the declarative manifest of a manifest: connector
	`ALTER TABLE connectors ADD COLUMN manifest text NOT NULL DEFAULT '';`,
	// 7: run attempts and their leases; one active (queued or running) run per connector
	`ALTER TABLE runs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
	UPDATE runs SET status = 'failed', error = 'superseded by a later run of the same connector', finished_at = now()
		WHERE status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM runs r2 WHERE r2.connector_id = runs.connector_id
		AND r2.status IN ('queued', 'running') AND (r2.created_at > runs.created_at OR (r2.created_at = runs.created_at AND r2.id > runs.id)));
	CREATE UNIQUE INDEX runs_active ON runs (connector_id) WHERE status IN ('queued', 'running');
	CREATE TABLE run_attempts (
		run_id text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
		org_id text NOT NULL,
		number integer NOT NULL,
		owner text NOT NULL,
		status text NOT NULL,
		error text NOT NULL DEFAULT '',
		started_ms bigint NOT NULL,
		heartbeat_ms bigint NOT NULL,
		finished_ms bigint NOT NULL DEFAULT 0,
		PRIMARY KEY (run_id, number)
	);
	CREATE INDEX run_attempts_live ON run_attempts (status, heartbeat_ms);`,
	// 8: accounts: user names unique per organization; named, listed and revocable
	// tokens; console sessions in the store; sign-in failures for throttling
	`ALTER TABLE users DROP CONSTRAINT users_name_key;
	ALTER TABLE users ADD CONSTRAINT users_org_name_key UNIQUE (org_id, name);
	ALTER TABLE tokens ADD COLUMN name text NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;
	ALTER TABLE tokens ADD COLUMN parent_id text NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN user_id text NOT NULL DEFAULT '';
	CREATE INDEX tokens_org ON tokens (org_id, created_at);
	CREATE INDEX tokens_parent ON tokens (parent_id);
	CREATE TABLE sessions (
		token_id text PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
		user_name text NOT NULL DEFAULT '',
		csrf text NOT NULL,
		created_at timestamptz NOT NULL,
		last_seen_at timestamptz NOT NULL,
		flash text NOT NULL DEFAULT '',
		tested bytea
	);
	CREATE TABLE signin_failures (
		key bytea NOT NULL,
		at timestamptz NOT NULL
	);
	CREATE INDEX signin_failures_key ON signin_failures (key, at);
	CREATE INDEX signin_failures_at ON signin_failures (at);`,
	// 9: a console session's absolute end (its token's expiry slides with use)
	`ALTER TABLE sessions ADD COLUMN ends_at timestamptz;`,
	// 10: the settings of earlier storage, by the root they reach; connectors' migrations
	`CREATE TABLE storage_locations (
		org_id text NOT NULL REFERENCES orgs(id),
		root text NOT NULL,
		mode text NOT NULL,
		bucket text NOT NULL DEFAULT '',
		region text NOT NULL DEFAULT '',
		role_arn text NOT NULL DEFAULT '',
		kms_key_arn text NOT NULL DEFAULT '',
		endpoint text NOT NULL DEFAULT '',
		access_key_id text NOT NULL DEFAULT '',
		secret_access_key_sealed text NOT NULL DEFAULT '',
		saved_at timestamptz,
		PRIMARY KEY (org_id, root)
	);
	CREATE TABLE migrations (
		org_id text NOT NULL REFERENCES orgs(id),
		connector_id text NOT NULL,
		source text NOT NULL,
		target text NOT NULL,
		state text NOT NULL,
		tables text NOT NULL DEFAULT '',
		delete_source boolean NOT NULL DEFAULT false,
		error text NOT NULL DEFAULT '',
		started_at timestamptz,
		updated_at timestamptz,
		finished_at timestamptz,
		PRIMARY KEY (org_id, connector_id)
	);`,
	// 11: run kinds: sync, or table maintenance (package maintain)
	`ALTER TABLE runs ADD COLUMN kind text NOT NULL DEFAULT 'sync';`,
}

// migrate applies the pending migrations, each in its own transaction, while holding
// the session advisory lock MigrationLockKey: a second process waits for the first and
// then finds nothing to do. The lock is released with the connection if the process dies.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, MigrationLockKey); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, MigrationLockKey) //nolint:errcheck // released with the session anyway

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("database is at schema version %d but this lakeport knows only %d: run a newer lakeport", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, v)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

// timeOf reads a possibly NULL time; NULL is the zero time.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation (23505).
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// wrap adds the operation to err, mapping a unique violation to store.ErrConflict and
// no rows to store.ErrNotFound.
func wrap(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case IsUniqueViolation(err):
		return fmt.Errorf("postgres: %s: %w", what, store.ErrConflict)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	default:
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
}

// affected is wrap for statements that must change a row: none is store.ErrNotFound.
func affected(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return wrap(err, what)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

func (s *Store) CreateOrg(ctx context.Context, o store.Org) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO orgs (id, name, external_id, created_at) VALUES ($1, $2, $3, $4)`,
		o.ID, o.Name, o.ExternalID, o.CreatedAt.UTC())
	return wrap(err, fmt.Sprintf("create org %q", o.Name))
}

func (s *Store) Org(ctx context.Context, id string) (store.Org, error) {
	return s.org(ctx, `id = $1`, id)
}

func (s *Store) OrgByName(ctx context.Context, name string) (store.Org, error) {
	return s.org(ctx, `name = $1`, name)
}

func (s *Store) org(ctx context.Context, where string, arg string) (store.Org, error) {
	var o store.Org
	err := s.pool.QueryRow(ctx, `SELECT id, name, external_id, created_at FROM orgs WHERE `+where, arg).
		Scan(&o.ID, &o.Name, &o.ExternalID, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, wrap(err, fmt.Sprintf("org %q", arg))
}

func (s *Store) CountOrgs(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)
	return n, wrap(err, "count orgs")
}

func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, org_id, role, operator, hash, name, created_at, expires_at, last_used_at, parent_id, user_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID, t.OrgID, string(t.Role), t.Operator, t.Hash, t.Name, t.CreatedAt.UTC(), nullTime(t.ExpiresAt), nullTime(t.LastUsedAt), t.ParentID, t.UserID)
	return wrap(err, "create token for org "+t.OrgID)
}

const tokenColumns = `id, org_id, role, operator, hash, name, created_at, expires_at, last_used_at, parent_id, user_id`

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	var role string
	var expires, used pgtype.Timestamptz
	err := row.Scan(&t.ID, &t.OrgID, &role, &t.Operator, &t.Hash, &t.Name, &t.CreatedAt, &expires, &used, &t.ParentID, &t.UserID)
	t.Role = store.Role(role)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = t.CreatedAt.UTC(), timeOf(expires), timeOf(used)
	return t, err
}

func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	return t, wrap(err, "token")
}

func (s *Store) ListTokens(ctx context.Context, orgID string) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, wrap(err, "list tokens of org "+orgID)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap(err, "list tokens of org "+orgID)
		}
		out = append(out, t)
	}
	return out, wrap(rows.Err(), "list tokens of org "+orgID)
}

func (s *Store) RevokeToken(ctx context.Context, orgID, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tokens WHERE org_id = $1 AND id = $2`, orgID, id)
		if err := affected(tag, err, "revoke token "+id); err != nil {
			return err
		}
		// Sessions go with their tokens (ON DELETE CASCADE).
		_, err = tx.Exec(ctx, `DELETE FROM tokens WHERE org_id = $1 AND parent_id = $2`, orgID, id)
		return wrap(err, "revoke the session tokens of token "+id)
	})
}

func (s *Store) TouchToken(ctx context.Context, id string, t time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, t.UTC(), id)
	return wrap(err, "touch token "+id)
}

func (s *Store) DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at < $1`, t.UTC())
	return int(tag.RowsAffected()), wrap(err, "delete expired tokens")
}

func (s *Store) StorageSetting(ctx context.Context, orgID string) (store.StorageSetting, error) {
	st := store.StorageSetting{OrgID: orgID}
	var validated pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT mode, bucket, region, role_arn, kms_key_arn, endpoint, access_key_id,
		secret_access_key_sealed, validated_at, updated_at FROM storage_settings WHERE org_id = $1`, orgID).
		Scan(&st.Mode, &st.Bucket, &st.Region, &st.RoleARN, &st.KMSKeyARN, &st.Endpoint, &st.AccessKeyID,
			&st.SecretAccessKeySealed, &validated, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.StorageSetting{OrgID: orgID, Mode: "managed"}, nil
	}
	if err != nil {
		return st, wrap(err, "storage setting of org "+orgID)
	}
	st.ValidatedAt = timeOf(validated)
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, nil
}

func (s *Store) PutStorageSetting(ctx context.Context, st store.StorageSetting) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO storage_settings (org_id, mode, bucket, region, role_arn, kms_key_arn,
		endpoint, access_key_id, secret_access_key_sealed, validated_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (org_id) DO UPDATE SET mode = excluded.mode, bucket = excluded.bucket, region = excluded.region,
		role_arn = excluded.role_arn, kms_key_arn = excluded.kms_key_arn, endpoint = excluded.endpoint,
		access_key_id = excluded.access_key_id, secret_access_key_sealed = excluded.secret_access_key_sealed,
		validated_at = excluded.validated_at, updated_at = excluded.updated_at`,
		st.OrgID, st.Mode, st.Bucket, st.Region, st.RoleARN, st.KMSKeyARN, st.Endpoint, st.AccessKeyID,
		st.SecretAccessKeySealed, nullTime(st.ValidatedAt), st.UpdatedAt.UTC())
	return wrap(err, "save storage setting of org "+st.OrgID)
}
