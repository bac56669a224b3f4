package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the metadata store of the bench lake

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

// Namespace and Table name the table a bench sync writes.
const (
	Namespace = "bench"
	Table     = "events"
)

// Source kinds a sync can read the recorded stream through.
const (
	// SourceExec runs a program (a two-line shell script that cats the
	// recorded file) as an exec: source: the protocol stream crosses a pipe
	// from another process, as with any connector.
	SourceExec = "exec"
	// SourceReader reads the recorded file through protocol.Reader in
	// process, with no pipe.
	SourceReader = "reader"
)

// SyncSpec is one sync of a recorded stream into a new lake.
type SyncSpec struct {
	Input *Input `json:"input"`
	// LakeDir holds the lake: lakeport.db (the catalog) and warehouse/.
	LakeDir string `json:"lake_dir"`
	// Source is SourceExec (default) or SourceReader.
	Source string `json:"source,omitempty"`
	// BatchRows and BatchBytes tune the syncer (0: its defaults).
	BatchRows  int   `json:"batch_rows,omitempty"`
	BatchBytes int64 `json:"batch_bytes,omitempty"`
	// SyncID names the sync in its commits (default "bench"); syncs into
	// one lake need different ones.
	SyncID string `json:"sync_id,omitempty"`
	// CPUProfile, when set, is a file to write a CPU profile of the sync
	// to (go tool pprof reads it).
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// SyncRun is what one sync did.
type SyncRun struct {
	Records   int64   `json:"records"`
	DataBytes int64   `json:"data_bytes"`
	Commits   int     `json:"commits"`
	Seconds   float64 `json:"seconds"`
	// GoHeapPeak is the largest Go heap in use seen by a sampler (every
	// 50 ms), in bytes; Arrow buffers are on the Go heap.
	GoHeapPeak uint64 `json:"go_heap_peak_bytes"`
	// AnonRSSPeak is the largest anonymous resident memory the sampler saw
	// (RssAnon in /proc/self/status; 0 where there is none): the RSS without
	// the pages of the program file itself.
	AnonRSSPeak int64 `json:"anon_rss_peak_bytes"`
	// CPUSeconds is the CPU time (user + system) of the sync: of the whole
	// child process when it ran in one, else of this process during it.
	CPUSeconds float64 `json:"cpu_seconds"`
	// SyncCPUSeconds is this process's CPU time during the sync alone.
	SyncCPUSeconds float64 `json:"sync_cpu_seconds"`
	// PeakRSS is the process's peak resident set size since it started
	// (VmHWM in /proc/self/status, read after the sync; 0 where there is
	// none). A child's ru_maxrss is no substitute on Linux: a child that Go
	// starts shares its parent's memory until it execs (vfork), and the
	// kernel counts the parent's peak up to then as the child's.
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
}

// OpenLake opens (creating) the bench lake in dir. Close the returned
// closer when done.
func OpenLake(ctx context.Context, dir string) (*lake.Lake, io.Closer, error) {
	if err := os.MkdirAll(filepath.Join(dir, "warehouse"), 0o755); err != nil {
		return nil, nil, fmt.Errorf("bench: lake: %w", err)
	}
	dsn := "file:" + filepath.Join(dir, "lakeport.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: lake: %w", err)
	}
	l, err := lake.Open(ctx, lake.Config{DB: db, CatalogName: "bench", Warehouse: filepath.Join(dir, "warehouse")})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return l, closers{l, db}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// RunSync runs spec in this process.
func RunSync(ctx context.Context, spec SyncSpec) (SyncRun, error) {
	var run SyncRun
	src, err := openSource(spec)
	if err != nil {
		return run, err
	}
	l, closer, err := OpenLake(ctx, spec.LakeDir)
	if err != nil {
		return run, err
	}
	defer closer.Close()
	syncID := spec.SyncID
	if syncID == "" {
		syncID = "bench"
	}
	job := syncer.Job{
		Source: src, Config: json.RawMessage(`{}`), Catalog: spec.Input.Catalog, Lake: l,
		Namespace: Namespace, Location: l.Warehouse() + "/" + Namespace, SyncID: syncID,
	}
	opts := syncer.Options{
		BatchRows: spec.BatchRows, BatchBytes: spec.BatchBytes,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	stopProfile, err := startCPUProfile(spec.CPUProfile)
	if err != nil {
		return run, err
	}
	stop := sampleMemory(&run.GoHeapPeak, &run.AnonRSSPeak)
	start, cpu := time.Now(), selfCPU()
	res, err := syncer.Run(ctx, job, opts)
	run.Seconds = time.Since(start).Seconds()
	run.CPUSeconds = selfCPU() - cpu
	run.SyncCPUSeconds = run.CPUSeconds
	stop()
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return run, fmt.Errorf("bench: sync: %w", err)
	}
	run.Records, run.DataBytes = res.Records, res.Bytes
	for _, s := range res.Streams {
		run.Commits += s.Commits
	}
	if run.Records != spec.Input.Records {
		return run, fmt.Errorf("bench: sync read %d records, the input has %d", run.Records, spec.Input.Records)
	}
	return run, nil
}

// startCPUProfile starts a CPU profile into path (none when path is
// empty); the returned func stops it.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		return nil
	}, nil
}

