package lake

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite"
)

// flaky is a catalog in front of the real one that loses replies.
type flaky struct {
	inner table.CatalogIO

	mu sync.Mutex
	// loseReplies: the next n commits are applied, then reported as failed.
	loseReplies int
	// failBefore: the next n commits fail without being sent.
	failBefore int
	// failLoads: the next n loads fail.
	failLoads int
}

var errNetwork = errors.New("connection reset by peer")

func (f *flaky) take(n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

func (f *flaky) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	if f.take(&f.failLoads) {
		return nil, errNetwork
	}
	return f.inner.LoadTable(ctx, id)
}

func (f *flaky) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	if f.take(&f.failBefore) {
		return nil, "", errNetwork
	}
	meta, loc, err := f.inner.CommitTable(ctx, id, reqs, updates)
	if err == nil && f.take(&f.loseReplies) {
		return nil, "", errNetwork
	}
	return meta, loc, err
}

func testTable(t *testing.T) (*Lake, *Table, *flaky) {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "m.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := Open(t.Context(), Config{DB: db, Warehouse: "file://" + dir + "/wh"})
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{inner: l.cat}
	l.commitCat = f
	if err := l.EnsureNamespace(t.Context(), "ns", ""); err != nil {
		t.Fatal(err)
	}
	sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
	tbl, err := l.EnsureTable(t.Context(), "ns", "t", sc, "")
	if err != nil {
		t.Fatal(err)
	}
	return l, tbl, f
}

func idBatch(t *testing.T, tbl *Table, ids ...int64) arrow.RecordBatch {
	t.Helper()
	sc, err := tbl.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

func countRows(t *testing.T, tbl *Table) int64 {
	t.Helper()
	at, err := tbl.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	return at.NumRows()
}

func countCommits(tbl *Table, id string) int {
	n := 0
	meta := tbl.current().Metadata()
	for _, s := range meta.Snapshots() {
		if s.Summary != nil && s.Summary.Properties[PropCommitID] == id {
			n++
		}
	}
	return n
}

func TestLostReplyIsNotResent(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*flaky)
	}{
		// The committer reloads, finds the commit id: success.
		{"reply lost", func(f *flaky) { f.loseReplies = 1 }},
		// The committer cannot reload either: the outcome is unknown, so
		// Commit reloads on its next attempt and finds the commit.
		{"reply lost and reload fails", func(f *flaky) { f.loseReplies = 1; f.failLoads = 1 }},
		// Not sent at all: the next attempt finds no commit and sends it.
		{"failed before sending", func(f *flaky) { f.failBefore = 1; f.failLoads = 1 }},
		{"several failures", func(f *flaky) { f.failBefore = 2; f.loseReplies = 1; f.failLoads = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, tbl, f := testTable(t)
			tt.setup(f)
			c := Commit{CommitID: "c-1", State: []byte(`{"n":1}`)}
			if err := tbl.Commit(t.Context(), []arrow.RecordBatch{idBatch(t, tbl, 1, 2)}, c); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, tbl); n != 2 {
				t.Errorf("%d rows, want 2", n)
			}
			if n := countCommits(tbl, "c-1"); n != 1 {
				t.Errorf("commit landed %d times", n)
			}
		})
	}
}

func TestUnknownOutcomeReported(t *testing.T) {
	l, tbl, f := testTable(t)
	l.retries = 1
	f.failBefore = 10
	f.failLoads = 10
	err := tbl.Commit(t.Context(), []arrow.RecordBatch{idBatch(t, tbl, 1)}, Commit{CommitID: "c-2"})
	if !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("err = %v, want ErrCommitUnknown", err)
	}
	if ok, err := tbl.Landed(t.Context(), "c-2"); ok || err != nil {
		t.Errorf("Landed = %v, %v", ok, err)
	}
}

func TestRequirementFailureIsAConflict(t *testing.T) {
	// Two handles loaded before either commits: the second commit's
	// requirement fails in the SQL catalog with a plain error; the committer
	// must turn it into a retried conflict, not an unknown outcome.
	l, tbl, _ := testTable(t)
	l.commitCat = l.cat
	stale, err := l.LoadTable(t.Context(), "ns", "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(t.Context(), []arrow.RecordBatch{idBatch(t, tbl, 1)}, Commit{}); err != nil {
		t.Fatal(err)
	}
	// Commit through iceberg-go directly on the stale metadata.
	txn := l.wrap(stale.current(), "c-3").NewTransaction()
	rdr, err := array.NewRecordReader(idBatch(t, tbl, 2).Schema(), []arrow.RecordBatch{idBatch(t, tbl, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if err := txn.Append(t.Context(), rdr, iceberg.Properties{PropCommitID: "c-3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(t.Context()); err != nil {
		t.Fatalf("stale commit was not retried by iceberg-go: %v", err)
	}
	if n := countRows(t, tbl); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}
