package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store"
)

// evolvingSource offers one stream, users, whose schema the test widens between syncs:
// as a SaaS API adds a field. Each read emits the records after the last state.
type evolvingSource struct {
	mu      sync.Mutex
	columns []string // besides id
}

func (e *evolvingSource) schema() json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	props := []string{`"id":{"type":"integer"}`}
	for _, c := range e.columns {
		props = append(props, fmt.Sprintf(`%q:{"type":["null","string"]}`, c))
	}
	return json.RawMessage(`{"type":"object","properties":{` + strings.Join(props, ",") + `}}`)
}

func (e *evolvingSource) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}

func (e *evolvingSource) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

func (e *evolvingSource) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return &protocol.Catalog{Streams: []protocol.Stream{{Name: "users", JSONSchema: e.schema(),
		SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}}}}, nil
}

func (e *evolvingSource) Run(ctx context.Context, _ json.RawMessage, _ *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	var after struct {
		Last int `json:"last"`
	}
	if len(state) > 0 {
		var states []protocol.StateMessage
		if err := json.Unmarshal(state, &states); err == nil && len(states) > 0 && states[0].Stream != nil {
			_ = json.Unmarshal(states[0].Stream.StreamState, &after)
		}
	}
	e.mu.Lock()
	cols := append([]string(nil), e.columns...)
	e.mu.Unlock()
	for id := after.Last + 1; id <= after.Last+3; id++ {
		rec := map[string]any{"id": id}
		for _, c := range cols {
			rec[c] = fmt.Sprintf("%s-%d", c, id)
		}
		data, _ := json.Marshal(rec)
		if err := emit(&protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: "users", Data: data}}); err != nil {
			return err
		}
	}
	return emit(protocol.NewStreamStateMessage(protocol.StreamDescriptor{Name: "users"}, json.RawMessage(fmt.Sprintf(`{"last":%d}`, after.Last+3)), 3))
}

// A column the source adds reaches the table after `connector setup` re-reads the
// schemas, and the next run reports it (issue 14.2: the change was never reported, and
// a connector kept the schemas of its create forever).
func TestSetupRefreshesSchemasAndTheRunReportsTheChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := &evolvingSource{}
	reg := source.NewRegistry()
	reg.Register("evolving", func() source.Source { return source.FromInProcess("evolving", src) })
	e.svc.Sources = reg
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "evolving", Config: []byte(`{}`),
		Streams: []string{"users:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("first sync: %+v", r)
	} else if c := changesOf(t, r, "users"); len(c) != 0 {
		t.Fatalf("a new table reports schema changes %q", c)
	}

	src.mu.Lock()
	src.columns = []string{"plan"}
	src.mu.Unlock()
	if _, err := e.svc.Setup(ctx, e.org, "crm"); err != nil {
		t.Fatal(err)
	}
	r := e.sync("crm")
	if r.Status != store.RunSucceeded {
		t.Fatalf("sync after setup: %+v", r)
	}
	if c := strings.Join(changesOf(t, r, "users"), "\n"); !strings.Contains(c, `column "plan" added`) {
		t.Errorf("the run's schema changes = %q, want column \"plan\" added", c)
	}
	// The run as the API returns it, later, says the same.
	again, err := e.svc.Run(ctx, e.org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Join(changesOf(t, again, "users"), "\n"); !strings.Contains(c, `column "plan" added`) {
		t.Errorf("the stored run's schema changes = %q", c)
	}
	if ids := e.idsIn(e.org, "crm", "users"); len(ids) != 6 {
		t.Errorf("users has %d rows after two syncs of 3, want 6", len(ids))
	}
	l, err := e.svc.Lake(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tbl, err := l.LoadTable(ctx, "crm", "users")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tbl.Schema().FindFieldByName("plan"); !ok {
		t.Errorf("the table has no column plan after the sync: %s", tbl.Schema())
	}

	// A sync with nothing new reports nothing.
	if c := changesOf(t, e.sync("crm"), "users"); len(c) != 0 {
		t.Errorf("an unchanged schema reports %q", c)
	}
}

func changesOf(t *testing.T, r connector.RunView, stream string) []string {
	t.Helper()
	var streams map[string]struct {
		Changes []string `json:"changes"`
	}
	if err := json.Unmarshal(r.Streams, &streams); err != nil {
		t.Fatalf("run %s streams %s: %v", r.ID, r.Streams, err)
	}
	s, ok := streams[stream]
	if !ok {
		t.Fatalf("run %s has no stream %s: %s", r.ID, stream, r.Streams)
	}
	return s.Changes
}
