package lake

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// Staged is data files written into a table's location but not committed:
// no reader sees them until a commit lists them ([Table.CommitFiles]). Files
// of a commit that never lands are orphans, which table maintenance removes.
type Staged struct {
	Files []iceberg.DataFile
	Rows  int64
}

// FileWriter streams batches into Parquet data files of one table as they
// arrive, so memory holds the open file's row group and a couple of batches
// rather than every row of the next commit. Write and Close are for one
// goroutine; the encoding runs in iceberg-go's writer goroutines.
type FileWriter struct {
	table  *Table
	ch     chan arrow.RecordBatch
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
	rows   int64

	// set by the writer goroutine before done closes
	files []iceberg.DataFile
	err   error
}

// fileWriterQueue is how many batches wait for the encoder: the syncer's
// builder runs ahead of Parquet encoding by at most this much.
const fileWriterQueue = 1

// NewFileWriter starts writing data files for batches of schema sc (see
// [Table.ArrowSchema]; a subset of the columns is fine). Finish it with
// [FileWriter.Close] or [FileWriter.Abort].
func (t *Table) NewFileWriter(ctx context.Context, sc *arrow.Schema) *FileWriter {
	ctx, cancel := context.WithCancel(ctx)
	w := &FileWriter{table: t, ch: make(chan arrow.RecordBatch, fileWriterQueue), done: make(chan struct{}), cancel: cancel}
	tbl := t.current()
	records := func(yield func(arrow.RecordBatch, error) bool) {
		for {
			select {
			case b, ok := <-w.ch:
				if !ok || !yield(b, nil) {
					return
				}
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
		}
	}
	go func() {
		defer close(w.done)
		for df, err := range table.WriteRecords(ctx, tbl, sc, records,
			table.WithRecordBatchBufferSize(fileWriterQueue), table.WithWriteUUID(uuid.New())) {
			if err != nil {
				w.err = err
				cancel() // stops the records iterator if the writer is still pulling
				return
			}
			w.files = append(w.files, df)
		}
	}()
	return w
}

// Write hands b to the writer, which releases it once written (also on
// error). It blocks while the encoder is fileWriterQueue batches behind.
// Not after Close or Abort.
func (w *FileWriter) Write(b arrow.RecordBatch) error {
	select {
	case w.ch <- b:
		w.rows += b.NumRows()
		return nil
	case <-w.done:
		b.Release()
		return w.failure()
	}
}

// Close finishes the open file and returns the staged files.
func (w *FileWriter) Close() (Staged, error) {
	w.once.Do(func() { close(w.ch) })
	<-w.done
	w.cancel()
	w.drain()
	if w.err != nil {
		return Staged{}, w.failure()
	}
	return Staged{Files: w.files, Rows: w.rows}, nil
}

// Abort stops writing; files already written stay as orphans.
func (w *FileWriter) Abort() {
	w.cancel()
	w.once.Do(func() { close(w.ch) })
	<-w.done
	w.drain()
}

// drain releases batches the writer never took (after it stopped early).
func (w *FileWriter) drain() {
	for b := range w.ch {
		b.Release()
	}
}

func (w *FileWriter) failure() error {
	return fmt.Errorf("lake: write data files of %s: %w", w.table.name(), w.err)
}

// CanStage reports whether the table takes staged files ([Table.CommitFiles]):
// iceberg-go v0.7.0 adds written files to format version 1 and 2 tables only
// (a v3 table needs row lineage ids the writer does not assign).
func (t *Table) CanStage() bool { return t.current().Metadata().Version() < 3 }

// CommitFiles commits staged data files with c's state in one Append
// snapshot, with the retries and at-most-once guarantee of [Table.Commit].
// A retry after a conflict commits the same files again: nothing is
// rewritten. Only c.Mode Append is supported; no files commit the state
// alone.
func (t *Table) CommitFiles(ctx context.Context, s Staged, c Commit) error {
	if c.Mode != Append {
		return fmt.Errorf("lake: commit staged files to %s: mode %v is not supported (append only)", t.name(), c.Mode)
	}
	if len(s.Files) == 0 {
		return t.Commit(ctx, nil, c)
	}
	return t.commit(ctx, c, func(_ *table.Table, txn *table.Transaction, props iceberg.Properties) error {
		return txn.AddDataFiles(ctx, s.Files, props, table.WithoutDuplicateCheck(), table.WithoutAutoNameMapping())
	})
}
