package lake_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "modernc.org/sqlite"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/schema"
)

const usersSchema = `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}}`

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "meta.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openLake(t *testing.T, db *sql.DB, warehouse string, props iceberg.Properties) *lake.Lake {
	t.Helper()
	l, err := lake.Open(t.Context(), lake.Config{DB: db, Warehouse: warehouse, Props: props})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func localLake(t *testing.T) *lake.Lake {
	return openLake(t, openDB(t), "file://"+t.TempDir(), nil)
}

func ensureTable(t *testing.T, l *lake.Lake, ns, name, jsonSchema string) *lake.Table {
	t.Helper()
	if err := l.EnsureNamespace(t.Context(), ns, ""); err != nil {
		t.Fatal(err)
	}
	sc, err := schema.FromJSONSchema([]byte(jsonSchema))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := l.EnsureTable(t.Context(), ns, name, sc, "")
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// batch converts JSON records with the table's current schema.
func batch(t *testing.T, tbl *lake.Table, records ...string) arrow.RecordBatch {
	t.Helper()
	sc, err := tbl.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	b, err := schema.NewBatchBuilder(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for _, r := range records {
		if err := b.Append([]byte(r), time.Now(), 1); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	t.Cleanup(rec.Release)
	return rec
}

// rows reads the table as sorted "col=value,..." strings of the given columns.
func rows(t *testing.T, tbl *lake.Table, cols ...string) []string {
	t.Helper()
	at, err := tbl.Scan(t.Context(), table.WithSelectedFields(cols...))
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	return tableRows(t, at, cols)
}

func tableRows(t *testing.T, at arrow.Table, cols []string) []string {
	t.Helper()
	rdr := array.NewTableReader(at, 1024)
	defer rdr.Release()
	var out []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			var parts []string
			for _, c := range cols {
				idx := rec.Schema().FieldIndices(c)
				if len(idx) == 0 {
					t.Fatalf("no column %q in %s", c, rec.Schema())
				}
				col := rec.Column(idx[0])
				v := "null"
				if !col.IsNull(r) {
					v = col.ValueStr(r)
				}
				parts = append(parts, c+"="+v)
			}
			out = append(out, strings.Join(parts, ","))
		}
	}
	slices.Sort(out)
	return out
}

func TestCommitAndStateRoundTrip(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	tbl := ensureTable(t, l, "conn1", "users", usersSchema)

	if _, _, ok, err := tbl.LastState(ctx); err != nil || ok {
		t.Fatalf("new table has state: %v %v", ok, err)
	}
	err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`)},
		lake.Commit{State: json.RawMessage(`{"cursor":"2"}`), SyncID: "sync-1", GenerationID: 1, RecordCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":3}`)},
		lake.Commit{State: json.RawMessage(`{"cursor":"3"}`), SyncID: "sync-1", GenerationID: 1, RecordCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A commit without state (like a maintenance snapshot) does not hide
	// the last state.
	if err := tbl.Commit(ctx, nil, lake.Commit{SyncID: "other"}); err != nil {
		t.Fatal(err)
	}

	// A fresh handle on the same catalog sees it all.
	again, err := l.LoadTable(ctx, "conn1", "users")
	if err != nil {
		t.Fatal(err)
	}
	state, syncID, ok, err := again.LastState(ctx)
	if err != nil || !ok || string(state) != `{"cursor":"3"}` || syncID != "sync-1" {
		t.Fatalf("LastState = %s %q %v %v", state, syncID, ok, err)
	}
	got := rows(t, again, "id", "name")
	want := []string{"id=1,name=a", "id=2,name=b", "id=3,name=null"}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	snap := again.Iceberg().CurrentSnapshot()
	if snap.Summary.Properties[lake.PropCommitID] == "" {
		t.Errorf("no commit id in summary %v", snap.Summary.Properties)
	}
	if !strings.HasSuffix(again.Location(), "/conn1/users") {
		t.Errorf("location %s", again.Location())
	}
	// EnsureTable on an existing table with the same schema changes nothing.
	sc, _ := schema.FromJSONSchema([]byte(usersSchema))
	same, err := l.EnsureTable(ctx, "conn1", "users", sc, "")
	if err != nil || same.Schema().ID != again.Schema().ID {
		t.Fatalf("EnsureTable again: %v", err)
	}
}

