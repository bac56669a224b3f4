package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Targets of a sync (see also suite.go): at most 1.5× DuckDB's time, under
// 256 MiB of RSS.
const (
	TargetSyncRatio = 1.5
	TargetPeakRSS   = 256 << 20
)

// Options configure Sync.
type Options struct {
	// Records is how many events the stream holds (default 1,000,000).
	Records int
	// Dir is the working directory (input files, the lake, DuckDB's
	// output). Default: a new temporary directory, removed afterwards
	// unless Keep is set.
	Dir  string
	Keep bool
	// StateEvery is records between STATE messages (default DefaultStateEvery).
	StateEvery int
	// Source is how the sync reads the recorded stream: SourceExec (default)
	// or SourceReader.
	Source string
	// BatchRows and BatchBytes tune the syncer (0: its defaults).
	BatchRows  int
	BatchBytes int64
	// Child runs the sync in a child process so that its peak RSS is its
	// own: the command, to which the spec file's path is appended, must call
	// ChildMain. Empty: the sync runs in this process and the peak RSS
	// reported is this process's (which includes generating the input).
	Child []string
	// DuckDBThreads is DuckDB's threads setting (0: every core).
	DuckDBThreads int
	// DuckDBRuns is how many times each DuckDB conversion is timed; the
	// median counts (default DefaultDuckDBRuns).
	DuckDBRuns int
	// SkipDuckDB leaves DuckDB out.
	SkipDuckDB bool
	// SyncRuns is how many times the sync runs in a child process, each
	// into a new lake; the run of median time counts (default 1).
	SyncRuns int
	// CPUProfile, when set, is a file to write a CPU profile of the sync to.
	CPUProfile string
}

// SyncResult is one bench sync's figures.
type SyncResult struct {
	Records       int64   `json:"records"`
	DataBytes     int64   `json:"data_bytes"`
	ProtocolBytes int64   `json:"protocol_bytes"`
	Source        string  `json:"source"`
	Commits       int     `json:"commits"`
	Seconds       float64 `json:"seconds"`
	// Times are every run's seconds (see Options.SyncRuns); the figures
	// are the median run's.
	Times         []float64 `json:"times"`
	RecordsPerSec float64   `json:"records_per_sec"`
	// CPUSeconds is the sync's CPU time (user + system), and
	// RecordsPerCPUSec the records per second of it: a per-core rate that
	// other work on the machine skews less than wall time.
	CPUSeconds       float64 `json:"cpu_seconds"`
	RecordsPerCPUSec float64 `json:"records_per_cpu_sec"`
	// SyncCPUSeconds is the CPU time of the sync alone, as the process
	// measured it around the sync: CPUSeconds without starting the process
	// and opening the lake.
	SyncCPUSeconds float64 `json:"sync_cpu_seconds"`
	// DataFiles and DataFileBytes are the table's Parquet files after the
	// sync.
	DataFiles     int   `json:"data_files"`
	DataFileBytes int64 `json:"data_file_bytes"`
	// Cores is the number of CPUs the Go runtime sees (GOMAXPROCS).
	Cores                int     `json:"cores"`
	RecordsPerSecPerCore float64 `json:"records_per_sec_per_core"`
	// MBPerSec is of the records' JSON data (DataBytes), in 10^6 bytes.
	MBPerSec float64 `json:"mb_per_sec"`
	// PeakRSS is the sync process's peak resident set size, in bytes;
	// PeakRSSOf says whose it is.
	PeakRSS    int64  `json:"peak_rss_bytes"`
	PeakRSSOf  string `json:"peak_rss_of"`
	GoHeapPeak uint64 `json:"go_heap_peak_bytes"`
	// AnonRSSPeak is the sync's peak anonymous RSS as sampled every 50 ms:
	// PeakRSS without the program file's own pages (about 80 MB of the
	// lakeport binary, which links DuckDB).
	AnonRSSPeak int64 `json:"anon_rss_peak_bytes"`
	// LoadAvg is /proc/loadavg when the sync started: other work on the
	// machine skews every figure.
	LoadAvg string `json:"load_avg,omitempty"`
	// GoMemLimit is the GOMEMLIMIT the sync ran with, if any.
	GoMemLimit string `json:"gomemlimit,omitempty"`
	// DuckDB are DuckDB's conversions of the same records, in the same run.
	DuckDB []DuckDBRun `json:"duckdb,omitempty"`
	// LakeDir holds the synced lake (when kept).
	LakeDir string `json:"lake_dir"`
}

func (o *Options) defaults() {
	if o.Records <= 0 {
		o.Records = 1_000_000
	}
	if o.StateEvery <= 0 {
		o.StateEvery = DefaultStateEvery
	}
	if o.Source == "" {
		o.Source = SourceExec
	}
}

