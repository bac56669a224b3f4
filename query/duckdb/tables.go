package duckdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
)

// OpenFunc gives a query the snapshot of a lake table it names, with its files
// opened when they are local (lake.OpenFiles); the query closes them. A worker
// process asks its parent instead, which opens them (see query/worker).
type OpenFunc func(ctx context.Context, t query.Table) (lake.Snapshot, lake.LocalFiles, error)

// openInProcess is the default OpenFunc: this process opens the files.
func openInProcess(ctx context.Context, t query.Table) (lake.Snapshot, lake.LocalFiles, error) {
	if !t.Snapshot.Local() {
		return *t.Snapshot, nil, nil
	}
	files, err := lake.OpenFiles(ctx, *t.Snapshot)
	return *t.Snapshot, files, err
}

// unreadable marks a failure to read table t's data: the table's fault (or
// its bucket's), reported to the caller as such.
func unreadable(t query.Table, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, query.ErrUnreadable) {
		return err
	}
	return fmt.Errorf("%w: table %s: %w", query.ErrUnreadable, t.QualifiedName(), err)
}

// snapshotFiles returns the Parquet files DuckDB reads for lake table t:
// local data files as /dev/fd/N of files opened for this query (so DuckDB
// reads exactly what was checked and opened, by no path of the server's),
// a bucket's data files copied into the query's private directory, or, for a
// snapshot with delete files, its rows as read by iceberg-go, written to one
// Parquet file there.
func (s *session) snapshotFiles(ctx context.Context, t query.Table, i int) ([]string, error) {
	snap, files, err := s.cfg.Open(ctx, t)
	if err != nil {
		return nil, unreadable(t, err)
	}
	if files != nil {
		s.closers = append(s.closers, files.Close)
	}
	tbl, err := lake.ReadSnapshot(ctx, snap, files)
	if err != nil {
		return nil, unreadable(t, err)
	}
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, unreadable(t, err)
	}
	for _, task := range tasks {
		if len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
			f, err := s.scanToParquet(ctx, t, tbl, i)
			if err != nil {
				return nil, err
			}
			return []string{f}, nil
		}
	}
	fio, err := tbl.FS(ctx)
	if err != nil {
		return nil, unreadable(t, err)
	}
	out := make([]string, 0, len(tasks))
	for j, task := range tasks {
		p := task.File.FilePath()
		if err := lake.CheckPath(tbl.Location(), p); err != nil {
			return nil, unreadable(t, err)
		}
		if files != nil {
			f, ok := files[p]
			if !ok {
				return nil, unreadable(t, fmt.Errorf("data file %s was not opened", p))
			}
			out = append(out, "/dev/fd/"+strconv.FormatUint(uint64(f.Fd()), 10))
			continue
		}
		local, err := s.download(fio, p, filepath.Join("t"+strconv.Itoa(i), strconv.Itoa(j)+".parquet"), task.File.FileSizeBytes())
		if err != nil {
			return nil, s.budgetErr(t, err)
		}
		out = append(out, local)
	}
	return out, nil
}

// errScanLimit: a table's data is larger than what a query may copy.
var errScanLimit = errors.New("its data files are larger than a query may read (the engine's max_temp_size)")

// download copies the remote file p into the query's private directory under
// rel, within the query's copy budget.
func (s *session) download(fio icebergio.IO, p, rel string, size int64) (string, error) {
	if size > s.budget {
		return "", errScanLimit
	}
	src, err := fio.Open(p)
	if err != nil {
		return "", err
	}
	defer src.Close()
	path := filepath.Join(s.tempDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(&budgetWriter{w: dst, left: &s.budget}, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return s.relative(path), nil
}

// scanToParquet reads the table's rows with iceberg-go (applying delete
// files) and writes them to one Parquet file in the query's directory.
func (s *session) scanToParquet(ctx context.Context, t query.Table, tbl *table.Table, i int) (string, error) {
	sc, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		return "", unreadable(t, err)
	}
	src := array.ReaderFromIter(sc, recs)
	defer src.Release()
	return s.writeParquet(ctx, t, src, "t"+strconv.Itoa(i)+".parquet")
}

// writeParquet writes r's rows to the Parquet file name in the query's
// directory (within the copy budget) and returns its path.
func (s *session) writeParquet(ctx context.Context, t query.Table, r array.RecordReader, name string) (string, error) {
	path := filepath.Join(s.tempDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("duckdb: table %s: %w", t.QualifiedName(), err)
	}
	defer f.Close()
	bw := &budgetWriter{w: f, left: &s.budget}
	w, err := pqarrow.NewFileWriter(r.Schema(), bw,
		parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(128*1024)),
		pqarrow.DefaultWriterProps())
	if err != nil {
		return "", unreadable(t, err)
	}
	for r.Next() {
		if err := ctx.Err(); err != nil {
			w.Close()
			return "", err
		}
		if err := w.WriteBuffered(r.RecordBatch()); err != nil {
			w.Close()
			return "", s.budgetErr(t, err)
		}
	}
	if err := r.Err(); err != nil {
		w.Close()
		return "", unreadable(t, err)
	}
	if err := w.Close(); err != nil {
		return "", s.budgetErr(t, err)
	}
	return s.relative(path), nil
}

func (s *session) budgetErr(t query.Table, err error) error {
	if errors.Is(err, errScanLimit) {
		return fmt.Errorf("%w: table %s: %w", query.ErrResources, t.QualifiedName(), errScanLimit)
	}
	return unreadable(t, err)
}

// budgetWriter counts bytes against a query's copy budget.
type budgetWriter struct {
	w    io.Writer
	left *int64
}

func (b *budgetWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > *b.left {
		return 0, errScanLimit
	}
	*b.left -= int64(len(p))
	return b.w.Write(p)
}
