package maintain

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"
	"github.com/google/uuid"

	"github.com/lakeport/lakeport/lake"
)

// CompactReport is what Compact did.
type CompactReport struct {
	// FilesBefore and FilesAfter count the current snapshot's data files.
	FilesBefore int `json:"files_before"`
	FilesAfter  int `json:"files_after"`
	// Groups were planned; Committed of them landed, each in its own
	// snapshot; Superseded were dropped because a concurrent commit removed
	// some of their inputs.
	Groups     int `json:"groups"`
	Committed  int `json:"committed"`
	Superseded int `json:"superseded"`
	// RewrittenFiles and WrittenFiles are the committed groups' inputs and
	// outputs; BytesBefore and BytesAfter their sizes.
	RewrittenFiles int   `json:"rewritten_files"`
	WrittenFiles   int   `json:"written_files"`
	BytesBefore    int64 `json:"bytes_before"`
	BytesAfter     int64 `json:"bytes_after"`
}

// Compact rewrites t's small data files into files near o.TargetFileSize.
// The plan is iceberg-go's bin-packing (package table/compaction): files
// under 75% of the target, packed into groups of about the target, groups of
// fewer than o.MinInputFiles files left out. Each group is read (the table's
// current schema: columns added since a file was written read as null) and
// written again, then committed alone as a "replace" snapshot, so a crash
// loses at most the group in progress. Rows are neither added, dropped nor
// changed.
func Compact(ctx context.Context, t *lake.Table, o Options) (CompactReport, error) {
	o = o.WithDefaults()
	var rep CompactReport
	ns, name := t.Identifier()
	if err := t.Refresh(ctx); err != nil {
		return rep, wrap(t, "compact", err)
	}
	tbl := t.Iceberg()
	if tbl.CurrentSnapshot() == nil {
		return rep, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return rep, wrap(t, "compact: plan", err)
	}
	rep.FilesBefore = len(tasks)
	rep.FilesAfter = len(tasks)
	cfg := compaction.DefaultConfig()
	cfg.TargetFileSizeBytes = o.TargetFileSize
	cfg.MinFileSizeBytes = o.TargetFileSize * 3 / 4
	cfg.MaxFileSizeBytes = o.TargetFileSize * 9 / 5
	cfg.MinInputFiles = uint(o.MinInputFiles)
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return rep, wrap(t, "compact: plan", err)
	}
	rep.Groups = len(plan.Groups)
	for i, g := range plan.Groups {
		if err := ctx.Err(); err != nil {
			return rep, wrap(t, "compact", err)
		}
		err := compactGroup(ctx, t, tbl, table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes}, o, &rep)
		switch {
		case IsSuperseded(err):
			rep.Superseded++
			o.Logger.Info("compaction group dropped: a sync replaced some of its files meanwhile; the next maintenance plans again",
				"table", t.Location(), "group", i)
		case err != nil:
			return rep, wrap(t, "compact", err)
		}
		rep.FilesAfter = rep.FilesBefore - rep.RewrittenFiles + rep.WrittenFiles
		o.progress(Report{Table: ns + "." + name, Compaction: &rep})
	}
	return rep, nil
}

// compactGroup writes one group's rows into new files and commits them in
// place of the group's files.
func compactGroup(ctx context.Context, t *lake.Table, tbl *table.Table, g table.CompactionTaskGroup, o Options, rep *CompactReport) error {
	gr, err := table.ExecuteCompactionGroup(ctx, tbl, g,
		table.WithCompactionTargetFileSize(o.TargetFileSize),
		// Memory: one task's rows at a time, a few batches queued for the writer.
		table.WithCompactionScanConcurrency(1),
		table.WithCompactionArrowBatchSize(8192),
		table.WithCompactionRecordBatchBufferSize(4))
	if err != nil {
		return errors.Join(err, removeFiles(ctx, tbl, gr.NewDataFiles))
	}
	hook("compact-written")
	var rows, want int64
	for _, f := range gr.NewDataFiles {
		rows += f.Count()
	}
	for _, f := range gr.OldDataFiles {
		want += f.Count()
	}
	if rows != want {
		// Copy-on-write tables have no delete files: a rewrite holds exactly
		// its inputs' rows. Anything else is a bug; commit nothing.
		return errors.Join(fmt.Errorf("the rewrite of %d files wrote %d rows, they hold %d; nothing committed", len(gr.OldDataFiles), rows, want),
			removeFiles(ctx, tbl, gr.NewDataFiles))
	}
	props := iceberg.Properties{PropMaintenance: "compact"}
	if o.RunID != "" {
		props[PropRunID] = o.RunID
	}
	err = t.CommitChange(ctx, "compact-"+uuid.NewString(), props, func(cur *table.Table, txn *table.Transaction, summary iceberg.Properties) error {
		if err := checkLive(ctx, cur, gr.OldDataFiles); err != nil {
			return err
		}
		if err := txn.NewRewrite(summary).ApplyResult(gr).Commit(ctx); err != nil {
			return err
		}
		hook("compact-staged")
		return nil
	})
	if err != nil {
		if errors.Is(err, lake.ErrCommitUnknown) {
			// The files may be in the table: keep them (if they are not, they are
			// orphans that RemoveOrphans deletes once old enough).
			return err
		}
		return errors.Join(err, removeFiles(ctx, tbl, gr.NewDataFiles))
	}
	rep.Committed++
	rep.RewrittenFiles += len(gr.OldDataFiles)
	rep.WrittenFiles += len(gr.NewDataFiles)
	rep.BytesBefore += gr.BytesBefore
	rep.BytesAfter += gr.BytesAfter
	return nil
}

// checkLive returns errSuperseded unless every file of files is a live data
// file of cur's current snapshot.
func checkLive(ctx context.Context, cur *table.Table, files []iceberg.DataFile) error {
	if cur.CurrentSnapshot() == nil {
		return errSuperseded
	}
	tasks, err := cur.Scan().PlanFiles(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(tasks))
	for _, task := range tasks {
		live[task.File.FilePath()] = true
	}
	for _, f := range files {
		if !live[f.FilePath()] {
			return fmt.Errorf("%w (%s is gone)", errSuperseded, f.FilePath())
		}
	}
	return nil
}

// removeFiles deletes data files a compaction wrote and did not commit.
func removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) error {
	if len(files) == 0 {
		return nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := fs.Remove(f.FilePath()); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove uncommitted compaction output (an orphan-file pass removes it later): %w", errors.Join(errs...))
	}
	return nil
}
