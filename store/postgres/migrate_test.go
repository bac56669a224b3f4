package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/store/storetest"
)

// An install made before the accounts migration keeps its users and tokens, and its user names
// become unique per organization.
func TestAccountsMigrationKeepsUsersAndTokens(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	all := migrations
	migrations = all[:accountsMigration(t)]
	err = migrate(ctx, pool)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO orgs VALUES ('org_a', 'a', 'ea', now()), ('org_b', 'b', 'eb', now())`,
		`INSERT INTO users VALUES ('usr_1', 'org_a', 'ann', 'admin', '\x24', now())`,
		`INSERT INTO tokens (id, org_id, role, operator, hash, created_at) VALUES ('tok_1', 'org_a', 'admin', true, '\x0102', now())`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pool.Close()

	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("migrating a database from before the accounts migration: %v", err)
	}
	defer s.Close()
	storetest.CheckAccountsMigrated(t, s)
}

// accountsMigration is the index of the accounts migration (the one that adds sessions).
func accountsMigration(t *testing.T) int {
	for i, m := range migrations {
		if strings.Contains(m, "CREATE TABLE sessions") {
			return i
		}
	}
	t.Fatal("no migration creates the sessions table")
	return 0
}