func TestCommitIDMakesCommitsIdempotent(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	tbl := ensureTable(t, l, "ns", "t", usersSchema)
	b := batch(t, tbl, `{"id":1}`)
	c := lake.Commit{CommitID: "sync-9/checkpoint-1", State: json.RawMessage(`{}`)}
	for range 2 {
		if err := tbl.Commit(ctx, []arrow.RecordBatch{b}, c); err != nil {
			t.Fatal(err)
		}
	}
	if got := rows(t, tbl, "id"); len(got) != 1 {
		t.Errorf("rows = %q, want one", got)
	}
	if ok, err := tbl.Landed(ctx, c.CommitID); !ok || err != nil {
		t.Errorf("Landed = %v %v", ok, err)
	}
}

func TestOverwriteKeepsOldRowsUntilCommit(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	tbl := ensureTable(t, l, "ns", "t", usersSchema)
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1}`, `{"id":2}`, `{"id":3}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	before := tbl.Iceberg().CurrentSnapshot().SnapshotID

	// A reader polling during the overwrite sees 3 rows, then 2: never an
	// empty or mixed table.
	reader, err := l.LoadTable(ctx, "ns", "t")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	seen := map[int]bool{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			at, err := reader.Scan(ctx, table.WithSelectedFields("id"))
			if err != nil {
				t.Error(err)
				return
			}
			seen[int(at.NumRows())] = true
			at.Release()
			select {
			case <-done:
				return
			default:
			}
		}
	})
	err = tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":10}`, `{"id":11}`)},
		lake.Commit{Mode: lake.Overwrite, State: json.RawMessage(`{"full":true}`), GenerationID: 2})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for n := range seen {
		if n != 3 && n != 2 {
			t.Errorf("a reader saw %d rows", n)
		}
	}
	if got := rows(t, tbl, "id"); !slices.Equal(got, []string{"id=10", "id=11"}) {
		t.Errorf("rows = %q", got)
	}
	snap := tbl.Iceberg().CurrentSnapshot()
	if snap.ParentSnapshotID == nil || *snap.ParentSnapshotID != before || snap.Summary.Operation != table.OpOverwrite {
		t.Errorf("overwrite is not one snapshot on top of the old one: %+v", snap)
	}
	old, err := tbl.Scan(ctx, table.WithSnapshotID(before))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Release()
	if old.NumRows() != 3 {
		t.Errorf("old snapshot has %d rows", old.NumRows())
	}
}

func TestEvolutionAddsColumnOldRowsNull(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	tbl := ensureTable(t, l, "ns", "t", usersSchema)
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a","email":"x@y"}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	newSchema := `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"},"email":{"type":"string"},"a.b c":{"type":"number"}}}`
	plan, err := schema.Evolve(tbl.Schema(), []byte(newSchema))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Added) != 2 {
		t.Fatalf("plan = %+v", plan)
	}
	evolved, err := l.EnsureTable(ctx, "ns", "t", plan.Schema, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range plan.Added {
		got, ok := evolved.Schema().FindFieldByName(f.Name)
		if !ok || got.ID != f.ID {
			t.Errorf("column %s: %v (plan said ID %d)", f.Name, got, f.ID)
		}
	}
	if err := evolved.Commit(ctx, []arrow.RecordBatch{batch(t, evolved, `{"id":2,"email":"e@f","a.b c":1.5}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	got := rows(t, evolved, "id", "email", "a.b c")
	want := []string{"id=1,email=null,a.b c=null", "id=2,email=e@f,a.b c=1.5"}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	// The first record's email had no column then: it is in its meta.
	meta := rows(t, evolved, "id", schema.ColMeta)
	if !strings.Contains(meta[0], `"extra":{"email":"x@y"}`) {
		t.Errorf("meta = %q", meta)
	}
}

func TestEvolutionPromotes(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	if err := l.EnsureNamespace(ctx, "ns", ""); err != nil {
		t.Fatal(err)
	}
	base, _ := schema.FromJSONSchema([]byte(`{"properties":{}}`))
	fields := append(base.Fields(), iceberg.NestedField{ID: 5, Name: "n", Type: iceberg.PrimitiveTypes.Int32})
	tbl, err := l.EnsureTable(ctx, "ns", "t", iceberg.NewSchema(0, fields...), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"n":7}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	plan, err := schema.Evolve(tbl.Schema(), []byte(`{"properties":{"n":{"type":"integer"}}}`))
	if err != nil || len(plan.Promoted) != 1 {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
	tbl, err = l.EnsureTable(ctx, "ns", "t", plan.Schema, "")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := tbl.Schema().FindFieldByName("n"); !f.Type.Equals(iceberg.PrimitiveTypes.Int64) {
		t.Fatalf("n is %s", f.Type)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"n":5000000000}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, tbl, "n"); !slices.Equal(got, []string{"n=5000000000", "n=7"}) {
		t.Errorf("rows = %q", got)
	}
}

