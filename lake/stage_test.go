package lake

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func stage(t *testing.T, tbl *Table, batches ...arrow.RecordBatch) Staged {
	t.Helper()
	w := tbl.NewFileWriter(t.Context(), batches[0].Schema())
	for _, b := range batches {
		b.Retain() // Write takes ownership; idBatch releases at cleanup
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func committedFiles(t *testing.T, tbl *Table) []string {
	t.Helper()
	tasks, err := tbl.current().Scan().PlanFiles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, task := range tasks {
		paths = append(paths, task.File.FilePath())
	}
	slices.Sort(paths)
	return paths
}

func TestStagedFilesCommitOnceAsWritten(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*flaky)
	}{
		{"no fault", func(*flaky) {}},
		{"reply lost", func(f *flaky) { f.loseReplies = 1 }},
		{"failed before sending", func(f *flaky) { f.failBefore = 1; f.failLoads = 1 }},
		{"several failures", func(f *flaky) { f.failBefore = 2; f.loseReplies = 1; f.failLoads = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, tbl, f := testTable(t)
			s := stage(t, tbl, idBatch(t, tbl, 1, 2), idBatch(t, tbl, 3))
			if s.Rows != 3 || len(s.Files) == 0 {
				t.Fatalf("staged %d rows in %d files", s.Rows, len(s.Files))
			}
			if n := countRows(t, tbl); n != 0 {
				t.Fatalf("%d rows visible before the commit", n)
			}
			// Another writer commits between staging and committing.
			if err := tbl.Commit(t.Context(), []arrow.RecordBatch{idBatch(t, tbl, 10)}, Commit{CommitID: "other"}); err != nil {
				t.Fatal(err)
			}
			before := committedFiles(t, tbl)
			tt.setup(f)
			if err := tbl.CommitFiles(t.Context(), s, Commit{CommitID: "c-1", State: []byte(`{"n":1}`)}); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, tbl); n != 4 {
				t.Errorf("%d rows, want 4", n)
			}
			if n := countCommits(tbl, "c-1"); n != 1 {
				t.Errorf("commit landed %d times", n)
			}
			var want []string
			want = append(want, before...)
			for _, df := range s.Files {
				want = append(want, df.FilePath())
			}
			slices.Sort(want)
			if got := committedFiles(t, tbl); !slices.Equal(got, want) {
				t.Errorf("committed files %v, want the staged ones as written plus the other commit's: %v", got, want)
			}
			if st, _, ok, err := tbl.LastState(t.Context()); err != nil || !ok || string(st) != `{"n":1}` {
				t.Errorf("LastState = %s, %v, %v", st, ok, err)
			}
		})
	}
}

func TestStagedNothingCommitsState(t *testing.T) {
	_, tbl, _ := testTable(t)
	if err := tbl.CommitFiles(t.Context(), Staged{}, Commit{State: []byte(`{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	if st, _, ok, err := tbl.LastState(t.Context()); err != nil || !ok || string(st) != `{"n":2}` {
		t.Errorf("LastState = %s, %v, %v", st, ok, err)
	}
}

func TestAbortedWriterLeavesTableAlone(t *testing.T) {
	_, tbl, _ := testTable(t)
	b := idBatch(t, tbl, 1)
	b.Retain()
	w := tbl.NewFileWriter(t.Context(), b.Schema())
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if n := countRows(t, tbl); n != 0 {
		t.Errorf("%d rows after an aborted write", n)
	}
}

func TestCommitFilesRejectsOtherModes(t *testing.T) {
	_, tbl, _ := testTable(t)
	if err := tbl.CommitFiles(t.Context(), Staged{}, Commit{Mode: Overwrite}); err == nil {
		t.Error("an overwrite of staged files was accepted")
	}
}

func TestCanStage(t *testing.T) {
	_, tbl, _ := testTable(t)
	if !tbl.CanStage() {
		t.Error("a v2 table cannot stage files")
	}
}
