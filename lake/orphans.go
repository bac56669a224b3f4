package lake

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Files is where a table's files are listed, dated and deleted: an objstore.Bucket
// with ModTime (the warehouse's folder or bucket).
type Files interface {
	List(ctx context.Context, prefix string, fn func(key string) error) error
	ModTime(ctx context.Context, key string) (time.Time, error)
	Delete(ctx context.Context, keys ...string) error
	// Location is the root the keys are relative to: file:///abs or s3://bucket[/prefix].
	Location() string
}

// Referenced returns every file the table's metadata reaches: the current metadata
// file and those in its metadata log, and for every snapshot its manifest list, its
// manifests and their data and delete files (those a later snapshot deleted included:
// an older snapshot still reads them). Locations are normalised (see normLocation).
func (t *Table) Referenced(ctx context.Context) (map[string]bool, error) {
	if err := t.Refresh(ctx); err != nil {
		return nil, err
	}
	tbl := t.current()
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("lake: %s: file IO: %w", t.name(), err)
	}
	md := tbl.Metadata()
	refs := map[string]bool{normLocation(tbl.MetadataLocation()): true}
	for e := range md.PreviousFiles() {
		refs[normLocation(e.MetadataFile)] = true
	}
	seen := map[string]bool{}
	for _, snap := range md.Snapshots() {
		refs[normLocation(snap.ManifestList)] = true
		manifests, err := snap.Manifests(fs)
		if err != nil {
			return nil, fmt.Errorf("lake: %s: read the manifest list of snapshot %d: %w", t.name(), snap.SnapshotID, err)
		}
		for _, m := range manifests {
			p := normLocation(m.FilePath())
			refs[p] = true
			if seen[p] {
				continue
			}
			seen[p] = true
			entries, err := m.FetchEntries(fs, false)
			if err != nil {
				return nil, fmt.Errorf("lake: %s: read manifest %s: %w", t.name(), m.FilePath(), err)
			}
			for _, e := range entries {
				refs[normLocation(e.DataFile().FilePath())] = true
			}
		}
	}
	return refs, nil
}

// normLocation makes file locations comparable: a local path with or without file://.
func normLocation(loc string) string {
	return strings.TrimPrefix(strings.TrimPrefix(loc, "file://"), "file:")
}

// OrphanFiles returns the keys of files under the table's location in b that the
// table's metadata does not reach (see Referenced) and that were last written before
// cutoff: what an attempt that never committed left behind, as Iceberg's
// remove-orphan-files finds them. Files written after cutoff are spared, since a
// commit in progress has written them and not yet published them.
func (t *Table) OrphanFiles(ctx context.Context, b Files, cutoff time.Time) ([]string, error) {
	root := strings.TrimSuffix(b.Location(), "/") + "/"
	loc := strings.TrimSuffix(t.Location(), "/") + "/"
	if normLocation(loc)[:min(len(normLocation(loc)), len(normLocation(root)))] != normLocation(root) {
		return nil, fmt.Errorf("lake: %s lives at %s, outside %s: its files cannot be listed there", t.name(), t.Location(), b.Location())
	}
	prefix := strings.TrimPrefix(normLocation(loc), normLocation(root))
	refs, err := t.Referenced(ctx)
	if err != nil {
		return nil, err
	}
	var candidates []string
	err = b.List(ctx, prefix, func(key string) error {
		if !refs[normLocation(root+key)] {
			candidates = append(candidates, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lake: %s: list its files: %w", t.name(), err)
	}
	var out []string
	for _, key := range candidates {
		mt, err := b.ModTime(ctx, key)
		if err != nil {
			continue // gone meanwhile, or not a plain file
		}
		if mt.Before(cutoff) {
			out = append(out, key)
		}
	}
	return out, nil
}

// RemoveOrphanFiles deletes the table's orphan files (see OrphanFiles) and returns
// their keys.
func (t *Table) RemoveOrphanFiles(ctx context.Context, b Files, cutoff time.Time) ([]string, error) {
	keys, err := t.OrphanFiles(ctx, b, cutoff)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	if err := b.Delete(ctx, keys...); err != nil {
		return nil, fmt.Errorf("lake: %s: remove %d orphan files: %w", t.name(), len(keys), err)
	}
	return keys, nil
}
