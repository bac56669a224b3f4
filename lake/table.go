package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// Snapshot summary properties lakeport writes with every data commit.
const (
	PropCommitID     = "lakeport.commit-id"
	PropState        = "lakeport.state"
	PropSyncID       = "lakeport.sync-id"
	PropGenerationID = "lakeport.generation-id"
	PropRecordCount  = "lakeport.record-count"
)

// Mode is how a commit's rows meet the table's rows.
type Mode int

const (
	// Append adds the rows.
	Append Mode = iota
	// Overwrite replaces all of the table's rows with the commit's, in one
	// snapshot: readers see the old rows until the commit lands, then only
	// the new ones (copy-on-write; there is never an empty moment).
	Overwrite
	// Merge deletes the table's rows whose primary key appears in the
	// commit, then adds the commit's rows, in one snapshot (copy-on-write:
	// data files holding such keys are rewritten without them). Within the
	// commit, the last row of a key wins. Rows with a null key column are
	// appended without deduplication.
	Merge
)

func (m Mode) String() string {
	switch m {
	case Append:
		return "append"
	case Overwrite:
		return "overwrite"
	case Merge:
		return "merge"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Commit describes one atomic commit of data and state.
type Commit struct {
	Mode Mode
	// PrimaryKey names the key columns for Merge.
	PrimaryKey []string
	// State is the source state the data covers (JSON); nil for none, in
	// which case LastState keeps returning the previous commit's state.
	State json.RawMessage
	// SyncID is the sync run writing the commit.
	SyncID       string
	GenerationID int64
	// RecordCount is what the caller counted into the commit (records read,
	// before deduplication); stored for auditing.
	RecordCount int64
	// CommitID identifies the commit across retries and restarts; a
	// random one is made when empty. A caller that may crash between
	// sending a commit and learning its outcome should derive it from its
	// own progress (e.g. sync ID + checkpoint number) and check
	// [Table.Landed] after a restart.
	CommitID string
}

func (c *Commit) summary() iceberg.Properties {
	p := iceberg.Properties{
		PropCommitID:     c.CommitID,
		PropGenerationID: strconv.FormatInt(c.GenerationID, 10),
		PropRecordCount:  strconv.FormatInt(c.RecordCount, 10),
	}
	if c.SyncID != "" {
		p[PropSyncID] = c.SyncID
	}
	if c.State != nil {
		p[PropState] = string(c.State)
	}
	return p
}

// Identifier is the table's namespace and name.
func (t *Table) Identifier() (ns, name string) { return t.id[0], t.id[1] }

func (t *Table) current() *table.Table {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tbl
}

func (t *Table) set(tbl *table.Table) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tbl = tbl
}

// Iceberg is the underlying iceberg-go table as last loaded.
func (t *Table) Iceberg() *table.Table { return t.current() }

// Schema is the table's current schema as last loaded.
func (t *Table) Schema() *iceberg.Schema { return t.current().Schema() }

// Location is the table's root location.
func (t *Table) Location() string { return t.current().Location() }

// ArrowSchema is the Arrow schema batches committed to the table must have:
// the table's current schema, with field IDs.
func (t *Table) ArrowSchema() (*arrow.Schema, error) {
	return table.SchemaToArrowSchema(t.Schema(), nil, true, false)
}

// Refresh reloads the table's metadata from the catalog.
func (t *Table) Refresh(ctx context.Context) error {
	tbl, err := t.lake.catalog().LoadTable(ctx, t.cid)
	if err != nil {
		return fmt.Errorf("lake: reload %s: %w", t.name(), err)
	}
	t.set(tbl)
	return nil
}

func (t *Table) name() string { return strings.Join(t.id, ".") }

// Commit writes batches and c's state to the table in one snapshot. All
// batches must have the same schema, matching the table's columns by name
// (see [Table.ArrowSchema]; a subset of the columns is fine). Batches are
// not released. Zero batches commit the state alone (Overwrite then empties
// the table).
//
// Conflicts are retried (see the package documentation); an attempt whose
// outcome is unknown is followed by a check for the commit's ID before
// anything is resent, so a commit lands at most once. When that check
// cannot be made, Commit returns an error wrapping [ErrCommitUnknown].
func (t *Table) Commit(ctx context.Context, batches []arrow.RecordBatch, c Commit) error {
	if c.Mode == Merge && len(c.PrimaryKey) == 0 {
		return fmt.Errorf("lake: commit to %s: %w", t.name(), ErrNoPrimaryKey)
	}
	return t.commit(ctx, c, func(tbl *table.Table, txn *table.Transaction, props iceberg.Properties) error {
		return t.stage(ctx, tbl, txn, batches, c, props)
	})
}

// stageFunc adds a commit's data to txn, a transaction on tbl.
type stageFunc func(tbl *table.Table, txn *table.Transaction, props iceberg.Properties) error

// commit runs Commit's retry loop; stage adds the commit's data to a
// transaction on the table's latest metadata (once per attempt).
func (t *Table) commit(ctx context.Context, c Commit, stage stageFunc) error {
	if c.CommitID == "" {
		c.CommitID = uuid.NewString()
	}
	return t.commitWith(ctx, c.CommitID, c.summary(), stage)
}

// Change is one commit of a change other than new data (table maintenance: a
// rewrite of data files, expired snapshots, properties): it adds the change
// to txn, a transaction on tbl, the table's latest metadata, once per
// attempt, giving summary to the snapshot it adds, if any. An error from it
// ends the commit with nothing sent; it is returned wrapped.
type Change func(tbl *table.Table, txn *table.Transaction, summary iceberg.Properties) error

// CommitChange commits a change with the retries and at-most-once guarantee
// of [Table.Commit]: conflicts are retried (iceberg-go first rebuilds the
// snapshot on the new head and runs its conflict validators; then lakeport
// reloads the table and stages the change again), and an attempt whose
// outcome is unknown is followed by a check for commitID in the table's
// snapshots before anything is resent. props go into the summary of the
// snapshot the change adds, if it adds one, with [PropCommitID] set to
// commitID (a random one when empty). A change that adds no snapshot (one
// that expires snapshots or sets properties) cannot be found by its ID: an
// unknown outcome is resent, so such a change must be safe to apply twice.
//
// Summaries without [PropState] do not move the table's state: LastState
// reads past them.
func (t *Table) CommitChange(ctx context.Context, commitID string, props iceberg.Properties, change Change) error {
	if commitID == "" {
		commitID = uuid.NewString()
	}
	p := maps.Clone(props)
	if p == nil {
		p = iceberg.Properties{}
	}
	delete(p, PropState)
	p[PropCommitID] = commitID
	return t.commitWith(ctx, commitID, p, stageFunc(change))
}

// commitWith runs the retry loop of a commit whose snapshot summary is props
// (carrying PropCommitID = commitID).
func (t *Table) commitWith(ctx context.Context, commitID string, props iceberg.Properties, stage stageFunc) error {
	c := Commit{CommitID: commitID}
	var lastErr error
	unknown := false
	for attempt := 0; attempt <= t.lake.retries; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt-1); err != nil {
				return t.commitErr(c, err, unknown)
			}
		}
		tbl, err := t.lake.catalog().LoadTable(ctx, t.cid)
		if err != nil {
			if unknown {
				return t.commitErr(c, err, true)
			}
			return fmt.Errorf("lake: commit %s to %s: load: %w", c.CommitID, t.name(), err)
		}
		if findCommit(tbl.Metadata(), c.CommitID) != nil {
			t.set(tbl)
			return nil // an earlier attempt landed
		}
		unknown = false
		committed, err := t.attempt(ctx, t.lake.wrap(tbl, c.CommitID), props, stage)
		if err == nil {
			t.set(committed)
			return nil
		}
		lastErr = err
		var we *writeError
		switch {
		case errors.As(err, &we):
			return fmt.Errorf("lake: commit %s to %s: %w", c.CommitID, t.name(), err)
		case errors.Is(err, table.ErrCommitFailed), errors.Is(err, table.ErrCommitDiverged):
			// Clean conflict: nothing landed. (Diverged: a concurrent commit removed
			// files this one replaces; iceberg-go found it before sending, after
			// clean conflicts only. Staged again on the new head, the commit sees
			// the table as it is now.)
		default:
			unknown = true
		}
		if ctx.Err() != nil {
			return t.commitErr(c, ctx.Err(), unknown)
		}
	}
	if unknown {
		return t.commitErr(c, lastErr, true)
	}
	return fmt.Errorf("lake: commit %s to %s: gave up after %d retries: %w", c.CommitID, t.name(), t.lake.retries, lastErr)
}

