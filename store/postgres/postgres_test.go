package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/store/storetest"
)

func TestConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Run(t, s)
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s)
	s.Close()
	s, err = postgres.Open(ctx, url) // migrations must not run twice
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if n, err := s.CountOrgs(ctx); err != nil || n != 2 {
		t.Fatalf("after reopen CountOrgs = %d, %v; want 2", n, err)
	}
}

// TestConcurrentOpenMigratesOnce starts several "processes" on one empty database at
// once: the advisory lock lets one migrate while the others wait, and none fails.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const n = 8
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var applied, versions, latest int
	if err := stores[0].Pool().QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version), MAX(version) FROM schema_migrations`).Scan(&applied, &versions, &latest); err != nil {
		t.Fatal(err)
	}
	if applied != versions || versions != latest || latest < 2 {
		t.Fatalf("schema_migrations has %d rows for %d versions up to %d; want each version applied once", applied, versions, latest)
	}
	// Every process sees the same store.
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := stores[1].CreateOrg(ctx, store.Org{ID: "o1", Name: "acme", ExternalID: "e1", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := stores[2].CreateOrg(ctx, store.Org{ID: "o2", Name: "acme", ExternalID: "e2", CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same name from another process: %v, want ErrConflict", err)
	}
}

// TestDB checks the database/sql view of the pool works (the Iceberg SQL catalog uses it).
func TestDB(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateOrg(ctx, store.Org{ID: "o1", Name: "acme", ExternalID: "e1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := s.DB().QueryRowContext(ctx, `SELECT name FROM orgs WHERE id = $1`, "o1").Scan(&name); err != nil || name != "acme" {
		t.Fatalf("DB() query = %q, %v", name, err)
	}
}

func TestErrorsMapToStoreSentinels(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if err := s.CreateOrg(ctx, store.Org{ID: "o1", Name: "acme", ExternalID: "e1", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ID: "t1", OrgID: "o1", Role: store.RoleAdmin, Hash: []byte("h"), CreatedAt: now}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tok.ID = "t2"
	if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a token with a taken hash: %v, want ErrConflict", err)
	}
	if _, err := s.Run(ctx, "o1", "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Run(missing): %v, want ErrNotFound", err)
	}
	if err := s.UpdateRun(ctx, store.Run{ID: "missing", OrgID: "o1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRun(missing): %v, want ErrNotFound", err)
	}
}

func TestSchedulesConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunSchedules(t, s)
}

func TestLeasesConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunLeases(t, s)
}

func TestSessionsConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunSessions(t, s)
}

func TestMigrationsConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunMigrations(t, s)
}

func TestMaintenanceConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunMaintenance(t, s)
}
