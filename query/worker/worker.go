// Package worker runs the embedded query engine (query/duckdb) in child
// processes, so that one query cannot take the server past its memory or
// time: each query runs in a worker process with a memory rlimit
// (RLIMIT_DATA, set by the server before the worker has its settings) on top
// of DuckDB's own memory_limit, and a worker that runs past the query's time
// limit is killed (SIGKILL), not asked. A worker that fails that way is
// replaced; the server and every other query go on.
//
// A worker is the lakeport binary itself, started as `lakeport query-worker`
// with an empty environment (no secrets, no credentials), a private folder as
// its home and working directory, and two sockets: gob messages on one, the
// descriptors of a query's local files on the other. It opens no file of the
// server by path: the server opens a query's local table files through
// lake.OpenFiles (an os.Root at the organization's warehouse folder, regular
// files under the table's location only) and passes the descriptors; for a
// bucket it passes that one warehouse's endpoint and credentials, for the
// tables the query names. Workers are started ahead (Config.Ready) and each
// opens its next database ahead, so a query does not wait for either.
//
// The package registers the engine "duckdb" (see query.Open).
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
)

// Config tunes a Pool. The zero value works, given a Command.
type Config struct {
	// Command returns the command that starts one worker: a lakeport binary
	// running `query-worker` (default: this executable). The pool adds the
	// environment, working directory and descriptors.
	Command func() *exec.Cmd
	// EngineProps are query/duckdb's settings (duckdb.ConfigFromProps), which
	// every worker's engine uses.
	EngineProps map[string]string
	// ProcessMemory is each worker's data memory limit in bytes (RLIMIT_DATA).
	// Default: twice DuckDB's memory_limit plus 512 MiB, for the Go runtime,
	// thread stacks and what DuckDB allocates outside its buffer manager.
	ProcessMemory int64
	// Ready is how many idle workers are kept started (default 2).
	Ready int
	// MaxQueries is how many queries one worker answers before it is replaced
	// (default 100).
	MaxQueries int
	// Dir is where workers get their private folders (default os.TempDir()).
	Dir string
	// Logger receives worker failures (with their stderr); default: discard.
	Logger *slog.Logger
}

// Grace is how long past a query's time limit a worker may take to report
// the timeout itself before it is killed.
const Grace = 250 * time.Millisecond

// Pool is a query.Engine whose queries run in worker processes. It is safe
// for concurrent use; query.Shared bounds how many run at once.
type Pool struct {
	cfg    Config
	limits query.Limits
	idle   chan *proc

	mu     sync.Mutex
	closed bool
}

var _ query.Engine = (*Pool)(nil)

// New returns a pool; it starts its ready workers in the background.
func New(cfg Config) (*Pool, error) {
	ecfg, err := duckdb.ConfigFromProps(cfg.EngineProps)
	if err != nil {
		return nil, err
	}
	if _, err := duckdb.New(ecfg); err != nil { // checks the settings, opens nothing
		return nil, err
	}
	if cfg.Command == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("worker: find this executable to run query workers: %w", err)
		}
		cfg.Command = func() *exec.Cmd { return exec.Command(exe, "query-worker") }
	}
	if cfg.ProcessMemory <= 0 {
		mem := duckdb.SizeBytes(ecfg.MemoryLimit)
		if mem <= 0 {
			mem = 512 << 20
		}
		cfg.ProcessMemory = 2*mem + 512<<20
	}
	if cfg.Ready <= 0 {
		cfg.Ready = 2
	}
	if cfg.MaxQueries <= 0 {
		cfg.MaxQueries = 100
	}
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Pool{cfg: cfg, limits: ecfg.Limits.WithDefaults(), idle: make(chan *proc, cfg.Ready)}
	for range cfg.Ready {
		go p.refill()
	}
	return p, nil
}

func init() {
	query.Register("duckdb", func(props map[string]string) (query.Engine, error) {
		cfg, err := ConfigFromProps(props)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	})
}

// ConfigFromProps reads the pool's settings — process_memory_limit (a size
// such as 1GB), ready_processes, process_max_queries, temp_dir (where workers
// get their folders) — and passes the rest to every worker's engine
// (query/duckdb's settings).
func ConfigFromProps(props map[string]string) (Config, error) {
	cfg := Config{EngineProps: map[string]string{}}
	for k, v := range props {
		var err error
		switch k {
		case "process_memory_limit":
			if cfg.ProcessMemory = duckdb.SizeBytes(v); cfg.ProcessMemory <= 0 {
				err = fmt.Errorf("%q is not a size such as 1GB", v)
			}
		case "ready_processes":
			cfg.Ready, err = strconv.Atoi(v)
		case "process_max_queries":
			cfg.MaxQueries, err = strconv.Atoi(v)
		case "temp_dir":
			cfg.Dir = v
		default:
			cfg.EngineProps[k] = v
		}
		if err != nil {
			return cfg, fmt.Errorf("duckdb: setting %s: %w", k, err)
		}
	}
	return cfg, nil
}

