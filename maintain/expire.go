package maintain

import (
	"context"
	"strconv"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/lake"
)

// ExpireReport is what Expire did.
type ExpireReport struct {
	SnapshotsBefore int `json:"snapshots_before"`
	SnapshotsAfter  int `json:"snapshots_after"`
	// StateChain is how many snapshots, from the current one back to the
	// latest carrying the source state, were kept whatever their age.
	StateChain int `json:"state_chain"`
	// MetadataBytes is the size of the table's current metadata file after
	// the step; MetadataLog the previous metadata files it lists.
	MetadataBytes int64 `json:"metadata_bytes"`
	MetadataLog   int   `json:"metadata_log"`
}

// Expire removes t's snapshots older than o.Retention, with iceberg-go's
// expiry (Transaction.ExpireSnapshots, deleting the manifests, manifest lists
// and data files only they reference). The snapshots from the current one
// back to the latest one carrying lakeport.state are always kept: a sync
// finds its state by walking back from the current snapshot past maintenance
// snapshots (lake.Table.LastCheckpoint), so that walk must stay whole. It
// also sets the table's metadata-log bounds (write.metadata.
// previous-versions-max = o.MetadataVersions, delete-after-commit on), so
// every later commit, a sync's too, deletes the metadata files that fall off
// the log.
//
// Run concurrently with a sync, the expiry is replayed on the sync's new
// head: the snapshots it removes were chosen on the old head, old and off
// its state chain, and the new head is not among them.
func Expire(ctx context.Context, t *lake.Table, o Options) (ExpireReport, error) {
	o = o.WithDefaults()
	var rep ExpireReport
	if err := t.Refresh(ctx); err != nil {
		return rep, wrap(t, "expire", err)
	}
	rep.SnapshotsBefore = len(t.Iceberg().Metadata().Snapshots())
	err := t.CommitChange(ctx, "", nil, func(cur *table.Table, txn *table.Transaction, _ iceberg.Properties) error {
		meta := cur.Metadata()
		if want := boundProps(o); !hasProps(meta.Properties(), want) {
			if err := txn.SetProperties(want); err != nil {
				return err
			}
		}
		if meta.CurrentSnapshot() == nil {
			return nil
		}
		rep.StateChain = StateChain(meta)
		if err := txn.ExpireSnapshots(
			table.WithOlderThan(max(o.Retention, 0)), // negative: none
			table.WithRetainLast(rep.StateChain),
			table.WithPostCommit(true)); err != nil {
			return err
		}
		hook("expire-staged")
		return nil
	})
	if err != nil {
		return rep, wrap(t, "expire", err)
	}
	cur := t.Iceberg()
	rep.SnapshotsAfter = len(cur.Metadata().Snapshots())
	for range cur.Metadata().PreviousFiles() {
		rep.MetadataLog++
	}
	rep.MetadataBytes = fileSize(ctx, cur, cur.MetadataLocation())
	return rep, nil
}

// StateChain is how many snapshots lead from meta's current snapshot back to
// the latest one whose summary carries lake.PropState, both included: those
// a sync walks to find its state. It is 1 when the current snapshot carries
// it, and also when no snapshot does (a stream whose source sends no state
// resumes from nothing). A walk cut short by a missing parent counts the
// snapshots it saw.
func StateChain(meta table.Metadata) int {
	n := 0
	for snap := meta.CurrentSnapshot(); snap != nil; {
		n++
		if snap.Summary != nil {
			if _, ok := snap.Summary.Properties[lake.PropState]; ok {
				return n
			}
		}
		if snap.ParentSnapshotID == nil {
			return 1 // the root, and no state on the way
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	return max(n, 1)
}

func boundProps(o Options) iceberg.Properties {
	return iceberg.Properties{
		table.MetadataPreviousVersionsMaxKey:      strconv.Itoa(o.MetadataVersions),
		table.MetadataDeleteAfterCommitEnabledKey: "true",
	}
}

func hasProps(have, want iceberg.Properties) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// fileSize is the size of the file at loc, 0 when it cannot be read.
func fileSize(ctx context.Context, tbl *table.Table, loc string) int64 {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return 0
	}
	f, err := fs.Open(loc)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}
