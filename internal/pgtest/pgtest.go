// Package pgtest gives a test its own empty PostgreSQL database on a real server.
//
// The server is the one named by LAKEPORT_TEST_POSTGRES (a postgres:// URL of a
// superuser, e.g. postgres://postgres@127.0.0.1:54329/postgres?sslmode=disable), or, when
// that is unset, the one scripts/postgres.sh starts by default at DefaultURL. When no
// server answers, a test fails if CI is set and is skipped with a message otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the server's URL.
const EnvURL = "LAKEPORT_TEST_POSTGRES"

// DefaultURL is where scripts/postgres.sh starts its server.
const DefaultURL = "postgres://postgres@127.0.0.1:54329/postgres?sslmode=disable"

// EnvKeep, when set, keeps each test's database after the test for inspection.
const EnvKeep = "LAKEPORT_TEST_POSTGRES_KEEP"

// URL creates a database with a unique name for t, drops it when t ends, and returns its
// URL.
func URL(t testing.TB) string {
	t.Helper()
	base, explicit := os.Getenv(EnvURL), true
	if base == "" {
		base, explicit = DefaultURL, false
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s=%q is not a postgres:// URL", EnvURL, base)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := fmt.Sprintf("pgtest: no PostgreSQL server at %s: %v\n"+
			"Start one with: eval \"$(scripts/postgres.sh)\" (it sets %s), or point %s at a server where this user may create databases.",
			redact(u), err, EnvURL, EnvURL)
		if explicit || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "\nSkipped because CI is not set; in CI this test fails.")
	}
	defer admin.Close(context.Background())

	name := dbName(t.Name())
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE template0`); err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v", name, redact(u), err)
	}
	t.Cleanup(func() {
		if os.Getenv(EnvKeep) != "" {
			t.Logf("pgtest: kept database %s (%s is set)", name, EnvKeep)
			return
		}
		drop(t, base, name)
	})

	u.Path = "/" + name
	return u.String()
}

// drop removes the database, first ending any session still connected to it (a pool a
// test forgot to close, or a process it killed).
func drop(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Errorf("pgtest: end sessions of database %s: %v", name, err)
	}
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName is lakeport_test_<test name>_<random>, within PostgreSQL's 63-byte limit.
func dbName(test string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	slug := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return "lakeport_test_" + slug + "_" + hex.EncodeToString(b[:])
}

func redact(u *url.URL) string { return u.Redacted() }
