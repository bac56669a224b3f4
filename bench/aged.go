package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/protocol"
)

// TargetAgedRatio: after many small incremental syncs and maintenance, the
// scan-and-aggregate query takes at most 1.2× its time over the same rows
// written by one sync.
const TargetAgedRatio = 1.2

// AgedOptions configure Aged.
type AgedOptions struct {
	// Syncs incremental syncs of RecordsPerSync events each make the aged
	// table (defaults 300 and 1,000).
	Syncs          int
	RecordsPerSync int
	// Dir and Keep are as for Sync.
	Dir  string
	Keep bool
	// Runs is how many times the query runs over each table (default 7; the
	// first is a warm-up).
	Runs int
}

// AgedResult compares a table many small syncs wrote, before and after
// maintenance, with the same rows written by one sync.
type AgedResult struct {
	Syncs          int   `json:"syncs"`
	RecordsPerSync int   `json:"records_per_sync"`
	Rows           int64 `json:"rows"`
	// SyncSeconds is the time of all the incremental syncs together.
	SyncSeconds float64 `json:"sync_seconds"`
	// Query is the query timed over each table (%s: the table), Runs the
	// runs counted for each median.
	Query string `json:"query"`
	Runs  int    `json:"runs"`
	// Aged is the table after the incremental syncs, Maintained the same
	// table after maintenance, OneSync the same rows written by one sync.
	Aged       AgedTable `json:"aged"`
	Maintained AgedTable `json:"maintained"`
	OneSync    AgedTable `json:"one_sync"`
	// Maintenance is what maintain.Table did (its default options) and how
	// long it took.
	Maintenance        maintain.Report `json:"maintenance"`
	MaintenanceSeconds float64         `json:"maintenance_seconds"`
	// Ratio is Maintained's query time over OneSync's; RatioUnmaintained
	// Aged's over OneSync's.
	Ratio             float64 `json:"ratio"`
	RatioUnmaintained float64 `json:"ratio_unmaintained"`
}

// AgedTable is one table's shape and query time.
type AgedTable struct {
	DataFiles     int   `json:"data_files"`
	DataFileBytes int64 `json:"data_file_bytes"`
	Snapshots     int   `json:"snapshots"`
	// MetadataFileBytes is the current metadata file's size; MetadataBytes
	// and MetadataFiles are everything under the table's metadata/ folder
	// (metadata files, manifest lists, manifests).
	MetadataFileBytes int64 `json:"metadata_file_bytes"`
	MetadataBytes     int64 `json:"metadata_bytes"`
	MetadataFiles     int   `json:"metadata_files"`
	// QueryMs is the query's median time through the engine.
	QueryMs float64 `json:"query_ms"`
}

func (o *AgedOptions) defaults() {
	if o.Syncs <= 0 {
		o.Syncs = 300
	}
	if o.RecordsPerSync <= 0 {
		o.RecordsPerSync = 1000
	}
	if o.Runs <= 0 {
		o.Runs = 7
	}
}

// Aged makes a table with opts.Syncs incremental syncs of
// opts.RecordsPerSync events each, times the scan-and-aggregate query over
// it, runs maintenance (maintain.Table with its defaults: compaction and
// snapshot expiry) and times the query again, and compares both with the
// same rows written by one sync. The syncs run in this process, one after
// another, through the recorded source.
func Aged(ctx context.Context, opts AgedOptions) (AgedResult, error) {
	opts.defaults()
	res := AgedResult{Syncs: opts.Syncs, RecordsPerSync: opts.RecordsPerSync, Query: queryCases[0].SQL, Runs: opts.Runs - 1}
	dir, cleanup, err := workDir(opts.Dir, opts.Keep)
	if err != nil {
		return res, err
	}
	defer cleanup()
	in, err := Generate(ctx, filepath.Join(dir, "input"), opts.Syncs*opts.RecordsPerSync, opts.RecordsPerSync)
	if err != nil {
		return res, err
	}
	res.Rows = in.Records
	slices, err := Split(in, filepath.Join(dir, "slices"), opts.RecordsPerSync)
	if err != nil {
		return res, err
	}
	if len(slices) != opts.Syncs {
		return res, fmt.Errorf("bench: aged: the input splits into %d syncs, want %d", len(slices), opts.Syncs)
	}
	engine, err := newEngine(ctx, dir)
	if err != nil {
		return res, err
	}

	// The same rows in one sync.
	oneDir := filepath.Join(dir, "one-sync")
	if _, err := RunSync(ctx, SyncSpec{Input: in, LakeDir: oneDir, Source: SourceReader}); err != nil {
		return res, err
	}
	oneFiles, err := agedTable(ctx, oneDir, &res.OneSync)
	if err != nil {
		return res, err
	}

	// The incremental syncs, one after another on one lake.
	agedDir := filepath.Join(dir, "aged")
	start := time.Now()
	for i, s := range slices {
		if _, err := RunSync(ctx, SyncSpec{Input: s, LakeDir: agedDir, Source: SourceReader, SyncID: fmt.Sprintf("bench-%d", i+1)}); err != nil {
			return res, fmt.Errorf("bench: aged: sync %d of %d: %w", i+1, len(slices), err)
		}
	}
	res.SyncSeconds = time.Since(start).Seconds()
	agedFiles, err := agedTable(ctx, agedDir, &res.Aged)
	if err != nil {
		return res, err
	}

	// Maintenance, as serve runs it.
	t, closer, err := openTable(ctx, agedDir)
	if err != nil {
		return res, err
	}
	start = time.Now()
	res.Maintenance, err = maintain.Table(ctx, t, maintain.Options{RunID: "bench"})
	res.MaintenanceSeconds = time.Since(start).Seconds()
	closer.Close()
	if err != nil {
		return res, err
	}
	maintainedFiles, err := agedTable(ctx, agedDir, &res.Maintained)
	if err != nil {
		return res, err
	}

	// The three tables are queried in turns, so that other work on the
	// machine weighs on each alike. The aged table's files are still there
	// after maintenance: the snapshots that hold them are within the
	// retention.
	sqlText := fmt.Sprintf(queryCases[0].SQL, Namespace+"."+Table)
	var fns []func() (int, error)
	for _, files := range [][]string{oneFiles, agedFiles, maintainedFiles} {
		fns = append(fns, func() (int, error) { return engine.query(files, sqlText) })
	}
	ms, err := medians(opts.Runs, fns...)
	if err != nil {
		return res, fmt.Errorf("bench: aged: query: %w", err)
	}
	res.OneSync.QueryMs, res.Aged.QueryMs, res.Maintained.QueryMs = ms[0], ms[1], ms[2]
	res.Ratio = res.Maintained.QueryMs / res.OneSync.QueryMs
	res.RatioUnmaintained = res.Aged.QueryMs / res.OneSync.QueryMs
	return res, nil
}

