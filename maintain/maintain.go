// Package maintain keeps lakeport's Iceberg tables fast and small as they age.
// Every incremental sync adds a snapshot and a few small data files; left
// alone, queries open ever more files and the table's metadata grows with
// every commit. [Table] runs the three maintenance steps on one table:
//
//   - [Compact] rewrites small data files into files near a target size, in
//     "replace" snapshots whose rows are exactly the rows they replace;
//   - [Expire] expires snapshots older than a retention, always keeping the
//     snapshots from the current one back to the latest that carries the
//     source state (see package lake: a sync resumes from it), and bounds the
//     metadata log;
//   - [RemoveOrphans] deletes files under the table's location that no
//     snapshot references and that are older than a safety window (what
//     commits that never landed left behind).
//
// # Racing a sync
//
// Each step is an ordinary Iceberg commit through [lake.Table.CommitChange]:
// when a sync commits between maintenance's read and its commit, the commit
// conflicts and is retried on the new head. A compaction group whose input
// files a sync removed meanwhile (a dedup merge or a full-refresh overwrite
// rewrites files) is never committed: iceberg-go's rewrite validation and
// this package's own check of the inputs against the head refuse it, its
// output files are deleted, and the next maintenance plans again from the
// table as it is then. Expiry replayed on a new head removes only snapshots
// it chose on the old one, none of which a newer snapshot needs. No step
// writes lakeport.state, so none moves the table's state.
//
// # Crashes
//
// A compaction killed mid-way has committed whole groups or nothing of a
// group; the files of a group it was writing are orphans, removed by a later
// RemoveOrphans once older than its window (package connector removes them
// as soon as the resumed run finishes). Run again, maintenance plans from the
// table as it is and finishes.
package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakeport/lakeport/lake"
)

// Defaults of Options.
const (
	DefaultTargetFileSize   = 128 << 20
	DefaultMinInputFiles    = 2
	DefaultRetention        = 7 * 24 * time.Hour
	DefaultOrphanWindow     = 3 * 24 * time.Hour
	DefaultMetadataVersions = 20
)

// Snapshot summary properties of maintenance commits (with lake.PropCommitID).
const (
	// PropMaintenance names the step that wrote the snapshot ("compact").
	PropMaintenance = "lakeport.maintenance"
	// PropRunID is the maintenance run that wrote it.
	PropRunID = "lakeport.maintenance-run"
)

// Options tune maintenance. The zero value uses the defaults.
type Options struct {
	// TargetFileSize is the size compaction aims its data files at, in bytes
	// (default DefaultTargetFileSize). Files under 75% of it are rewritten,
	// files over 180% are left as they are.
	TargetFileSize int64
	// MinInputFiles is the fewest small files worth one rewrite (default
	// DefaultMinInputFiles).
	MinInputFiles int
	// Retention is how long snapshots are kept (default DefaultRetention;
	// negative: none beyond the ones always kept). The current snapshot and
	// every snapshot from it back to the latest one carrying the source state
	// are always kept.
	Retention time.Duration
	// OrphanWindow spares unreferenced files younger than this (default
	// DefaultOrphanWindow): a commit in progress has written them and not yet
	// published them. It must be longer than any sync runs.
	OrphanWindow time.Duration
	// MetadataVersions bounds the previous metadata files a table keeps
	// (write.metadata.previous-versions-max; older ones are deleted as each
	// commit lands). Default DefaultMetadataVersions.
	MetadataVersions int
	// RunID names the maintenance run in the snapshots it writes.
	RunID string
	// Files lists, dates and deletes the files under the table's location,
	// for RemoveOrphans; nil skips that step.
	Files lake.Files
	// Skip leaves steps out.
	SkipCompact, SkipExpire, SkipOrphans bool
	// Progress, when set, is called with the table's report so far after each
	// compaction group and each step.
	Progress func(Report)
	// Now is the clock (tests move it); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o Options) progress(r Report) {
	if o.Progress != nil {
		o.Progress(r)
	}
}

// WithDefaults returns o with its zero fields set to the defaults. It is
// idempotent: a negative Retention stays negative (Expire reads it as none).
func (o Options) WithDefaults() Options {
	if o.TargetFileSize <= 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.MinInputFiles <= 0 {
		o.MinInputFiles = DefaultMinInputFiles
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.OrphanWindow <= 0 {
		o.OrphanWindow = DefaultOrphanWindow
	}
	if o.MetadataVersions <= 0 {
		o.MetadataVersions = DefaultMetadataVersions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Report is what maintenance did to one table.
type Report struct {
	Table      string         `json:"table"`
	Compaction *CompactReport `json:"compaction,omitempty"`
	Expiry     *ExpireReport  `json:"expiry,omitempty"`
	Orphans    *OrphanReport  `json:"orphans,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// Table runs the steps on t in order (compact, expire, remove orphans) and
// reports each. It stops at the first step that fails; what earlier steps
// committed stays.
func Table(ctx context.Context, t *lake.Table, o Options) (Report, error) {
	o = o.WithDefaults()
	ns, name := t.Identifier()
	rep := Report{Table: ns + "." + name}
	fail := func(err error) (Report, error) {
		rep.Error = err.Error()
		return rep, err
	}
	if !o.SkipCompact {
		c, err := Compact(ctx, t, o)
		rep.Compaction = &c
		if err != nil {
			return fail(err)
		}
		o.progress(rep)
	}
	if !o.SkipExpire {
		e, err := Expire(ctx, t, o)
		rep.Expiry = &e
		if err != nil {
			return fail(err)
		}
		o.progress(rep)
	}
	if !o.SkipOrphans && o.Files != nil {
		r, err := RemoveOrphans(ctx, t, o.Files, o)
		rep.Orphans = &r
		if err != nil {
			return fail(err)
		}
		o.progress(rep)
	}
	return rep, nil
}

// testHook, set by tests, is called where a concurrent commit may land:
// "compact-written" (a group's files are written, its commit not begun),
// "compact-staged" and "expire-staged" (the change is staged on the table it
// commits on, not yet sent).
var testHook func(point string)

func hook(point string) {
	if testHook != nil {
		testHook(point)
	}
}

// errSuperseded: a compaction group's inputs are no longer all in the table.
var errSuperseded = errors.New("maintain: a sync replaced some of the files being compacted")

// IsSuperseded reports whether err means a compaction group was dropped
// because a concurrent commit removed some of its input files.
func IsSuperseded(err error) bool { return errors.Is(err, errSuperseded) }

func wrap(t *lake.Table, step string, err error) error {
	ns, name := t.Identifier()
	return fmt.Errorf("maintain: %s %s.%s: %w", step, ns, name, err)
}