func TestConcurrentCommitsAllLandOnce(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	wh := "file://" + t.TempDir()
	l1 := openLake(t, db, wh, nil)
	l2 := openLake(t, db, wh, nil)
	ensureTable(t, l1, "ns", "t", usersSchema)
	const perWriter = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w, l := range []*lake.Lake{l1, l2} {
		tbl, err := l.LoadTable(ctx, "ns", "t")
		if err != nil {
			t.Fatal(err)
		}
		var batches []arrow.RecordBatch
		for i := range perWriter {
			batches = append(batches, batch(t, tbl, fmt.Sprintf(`{"id":%d}`, w*100+i), fmt.Sprintf(`{"id":%d}`, w*100+i+50)))
		}
		wg.Go(func() {
			<-start
			for i, b := range batches {
				err := tbl.Commit(ctx, []arrow.RecordBatch{b}, lake.Commit{
					CommitID: fmt.Sprintf("w%d-%d", w, i),
					State:    json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)),
				})
				if err != nil {
					t.Errorf("writer %d commit %d: %v", w, i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	tbl, err := l1.LoadTable(ctx, "ns", "t")
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, tbl, "id")
	if len(got) != 2*perWriter*2 || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("%d rows, want %d distinct: %q", len(got), 2*perWriter*2, got)
	}
	commits := map[string]int{}
	meta := tbl.Iceberg().Metadata()
	for snap := meta.CurrentSnapshot(); snap != nil; {
		commits[snap.Summary.Properties[lake.PropCommitID]]++
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	if len(commits) != 2*perWriter {
		t.Errorf("%d commits in history, want %d: %v", len(commits), 2*perWriter, commits)
	}
	for id, n := range commits {
		if n != 1 {
			t.Errorf("commit %s landed %d times", id, n)
		}
	}
}

func TestMergeDeduplicatesByKey(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	tbl := ensureTable(t, l, "ns", "t", usersSchema)
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`, `{"id":3,"name":"c"}`)},
		lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	err := tbl.Commit(ctx, []arrow.RecordBatch{
		batch(t, tbl, `{"id":2,"name":"b2"}`, `{"id":4,"name":"d"}`),
		batch(t, tbl, `{"id":4,"name":"d2"}`, `{"name":"no key"}`),
	}, lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"id"}, State: json.RawMessage(`{"c":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, tbl, "id", "name")
	want := []string{"id=1,name=a", "id=2,name=b2", "id=3,name=c", "id=4,name=d2", "id=null,name=no key"}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	if op := tbl.Iceberg().CurrentSnapshot().Summary.Operation; op != table.OpOverwrite {
		t.Errorf("merge made a %s snapshot", op)
	}

	// Composite keys.
	tbl2 := ensureTable(t, l, "ns", "t2", usersSchema)
	pk := []string{"id", "name"}
	if err := tbl2.Commit(ctx, []arrow.RecordBatch{batch(t, tbl2, `{"id":1,"name":"a"}`, `{"id":1,"name":"b"}`, `{"id":2,"name":"a"}`)},
		lake.Commit{Mode: lake.Merge, PrimaryKey: pk}); err != nil {
		t.Fatal(err)
	}
	if err := tbl2.Commit(ctx, []arrow.RecordBatch{batch(t, tbl2, `{"id":1,"name":"b"}`, `{"id":2,"name":"a"}`, `{"id":2,"name":"b"}`)},
		lake.Commit{Mode: lake.Merge, PrimaryKey: pk}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, tbl2, "id", "name"); len(got) != 4 {
		t.Errorf("composite merge rows = %q", got)
	}
	if err := tbl2.Commit(ctx, nil, lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"nope"}}); err == nil {
		t.Error("merge on a missing key column succeeded")
	}
}

func TestS3Warehouse(t *testing.T) {
	ctx := t.Context()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	l := openLake(t, openDB(t), "s3://lake/org-1", iceberg.Properties{
		lake.PropS3Endpoint:               srv.URL,
		lake.PropS3AccessKeyID:            "AKIAEXAMPLE",
		lake.PropS3SecretAccessKey:        "secret",
		lake.PropS3SessionToken:           "token",
		lake.PropS3Region:                 "us-east-1",
		lake.PropS3ForceVirtualAddressing: "false",
	})
	tbl := ensureTable(t, l, "conn", "users", usersSchema)
	if !strings.HasPrefix(tbl.Location(), "s3://lake/org-1/conn/users") {
		t.Errorf("location %s", tbl.Location())
	}
	err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"s3"}`)}, lake.Commit{State: json.RawMessage(`{"s3":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, tbl, "id", "name"); !slices.Equal(got, []string{"id=1,name=s3"}) {
		t.Errorf("rows = %q", got)
	}
	if state, _, ok, err := tbl.LastState(ctx); err != nil || !ok || string(state) != `{"s3":1}` {
		t.Errorf("state = %s %v %v", state, ok, err)
	}
	list, err := backend.ListBucket("lake", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var data, metadata int
	for _, o := range list.Contents {
		switch {
		case strings.HasPrefix(o.Key, "org-1/conn/users/data/"):
			data++
		case strings.HasPrefix(o.Key, "org-1/conn/users/metadata/"):
			metadata++
		default:
			t.Errorf("object outside the table: %s", o.Key)
		}
	}
	if data == 0 || metadata == 0 {
		t.Errorf("%d data and %d metadata objects", data, metadata)
	}
}

func TestDrop(t *testing.T) {
	ctx := t.Context()
	l := localLake(t)
	ensureTable(t, l, "ns", "a", usersSchema)
	ensureTable(t, l, "ns", "b", usersSchema)
	if err := l.DropTable(ctx, "ns", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTable(ctx, "ns", "a"); !lake.IsNotFound(err) {
		t.Errorf("dropped table loads: %v", err)
	}
	if err := l.DropNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTable(ctx, "ns", "b"); !lake.IsNotFound(err) {
		t.Errorf("table of dropped namespace loads: %v", err)
	}
	if err := l.DropNamespace(ctx, "ns"); err != nil {
		t.Errorf("dropping a missing namespace: %v", err)
	}
}

func TestOpenRejectsBadWarehouse(t *testing.T) {
	_, err := lake.Open(context.Background(), lake.Config{DB: openDB(t), Warehouse: "relative/path"})
	if err == nil {
		t.Fatal("no error")
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// TestS3FileIOUsesTheGivenHTTPClient: with Config.HTTPClient every file
// access of the tables (create, commit, a scan through Iceberg() long after
// the catalog call) goes through it, so the network guard sees every
// connection; a guard that refuses loopback refuses the whole table.
func TestS3FileIOUsesTheGivenHTTPClient(t *testing.T) {
	ctx := t.Context()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	props := iceberg.Properties{
		lake.PropS3Endpoint: srv.URL, lake.PropS3AccessKeyID: "AKIAEXAMPLE", lake.PropS3SecretAccessKey: "secret",
		lake.PropS3Region: "us-east-1", lake.PropS3ForceVirtualAddressing: "false",
	}
	sc, err := schema.FromJSONSchema([]byte(usersSchema))
	if err != nil {
		t.Fatal(err)
	}

	db := openDB(t)
	denied, err := lake.Open(ctx, lake.Config{DB: db, Warehouse: "s3://lake/org-1", Props: props, HTTPClient: netguard.New(false).Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	if err := denied.EnsureNamespace(ctx, "conn", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := denied.EnsureTable(ctx, "conn", "users", sc, ""); !netguard.IsBlocked(err) {
		t.Fatalf("create table on a loopback endpoint through a guard that refuses it: %v", err)
	}
	if objs, _ := backend.ListBucket("lake", &gofakes3.Prefix{}, gofakes3.ListBucketPage{}); len(objs.Contents) != 0 {
		t.Fatalf("the refused lake wrote %d objects", len(objs.Contents))
	}

	hc := &countingTransport{rt: netguard.New(true).Transport()}
	l, err := lake.Open(ctx, lake.Config{DB: openDB(t), Warehouse: "s3://lake/org-1", Props: props, HTTPClient: &http.Client{Transport: hc}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.EnsureNamespace(ctx, "conn", ""); err != nil {
		t.Fatal(err)
	}
	tbl, err := l.EnsureTable(ctx, "conn", "users", sc, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"s3"}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	before := hc.n.Load()
	if before == 0 {
		t.Fatal("create and commit made no request through the client")
	}
	sc2, seq, err := tbl.Iceberg().Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		n += int(rec.NumRows())
		rec.Release()
	}
	_ = sc2
	if n != 1 || hc.n.Load() == before {
		t.Fatalf("scan read %d rows with %d requests through the client", n, hc.n.Load()-before)
	}
}
