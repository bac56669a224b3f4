package syncer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

// The protocol conformance suite: each fixture in testdata/conformance is what a source
// prints over one or more syncs, written from the Airbyte protocol specification, with
// what lakeport must make of it: the table contents after each sync, the state the
// source is handed on the next read (checked by the source itself, as want_state), the
// error a sync must fail with, the config a CONTROL message leaves. Every fixture runs
// against the exec runner (a real program printing the lines) and the in-process runner.

type fixture struct {
	About   string          `json:"about"`
	Streams []fixtureStream `json:"streams"`
	Syncs   []fixtureSync   `json:"syncs"`
	// ExecOnly: lines the in-process runner cannot carry (not JSON at all).
	ExecOnly bool `json:"exec_only"`
}

type fixtureStream struct {
	Name       string          `json:"name"`
	Namespace  string          `json:"namespace"`
	JSONSchema json.RawMessage `json:"json_schema"`
	Sync       string          `json:"sync"` // "incremental:append" and the like
	PrimaryKey []string        `json:"primary_key"`
}

type fixtureSync struct {
	// StateIn is the state the source must be handed (null: none).
	StateIn  json.RawMessage `json:"state_in"`
	Lines    []string        `json:"lines"`
	ExitCode int             `json:"exit_code"`
	// Error, when set, is a text the sync's error must contain; otherwise it succeeds.
	Error string `json:"error"`
	// Tables are the tables' contents after the sync (rows in any order).
	Tables map[string]fixtureTable `json:"tables"`
	// Status is each stream's status the run reports.
	Status map[string]string `json:"status"`
	// ConfigAfter is the config the connector keeps after the sync (CONTROL).
	ConfigAfter json.RawMessage `json:"config_after"`
}

type fixtureTable struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

func loadFixtures(t *testing.T) map[string]fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "conformance", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no conformance fixtures: %v", err)
	}
	out := map[string]fixture{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = f
	}
	return out
}

func (f fixture) catalog(t *testing.T) *protocol.ConfiguredCatalog {
	cat := &protocol.ConfiguredCatalog{}
	for _, s := range f.Streams {
		sync, dest, _ := strings.Cut(s.Sync, ":")
		cs := protocol.ConfiguredStream{
			Stream: protocol.Stream{Name: s.Name, Namespace: s.Namespace, JSONSchema: s.JSONSchema,
				SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}},
			SyncMode: protocol.SyncMode(sync), DestinationSyncMode: protocol.DestinationSyncMode(dest)}
		for _, k := range s.PrimaryKey {
			cs.PrimaryKey = append(cs.PrimaryKey, []string{k})
		}
		cat.Streams = append(cat.Streams, cs)
	}
	return cat
}

// replayConfig is the test source's config for one sync of a fixture.
func replayConfig(s fixtureSync) json.RawMessage {
	want := s.StateIn
	if len(want) == 0 {
		want = json.RawMessage("null")
	}
	raw, _ := json.Marshal(map[string]any{"api_key": "k", "lines": s.Lines, "want_state": want, "exit_code": s.ExitCode})
	return raw
}

// replay is the in-process runner's copy of the test source's replay mode: each line is
// parsed as the exec runner parses a program's output, then handed over as a message.
type replay struct{}

func (replay) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}
func (replay) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}
func (replay) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return &protocol.Catalog{}, nil
}
func (replay) Run(ctx context.Context, config json.RawMessage, _ *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	var cfg struct {
		Lines     []string        `json:"lines"`
		WantState json.RawMessage `json:"want_state"`
		ExitCode  int             `json:"exit_code"`
	}
	if err := json.Unmarshal(config, &cfg); err != nil {
		return err
	}
	if len(state) == 0 {
		state = json.RawMessage("null")
	}
	if canonicalJSON(cfg.WantState) != canonicalJSON(state) {
		return fmt.Errorf("replay: handed state %s, want %s", state, cfg.WantState)
	}
	r := protocol.NewReader(strings.NewReader(strings.Join(cfg.Lines, "\n")))
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := emit(m); err != nil {
			return err
		}
	}
	if cfg.ExitCode != 0 {
		return fmt.Errorf("replay: exit status %d", cfg.ExitCode)
	}
	return nil
}