func (t *Table) commitErr(c Commit, err error, unknown bool) error {
	if unknown {
		return fmt.Errorf("lake: commit %s to %s: %w: %w", c.CommitID, t.name(), ErrCommitUnknown, err)
	}
	return fmt.Errorf("lake: commit %s to %s: %w", c.CommitID, t.name(), err)
}

// writeError is a failure before anything was sent to the catalog.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write data: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// attempt stages the commit's data in a transaction and commits it once.
func (t *Table) attempt(ctx context.Context, tbl *table.Table, props iceberg.Properties, stage stageFunc) (*table.Table, error) {
	txn := tbl.NewTransaction()
	if err := stage(tbl, txn, props); err != nil {
		return nil, &writeError{err}
	}
	return txn.Commit(ctx)
}

// stage writes batches' data files into txn as c.Mode says.
func (t *Table) stage(ctx context.Context, tbl *table.Table, txn *table.Transaction, batches []arrow.RecordBatch, c Commit, props iceberg.Properties) error {
	sc, err := batchSchema(tbl, batches)
	if err != nil {
		return err
	}
	switch c.Mode {
	case Append:
		return withReader(sc, batches, func(r array.RecordReader) error { return txn.Append(ctx, r, props) })
	case Overwrite:
		// An overwrite rewrites the table's manifests and a merge reads or
		// drops the files they name: every one must be the table's own.
		if err := checkFiles(ctx, tbl); err != nil {
			return err
		}
		return withReader(sc, batches, func(r array.RecordReader) error { return txn.Overwrite(ctx, r, props) })
	case Merge:
		if err := checkFiles(ctx, tbl); err != nil {
			return err
		}
		return t.merge(ctx, txn, sc, batches, c.PrimaryKey, props)
	}
	return fmt.Errorf("unknown mode %v", c.Mode)
}

