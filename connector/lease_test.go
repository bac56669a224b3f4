package connector_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// gatedSource emits one record and waits at its gate (named by its config) until the
// test opens it: a sync that takes as long as the test wants.
type gatedSource struct {
	mu     sync.Mutex
	gates  map[string]chan struct{}
	inside map[string]bool
}

func newGated() *gatedSource {
	return &gatedSource{gates: map[string]chan struct{}{}, inside: map[string]bool{}}
}

func (g *gatedSource) gate(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[name] == nil {
		g.gates[name] = make(chan struct{})
	}
	return g.gates[name]
}

func (g *gatedSource) openAll() {
	for _, n := range []string{"a1", "a2", "b1"} {
		ch := g.gate(n)
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

func (g *gatedSource) running(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inside[name]
}

func (g *gatedSource) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}
func (g *gatedSource) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}
func (g *gatedSource) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return &protocol.Catalog{Streams: []protocol.Stream{{Name: "items", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`),
		SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}}}}, nil
}
func (g *gatedSource) Run(ctx context.Context, config json.RawMessage, _ *protocol.ConfiguredCatalog, _ json.RawMessage, emit func(*protocol.Message) error) error {
	var cfg struct {
		Gate string `json:"gate"`
	}
	json.Unmarshal(config, &cfg)
	g.mu.Lock()
	g.inside[cfg.Gate] = true
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inside[cfg.Gate] = false; g.mu.Unlock() }()
	if err := emit(&protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: "items", Data: json.RawMessage(`{"id":1}`)}}); err != nil {
		return err
	}
	select {
	case <-g.gate(cfg.Gate):
	case <-ctx.Done():
		return ctx.Err()
	}
	return emit(protocol.NewStreamStateMessage(protocol.StreamDescriptor{Name: "items"}, json.RawMessage(`{"done":true}`), 1))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second) // a loaded machine under -race is slow
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two syncs of organization A must not make organization B's sync wait (issue 9: they
// once made it wait 146 s): with the default cap of one sync per organization, A's
// second sync waits without holding a worker, and B's runs at once.
func TestOrgSyncCapLeavesOtherOrgsRunning(t *testing.T) {
	e := newEnv(t) // two workers
	ctx := context.Background()
	g := newGated()
	t.Cleanup(g.openAll) // before the queue stops: it waits for running syncs
	reg := source.NewRegistry()
	reg.Register("gated", func() source.Source { return source.FromInProcess("gated", g) })
	e.svc.Sources = reg
	orgB, _, err := tenant.CreateOrg(ctx, e.st, "other", false)
	if err != nil {
		t.Fatal(err)
	}
	create := func(org store.Org, name string) {
		if _, err := e.svc.Create(ctx, org, connector.CreateRequest{Name: name, Source: "gated", Config: []byte(`{"gate":"` + name + `"}`),
			Streams: []string{"items:full_refresh:overwrite"}}); err != nil {
			t.Fatal(err)
		}
	}
	create(e.org, "a1")
	create(e.org, "a2")
	create(orgB, "b1")
	runA1, err := e.svc.StartSync(ctx, e.org, "a1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a1 to run", func() bool { return g.running("a1") })
	runA2, err := e.svc.StartSync(ctx, e.org, "a2")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a2's job is fetched and would take the second worker
	runB1, err := e.svc.StartSync(ctx, orgB, "b1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b1 to run while a1 runs and a2 waits", func() bool { return g.running("b1") })
	if g.running("a2") {
		t.Fatal("a2 runs while a1 runs: the organization's cap of one sync did not hold")
	}
	g.openAll()
	for _, r := range []struct {
		org store.Org
		id  string
	}{{e.org, runA1.ID}, {e.org, runA2.ID}, {orgB, runB1.ID}} {
		waitFor(t, "run "+r.id+" to finish", func() bool {
			v, err := e.svc.Run(ctx, r.org, r.id)
			return err == nil && v.Status == store.RunSucceeded
		})
	}
}

// A run whose process died resumes from its last committed state, as a second attempt
// of the same run, and a sync asked for meanwhile joins it instead of being refused.
func TestDeadProcessRunResumesAndJoins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.RunPolicy = connector.RunPolicy{LeaseTimeout: 10 * time.Second}
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.st.Connector(ctx, e.org.ID, "crm")
	if err != nil {
		t.Fatal(err)
	}
	// A process claimed the run and died: its lease was last renewed a minute ago.
	run := store.Run{ID: "run_dead", OrgID: e.org.ID, ConnectorID: c.ID, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := e.st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Minute)
	if _, err := e.st.ClaimRun(ctx, e.org.ID, run.ID, "dead-process", then, then.Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	// What the dead attempt wrote and never committed.
	leftover := filepath.Join(e.dir, "warehouse", e.org.ID, "crm", "events", "data", "00000-dead-attempt.parquet")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("PAR1"), 0o600); err != nil {
		t.Fatal(err)
	}
	joined, err := e.svc.StartSync(ctx, e.org, "crm")
	if err != nil {
		t.Fatalf("a sync asked for after its process died: %v; want it to join the resumed run", err)
	}
	if joined.ID != run.ID || !joined.Joined {
		t.Fatalf("the sync asked for is %+v, want it to join %s", joined, run.ID)
	}
	waitFor(t, "the resumed run to finish", func() bool {
		v, err := e.svc.Run(ctx, e.org, run.ID)
		return err == nil && v.Status != store.RunQueued && v.Status != store.RunRunning
	})
	v, _ := e.svc.Run(ctx, e.org, run.ID)
	if v.Status != store.RunSucceeded || v.Attempts != 2 {
		t.Fatalf("resumed run: %+v, want succeeded in 2 attempts", v)
	}
	atts, err := e.st.Attempts(ctx, e.org.ID, run.ID)
	if err != nil || len(atts) != 2 || atts[0].Status != store.AttemptInterrupted || atts[1].Status != store.AttemptSucceeded {
		t.Fatalf("attempts %+v, %v; want interrupted then succeeded", atts, err)
	}
	if n := len(e.ids("crm", "events")); n != 500 {
		t.Fatalf("events: %d, want 500", n)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("the dead attempt's leftover file is still there after the run resumed and finished (%v)", err)
	}
	// The next sync is a new run, accepted at once.
	next := e.sync("crm")
	if next.ID == run.ID || next.Status != store.RunSucceeded {
		t.Fatalf("next sync: %+v", next)
	}
}

// At start, a server that owns its SQLite file resumes every run an earlier process
// left running, at once (no lease timeout to wait for).
func TestResumeAllAtStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.st.Connector(ctx, e.org.ID, "crm")
	run := store.Run{ID: "run_cut", OrgID: e.org.ID, ConnectorID: c.ID, Status: store.RunQueued, CreatedAt: time.Now().UTC()}
	if err := e.st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := e.st.ClaimRun(ctx, e.org.ID, run.ID, "previous-process", now, now.Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Resume(ctx, true); err != nil || n != 1 {
		t.Fatalf("Resume at start: %d, %v; want the one run resumed", n, err)
	}
	waitFor(t, "the resumed run to finish", func() bool {
		v, err := e.svc.Run(ctx, e.org, run.ID)
		return err == nil && v.Status == store.RunSucceeded && v.Attempts == 2
	})
}
