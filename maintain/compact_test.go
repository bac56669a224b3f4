package maintain_test

import (
	"slices"
	"testing"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/maintain"
)

// Compaction rewrites many small files into a few and changes no row of any
// table: append, append_dedup (one row per key, the latest) and full-refresh
// overwrite, across a schema change (files written before it have no "plan"
// column, and read it as null before and after).
func TestCompactKeepsEveryRow(t *testing.T) {
	w := newWorld(t)
	before, after := scale(12), scale(8)
	w.syncN(before)
	w.feed.plan.Store(true)
	w.syncN(after)
	tables := []string{"events", "users", "plans"}
	rowsBefore := map[string][]string{}
	states := map[string]lake.Checkpoint{}
	for _, name := range tables {
		tbl := w.table(name)
		rowsBefore[name] = rows(t, tbl)
		cp, ok, err := tbl.LastCheckpoint(t.Context())
		if err != nil || !ok {
			t.Fatalf("%s: no checkpoint (%v)", name, err)
		}
		states[name] = cp
	}
	if n := dataFiles(t, w.table("events")); n != before+after {
		t.Fatalf("events has %d data files before compaction, want one per sync (%d)", n, before+after)
	}
	for _, name := range tables {
		tbl := w.table(name)
		filesBefore := dataFiles(t, tbl)
		rep, err := maintain.Compact(t.Context(), tbl, maintain.Options{RunID: "run_test"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d files before; %+v", name, filesBefore, rep)
		if got := rows(t, tbl); !slices.Equal(got, rowsBefore[name]) {
			t.Errorf("%s: rows changed by compaction:\nbefore %d rows\nafter  %d rows\nfirst before %v\nfirst after  %v",
				name, len(rowsBefore[name]), len(got), head(rowsBefore[name]), head(got))
		}
		if n := dataFiles(t, tbl); name == "events" && n != 1 {
			t.Errorf("events: %d data files after compaction, want 1", n)
		}
		cp, _, err := tbl.LastCheckpoint(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if string(cp.State) != string(states[name].State) || cp.SnapshotID != states[name].SnapshotID {
			t.Errorf("%s: the table's state moved: %s (snapshot %d), was %s (snapshot %d)", name, cp.State, cp.SnapshotID, states[name].State, states[name].SnapshotID)
		}
		snap := tbl.Iceberg().CurrentSnapshot()
		if name == "events" && (snap.Summary.Properties[maintain.PropMaintenance] != "compact" || snap.Summary.Properties[maintain.PropRunID] != "run_test") {
			t.Errorf("events: the compaction snapshot's summary lacks lakeport's maintenance keys: %v", snap.Summary.Properties)
		}
		if name == "events" && snap.Summary.Operation != "replace" {
			t.Errorf("events: compaction committed a %q snapshot, want replace", snap.Summary.Operation)
		}
	}
	checkFeed(t, w, (before+after)*w.feed.n)
	// The next sync resumes from the same state and adds to the compacted files.
	w.syncN(2)
	checkFeed(t, w, (before+after+2)*w.feed.n)
	if n := dataFiles(t, w.table("events")); n != 3 {
		t.Errorf("events: %d data files after two more syncs, want 3", n)
	}
}

// Files at or above 75% of the target are left alone; a table with fewer
// small files than MinInputFiles is not rewritten.
func TestCompactLeavesRightSizedFiles(t *testing.T) {
	w := newWorld(t, "events:incremental:append")
	w.syncN(3)
	tbl := w.table("events")
	rep, err := maintain.Compact(t.Context(), tbl, maintain.Options{TargetFileSize: 1 << 10}) // 1 KiB: every file is big enough
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 0 || dataFiles(t, tbl) != 3 {
		t.Errorf("right-sized files were rewritten: %+v", rep)
	}
	rep, err = maintain.Compact(t.Context(), tbl, maintain.Options{MinInputFiles: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 0 || dataFiles(t, tbl) != 3 {
		t.Errorf("three files were rewritten with MinInputFiles 4: %+v", rep)
	}
	rep, err = maintain.Compact(t.Context(), tbl, maintain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 1 || rep.RewrittenFiles != 3 || rep.WrittenFiles != 1 || dataFiles(t, tbl) != 1 {
		t.Errorf("three small files: %+v, want them rewritten into one", rep)
	}
}

func head(s []string) []string { return s[:min(len(s), 2)] }
