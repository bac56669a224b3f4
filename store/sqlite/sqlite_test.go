package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/store/storetest"
)

func TestConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Run(t, s)
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s)
	s.Close()
	s, err = sqlite.Open(ctx, path) // migrations must not run twice
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if n, err := s.CountOrgs(ctx); err != nil || n != 2 {
		t.Fatalf("after reopen CountOrgs = %d, %v; want 2", n, err)
	}
}

func TestSchedulesConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunSchedules(t, s)
}

func TestLeasesConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunLeases(t, s)
}

func TestSessionsConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunSessions(t, s)
}

// The database and its WAL and shared-memory files are the process user's only, whatever
// the umask.
func TestDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateOrg(context.Background(), store.Org{ID: "org_m", Name: "m", ExternalID: "em"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

func TestMigrationsConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunMigrations(t, s)
}

func TestMaintenanceConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunMaintenance(t, s)
}