func canonicalJSON(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestProtocolConformance(t *testing.T) {
	fixtures := loadFixtures(t)
	names := make([]string, 0, len(fixtures))
	for n := range fixtures {
		names = append(names, n)
	}
	sort.Strings(names)
	runners := map[string]func(t *testing.T) source.Source{
		"exec": func(t *testing.T) source.Source {
			src, err := source.Open("exec:" + testSource(t))
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		"inprocess": func(*testing.T) source.Source { return source.FromInProcess("replay", replay{}) },
	}
	for _, name := range names {
		f := fixtures[name]
		for _, runner := range []string{"exec", "inprocess"} {
			t.Run(name+"/"+runner, func(t *testing.T) {
				if runner == "inprocess" && f.ExecOnly {
					t.Log("lines only a program can print (not JSON); exec runner only")
					return
				}
				runFixture(t, f, runners[runner](t))
			})
		}
	}
}

func runFixture(t *testing.T, f fixture, src source.Source) {
	dir := t.TempDir()
	l := openLake(t, dir)
	cat := f.catalog(t)
	var kept json.RawMessage
	for i, s := range f.Syncs {
		job := syncer.Job{Source: src, Config: replayConfig(s), Catalog: cat, Lake: l, Namespace: "conf",
			Location: "file://" + filepath.Join(dir, "warehouse", "conf"), SyncID: fmt.Sprintf("sync-%d", i),
			UpdateConfig: func(_ context.Context, c json.RawMessage) error {
				kept = append(json.RawMessage(nil), c...)
				return nil
			}}
		// A commit at every STATE that covers rows: "what was committed before" is then
		// every STATE before the failure.
		res, err := syncer.Run(context.Background(), job, syncer.Options{BatchRows: 1})
		switch {
		case s.Error == "" && err != nil:
			t.Fatalf("sync %d: %v", i, err)
		case s.Error != "" && err == nil:
			t.Fatalf("sync %d succeeded, want an error mentioning %q", i, s.Error)
		case s.Error != "" && !strings.Contains(err.Error(), s.Error):
			t.Fatalf("sync %d: error %q, want one mentioning %q", i, err, s.Error)
		}
		for table, want := range s.Tables {
			got := tableRows(t, l, "conf", table, want.Columns)
			var wantRows []string
			for _, r := range want.Rows {
				cells := make([]string, len(r))
				for j, v := range r {
					cells[j] = cell(v)
				}
				wantRows = append(wantRows, strings.Join(cells, " | "))
			}
			sort.Strings(wantRows)
			if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
				t.Fatalf("sync %d: table %s holds\n%s\nwant\n%s", i, table, strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
			}
		}
		for stream, want := range s.Status {
			if st := res.Streams[stream]; st == nil || st.Status != want {
				t.Fatalf("sync %d: stream %s status %+v, want %s", i, stream, st, want)
			}
		}
		if len(s.ConfigAfter) > 0 && canonicalJSON(s.ConfigAfter) != canonicalJSON(kept) {
			t.Fatalf("sync %d: the connector keeps config %s, want %s", i, kept, s.ConfigAfter)
		}
	}
}

// cell formats a fixture value as column() formats a table's.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "(null)"
	case string:
		return x
	case float64:
		return fmt.Sprintf("%v", x)
	default:
		raw, _ := json.Marshal(x)
		return string(raw)
	}
}

// tableRows returns the table's rows as sorted "a | b" lines of the given columns.
func tableRows(t *testing.T, l *lake.Lake, ns, table string, cols []string) []string {
	t.Helper()
	var columns [][]string
	for _, c := range cols {
		columns = append(columns, column(t, l, ns, table, c))
	}
	if len(columns) == 0 {
		return nil
	}
	rows := make([]string, len(columns[0]))
	for i := range rows {
		cells := make([]string, len(columns))
		for j := range columns {
			cells[j] = columns[j][i]
		}
		rows[i] = strings.Join(cells, " | ")
	}
	sort.Strings(rows)
	return rows
}
