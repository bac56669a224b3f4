package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/tenant"
)

// Kill -9 the process syncing a manifest connector in the middle of its
// time slices: another process resumes from the last committed slice, and
// every API record is in the table exactly once.
func TestKilledManifestSyncResumesFromLastSlice(t *testing.T) {
	ctx := context.Background()
	users := 3*batchRows() + 2000 // the worker commits at a slice's STATE once it holds batchRows rows
	api := manifesttest.New(t, 0)
	api.Delay = 30 * time.Millisecond
	first := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(users)*time.Minute - time.Hour)
	api.AddUsers(users, first, time.Minute) // one a minute: about 1440 per one-day slice

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
	svc := pgService(t, st, box, dir)
	enqueuer, err := jobs.OpenPostgres(ctx, st.Pool(), func(context.Context, jobs.SyncArgs) error { return nil },
		jobs.Config{SyncTimeout: rescueAfter, RescueAfter: rescueAfter})
	if err != nil {
		t.Fatal(err)
	}
	svc.Enqueue = enqueuer.EnqueueSync
	m := strings.Replace(strings.Replace(manifesttest.UsersManifest, "page_size: 5", "page_size: 500", 1), "step: P10D", "step: P1D", 1)
	cfg, _ := json.Marshal(map[string]any{"api_key": manifesttest.APIKey, "base_url": api.URL(),
		"start_date": first.Add(-time.Hour).Format("2006-01-02T15:04:05Z")})
	if _, err := svc.Create(ctx, org, connector.CreateRequest{Name: "gh", Source: "manifest:users.yaml", Manifest: m, Config: cfg,
		Streams: []string{"users:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartSync(ctx, org, "gh")
	if err != nil {
		t.Fatal(err)
	}
	firstWorker := startWorkerChild(t, db, dir)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := st.Run(ctx, org.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded {
			t.Fatal("the sync finished before it could be killed: give the API more users or a longer delay")
		}
		var streams map[string]struct{ Committed int64 }
		json.Unmarshal(r.Streams, &streams)
		if r.Status == store.RunRunning && streams["users"].Committed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first worker never committed: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	firstWorker.Process.Signal(syscall.SIGKILL)
	firstWorker.Wait()
	before := len(api.RequestsTo("/v1/users"))

	startWorkerChild(t, db, dir)
	deadline = time.Now().Add(120 * time.Second)
	var r store.Run
	for {
		if r, err = st.Run(ctx, org.ID, run.ID); err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded || r.Status == store.RunFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed sync was never finished: %+v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Status != store.RunSucceeded {
		t.Fatalf("the resumed sync failed: %s", r.Error)
	}
	// The resumed read did not start over: its first request asks for the
	// window after the last committed state.
	reqs := api.RequestsTo("/v1/users")
	if len(reqs) <= before {
		t.Fatalf("the resumed sync sent no request (%d before the kill, %d in all)", before, len(reqs))
	}
	resumed := reqs[before]
	if resumed.Get("updated_since") == first.Add(-time.Hour).Format("2006-01-02T15:04:05Z") {
		t.Errorf("the resumed sync started from the start date again")
	}
	t.Logf("requests: %d before the kill, %d in all; the resumed read starts at %s", before, len(reqs), resumed.Get("updated_since"))

	seen := uniqueIDs(t, svc, org, "gh", "users")
	for i := 1; i <= users; i++ {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("user %d is missing after the resume (%d users in the table)", i, len(seen))
		}
	}
}

// uniqueIDs reads the id column of a connector's table and fails the test on
// an id present twice (a record written twice).
func uniqueIDs(t *testing.T, svc *connector.Service, org store.Org, conn, stream string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	l, err := svc.Lake(ctx, org, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tbl, err := l.LoadTable(ctx, conn, stream)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	seen := map[string]bool{}
	for _, ch := range at.Column(at.Schema().FieldIndices("id")[0]).Data().Chunks() {
		for i := 0; i < ch.Len(); i++ {
			id := ch.ValueStr(i)
			if seen[id] {
				t.Fatalf("%s.%s: id %s is in the table twice after the resume", conn, stream, id)
			}
			seen[id] = true
		}
	}
	return seen
}