// agedTable measures the shape of the bench table of the lake in lakeDir
// into at, and returns its data files.
func agedTable(ctx context.Context, lakeDir string, at *AgedTable) ([]string, error) {
	t, closer, err := openTable(ctx, lakeDir)
	if err != nil {
		return nil, err
	}
	tbl := t.Iceberg()
	at.Snapshots = len(tbl.Metadata().Snapshots())
	if fi, err := os.Stat(localPath(tbl.MetadataLocation())); err == nil {
		at.MetadataFileBytes = fi.Size()
	}
	at.MetadataBytes, at.MetadataFiles = folderSize(filepath.Join(localPath(tbl.Location()), "metadata"))
	closer.Close()
	files, _, err := DataFiles(ctx, lakeDir)
	if err != nil {
		return nil, err
	}
	at.DataFiles = len(files)
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			at.DataFileBytes += fi.Size()
		}
	}
	return files, nil
}

// localPath is a local lake's location as a path.
func localPath(loc string) string { return strings.TrimPrefix(loc, "file://") }

// folderSize is the size and count of the files under dir.
func folderSize(dir string) (int64, int) {
	var size int64
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			size += fi.Size()
			n++
		}
		return nil
	})
	return size, n
}

// Split cuts in's protocol stream into consecutive streams of about per
// records each, every one ending with the STATE that follows its records
// (as the source would have written them in separate incremental reads),
// into dir. Lines before the first record go to the first stream, lines
// after the last STATE to the last.
func Split(in *Input, dir string, per int) ([]*Input, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: split: %w", err)
	}
	f, err := os.Open(in.Protocol)
	if err != nil {
		return nil, fmt.Errorf("bench: split: %w", err)
	}
	defer f.Close()
	var out []*Input
	var cur *Input
	var buf bytes.Buffer
	flush := func() error {
		if err := os.WriteFile(cur.Protocol, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("bench: split: %w", err)
		}
		cur.ProtocolBytes = int64(buf.Len())
		out = append(out, cur)
		cur = nil
		buf.Reset()
		return nil
	}
	lp := protocol.NewLineParser()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var no int64
	for sc.Scan() {
		no++
		line := sc.Bytes()
		if cur == nil {
			cur = &Input{Protocol: filepath.Join(dir, fmt.Sprintf("%05d.protocol.jsonl", len(out)+1)), Catalog: in.Catalog}
		}
		buf.Write(line)
		buf.WriteByte('\n')
		rec, m, err := lp.Parse(line, no, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: split: %w", err)
		}
		switch {
		case rec != nil:
			cur.Records++
			cur.DataBytes += int64(len(rec.Data))
		case m != nil && m.Type == protocol.TypeState && cur.Records >= int64(per):
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: split: %w", err)
	}
	if cur != nil {
		if cur.Records > 0 || len(out) == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		} else {
			// Only trailing lines (stream status, logs): they end the last
			// stream.
			last := out[len(out)-1]
			fh, err := os.OpenFile(last.Protocol, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return nil, fmt.Errorf("bench: split: %w", err)
			}
			n, err := fh.Write(buf.Bytes())
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("bench: split: %w", err)
			}
			last.ProtocolBytes += int64(n)
		}
	}
	return out, nil
}
