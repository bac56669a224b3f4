package sample_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
)

func open(t testing.TB) source.Source {
	t.Helper()
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func configured(t testing.TB, src source.Source, config string, mode protocol.SyncMode, names ...string) *protocol.ConfiguredCatalog {
	t.Helper()
	cat, err := src.Discover(context.Background(), json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	cc := &protocol.ConfiguredCatalog{}
	for _, n := range names {
		s := cat.Find(n, "")
		if s == nil {
			t.Fatalf("no stream %s", n)
		}
		cc.Streams = append(cc.Streams, protocol.ConfiguredStream{Stream: *s, SyncMode: mode, CursorField: s.DefaultCursorField,
			DestinationSyncMode: protocol.AppendDedup, PrimaryKey: s.SourceDefinedPrimaryKey})
	}
	return cc
}

type run struct {
	msgs    []*protocol.Message
	records []*protocol.RecordMessage
	states  []*protocol.Message
	wire    []byte // everything, as JSON lines
}

// lastState returns the state to pass to the next read: the last state
// message of each stream, as a JSON array.
func (r run) lastState(t testing.TB) json.RawMessage {
	last := map[string]*protocol.StateMessage{}
	var order []string
	for _, m := range r.states {
		n := m.State.Stream.StreamDescriptor.Name
		if last[n] == nil {
			order = append(order, n)
		}
		last[n] = m.State
	}
	var arr []*protocol.StateMessage
	for _, n := range order {
		arr = append(arr, last[n])
	}
	b, err := json.Marshal(arr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t testing.TB, src source.Source, config string, cat *protocol.ConfiguredCatalog, state json.RawMessage) run {
	t.Helper()
	st, err := src.Read(context.Background(), json.RawMessage(config), cat, state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var r run
	var buf bytes.Buffer
	w := protocol.NewWriter(&buf)
	for {
		m, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
		r.msgs = append(r.msgs, m)
		switch m.Type {
		case protocol.TypeRecord:
			r.records = append(r.records, m.Record)
		case protocol.TypeState:
			r.states = append(r.states, m)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r.wire = buf.Bytes()
	return r
}

type row struct {
	ID        int64  `json:"id"`
	UpdatedAt string `json:"updated_at"`
	CreatedAt string `json:"created_at"`
	Plan      string `json:"plan"`
	Seats     int64  `json:"seats"`
	Email     string `json:"email"`
	Status    string `json:"status"`
}

func decode(t testing.TB, r *protocol.RecordMessage) row {
	t.Helper()
	var x row
	if err := json.Unmarshal(r.Data, &x); err != nil {
		t.Fatalf("record %s: %v", r.Data, err)
	}
	return x
}

const cfg = `{"seed":7,"customers":100,"invoices":300,"events":1000,"state_every":40}`

func TestDeterministic(t *testing.T) {
	src := open(t)
	cat := configured(t, src, cfg, protocol.Incremental, "customers", "invoices", "events")
	a := read(t, src, cfg, cat, nil)
	b := read(t, src, cfg, cat, nil)
	if !bytes.Equal(a.wire, b.wire) {
		t.Fatal("two reads with the same seed differ")
	}
	a2 := read(t, src, cfg, cat, a.lastState(t))
	b2 := read(t, src, cfg, cat, a.lastState(t))
	if !bytes.Equal(a2.wire, b2.wire) {
		t.Fatal("two reads with the same seed and state differ")
	}
	other := read(t, src, strings.Replace(cfg, `"seed":7`, `"seed":8`, 1), cat, nil)
	if bytes.Equal(a.wire, other.wire) {
		t.Fatal("another seed gives the same data")
	}
	if len(a.records) != 1400 {
		t.Errorf("first read: %d records, want 100+300+1000", len(a.records))
	}
}

func TestRecordsMatchTheirSchemas(t *testing.T) {
	src := open(t)
	cat := configured(t, src, cfg, protocol.Incremental, "customers", "invoices", "events")
	schemas := map[string]*jsonschema.Schema{}
	for _, s := range cat.Streams {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.Stream.JSONSchema))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(s.Stream.Name+".json", doc); err != nil {
			t.Fatal(err)
		}
		if schemas[s.Stream.Name], err = c.Compile(s.Stream.Name + ".json"); err != nil {
			t.Fatal(err)
		}
	}
	first := read(t, src, cfg, cat, nil)
	second := read(t, src, cfg, cat, first.lastState(t))
	for _, r := range append(first.records, second.records...) {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatalf("%s: %v", r.Data, err)
		}
		if err := schemas[r.Stream].Validate(inst); err != nil {
			t.Fatalf("%s record %s does not match its schema: %v", r.Stream, r.Data, err)
		}
	}
	// What it writes reads back with the protocol reader.
	rd := protocol.NewReader(bytes.NewReader(first.wire))
	n := 0
	for {
		m, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeRecord {
			n++
		}
	}
	if n != len(first.records) {
		t.Errorf("read back %d records, want %d", n, len(first.records))
	}
}

func TestIncremental(t *testing.T) {
	src := open(t)
	cat := configured(t, src, cfg, protocol.Incremental, "customers", "events")
	first := read(t, src, cfg, cat, nil)
	second := read(t, src, cfg, cat, first.lastState(t))

	seen := map[int64]row{}
	var lastCursor string
	for _, r := range first.records {
		if r.Stream != "customers" {
			continue
		}
		x := decode(t, r)
		if x.UpdatedAt <= lastCursor {
			t.Fatalf("updated_at not increasing: %s after %s", x.UpdatedAt, lastCursor)
		}
		lastCursor = x.UpdatedAt
		seen[x.ID] = x
	}
	if len(seen) != 100 {
		t.Fatalf("first read: %d customers", len(seen))
	}
	updated, added, changed := 0, 0, 0
	for _, r := range second.records {
		if r.Stream != "customers" {
			continue
		}
		x := decode(t, r)
		if x.UpdatedAt <= lastCursor {
			t.Fatalf("second read emitted %s, not after the cursor %s", x.UpdatedAt, lastCursor)
		}
		lastCursor = x.UpdatedAt
		old, ok := seen[x.ID]
		if !ok {
			added++
			if x.ID <= 100 {
				t.Errorf("new customer with an old id %d", x.ID)
			}
			continue
		}
		updated++
		if x.CreatedAt != old.CreatedAt {
			t.Errorf("customer %d: created_at changed %s → %s", x.ID, old.CreatedAt, x.CreatedAt)
		}
		if x.Plan != old.Plan || x.Seats != old.Seats || x.Email != old.Email {
			changed++
		}
	}
	if updated != 10 || added != 5 {
		t.Errorf("second read: %d updated, %d new customers; want 10 and 5", updated, added)
	}
	if changed < updated/2 {
		t.Errorf("only %d of %d updated customers changed fields", changed, updated)
	}
	// Events are append only: the next thousand.
	var ids []int64
	for _, r := range second.records {
		if r.Stream == "events" {
			ids = append(ids, decode(t, r).ID)
		}
	}
	if len(ids) != 1000 || ids[0] != 1001 || ids[999] != 2000 {
		t.Errorf("second read events: %d, from %v", len(ids), ids[:1])
	}
	// States: every state_every records and at the end, with the record count.
	perStream := map[string]float64{}
	for _, m := range first.states {
		perStream[m.State.Stream.StreamDescriptor.Name] += m.State.SourceStats.RecordCount
	}
	if perStream["customers"] != 100 || perStream["events"] != 1000 {
		t.Errorf("state record counts = %v", perStream)
	}
	if n := len(first.states); n != 3+25 { // customers 40,80,100; events every 40
		t.Errorf("first read: %d states", n)
	}
}

// A read resumed from any checkpoint loses nothing and repeats nothing.
func TestResumeFromCheckpoint(t *testing.T) {
	src := open(t)
	cat := configured(t, src, cfg, protocol.Incremental, "invoices")
	first := read(t, src, cfg, cat, nil)
	second := read(t, src, cfg, cat, first.lastState(t))
	// Stop the second read right after its first checkpoint.
	var cut int
	var checkpoint *protocol.Message
	for i, m := range second.msgs {
		if m.Type == protocol.TypeState {
			checkpoint = m
			break
		}
		if m.Type == protocol.TypeRecord {
			cut++
		}
		_ = i
	}
	if checkpoint == nil || cut == 0 || cut == len(second.records) {
		t.Fatalf("no mid-read checkpoint (cut %d of %d)", cut, len(second.records))
	}
	state, _ := json.Marshal([]*protocol.StateMessage{checkpoint.State})
	resumed := read(t, src, cfg, cat, state)
	rest := second.records[cut:]
	if len(resumed.records) < len(rest) {
		t.Fatalf("resumed read has %d records, fewer than the %d left", len(resumed.records), len(rest))
	}
	for i, r := range rest {
		if !bytes.Equal(resumed.records[i].Data, r.Data) {
			t.Fatalf("resumed record %d = %s, want %s", i, resumed.records[i].Data, r.Data)
		}
	}
	type key struct {
		id int64
		at string
	}
	seen := map[key]bool{}
	for _, r := range append(append(append([]*protocol.RecordMessage(nil), first.records...), second.records[:cut]...), resumed.records...) {
		x := decode(t, r)
		k := key{x.ID, x.UpdatedAt}
		if seen[k] {
			t.Fatalf("record %v emitted twice", k)
		}
		seen[k] = true
	}
}

func TestFullRefreshIgnoresState(t *testing.T) {
	src := open(t)
	inc := configured(t, src, cfg, protocol.Incremental, "customers", "invoices")
	state := read(t, src, cfg, inc, nil).lastState(t)
	full := configured(t, src, cfg, protocol.FullRefresh, "customers", "invoices")
	a := read(t, src, cfg, full, nil)
	b := read(t, src, cfg, full, state)
	if !bytes.Equal(a.wire, b.wire) {
		t.Error("full refresh changed with state")
	}
	if len(a.states) != 0 || len(a.records) != 400 {
		t.Errorf("full refresh: %d records, %d states", len(a.records), len(a.states))
	}
}

func TestConfig(t *testing.T) {
	src := open(t)
	ctx := context.Background()
	spec, err := src.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{`{}`, cfg, `{"seed":-5,"events":0}`} {
		if err := source.ValidateConfig(spec, json.RawMessage(ok)); err != nil {
			t.Errorf("ValidateConfig(%s) = %v", ok, err)
		}
		if st, err := src.Check(ctx, json.RawMessage(ok)); err != nil || st.Status != protocol.StatusSucceeded {
			t.Errorf("Check(%s) = %+v %v", ok, st, err)
		}
	}
	for bad, field := range map[string]string{`{"customers":-1}`: "customers", `{"state_every":0}`: "state_every", `{"bogus":1}`: "bogus", `{"seed":"x"}`: "seed"} {
		err := source.ValidateConfig(spec, json.RawMessage(bad))
		if !errors.Is(err, source.ErrInvalidConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("ValidateConfig(%s) = %v, want an error naming %s", bad, err, field)
		}
		if st, err := src.Check(ctx, json.RawMessage(bad)); err != nil || st.Status != protocol.StatusFailed {
			t.Errorf("Check(%s) = %+v %v", bad, st, err)
		}
	}
}

func TestUnknownStream(t *testing.T) {
	src := open(t)
	cat := configured(t, src, cfg, protocol.FullRefresh, "customers")
	cat.Streams[0].Stream.Name = "orders"
	st, err := src.Read(context.Background(), json.RawMessage(cfg), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = st.Next()
	for err == nil {
		_, err = st.Next()
	}
	if err == io.EOF || !strings.Contains(err.Error(), `"orders"`) {
		t.Errorf("err = %v, want one naming the stream", err)
	}
}

func TestCloseEarlyAndCancel(t *testing.T) {
	src := open(t)
	big := `{"events":1000000}`
	cat := configured(t, src, big, protocol.Incremental, "events")
	st, err := src.Read(context.Background(), json.RawMessage(big), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := st.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close early = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err = src.Read(ctx, json.RawMessage(big), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for err == nil {
		_, err = st.Next()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel = %v", err)
	}
	st.Close()
}