// Sync records n sample events as a protocol stream, syncs it into a new
// local lake and times DuckDB converting the same records to Parquet.
func Sync(ctx context.Context, opts Options) (SyncResult, error) {
	opts.defaults()
	var res SyncResult
	dir, cleanup, err := workDir(opts.Dir, opts.Keep)
	if err != nil {
		return res, err
	}
	defer cleanup()
	in, err := Generate(ctx, filepath.Join(dir, "input"), opts.Records, opts.StateEvery)
	if err != nil {
		return res, err
	}
	return syncInput(ctx, in, dir, opts)
}

func syncInput(ctx context.Context, in *Input, dir string, opts Options) (SyncResult, error) {
	res := SyncResult{Records: in.Records, DataBytes: in.DataBytes, ProtocolBytes: in.ProtocolBytes, Source: opts.Source, Cores: runtime.GOMAXPROCS(0)}
	spec := SyncSpec{Input: in, LakeDir: filepath.Join(dir, "lake"), Source: opts.Source, BatchRows: opts.BatchRows, BatchBytes: opts.BatchBytes}
	if opts.CPUProfile != "" {
		abs, err := filepath.Abs(opts.CPUProfile)
		if err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		spec.CPUProfile = abs
	}
	if err := os.RemoveAll(spec.LakeDir); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	res.LakeDir = spec.LakeDir
	res.LoadAvg = loadAvg()
	res.GoMemLimit = os.Getenv("GOMEMLIMIT")
	var run SyncRun
	var err error
	if len(opts.Child) > 0 {
		specPath := filepath.Join(dir, "sync-spec.json")
		raw, _ := json.Marshal(spec)
		if err := os.WriteFile(specPath, raw, 0o644); err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		// Each run syncs into a new lake; the run of median time counts,
		// and the highest peak RSS of all.
		var runs []SyncRun
		for i := range max(opts.SyncRuns, 1) {
			if i > 0 {
				if err := os.RemoveAll(spec.LakeDir); err != nil {
					return res, fmt.Errorf("bench: %w", err)
				}
			}
			r, rss, err := runChild(ctx, opts.Child, specPath)
			if err != nil {
				return res, err
			}
			res.PeakRSS = max(res.PeakRSS, rss)
			res.Times = append(res.Times, r.Seconds)
			runs = append(runs, r)
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i].Seconds < runs[j].Seconds })
		run = runs[(len(runs)-1)/2]
		res.PeakRSSOf = "sync child process (VmHWM)"
		if run.PeakRSS == 0 {
			res.PeakRSSOf = "sync child process (getrusage ru_maxrss, which counts the parent's peak before the child's exec)"
		}
	} else {
		run, err = RunSync(ctx, spec)
		res.PeakRSS = selfMaxRSS()
		res.PeakRSSOf = "whole process, input generation included (getrusage ru_maxrss)"
		res.Times = []float64{run.Seconds}
	}
	if err != nil {
		return res, err
	}
	res.Commits, res.Seconds, res.GoHeapPeak, res.AnonRSSPeak = run.Commits, run.Seconds, run.GoHeapPeak, run.AnonRSSPeak
	res.CPUSeconds, res.SyncCPUSeconds = run.CPUSeconds, run.SyncCPUSeconds
	if files, _, err := DataFiles(ctx, spec.LakeDir); err == nil {
		res.DataFiles = len(files)
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				res.DataFileBytes += fi.Size()
			}
		}
	}
	if run.CPUSeconds > 0 {
		res.RecordsPerCPUSec = float64(run.Records) / run.CPUSeconds
	}
	res.RecordsPerSec = float64(run.Records) / run.Seconds
	res.RecordsPerSecPerCore = res.RecordsPerSec / float64(res.Cores)
	res.MBPerSec = float64(run.DataBytes) / 1e6 / run.Seconds
	if opts.SkipDuckDB {
		return res, nil
	}
	outDir := filepath.Join(dir, "duckdb")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	runs, err := runDuckDB(ctx, duckDBConversions(in, outDir), opts.DuckDBThreads, opts.DuckDBRuns, in.Records)
	if err != nil {
		return res, err
	}
	for i := range runs {
		runs[i].Ratio = res.Seconds / runs[i].Seconds
		if runs[i].CPUSeconds > 0 {
			runs[i].CPURatio = res.CPUSeconds / runs[i].CPUSeconds
		}
	}
	res.DuckDB = runs
	return res, nil
}

// workDir returns dir (created) or a new temporary directory, and what to
// call when done.
func workDir(dir string, keep bool) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("bench: %w", err)
		}
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "lakeport-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	if keep {
		return d, func() {}, nil
	}
	return d, func() { os.RemoveAll(d) }, nil
}

func mkdirs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// loadAvg is the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
