package maintain_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/maintain"
)

// raceWorld is a world of the three streams whose full-refresh table has
// several files per generation (so that compaction has something to do
// there too), synced four times; its users wrap around their 100 keys, so a
// sync's merge rewrites files of earlier syncs.
func raceWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	// The syncer's record pipeline hands over a batch per 2,048 messages: the
	// plans of one sync come in five or more batches.
	w.feed.planRows, w.feed.keys = 5*2048, 100
	w.syncN(1)
	err := w.table("plans").CommitChange(t.Context(), "", nil, func(_ *table.Table, txn *table.Transaction, _ iceberg.Properties) error {
		return txn.SetProperties(iceberg.Properties{table.WriteTargetFileSizeBytesKey: "1"}) // a file per batch
	})
	if err != nil {
		t.Fatal(err)
	}
	w.syncN(3)
	if n := dataFiles(t, w.table("plans")); n < 5 {
		t.Fatalf("plans has %d files, want one per batch", n)
	}
	return w
}

// A sync that commits while a compaction is under way loses nothing: not its
// rows, not its state. Where the sync rewrote or replaced files the
// compaction was rewriting (a dedup merge, a full-refresh overwrite), the
// compaction group is dropped rather than bringing old rows back; where the
// sync only appended, both land. The sync lands at two moments: after the
// compaction wrote its files (the commit then starts from the sync's table)
// and after the rewrite was staged on the old table, just before it is sent
// (the commit conflicts; iceberg-go rebuilds it on the new head or refuses
// it, and lakeport stages it again).
func TestCompactionRacingASync(t *testing.T) {
	for _, point := range []string{"compact-written", "compact-staged"} {
		for _, tc := range []struct {
			stream     string
			superseded bool
		}{
			{"events", false}, // append: the sync adds a file
			{"users", true},   // dedup merge: the sync rewrites files holding its keys
			{"plans", true},   // overwrite: the sync replaces every file
		} {
			t.Run(point+"/"+tc.stream, func(t *testing.T) {
				w := raceWorld(t)
				base := w.syncs
				tbl := w.table(tc.stream)
				var once sync.Once
				defer maintain.SetTestHook(func(p string) {
					if p == point {
						once.Do(func() {
							if err := w.sync(context.Background()); err != nil {
								t.Errorf("the racing sync: %v", err)
							}
						})
					}
				})()
				rep, err := maintain.Compact(t.Context(), tbl, maintain.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%+v", rep)
				if rep.Groups != 1 {
					t.Fatalf("%d compaction groups, want 1", rep.Groups)
				}
				if tc.superseded && (rep.Superseded != 1 || rep.Committed != 0) {
					t.Errorf("the sync replaced files of the group, yet the compaction was not dropped: %+v", rep)
				}
				if !tc.superseded && rep.Committed != 1 {
					t.Errorf("an append raced the compaction and the compaction did not land: %+v", rep)
				}
				checkFeed(t, w, (base+1)*w.feed.n)
				if got := cursor(t, tbl); got != (base+1)*w.feed.n {
					t.Errorf("the table's state is at %d, want the racing sync's %d", got, (base+1)*w.feed.n)
				}
				for _, f := range unreferenced(t, tbl) {
					if len(f) > 5 && f[:5] == "data/" {
						t.Errorf("a data file no snapshot references was left: %s", f)
					}
				}
				// Maintenance run again plans from the table as it is and finishes.
				if rep, err = maintain.Compact(t.Context(), tbl, maintain.Options{}); err != nil || rep.Superseded != 0 {
					t.Fatalf("the next compaction: %+v, %v", rep, err)
				}
				checkFeed(t, w, (base+1)*w.feed.n)
				w.syncN(1)
				checkFeed(t, w, (base+2)*w.feed.n)
			})
		}
	}
}

// A sync that commits while snapshots are being expired keeps its snapshot
// and its state, and the next sync resumes from it.
func TestExpiryRacingASync(t *testing.T) {
	w := raceWorld(t)
	base := w.syncs
	for _, name := range []string{"events", "users", "plans"} {
		if _, err := maintain.Compact(t.Context(), w.table(name), maintain.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	tbl := w.table("events")
	var once sync.Once
	defer maintain.SetTestHook(func(p string) {
		if p == "expire-staged" {
			once.Do(func() {
				if err := w.sync(context.Background()); err != nil {
					t.Errorf("the racing sync: %v", err)
				}
			})
		}
	})()
	rep, err := maintain.Expire(t.Context(), tbl, maintain.Options{Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if got := cursor(t, tbl); got != (base+1)*w.feed.n {
		t.Fatalf("the table's state is at %d after the racing expiry, want the sync's %d", got, (base+1)*w.feed.n)
	}
	// Replayed on the sync's head, the expiry removed what it chose on the old
	// one: the sync's snapshot stays on top of the compaction's and the state
	// snapshot's (and were it staged again instead, the sync's alone).
	cur := tbl.Iceberg().CurrentSnapshot()
	if cur.Summary.Properties[lake.PropSyncID] != fmt.Sprintf("sync-%d", base+1) {
		t.Errorf("the current snapshot is not the racing sync's: %v", cur.Summary.Properties)
	}
	if n := len(tbl.Iceberg().Metadata().Snapshots()); n != 3 && n != 1 {
		t.Errorf("%d snapshots left, want the sync's and the two the expiry kept under it", n)
	}
	checkFeed(t, w, (base+1)*w.feed.n)
	w.syncN(1)
	checkFeed(t, w, (base+2)*w.feed.n)
}

// Syncs and maintenance running side by side for a while, no hooks: every
// record once, dedup and overwrite semantics whole, the state the last sync's.
func TestMaintenanceAlongsideSyncs(t *testing.T) {
	w := raceWorld(t)
	base, more := w.syncs, scale(12)
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(done)
		for range more {
			if err := w.sync(context.Background()); err != nil {
				t.Errorf("sync: %v", err)
				return
			}
		}
	}()
	runs := 0
	totals := map[string]int{}
	for loop := true; loop; runs++ {
		select {
		case <-done:
			loop = false
		default:
		}
		for _, name := range []string{"events", "users", "plans"} {
			tbl, err := w.l.LoadTable(t.Context(), ns, name)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := maintain.Table(t.Context(), tbl, maintain.Options{Retention: -1, Files: w.files()})
			if err != nil {
				t.Fatalf("maintenance of %s: %v", name, err)
			}
			totals[name+" committed"] += rep.Compaction.Committed
			totals[name+" superseded"] += rep.Compaction.Superseded
		}
	}
	wg.Wait()
	t.Logf("%d maintenance rounds alongside %d syncs: %v", runs, more, totals)
	checkFeed(t, w, (base+more)*w.feed.n)
	for _, name := range []string{"events", "users", "plans"} {
		if got := cursor(t, w.table(name)); got != (base+more)*w.feed.n {
			t.Errorf("%s: state at %d, want %d", name, got, (base+more)*w.feed.n)
		}
	}
}