// sampleMemory records the peaks of the Go heap in use and of anonymous RSS
// until stop is called.
func sampleMemory(heap *uint64, anon *int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*heap = max(*heap, ms.HeapInuse)
			*anon = max(*anon, anonRSS())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// anonRSS reads RssAnon from /proc/self/status, in bytes; 0 when absent.
func anonRSS() int64 { return procStatus("RssAnon") }

// procStatus reads a "kB" field of /proc/self/status, in bytes; 0 when
// absent.
func procStatus(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func openSource(spec SyncSpec) (source.Source, error) {
	switch spec.Source {
	case SourceExec, "":
		// The sandbox lets a program read its own folder only: the script
		// is granted the recorded stream it replays, by absolute path.
		in, err := filepath.Abs(spec.Input.Protocol)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		script, err := filepath.Abs(filepath.Join(spec.LakeDir, "cat-source.sh"))
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if err := os.MkdirAll(spec.LakeDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		body := "#!/bin/sh\n# An exec: source that replays a recorded protocol stream; it ignores its arguments.\nexec cat " + shellQuote(in) + "\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			return nil, fmt.Errorf("bench: write source script: %w", err)
		}
		// The bench runs its own script only: it is the operator here.
		reg := source.NewRegistry()
		if reg.Allow, err = source.ParseAllowList([]string{"exec:" + script}); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		reg.Options.Read = []string{in}
		return reg.Open("exec:" + script)
	case SourceReader:
		return fileSource{path: spec.Input.Protocol}, nil
	}
	return nil, fmt.Errorf("bench: source %q: want %s or %s", spec.Source, SourceExec, SourceReader)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fileSource replays a recorded protocol file through protocol.Reader.
type fileSource struct{ path string }

var _ source.Source = fileSource{}

func (fileSource) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}

func (fileSource) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

func (fileSource) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return nil, fmt.Errorf("bench: the recorded source has no catalog of its own")
}

func (s fileSource) Read(context.Context, json.RawMessage, *protocol.ConfiguredCatalog, json.RawMessage) (source.MessageStream, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("bench: recorded source: %w", err)
	}
	return &fileStream{f: f, r: protocol.NewReader(f)}, nil
}

type fileStream struct {
	f *os.File
	r *protocol.Reader
}

func (s *fileStream) Next() (*protocol.Message, error) { return s.r.Next() }
func (s *fileStream) Close() error                     { return s.f.Close() }

// NextChunk hands the recorded lines over unparsed, as a source process does.
func (s *fileStream) NextChunk(buf []byte, size int) (protocol.Chunk, error) {
	return s.r.NextChunk(buf, size)
}

func (s *fileStream) LineErr(err error) error { return err }

// runChild runs spec in a child process: child is the command (its last
// argument will be the spec file's path), which must call ChildMain. It
// returns the child's report and its peak RSS in bytes.
func runChild(ctx context.Context, child []string, specPath string) (SyncRun, int64, error) {
	var run SyncRun
	cmd := exec.CommandContext(ctx, child[0], append(append([]string(nil), child[1:]...), specPath)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return run, 0, fmt.Errorf("bench: sync child %s: %w (stderr: %s)", strings.Join(child, " "), err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		return run, 0, fmt.Errorf("bench: sync child printed no report: %w (stdout: %.200q)", err, stdout.String())
	}
	run.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	if run.PeakRSS > 0 {
		return run, run.PeakRSS, nil
	}
	return run, maxRSS(cmd.ProcessState), nil
}

// ChildMain is the child side of a sync run in its own process: it reads the
// spec at specPath, runs it and writes its SyncRun as JSON to w.
func ChildMain(ctx context.Context, specPath string, w io.Writer) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("bench: child: %w", err)
	}
	var spec SyncSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("bench: child: spec %s: %w", specPath, err)
	}
	run, err := RunSync(ctx, spec)
	if err != nil {
		return err
	}
	run.PeakRSS = procStatus("VmHWM")
	return json.NewEncoder(w).Encode(run)
}