// refill starts one worker for the idle set, if it has room.
func (p *Pool) refill() {
	if len(p.idle) == cap(p.idle) || p.isClosed() {
		return
	}
	pr, err := p.start()
	if err != nil {
		p.cfg.Logger.Warn("could not start a query worker ahead; queries start their own", "err", err)
		return
	}
	p.offer(pr)
}

// offer puts a worker among the idle ones, or closes it when the pool is
// closed or has enough waiting.
func (p *Pool) offer(pr *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		select {
		case p.idle <- pr:
			return
		default:
		}
	}
	go pr.close()
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// get returns an idle worker, or starts one. (Workers that end are replaced
// in the background, so that Ready of them wait while queries are few.)
func (p *Pool) get() (*proc, error) {
	select {
	case pr := <-p.idle:
		return pr, nil
	default:
	}
	return p.start()
}

// put returns a worker that finished its query cleanly.
func (p *Pool) put(pr *proc) {
	pr.queries++
	if pr.queries >= p.cfg.MaxQueries {
		go pr.close()
		go p.refill()
		return
	}
	p.offer(pr)
}

// discard ends a worker that did not finish cleanly.
func (p *Pool) discard(pr *proc, why error) {
	pr.kill(why)
	go pr.close()
	go p.refill()
}

// Close stops the idle workers; workers running queries stop when those end.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case pr := <-p.idle:
			pr.close()
		default:
			return nil
		}
	}
}

var _ io.Closer = (*Pool)(nil)

// errKilledTimeout and errKilledCanceled say why the parent killed a worker.
var (
	errKilledTimeout  = errors.New("time limit")
	errKilledCanceled = errors.New("canceled")
	errKilledClosed   = errors.New("result closed early")
)

// Query runs req in a worker. Only lake tables (Table.Snapshot) and empty
// tables can cross into a worker; Files and Scan are for in-process engines.
func (p *Pool) Query(ctx context.Context, tables []query.Table, req query.Request) (query.Result, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = p.limits.DefaultTimeout
	}
	timeout = min(timeout, p.limits.MaxTimeout)
	infos := make([]tableInfo, len(tables))
	for i, t := range tables {
		if len(t.Files) > 0 || t.Scan != nil {
			return nil, fmt.Errorf("worker: table %s: only lake tables (Snapshot) reach a query worker", t.QualifiedName())
		}
		cols, err := encodeSchema(t.ArrowSchema)
		if err != nil {
			return nil, fmt.Errorf("worker: table %s: %w", t.QualifiedName(), err)
		}
		infos[i] = tableInfo{Schema: t.Schema, Name: t.Name, Columns: cols, PrimaryKey: t.PrimaryKey, Cursor: t.Cursor, Snapshot: t.Snapshot != nil}
		if t.Snapshot != nil {
			infos[i].Warehouse, infos[i].MetadataLocation = t.Snapshot.Warehouse, t.Snapshot.MetadataLocation
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, query.ContextError(ctx)
	}
	pr, err := p.get()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", query.ErrUnavailable, err)
	}
	r := &result{pool: p, pr: pr, ctx: ctx, tables: tables, stop: make(chan struct{})}
	// The hard limit: past the query's time (and a grace to report it), or
	// when the caller goes away, the worker is killed — if it still runs this
	// query (it may be back in the pool by the time a late timer fires).
	n := pr.begin()
	r.timer = time.AfterFunc(timeout+Grace, func() { pr.killQuery(n, errKilledTimeout) })
	go func() {
		select {
		case <-ctx.Done():
			pr.killQuery(n, errKilledCanceled)
		case <-r.stop:
		}
	}()
	org, _ := query.OrgFrom(ctx)
	if err := pr.enc.Encode(message{Request: &request{Org: org, SQL: req.SQL, MaxRows: req.MaxRows, Timeout: timeout, Tables: infos}}); err != nil {
		return nil, r.fail(err)
	}
	for {
		m, err := r.read()
		if err != nil {
			return nil, err
		}
		switch {
		case m.Open != nil:
			if err := r.open(m.Open.Table); err != nil {
				return nil, r.fail(err)
			}
		case m.Columns != nil:
			r.cols = m.Columns
			return r, nil
		case m.Failure != nil:
			r.finish(true)
			return nil, m.Failure.err()
		default:
			return nil, r.fail(errors.New("worker: unexpected message before the columns"))
		}
	}
}

