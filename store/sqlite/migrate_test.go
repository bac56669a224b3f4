package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/storetest"
)

// An install made before the accounts migration keeps its users and tokens, and its user names
// become unique per organization.
func TestAccountsMigrationKeepsUsersAndTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	all := migrations
	migrations = all[:accountsMigration(t)]
	err = migrate(ctx, db)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO orgs VALUES ('org_a', 'a', 'ea', '2024-01-01T00:00:00Z'), ('org_b', 'b', 'eb', '2024-01-01T00:00:00Z')`,
		`INSERT INTO users VALUES ('usr_1', 'org_a', 'ann', 'admin', x'24', '2024-01-01T00:00:00Z')`,
		`INSERT INTO tokens (id, org_id, role, operator, hash, created_at) VALUES ('tok_1', 'org_a', 'admin', 1, x'0102', '2024-01-01T00:00:00Z')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrating a database from before the accounts migration: %v", err)
	}
	defer s.Close()
	storetest.CheckAccountsMigrated(t, s)
}

// isUnique goes by the driver's result code: an error that only says the words is not
// a unique violation, and a primary-key violation is one.
func TestIsUniqueByCode(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if isUnique(errors.New("UNIQUE constraint failed: orgs.name")) || isUnique(fmt.Errorf("wrapped: %w", errors.New("UNIQUE constraint failed: x"))) {
		t.Fatal("a plain error with the driver's words counts as a unique violation")
	}
	// A trigger may raise any text: it is a constraint error, not a unique one.
	if _, err := s.db.ExecContext(ctx, `CREATE TEMP TRIGGER liar BEFORE INSERT ON orgs WHEN NEW.name = 'liar'
		BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: orgs.name'); END`); err != nil {
		t.Fatal(err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO orgs VALUES ('org_l', 'liar', 'el', '')`)
	if err == nil || isUnique(err) {
		t.Fatalf("a trigger's message taken for a unique violation: %v", err)
	}
	if err := s.CreateOrg(ctx, store.Org{ID: "org_l", Name: "liar", ExternalID: "el"}); errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateOrg maps a trigger's error to ErrConflict: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO orgs VALUES ('org_x', 'x', 'ex', '')`); err != nil {
		t.Fatal(err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO orgs VALUES ('org_x', 'y', 'ey', '')`)
	if !isUnique(err) {
		t.Fatalf("a primary-key violation is not recognised: %v", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO orgs VALUES ('org_y', 'x', 'ey', '')`)
	if !isUnique(err) {
		t.Fatalf("a unique violation is not recognised: %v", err)
	}
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