func batchSchema(tbl *table.Table, batches []arrow.RecordBatch) (*arrow.Schema, error) {
	if len(batches) > 0 {
		return batches[0].Schema(), nil
	}
	return table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
}

func withReader(sc *arrow.Schema, batches []arrow.RecordBatch, fn func(array.RecordReader) error) error {
	rdr, err := array.NewRecordReader(sc, batches)
	if err != nil {
		return err
	}
	defer rdr.Release()
	return fn(rdr)
}

// Landed reports whether the commit with commitID is in the table's history
// (on its main branch).
func (t *Table) Landed(ctx context.Context, commitID string) (bool, error) {
	if err := t.Refresh(ctx); err != nil {
		return false, err
	}
	return findCommit(t.current().Metadata(), commitID) != nil, nil
}

// Checkpoint is the lakeport part of a snapshot summary.
type Checkpoint struct {
	State        json.RawMessage
	SyncID       string
	GenerationID int64
	CommitID     string
	SnapshotID   int64
}

// LastState returns the state of the latest commit that carried one: the
// current snapshot's, or its nearest ancestor's when later snapshots (for
// example maintenance ones) lack it. ok is false when no commit carried
// state. The table is reloaded first.
func (t *Table) LastState(ctx context.Context) (state json.RawMessage, syncID string, ok bool, err error) {
	cp, ok, err := t.LastCheckpoint(ctx)
	return cp.State, cp.SyncID, ok, err
}

// LastCheckpoint is LastState with the rest of the summary.
func (t *Table) LastCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	if err := t.Refresh(ctx); err != nil {
		return Checkpoint{}, false, err
	}
	meta := t.current().Metadata()
	for snap := meta.CurrentSnapshot(); snap != nil; {
		if snap.Summary != nil {
			p := snap.Summary.Properties
			if s, ok := p[PropState]; ok {
				gen, _ := strconv.ParseInt(p[PropGenerationID], 10, 64)
				return Checkpoint{
					State:        json.RawMessage(s),
					SyncID:       p[PropSyncID],
					GenerationID: gen,
					CommitID:     p[PropCommitID],
					SnapshotID:   snap.SnapshotID,
				}, true, nil
			}
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	return Checkpoint{}, false, nil
}

// Scan reads the table's current rows (reloading it first) as one Arrow
// table; the caller releases it. opts narrow the scan (columns, filter,
// snapshot). For large tables use Iceberg().Scan(...).ToArrowRecords.
func (t *Table) Scan(ctx context.Context, opts ...table.ScanOption) (arrow.Table, error) {
	if err := t.Refresh(ctx); err != nil {
		return nil, err
	}
	out, err := t.current().Scan(opts...).ToArrowTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("lake: scan %s: %w", t.name(), err)
	}
	return out, nil
}
