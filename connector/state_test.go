package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store"
)

// legacySource is a source of the older kind: its STATE messages have no type (LEGACY,
// an opaque blob), and it rotates its refresh token with a CONTROL message on every
// read, refusing a token it did not hand out last.
type legacySource struct{}

func (legacySource) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object","properties":{"refresh_token":{"type":"string","airbyte_secret":true}}}`)}, nil
}
func (legacySource) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}
func (legacySource) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return &protocol.Catalog{Streams: []protocol.Stream{{Name: "tickets", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`),
		SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}, SourceDefinedCursor: true, SourceDefinedPrimaryKey: [][]string{{"id"}}}}}, nil
}
func (legacySource) Run(ctx context.Context, config json.RawMessage, _ *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	var cfg struct {
		RefreshToken string `json:"refresh_token"`
	}
	var st struct {
		Cursor int `json:"cursor"`
	}
	if err := json.Unmarshal(config, &cfg); err != nil {
		return err
	}
	if len(state) > 0 {
		if err := json.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("legacy source: state %s is not my blob: %w", state, err)
		}
	}
	if want := fmt.Sprintf("rt-%d", st.Cursor); cfg.RefreshToken != want {
		return emit(&protocol.Message{Type: protocol.TypeTrace, Trace: &protocol.TraceMessage{Type: protocol.TraceError,
			Error: &protocol.ErrorTrace{Message: "refresh token " + cfg.RefreshToken + " was revoked, want " + want, FailureType: protocol.FailureConfig}}})
	}
	next := st.Cursor + 3
	if err := emit(&protocol.Message{Type: protocol.TypeControl, Control: &protocol.ControlMessage{Type: protocol.ControlConnectorConfig,
		ConnectorConfig: &protocol.ConnectorConfigUpdate{Config: json.RawMessage(fmt.Sprintf(`{"refresh_token":"rt-%d"}`, next))}}}); err != nil {
		return err
	}
	for id := st.Cursor + 1; id <= next; id++ {
		if err := emit(&protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: "tickets", Data: json.RawMessage(fmt.Sprintf(`{"id":%d}`, id))}}); err != nil {
			return err
		}
	}
	return emit(&protocol.Message{Type: protocol.TypeState, State: &protocol.StateMessage{Data: json.RawMessage(fmt.Sprintf(`{"cursor":%d}`, next))}})
}

// A source that sends LEGACY state (no type) syncs, and its next sync resumes from that
// state; a config it sends with CONTROL replaces the stored one, sealed.
func TestLegacyStateAndRotatedConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := source.NewRegistry()
	reg.Register("legacy", func() source.Source { return source.FromInProcess("legacy", legacySource{}) })
	e.svc.Sources = reg
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "desk", Source: "legacy", Config: []byte(`{"refresh_token":"rt-0"}`),
		Streams: []string{"tickets:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		run := e.sync("desk")
		if run.Status != store.RunSucceeded {
			t.Fatalf("sync %d: %s: %s", i, run.Status, run.Error)
		}
		ids := e.ids("desk", "tickets")
		if len(ids) != 3*i {
			t.Fatalf("after sync %d the table holds %d tickets, want %d (each once: the sync resumed from the LEGACY state)", i, len(ids), 3*i)
		}
	}
	c, err := e.st.Connector(ctx, e.org.ID, "desk")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.ConfigSealed, "rt-9") {
		t.Fatal("the rotated config is stored in the clear")
	}
	got, err := e.box.Open(c.ConfigSealed, c.OrgID+"/connector/"+c.ID+"/config")
	if err != nil || !strings.Contains(got, `"rt-9"`) {
		t.Fatalf("stored config %q (%v), want the token the source sent last, rt-9", got, err)
	}
}
