package maintain_test

import (
	"testing"

	"github.com/lakeport/lakeport/maintain"
)

// Expiry with no retention at all keeps exactly the snapshots from the
// current one back to the one holding the source state (here: two compaction
// snapshots and the last sync's), the next sync resumes from that state
// (every record once), the replaced files are deleted, and the metadata log
// stays within its bound across later syncs.
func TestExpireKeepsTheStateSnapshot(t *testing.T) {
	w := newWorld(t)
	first := scale(10)
	w.syncN(first)
	events := w.table("events")
	if _, err := maintain.Compact(t.Context(), events, maintain.Options{}); err != nil {
		t.Fatal(err)
	}
	// A second compaction on top (one more small file after a schema change).
	w.feed.plan.Store(true)
	w.syncN(1)
	if _, err := maintain.Compact(t.Context(), events, maintain.Options{}); err != nil {
		t.Fatal(err)
	}
	w.feed.plan.Store(false)
	// A compaction that commits after the state snapshot is the one to keep
	// beyond the current one: compact again after a sync, twice over.
	w.syncN(2)
	if _, err := maintain.Compact(t.Context(), events, maintain.Options{}); err != nil {
		t.Fatal(err)
	}
	state := cursor(t, events)
	if state != (first+3)*w.feed.n {
		t.Fatalf("cursor %d before expiry, want %d", state, (first+3)*w.feed.n)
	}
	before := rows(t, events)
	diskBefore := filesOnDisk(t, events, "data")
	for _, name := range []string{"events", "users", "plans"} {
		tbl := w.table(name)
		rep, err := maintain.Expire(t.Context(), tbl, maintain.Options{Retention: -1, MetadataVersions: 5})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", name, rep)
		want := 1
		if name == "events" {
			want = 2 // the compaction snapshot and the sync's under it
		}
		if rep.StateChain != want || rep.SnapshotsAfter != want {
			t.Errorf("%s: kept %d snapshots (state chain %d), want %d", name, rep.SnapshotsAfter, rep.StateChain, want)
		}
	}
	if got := cursor(t, events); got != state {
		t.Fatalf("the state after expiry is at %d, was %d: the next sync would read from the wrong place", got, state)
	}
	if got := rows(t, events); len(got) != len(before) {
		t.Fatalf("expiry changed the rows: %d, were %d", len(got), len(before))
	}
	if after := filesOnDisk(t, events, "data"); after >= diskBefore {
		t.Errorf("data files on disk: %d before expiry, %d after: the replaced ones should be gone", diskBefore, after)
	}
	if garbage := unreferenced(t, events); len(garbage) > 0 {
		t.Errorf("after expiry, files no snapshot or metadata log references are left: %v", garbage)
	}
	// The next syncs resume from the kept state: every record exactly once.
	w.syncN(8)
	checkFeed(t, w, (first+11)*w.feed.n)
	if err := events.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range events.Iceberg().Metadata().PreviousFiles() {
		n++
	}
	if n > 5 {
		t.Errorf("the metadata log lists %d files after more syncs, want at most 5 (write.metadata.previous-versions-max)", n)
	}
	if garbage := unreferenced(t, events); len(garbage) > 0 {
		t.Errorf("after more syncs, metadata files that fell off the log are left: %v", garbage)
	}
}

// Snapshots younger than the retention stay; expiry keeps counting from the
// state snapshot, never below it.
func TestExpireHonoursRetention(t *testing.T) {
	w := newWorld(t, "events:incremental:append")
	w.syncN(5)
	events := w.table("events")
	rep, err := maintain.Expire(t.Context(), events, maintain.Options{}) // 7 days: nothing is that old
	if err != nil {
		t.Fatal(err)
	}
	if rep.SnapshotsBefore != 5 || rep.SnapshotsAfter != 5 {
		t.Errorf("default retention expired young snapshots: %+v", rep)
	}
	rep, err = maintain.Expire(t.Context(), events, maintain.Options{Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SnapshotsAfter != 1 || cursor(t, events) != 5*w.feed.n {
		t.Errorf("no retention: %+v, cursor %d", rep, cursor(t, events))
	}
	w.syncN(1)
	checkFeed(t, w, 6*w.feed.n)
	// The same through Table, which hands its options on to each step.
	w.syncN(3)
	tr, err := maintain.Table(t.Context(), events, maintain.Options{Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Left: the compaction's snapshot and the last sync's under it (its state).
	if tr.Expiry == nil || tr.Expiry.SnapshotsBefore != 6 || tr.Expiry.SnapshotsAfter != 2 || tr.Expiry.StateChain != 2 {
		t.Errorf("no retention through Table: %+v, want the compaction's and the state's snapshots left of 6", tr.Expiry)
	}
	checkFeed(t, w, 9*w.feed.n)
}
