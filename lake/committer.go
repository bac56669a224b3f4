package lake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/apache/iceberg-go/table"
)

// errRequirementFailed marks a commit the catalog refused because the table
// moved: a clean conflict, nothing landed. It wraps table.ErrCommitFailed.
var errRequirementFailed = fmt.Errorf("%w: the table changed since it was loaded", table.ErrCommitFailed)

// committer stands between iceberg-go's tables and the SQL catalog.
//
// iceberg-go v0.7.0's SQL catalog returns a failed commit requirement (the
// branch head moved: the everyday conflict) as a plain error, not
// table.ErrCommitFailed (catalog/sql CommitTable → internal.UpdateAndStageTable
// → Requirement.Validate); only the narrower race on the final UPDATE is
// ErrCommitFailed. iceberg-go treats any other error as "outcome unknown" and
// does not retry. The committer classifies a failed commit itself, without
// reading messages: it reloads the table, and
//   - if a snapshot carries this commit's lakeport.commit-id, the commit
//     landed: it returns success with the loaded metadata;
//   - if one of the commit's requirements fails on the loaded metadata, the
//     commit could not have applied: it returns errRequirementFailed, which
//     iceberg-go retries on the new head (rebuilding the manifest list, no
//     data rewritten);
//   - otherwise it returns the original error (outcome unknown).
type committer struct {
	cat      table.CatalogIO
	commitID string // "" for schema-only commits
}

func (c *committer) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	tbl, err := c.cat.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *committer) bind(tbl *table.Table) *table.Table {
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(), tbl.FS, c)
}

func (c *committer) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	meta, loc, err := c.cat.CommitTable(ctx, id, reqs, updates)
	if err == nil || errors.Is(err, table.ErrCommitFailed) || ctx.Err() != nil {
		return meta, loc, err
	}
	current, lerr := c.cat.LoadTable(ctx, id)
	if lerr != nil {
		return nil, "", err
	}
	if c.commitID != "" && findCommit(current.Metadata(), c.commitID) != nil {
		return current.Metadata(), current.MetadataLocation(), nil
	}
	for _, r := range reqs {
		if r.Validate(current.Metadata()) != nil {
			return nil, "", fmt.Errorf("%w (%v)", errRequirementFailed, err)
		}
	}
	return nil, "", err
}

// wrap binds tbl to a committer for commitID.
func (l *Lake) wrap(tbl *table.Table, commitID string) *table.Table {
	c := &committer{cat: l.committerCatalog(), commitID: commitID}
	return c.bind(tbl)
}

// findCommit returns the snapshot on the main branch carrying commitID.
func findCommit(meta table.Metadata, commitID string) *table.Snapshot {
	for snap := meta.CurrentSnapshot(); snap != nil; {
		if snap.Summary != nil && snap.Summary.Properties[PropCommitID] == commitID {
			return snap
		}
		if snap.ParentSnapshotID == nil {
			return nil
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	return nil
}

// backoff sleeps before retry attempt+1: exponential from 25ms, capped at
// 2s, with jitter.
func backoff(ctx context.Context, attempt int) error {
	d := 25 * time.Millisecond << min(attempt, 7)
	d = min(d, 2*time.Second)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
