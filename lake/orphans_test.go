package lake_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
)

// Files an attempt wrote and never committed (staged then abandoned, as a killed sync
// leaves them, and a metadata file never published) are found and removed; every file
// any snapshot reaches stays, and so do recent files (a commit in progress).
func TestOrphanFilesAreFoundAndRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openLake(t, openDB(t), "file://"+dir, nil)
	tbl := ensureTable(t, l, "crm", "users", `{"type":"object","properties":{"id":{"type":"integer"}}}`)
	ctx := t.Context()
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1}`)}, lake.Commit{CommitID: "a"}); err != nil {
		t.Fatal(err)
	}
	// An attempt that dies after writing its files, before committing them.
	w := tbl.NewFileWriter(ctx, batch(t, tbl, `{"id":2}`).Schema())
	if err := w.Write(batch(t, tbl, `{"id":2}`)); err != nil {
		t.Fatal(err)
	}
	staged, err := w.Close()
	if err != nil || len(staged.Files) == 0 {
		t.Fatalf("staged %+v, %v", staged, err)
	}
	// A later commit (with an overwrite: the first data file is deleted from the current
	// snapshot but still read by the first).
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":3}`)}, lake.Commit{CommitID: "b", Mode: lake.Overwrite}); err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	loc := strings.TrimPrefix(tbl.Location(), "file://")
	stray := filepath.Join(loc, "metadata", "99999-unpublished.metadata.json")
	if err := os.WriteFile(stray, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	var want []string
	paths := []string{stray}
	for _, f := range staged.Files {
		paths = append(paths, f.FilePath())
	}
	for _, f := range paths {
		p := strings.TrimPrefix(f, "file://")
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		want = append(want, filepath.ToSlash(rel))
	}
	slices.Sort(want)
	// A recent leftover is spared.
	fresh := filepath.Join(loc, "data", "fresh.parquet")
	if err := os.WriteFile(fresh, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-time.Hour)
	got, err := tbl.OrphanFiles(ctx, b, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("orphans %q, want %q", got, want)
	}
	// Everything referenced is older than the cutoff too: only references spare it.
	_ = filepath.WalkDir(loc, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != fresh {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	removed, err := tbl.RemoveOrphanFiles(ctx, b, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %q, want %q", removed, want)
	}
	for _, k := range want {
		if _, err := os.Stat(filepath.Join(dir, k)); !os.IsNotExist(err) {
			t.Fatalf("%s is still there", k)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("the recent file was removed: %v", err)
	}
	// The table reads as before, now and at its first snapshot.
	if got := rows(t, tbl, "id"); len(got) != 1 || !strings.Contains(got[0], "3") {
		t.Fatalf("rows after the cleanup: %v", got)
	}
	if again, err := tbl.OrphanFiles(ctx, b, cutoff); err != nil || len(again) != 0 {
		t.Fatalf("orphans after the cleanup: %q, %v", again, err)
	}
	first := tbl.Iceberg().Metadata().Snapshots()[0]
	if _, err := tbl.Scan(ctx, table.WithSnapshotID(first.SnapshotID)); err != nil {
		t.Fatalf("the first snapshot no longer reads: %v", err)
	}
}
