package syncer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/syncer"
)

func openLake(t testing.TB, dir string) *lake.Lake {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := lake.Open(ctx, lake.Config{DB: st.DB(), CatalogName: "org_test", Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// oracle reads the source directly, as the syncer would, and returns every record per
// stream and the last STATE per stream.
func oracle(t testing.TB, src source.Source, cfg json.RawMessage, cat *protocol.ConfiguredCatalog, state json.RawMessage) (map[string][]map[string]any, json.RawMessage) {
	t.Helper()
	msgs, err := src.Read(context.Background(), cfg, cat, state)
	if err != nil {
		t.Fatal(err)
	}
	defer msgs.Close()
	recs := map[string][]map[string]any{}
	last := map[string]json.RawMessage{}
	for {
		m, err := msgs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case protocol.TypeRecord:
			var v map[string]any
			if err := json.Unmarshal(m.Record.Data, &v); err != nil {
				t.Fatal(err)
			}
			recs[m.Record.Stream] = append(recs[m.Record.Stream], v)
		case protocol.TypeState:
			raw, _ := json.Marshal(m.State)
			last[m.State.Stream.StreamDescriptor.Name] = raw
		}
	}
	var parts []json.RawMessage
	for _, name := range []string{"customers", "invoices", "events"} {
		if raw, ok := last[name]; ok {
			parts = append(parts, raw)
		}
	}
	all, _ := json.Marshal(parts)
	return recs, all
}

// column returns a column of the table's current rows as strings (JSON of each value).
func column(t testing.TB, l *lake.Lake, ns, table, col string) []string {
	t.Helper()
	tbl, err := l.LoadTable(context.Background(), ns, table)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	idx := at.Schema().FieldIndices(col)
	if len(idx) == 0 {
		t.Fatalf("table %s.%s has no column %s (schema %s)", ns, table, col, at.Schema())
	}
	var out []string
	for _, chunk := range at.Column(idx[0]).Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			switch c := chunk.(type) {
			case *array.Timestamp:
				unit := c.DataType().(*arrow.TimestampType).Unit
				out = append(out, c.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano))
			default:
				out = append(out, chunk.ValueStr(i))
			}
		}
	}
	return out
}

func ids(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		raw, _ := json.Marshal(r["id"])
		out = append(out, string(raw))
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string { sort.Strings(s); return s }

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// latest returns id → cursor of the newest record per id.
func latest(recs []map[string]any, cursor string) map[string]string {
	out := map[string]string{}
	best := map[string]time.Time{}
	for _, r := range recs {
		raw, _ := json.Marshal(r["id"])
		ts, _ := time.Parse(time.RFC3339Nano, r[cursor].(string))
		if cur, ok := best[string(raw)]; !ok || !ts.Before(cur) {
			best[string(raw)] = ts
			out[string(raw)] = ts.UTC().Format(time.RFC3339Nano)
		}
	}
	return out
}

func TestSampleSyncIncrementalExactlyOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLake(t, dir)
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	cfg := json.RawMessage(`{"seed": 7, "customers": 50, "invoices": 120, "events": 700, "state_every": 40}`)
	disc, err := src.Discover(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat := syncer.DefaultCatalog(disc)
	job := syncer.Job{Source: src, Config: cfg, Catalog: cat, Lake: l, Namespace: "crm", Location: "file://" + filepath.Join(dir, "warehouse", "crm")}
	opts := syncer.Options{BatchRows: 100} // many commits per sync

	first, state1 := oracle(t, src, cfg, cat, nil)
	second, _ := oracle(t, src, cfg, cat, state1)

	job.SyncID = "run-1"
	res, err := syncer.Run(ctx, job, opts)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if res.Streams["events"].Records != 700 || res.Streams["customers"].Commits < 1 {
		t.Fatalf("first sync figures: %+v", res.Streams)
	}
	job.SyncID = "run-2"
	if _, err := syncer.Run(ctx, job, opts); err != nil {
		t.Fatalf("second sync: %v", err)
	}

	// events: append only, every record of both syncs exactly once.
	wantEvents := ids(append(append([]map[string]any{}, first["events"]...), second["events"]...))
	if got := sorted(column(t, l, "crm", "events", "id")); !equal(got, wantEvents) {
		t.Fatalf("events: %d rows, want %d (the two syncs' records exactly once)", len(got), len(wantEvents))
	}
	// customers and invoices: deduplicated, one row per id, with the latest cursor.
	for _, s := range []string{"customers", "invoices"} {
		all := append(append([]map[string]any{}, first[s]...), second[s]...)
		want := latest(all, "updated_at")
		gotIDs := column(t, l, "crm", s, "id")
		gotCur := column(t, l, "crm", s, "updated_at")
		if len(gotIDs) != len(want) {
			t.Fatalf("%s: %d rows, want %d (one per id)", s, len(gotIDs), len(want))
		}
		for i, id := range gotIDs {
			if want[id] != gotCur[i] {
				t.Fatalf("%s id %s: updated_at %s, want the latest %s", s, id, gotCur[i], want[id])
			}
		}
		if len(second[s]) == 0 {
			t.Fatalf("the second sync read no %s: the incremental state was not resumed from", s)
		}
	}
	if len(second["customers"]) >= len(first["customers"]) {
		t.Fatalf("second sync re-read everything (%d customers)", len(second["customers"]))
	}
}
