package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/tenant"
)

const (
	workerChildEnv = "LAKEPORT_TEST_WORKER_DATABASE"
	workerDirEnv   = "LAKEPORT_TEST_WORKER_DIR"
	// rescueAfter: River's own rescue (a backstop) and the longest one sync may run;
	// leases take the sync over long before.
	rescueAfter = 5 * time.Minute
	// leaseTimeout: a sync whose process stopped renewing its lease this long is taken
	// over by another process.
	leaseTimeout = 5 * time.Second
)

// workerChild runs `lakeport worker` in this (test binary) process until it is killed.
func workerChild(db string) int {
	cfg := config.Config{DataDir: os.Getenv(workerDirEnv), Database: db, STSRegion: "us-east-1", HealthInterval: time.Hour,
		SyncTimeout: rescueAfter, SyncRescueAfter: rescueAfter, SyncLeaseTimeout: leaseTimeout, QueryEngine: "duckdb", SyncBatchRows: batchRows(),
		AllowPrivateNetworks: true} // the manifest kill test's API listens on loopback
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := work(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

func batchRows() int {
	if raceEnabled {
		return 5_000
	}
	return 20_000
}

func startWorkerChild(t *testing.T, db, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerChildEnv+"="+db, workerDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// Kill -9 the lakeport process running a sync: another process picks the sync up and
// finishes it from the last committed state, with every record present once.
func TestKilledWorkerSyncIsFinishedByAnother(t *testing.T) {
	ctx := context.Background()
	db := pgtest.URL(t)
	dir := t.TempDir()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	org, _, err := tenant.CreateOrg(ctx, st, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	// This process only creates the connector and enqueues: the workers are the children.
	svc := pgService(t, st, box, dir)
	enqueuer, err := jobs.OpenPostgres(ctx, st.Pool(), func(context.Context, jobs.SyncArgs) error { return nil },
		jobs.Config{SyncTimeout: rescueAfter, RescueAfter: rescueAfter})
	if err != nil {
		t.Fatal(err)
	}
	svc.Enqueue = enqueuer.EnqueueSync
	events := 300_000
	if raceEnabled {
		events = 40_000 // the resumed sync must finish within the deadline under -race
	}
	if _, err := svc.Create(ctx, org, connector.CreateRequest{Name: "crm", Source: "sample",
		Config:  []byte(fmt.Sprintf(`{"seed": 5, "customers": 0, "invoices": 0, "events": %d, "state_every": 1000}`, events)),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartSync(ctx, org, "crm")
	if err != nil {
		t.Fatal(err)
	}

	first := startWorkerChild(t, db, dir)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := st.Run(ctx, org.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded {
			t.Fatal("the sync finished before it could be killed: make it longer (events) for this machine")
		}
		var streams map[string]struct{ Committed int64 }
		json.Unmarshal(r.Streams, &streams)
		if r.Status == store.RunRunning && streams["events"].Committed > 0 {
			break // killed after some commits, before the end
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first worker never got going: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	startWorkerChild(t, db, dir)
	deadline = time.Now().Add(90 * time.Second)
	var r store.Run
	for {
		if r, err = st.Run(ctx, org.ID, run.ID); err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded || r.Status == store.RunFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed worker's sync was never finished by the other: %+v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Status != store.RunSucceeded {
		t.Fatalf("the rescued sync failed: %s", r.Error)
	}
	t.Logf("run after the rescue: %d records, streams %s", r.Records, r.Streams)
	if runs, _ := st.Runs(ctx, org.ID, r.ConnectorID, 10); len(runs) != 1 {
		t.Errorf("%d runs, want the one", len(runs))
	}
	if r.Attempts != 2 {
		t.Errorf("the run took %d attempts, want 2: the killed one and its resumption", r.Attempts)
	}
	seen := uniqueIDs(t, svc, org, "crm", "events")
	// The sample's event IDs are 1, 2, 3, … in the order it emits them, and a read from a
	// mid-sync state carries on from there up to the source's new "now" (so it may
	// emit more than the first sync's count): every ID from 1 to the highest must be
	// present exactly once — a gap is a lost record, a repeat a duplicate.
	if len(seen) < events {
		t.Fatalf("%d events after the rescue, want at least the first sync's %d", len(seen), events)
	}
	lo, hi, runs := 0, 0, []string{}
	for i := 1; i <= 700000; i++ {
		if seen[strconv.Itoa(i)] {
			if lo == 0 {
				lo = i
			}
			hi = i
		} else if lo != 0 {
			runs = append(runs, fmt.Sprintf("%d-%d", lo, hi))
			lo = 0
		}
	}
	t.Logf("present id ranges: %v", runs)
	for i := 1; i <= len(seen); i++ {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("event %d is missing after the rescue (%d events)", i, len(seen))
		}
	}
}

// pgService is a connector service on PostgreSQL whose managed warehouse is dir: what
// a test process that only creates connectors and enqueues their syncs needs.
func pgService(t *testing.T, st *postgres.Store, box *secrets.Box, dir string) *connector.Service {
	t.Helper()
	cat, err := sqlcatalog.New(st.DB(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	return &connector.Service{Store: st, Secrets: box, Storage: &storage.Resolver{Store: st, Secrets: box, DataDir: dir}, Catalog: cat,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}
