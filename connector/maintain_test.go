package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// wait waits for run to finish.
func (e *env) wait(run connector.RunView) connector.RunView {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for run.Status == store.RunQueued || run.Status == store.RunRunning {
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s did not finish: %+v", run.ID, run)
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		if run, err = e.svc.Run(ctx, e.org, run.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return run
}

// Maintenance is a run of the connector: it compacts every table without changing a
// row, shows in the run history with its report, and takes turns with syncs.
func TestMaintenanceRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample",
		Config:  []byte(`{"seed": 3, "customers": 40, "invoices": 30, "events": 100}`),
		Streams: []string{"customers", "invoices", "events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if r := e.sync("crm"); r.Status != store.RunSucceeded {
			t.Fatalf("sync: %+v", r)
		}
	}
	before := map[string]map[string]bool{}
	for _, table := range []string{"customers", "invoices", "events"} {
		before[table] = e.ids("crm", table)
	}
	run, err := e.svc.StartMaintenance(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if run.Kind != store.RunMaintenance {
		t.Errorf("the maintenance run's kind is %q", run.Kind)
	}
	run = e.wait(run)
	if run.Status != store.RunSucceeded {
		t.Fatalf("maintenance: %s (%s)", run.Status, run.Error)
	}
	var reports []maintain.Report
	if err := json.Unmarshal(run.Tables, &reports); err != nil || len(reports) != 3 {
		t.Fatalf("the run's report: %s (%v), want one per table", run.Tables, err)
	}
	for _, r := range reports {
		t.Logf("%s: compaction %+v expiry %+v orphans %+v", r.Table, *r.Compaction, *r.Expiry, *r.Orphans)
		if r.Table == "crm.events" && (r.Compaction.FilesBefore != 4 || r.Compaction.FilesAfter != 1) {
			t.Errorf("events: %d data files → %d, want 4 → 1", r.Compaction.FilesBefore, r.Compaction.FilesAfter)
		}
	}
	for table, ids := range before {
		if got := e.ids("crm", table); len(got) != len(ids) {
			t.Errorf("%s: %d ids after maintenance, %d before", table, len(got), len(ids))
		}
	}
	runs, err := e.svc.Runs(ctx, e.org, "crm", 10)
	if err != nil || len(runs) != 5 || runs[0].Kind != store.RunMaintenance || runs[1].Kind != store.RunSync {
		t.Fatalf("run history: %+v (%v), want the maintenance run over four syncs", runs, err)
	}
	// The next sync resumes where the last one stopped.
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync after maintenance: %+v", r)
	}
	if got := e.ids("crm", "events"); len(got) != len(before["events"])+100 {
		t.Errorf("events after the next sync: %d, want %d", len(got), len(before["events"])+100)
	}

	// Another organization cannot maintain (or learn of) this connector.
	other, _, err := tenant.CreateOrg(ctx, e.st, "globex", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartMaintenance(ctx, other, "crm"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("another organization's maintenance of crm: %v, want ErrNotFound", err)
	}
}

// A connector's syncs and maintenance take turns: each is refused, naming the other,
// while the other is queued or running; the scheduler leaves a busy connector for later.
func TestMaintenanceAndSyncTakeTurns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := newGated()
	t.Cleanup(g.openAll)
	reg := source.NewRegistry()
	reg.Register("gated", func() source.Source { return source.FromInProcess("gated", g) })
	e.svc.Sources = reg
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "a1", Source: "gated", Config: []byte(`{"gate":"a1"}`),
		Streams: []string{"items:full_refresh:overwrite"}}); err != nil {
		t.Fatal(err)
	}
	syncing, err := e.svc.StartSync(ctx, e.org, "a1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sync to run", func() bool { return g.running("a1") })
	if _, err := e.svc.StartMaintenance(ctx, e.org, "a1"); !errors.Is(err, connector.ErrBusy) || errors.Is(err, connector.ErrMaintaining) {
		t.Errorf("maintenance during a sync: %v, want ErrBusy naming the sync", err)
	}
	c, err := e.st.Connector(ctx, e.org.ID, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.StartScheduledMaintenance(ctx, e.org.ID, c.ID); err != nil {
		t.Errorf("the scheduler's start of a busy connector: %v, want it left for later", err)
	}
	close(g.gate("a1"))
	if r := e.wait(syncing); r.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", r)
	}
	// A maintenance run queued (not yet taken by a worker): a sync asked for waits its turn.
	m := store.Run{ID: "run_m", OrgID: e.org.ID, ConnectorID: c.ID, Kind: store.RunMaintenance, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := e.st.CreateRun(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartSync(ctx, e.org, "a1"); !errors.Is(err, connector.ErrMaintaining) {
		t.Errorf("a sync during maintenance: %v, want ErrMaintaining", err)
	}
	if _, err := e.svc.StartMaintenance(ctx, e.org, "a1"); !errors.Is(err, connector.ErrMaintaining) {
		t.Errorf("a second maintenance: %v, want ErrMaintaining", err)
	}
	m.Status, m.FinishedAt = store.RunFailed, time.Now().UTC()
	if err := e.st.UpdateRun(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// While a connector's tables move to new storage, maintenance is refused like a sync
// (it would rewrite the tables being copied), and the scheduler leaves it for later.
func TestMaintenanceRefusedWhileMigrating(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutMigration(ctx, store.Migration{OrgID: e.org.ID, ConnectorID: v.ID, Source: v.Warehouse, Target: "s3://elsewhere",
		State: store.MigrationRunning, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartMaintenance(ctx, e.org, "crm"); !errors.Is(err, connector.ErrMigrating) || !strings.Contains(err.Error(), "storage migrate") {
		t.Fatalf("maintenance while migrating: %v, want ErrMigrating", err)
	}
	if err := e.svc.StartScheduledMaintenance(ctx, e.org.ID, v.ID); err != nil {
		t.Errorf("the scheduler's start of a moving connector: %v, want it left for later", err)
	}
	if runs, err := e.svc.Runs(ctx, e.org, "crm", 10); err != nil || len(runs) != 0 {
		t.Errorf("runs of a moving connector: %+v, %v; want none", runs, err)
	}
}

// A maintenance run whose process died is resumed as its second attempt and finishes,
// and what the dead attempt wrote and never committed is removed then, not only once
// older than the orphan window.
func TestDeadMaintenanceRunResumesAndRemovesItsFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.RunPolicy = connector.RunPolicy{LeaseTimeout: 10 * time.Second}
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	e.sync("crm")
	before := e.ids("crm", "events")
	c, err := e.st.Connector(ctx, e.org.ID, "crm")
	if err != nil {
		t.Fatal(err)
	}
	run := store.Run{ID: "run_dead_m", OrgID: e.org.ID, ConnectorID: c.ID, Kind: store.RunMaintenance, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := e.st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Minute)
	if _, err := e.st.ClaimRun(ctx, e.org.ID, run.ID, "dead-process", then, then.Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	// A compaction group the dead attempt wrote and never committed.
	leftover := filepath.Join(e.dir, "warehouse", e.org.ID, "crm", "events", "data", "00000-0-dead-compaction.parquet")
	if err := os.WriteFile(leftover, []byte("PAR1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Resume(ctx, false); err != nil || n != 1 {
		t.Fatalf("resume: %d, %v; want the dead maintenance run", n, err)
	}
	waitFor(t, "the resumed maintenance to finish", func() bool {
		v, err := e.svc.Run(ctx, e.org, run.ID)
		return err == nil && v.Status != store.RunQueued && v.Status != store.RunRunning
	})
	v, _ := e.svc.Run(ctx, e.org, run.ID)
	if v.Status != store.RunSucceeded || v.Attempts != 2 || v.Kind != store.RunMaintenance {
		t.Fatalf("resumed maintenance: %+v, want succeeded in 2 attempts", v)
	}
	// Removed right after the run is recorded.
	waitFor(t, "the dead attempt's compaction output to be removed after the run resumed and finished", func() bool {
		_, err := os.Stat(leftover)
		return os.IsNotExist(err)
	})
	if after := e.ids("crm", "events"); !maps.Equal(after, before) {
		t.Errorf("events changed across the resumed maintenance: %d rows before, %d after", len(before), len(after))
	}
}