// result streams one query's rows from its worker.
type result struct {
	pool      *Pool
	pr        *proc
	ctx       context.Context
	tables    []query.Table
	cols      []query.Column
	timer     *time.Timer
	stop      chan struct{}
	truncated bool
	finished  bool
	eof       bool
}

var _ query.Result = (*result)(nil)

func (r *result) Columns() []query.Column { return r.cols }
func (r *result) Truncated() bool         { return r.truncated }

func (r *result) Next() ([][]any, error) {
	if r.eof {
		return nil, io.EOF
	}
	if r.finished {
		return nil, errors.New("worker: result is closed")
	}
	m, err := r.read()
	if err != nil {
		return nil, err
	}
	switch {
	case m.Rows != nil:
		return m.Rows, nil
	case m.Done != nil:
		r.truncated, r.eof = m.Done.Truncated, true
		r.finish(true)
		return nil, io.EOF
	case m.Failure != nil:
		r.finish(true)
		return nil, m.Failure.err()
	}
	return nil, r.fail(errors.New("worker: unexpected message among the rows"))
}

func (r *result) Close() error {
	if !r.finished {
		r.finish(false)
	}
	return nil
}

// read reads the worker's next message; a worker that is gone is explained.
func (r *result) read() (message, error) {
	var m message
	if err := r.pr.dec.Decode(&m); err != nil {
		return m, r.fail(err)
	}
	return m, nil
}

// finish hands the worker back (clean) or kills it.
func (r *result) finish(clean bool) {
	if r.finished {
		return
	}
	r.finished = true
	r.timer.Stop()
	close(r.stop)
	r.pr.end()
	if clean && r.pr.killedFor() == nil {
		r.pool.put(r.pr)
		return
	}
	r.pool.discard(r.pr, errKilledClosed)
}

// fail ends the query because its worker broke off (err): it is killed, and
// the error says why in the query's terms.
func (r *result) fail(err error) error {
	why := r.pr.killedFor()
	r.finish(false)
	switch {
	case errors.Is(why, errKilledTimeout):
		return fmt.Errorf("%w: the query ran past its time limit and its worker process was stopped: %w", query.ErrTimeout, context.DeadlineExceeded)
	case errors.Is(why, errKilledCanceled):
		if cerr := query.ContextError(r.ctx); cerr != nil {
			return cerr
		}
		return query.ErrCanceled
	}
	died := r.pr.died()
	stderr := strings.TrimSpace(r.pr.stderr.String())
	r.pool.cfg.Logger.Warn("a query worker ended during a query", "how", died, "err", err, "stderr", stderr)
	if died == "exited with status 1" {
		// The worker's own orderly exit on an error it could not report
		// (its folder gone, say): the engine's trouble, not the query's.
		return fmt.Errorf("%w: the query's worker process stopped on an error of its own: %s", query.ErrUnavailable, stderr)
	}
	return fmt.Errorf("%w: the query's worker process %s, most likely out of its memory limit of %d MiB; "+
		"simplify the query (fewer rows or columns in memory at once) or ask the operator for more (query setting process_memory_limit)",
		query.ErrResources, died, r.pool.cfg.ProcessMemory>>20)
}

// open answers the worker's request for table i: its snapshot, and for a
// local warehouse its files, opened here and passed as descriptors.
func (r *result) open(i int) error {
	if i < 0 || i >= len(r.tables) || r.tables[i].Snapshot == nil {
		return fmt.Errorf("worker: asked for table %d, which it was not given", i)
	}
	t := r.tables[i]
	snap := *t.Snapshot
	if !snap.Local() {
		return r.pr.enc.Encode(message{Opened: &openedTable{Snapshot: snap}})
	}
	files, err := lake.OpenFiles(r.ctx, snap)
	if err != nil {
		if cerr := query.ContextError(r.ctx); cerr != nil {
			err = cerr
		} else {
			err = fmt.Errorf("%w: table %s: %w", query.ErrUnreadable, t.QualifiedName(), err)
		}
		return r.pr.enc.Encode(message{Opened: &openedTable{Error: toFailure(err)}})
	}
	defer files.Close() // the worker has its own descriptors once they are sent
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	list := make([]*os.File, len(paths))
	for j, p := range paths {
		list[j] = files[p]
	}
	if err := r.pr.enc.Encode(message{Opened: &openedTable{Snapshot: snap, Paths: paths}}); err != nil {
		return err
	}
	return r.pr.sendFiles(list)
}
