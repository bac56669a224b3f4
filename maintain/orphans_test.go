package maintain_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/maintain"
)

// Orphan removal deletes unreferenced files older than the window and
// nothing else: not a file the table references however old it is, not a
// young unreferenced file (a commit in progress may have written it), not a
// file of another table whose folder name starts the same way.
func TestRemoveOrphansOnlyOldUnreferencedFiles(t *testing.T) {
	w := newWorld(t, "events:incremental:append")
	w.syncN(6)
	events := w.table("events")
	if _, err := maintain.Compact(t.Context(), events, maintain.Options{}); err != nil {
		t.Fatal(err)
	}
	before := rows(t, events)
	root := strings.TrimPrefix(events.Location(), "file://")
	old := time.Now().Add(-10 * 24 * time.Hour)
	// Every file of the table, referenced or not, looks ten days old.
	var referenced []string
	refs, err := events.Referenced(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(p, old, old)
			if refs[p] {
				referenced = append(referenced, p)
			}
		}
		return nil
	})
	if len(referenced) < 10 {
		t.Fatalf("only %d referenced files", len(referenced))
	}
	stray := func(rel string, mtime time.Time) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("left behind"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
		return p
	}
	oldData := stray("data/00000-0-left-behind.parquet", old)
	oldMeta := stray("metadata/snap-1-0-left-behind.avro", old)
	young := stray("data/00000-0-being-written.parquet", time.Now().Add(-time.Hour))
	sibling := filepath.Join(filepath.Dir(root), filepath.Base(root)+"x", "data", "old.parquet")
	os.MkdirAll(filepath.Dir(sibling), 0o755)
	os.WriteFile(sibling, []byte("another table's"), 0o644)
	os.Chtimes(sibling, old, old)

	rep, err := maintain.RemoveOrphans(t.Context(), events, w.files(), maintain.Options{OrphanWindow: 3 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	for _, p := range []string{oldData, oldMeta} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the old orphan %s is still there", p)
		}
	}
	for _, p := range append(referenced, young, sibling) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was deleted: %v", p, err)
		}
	}
	// The table expired after the compaction: the replaced files are
	// referenced no more, and once old enough they go too (expiry already
	// deleted them; nothing of the table breaks either way).
	if _, err := maintain.Expire(t.Context(), events, maintain.Options{Retention: -1}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, events); !slices.Equal(got, before) {
		t.Fatalf("rows changed: %d, were %d", len(got), len(before))
	}
	if _, err := maintain.RemoveOrphans(t.Context(), events, w.files(), maintain.Options{OrphanWindow: 3 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	w.syncN(1)
	checkFeed(t, w, 7*w.feed.n)
}
