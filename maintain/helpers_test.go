package maintain_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	_ "modernc.org/sqlite"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

// world is a local lake (SQLite catalog, folder warehouse) and a source that
// feeds it, synced like a connector "shop".
type world struct {
	t    *testing.T
	dir  string
	l    *lake.Lake
	feed *feed
	// streams are the catalog specs synced (syncer.Select)
	streams []string
	syncs   int
}

const ns = "shop"

func newWorld(t *testing.T, streams ...string) *world {
	t.Helper()
	dir := t.TempDir()
	dsn := "file:" + filepath.Join(dir, "meta.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := lake.Open(t.Context(), lake.Config{DB: db, Warehouse: filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if len(streams) == 0 {
		streams = []string{"events:incremental:append", "users:incremental:append_dedup", "plans:full_refresh:overwrite"}
	}
	return &world{t: t, dir: dir, l: l, feed: &feed{n: 40, keys: 300}, streams: streams}
}

// files is the warehouse as a bucket (for orphan removal).
func (w *world) files() lake.Files {
	b, err := objstore.NewFile(filepath.Join(w.dir, "warehouse"))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// sync runs one sync of every stream, like a connector's scheduled run.
func (w *world) sync(ctx context.Context) error {
	w.syncs++
	src := source.FromInProcess("feed", w.feed)
	disc, err := w.feed.Discover(ctx, nil)
	if err != nil {
		return err
	}
	cat, err := syncer.Select(disc, w.streams)
	if err != nil {
		return err
	}
	_, err = syncer.Run(ctx, syncer.Job{Source: src, Config: json.RawMessage(`{}`), Catalog: cat, Lake: w.l, Namespace: ns,
		Location: w.l.Warehouse() + "/" + ns, SyncID: fmt.Sprintf("sync-%d", w.syncs)},
		syncer.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return err
}

func (w *world) syncN(n int) {
	w.t.Helper()
	for range n {
		if err := w.sync(w.t.Context()); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) table(name string) *lake.Table {
	w.t.Helper()
	tbl, err := w.l.LoadTable(w.t.Context(), ns, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return tbl
}

// rows is every row of the table as JSON, sorted: what a query reads.
func rows(t *testing.T, tbl *lake.Table) []string {
	t.Helper()
	at, err := tbl.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	rdr := array.NewTableReader(at, 1024)
	defer rdr.Release()
	var out []string
	for rdr.Next() {
		var buf bytes.Buffer
		if err := array.RecordToJSON(rdr.RecordBatch(), &buf); err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
			if line != "" {
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out
}

// column is one column of every row, as text, sorted.
func column(t *testing.T, tbl *lake.Table, col string) []string {
	t.Helper()
	var out []string
	for _, r := range rows(t, tbl) {
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(m[col]))
	}
	slices.Sort(out)
	return out
}

// dataFiles counts the current snapshot's data files.
func dataFiles(t *testing.T, tbl *lake.Table) int {
	t.Helper()
	if err := tbl.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Iceberg().Scan().PlanFiles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}

// filesOnDisk counts the files under the table's folder (sub is "data" or "metadata").
func filesOnDisk(t *testing.T, tbl *lake.Table, sub string) int {
	t.Helper()
	n := 0
	root := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), sub)
	filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// unreferenced lists the files under the table's folder that its metadata
// does not reach (lake.Table.Referenced): garbage.
func unreferenced(t *testing.T, tbl *lake.Table) []string {
	t.Helper()
	refs, err := tbl.Referenced(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	root := strings.TrimPrefix(tbl.Location(), "file://")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !refs[p] {
			out = append(out, strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	return out
}

// feed is an in-process source of three streams whose records carry on from
// its LEGACY state {"cursor": N}:
//
//	events  ids N+1 … N+n (incremental append); with plan set, a new field
//	        "plan" (schema evolution)
//	users   keys 1 … keys, each updated in turn: id = (N+i) % keys + 1,
//	        seq = N+i (incremental append_dedup by id, cursor seq)
//	plans   five rows naming the sync's cursor (full refresh overwrite)
//
// and a STATE {"cursor": N+n} after them.
type feed struct {
	n, keys int
	// planRows is how many rows plans has (default 5).
	planRows int
	plan     atomic.Bool
	// hold, when set, is called between the records and the STATE.
	hold func()
}

var _ source.InProcess = (*feed)(nil)

func (f *feed) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}

func (f *feed) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

func (f *feed) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	events := `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"}}}`
	if f.plan.Load() {
		events = `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"},"plan":{"type":["null","string"]}}}`
	}
	modes := []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}
	return &protocol.Catalog{Streams: []protocol.Stream{
		{Name: "events", JSONSchema: json.RawMessage(events), SupportedSyncModes: modes, SourceDefinedCursor: true, DefaultCursorField: []string{"id"}},
		{Name: "users", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"},"seq":{"type":"integer"},"name":{"type":"string"}}}`),
			SupportedSyncModes: modes, SourceDefinedCursor: true, DefaultCursorField: []string{"seq"}, SourceDefinedPrimaryKey: [][]string{{"id"}}},
		{Name: "plans", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"},"cursor":{"type":"integer"}}}`), SupportedSyncModes: modes},
	}}, nil
}

func (f *feed) Run(ctx context.Context, _ json.RawMessage, cat *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	var st struct{ Cursor int }
	if len(state) > 0 {
		if err := json.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("feed: state %s: %w", state, err)
		}
	}
	selected := map[string]bool{}
	for _, cs := range cat.Streams {
		selected[cs.Stream.Name] = true
	}
	rec := func(stream, data string) error {
		if !selected[stream] {
			return nil
		}
		return emit(&protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: stream, Data: json.RawMessage(data), EmittedAt: 1}})
	}
	plan := f.plan.Load()
	for i := 1; i <= f.n; i++ {
		c := st.Cursor + i
		ev := fmt.Sprintf(`{"id":%d,"name":"event %d"}`, c, c)
		if plan {
			ev = fmt.Sprintf(`{"id":%d,"name":"event %d","plan":"p%d"}`, c, c, c%3)
		}
		if err := rec("events", ev); err != nil {
			return err
		}
		if err := rec("users", fmt.Sprintf(`{"id":%d,"seq":%d,"name":"user %d v%d"}`, c%f.keys+1, c, c%f.keys+1, c)); err != nil {
			return err
		}
	}
	for i := 1; i <= max(f.planRows, 5); i++ {
		if err := rec("plans", fmt.Sprintf(`{"id":%d,"cursor":%d}`, i, st.Cursor)); err != nil {
			return err
		}
	}
	if f.hold != nil {
		f.hold()
	}
	return emit(&protocol.Message{Type: protocol.TypeState, State: &protocol.StateMessage{Type: protocol.StateLegacy,
		Data: json.RawMessage(fmt.Sprintf(`{"cursor":%d}`, st.Cursor+f.n))}})
}

// cursor is the cursor of the state the table holds (0 for none).
func cursor(t *testing.T, tbl *lake.Table) int {
	t.Helper()
	raw, _, ok, err := tbl.LastState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	var env struct {
		Message struct{ Data struct{ Cursor int } }
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("state %s: %v", raw, err)
	}
	return env.Message.Data.Cursor
}

// checkFeed asserts what the tables must hold after the feed's syncs up to
// cursor: every event id 1…cursor once, one user row per key holding its
// latest seq, and the plans of the last sync only.
func checkFeed(t *testing.T, w *world, upTo int) {
	t.Helper()
	events := column(t, w.table("events"), "id")
	if len(events) != upTo {
		t.Errorf("events: %d rows, want %d (ids 1…%d once each)", len(events), upTo, upTo)
	}
	seen := map[string]int{}
	for _, id := range events {
		seen[id]++
	}
	for i := 1; i <= upTo; i++ {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("event %d is there %d times", i, n)
			break
		}
	}
	if slices.Contains(w.streams, "users:incremental:append_dedup") {
		users := rows(t, w.table("users"))
		latest := map[int]int{}
		for c := 1; c <= upTo; c++ {
			latest[c%w.feed.keys+1] = c
		}
		if len(users) != len(latest) {
			t.Errorf("users: %d rows, want one per key (%d)", len(users), len(latest))
		}
		for _, r := range users {
			var u struct{ ID, Seq int }
			json.Unmarshal([]byte(r), &u)
			if latest[u.ID] != u.Seq {
				t.Errorf("user %d has seq %d, want its latest %d", u.ID, u.Seq, latest[u.ID])
			}
		}
	}
	if slices.Contains(w.streams, "plans:full_refresh:overwrite") {
		got := column(t, w.table("plans"), "cursor")
		want := slices.Repeat([]string{fmt.Sprint(upTo - w.feed.n)}, max(w.feed.planRows, 5))
		if !slices.Equal(got, want) {
			t.Errorf("plans: cursors %v, want the last sync's five rows %v", got, want)
		}
	}
}
