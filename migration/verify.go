package migration

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/lake"
)

// check is what verify counted.
type check struct {
	rows  int64
	files int
}

// verify reads the table at newLoc back through the destination's file IO and
// compares it with the original: the same snapshots, the same current snapshot with
// the same summary (the sync state rides in it), and, planned through the rewritten
// manifest list and manifests, the same live files (by path under the table's
// location, size and row count) — so the same rows.
func verify(ctx context.Context, orig *table.Table, dst *lake.Lake, newLoc, from, to string) (check, error) {
	copied, err := dst.ReadTable(ctx, newLoc)
	if err != nil {
		return check{}, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	om, cm := orig.Metadata(), copied.Metadata()
	if len(om.Snapshots()) != len(cm.Snapshots()) {
		return check{}, fmt.Errorf("%w: %d snapshots, the original has %d", ErrVerify, len(cm.Snapshots()), len(om.Snapshots()))
	}
	os, cs := om.CurrentSnapshot(), cm.CurrentSnapshot()
	switch {
	case os == nil && cs == nil:
		return check{}, nil
	case os == nil || cs == nil || os.SnapshotID != cs.SnapshotID:
		return check{}, fmt.Errorf("%w: the current snapshot differs from the original's", ErrVerify)
	case os.Summary == nil != (cs.Summary == nil) || os.Summary != nil && !maps.Equal(os.Summary.Properties, cs.Summary.Properties):
		return check{}, fmt.Errorf("%w: the current snapshot's summary (and sync state) differs from the original's", ErrVerify)
	}
	want, err := liveFiles(ctx, orig, from)
	if err != nil {
		return check{}, err
	}
	got, err := liveFiles(ctx, copied, to)
	if err != nil {
		return check{}, err
	}
	if !maps.Equal(want, got) {
		return check{}, fmt.Errorf("%w: the copy plans %d live files, the original %d, or their sizes or row counts differ", ErrVerify, len(got), len(want))
	}
	var c check
	for _, f := range got {
		c.rows += f.rows
		c.files++
	}
	return c, nil
}

type liveFile struct{ size, rows int64 }

// liveFiles plans a scan of t's current snapshot: its data files (and delete files),
// by path relative to the table's location root.
func liveFiles(ctx context.Context, t *table.Table, root string) (map[string]liveFile, error) {
	tasks, err := t.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: plan the files of %s: %w", ErrVerify, root, err)
	}
	out := map[string]liveFile{}
	add := func(p string, size, rows int64) error {
		rel, ok := strings.CutPrefix(p, root+"/")
		if !ok {
			return fmt.Errorf("%w: %s is not under %s", ErrUnsafe, p, root)
		}
		out[rel] = liveFile{size: size, rows: rows}
		return nil
	}
	for _, task := range tasks {
		if err := add(task.File.FilePath(), task.File.FileSizeBytes(), task.File.Count()); err != nil {
			return nil, err
		}
		for _, d := range append(append(task.DeleteFiles, task.EqualityDeleteFiles...), task.DeletionVectorFiles...) {
			if err := add(d.FilePath(), d.FileSizeBytes(), -d.Count()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
