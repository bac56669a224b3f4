// Package duckdb is the embedded query engine: every query runs in a fresh
// in-memory DuckDB database that holds only the tables it is given, as views,
// and is locked down before the caller's SQL is even parsed (no files but the
// tables' own, no network, no extensions, no settings).
//
// Every table is a view over read_parquet, and only tables the query names
// are read: a lake table's local data files through descriptors opened for
// the query (/dev/fd/N), a bucket's data files copied into the query's
// private directory, and rows from Table.Scan written there as Parquet. No
// build tag is needed (DuckDB's Arrow interface is not used).
//
// In lakeport serve the engine runs inside query worker processes (see
// query/worker), which bound each query's memory and time.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// Config tunes the engine. The zero value works: see the defaults.
type Config struct {
	// MemoryLimit is DuckDB's memory_limit per query, e.g. "512MB" (default).
	MemoryLimit string
	// Threads is DuckDB's threads per query (default 2).
	Threads int
	// TempDir is where each query gets a private directory for spilling and
	// for copies of a bucket's data files (removed when the query ends).
	// Default: os.TempDir().
	TempDir string
	// MaxTempSize caps the spill files of a query, and separately the copies
	// of data files it reads from a bucket, e.g. "1GB" (default).
	MaxTempSize string
	// Limits bound each request (rows, time).
	query.Limits
	// Open gives a query the lake tables it names (default: this process
	// opens their local files itself).
	Open OpenFunc
	// Ready is how many databases are opened and configured ahead of the
	// queries that will use them (default 0): each query still gets a fresh
	// one, without waiting for it to open.
	Ready int
}

func (c Config) withDefaults() Config {
	if c.MemoryLimit == "" {
		c.MemoryLimit = "512MB"
	}
	if c.Threads <= 0 {
		c.Threads = 2
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.MaxTempSize == "" {
		c.MaxTempSize = "1GB"
	}
	c.Limits = c.Limits.WithDefaults()
	if c.Open == nil {
		c.Open = openInProcess
	}
	return c
}

// Engine runs read-only SQL in a fresh, locked-down DuckDB database per query.
// It is safe for concurrent use.
type Engine struct {
	cfg    Config
	ready  chan *session // databases opened ahead (Config.Ready)
	budget int64         // MaxTempSize in bytes

	mu   sync.Mutex
	kept *session // the last query's database
}

var _ query.Engine = (*Engine)(nil)

// New returns an engine configured by cfg (zero fields take their defaults).
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	for _, s := range []string{cfg.MemoryLimit, cfg.MaxTempSize} {
		if !validSize(s) {
			return nil, fmt.Errorf("duckdb: size %q: want a number and a unit, e.g. 512MB", s)
		}
	}
	if cfg.DefaultMaxRows > cfg.MaxRows {
		return nil, fmt.Errorf("duckdb: default max rows %d is above max rows %d", cfg.DefaultMaxRows, cfg.MaxRows)
	}
	e := &Engine{cfg: cfg, budget: SizeBytes(cfg.MaxTempSize)}
	if cfg.Ready > 0 {
		e.ready = make(chan *session, cfg.Ready)
		for range cfg.Ready {
			e.prepare()
		}
	}
	return e, nil
}

// prepare opens one database ahead, in the background; it always delivers
// one (nil when the open failed: the query then opens its own and reports the
// error), so Ready databases are always open or opening.
func (e *Engine) prepare() {
	go func() {
		s, err := e.open(context.Background())
		if err != nil {
			s = nil
		}
		e.ready <- s
	}()
}

// session returns a database for one query: the next one opened ahead (Ready),
// or a new one.
func (e *Engine) session(ctx context.Context) (*session, error) {
	if e.ready == nil {
		return e.open(ctx)
	}
	select {
	case s := <-e.ready:
		e.prepare()
		if s == nil {
			return e.open(ctx)
		}
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("duckdb: open a database: %w", query.ContextError(ctx))
	}
}

// Close closes the databases opened ahead (waiting for those still opening).
// The engine is not used after.
func (e *Engine) Close() error {
	for range cap(e.ready) {
		if s := <-e.ready; s != nil {
			s.close()
		}
	}
	return nil
}

// ConfigFromProps reads a Config from string properties: memory_limit,
// threads, temp_dir, max_temp_size, default_max_rows, max_rows,
// default_timeout, max_timeout. Unknown keys are an error.
func ConfigFromProps(props map[string]string) (Config, error) {
	var c Config
	for k, v := range props {
		var err error
		switch k {
		case "memory_limit":
			c.MemoryLimit = v
		case "temp_dir":
			c.TempDir = v
		case "max_temp_size":
			c.MaxTempSize = v
		case "threads":
			c.Threads, err = strconv.Atoi(v)
		default:
			var known bool
			if known, err = c.Limits.Set(k, v); !known {
				return c, fmt.Errorf("duckdb: unknown setting %q", k)
			}
		}
		if err != nil {
			return c, fmt.Errorf("duckdb: setting %s: %w", k, err)
		}
	}
	return c, nil
}

// validSize accepts what the engine passes into SQL settings: a number and a
// unit DuckDB knows (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB). It keeps quotes
// out of SET statements.
func validSize(s string) bool { return SizeBytes(s) >= 0 }

// SizeBytes is size s in bytes as DuckDB reads it (KB = 1000 B, KiB = 1024 B),
// or -1 when s is not a size.
func SizeBytes(s string) int64 {
	num := strings.TrimRight(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || n < 0 {
		return -1
	}
	mult := map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}[unit]
	if mult == 0 {
		return -1
	}
	return int64(n * mult)
}

// Query runs req over tables. The result must be closed.
func (e *Engine) Query(ctx context.Context, tables []query.Table, req query.Request) (query.Result, error) {
	maxRows := req.MaxRows
	switch {
	case maxRows < 0:
		return nil, fmt.Errorf("%w: max rows %d is negative", query.ErrTooManyRows, maxRows)
	case maxRows == 0:
		maxRows = e.cfg.DefaultMaxRows
	case maxRows > e.cfg.MaxRows:
		return nil, fmt.Errorf("%w: asked for %d rows, the most a query may return is %d", query.ErrTooManyRows, maxRows, e.cfg.MaxRows)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = e.cfg.DefaultTimeout
	}
	timeout = min(timeout, e.cfg.MaxTimeout)
	if strings.TrimSpace(req.SQL) == "" {
		return nil, &query.SQLError{Kind: "Parser", Message: "the query is empty", Err: query.ErrBadSQL}
	}
	if err := checkTables(tables); err != nil {
		return nil, err
	}

	qctx, release := context.WithTimeout(ctx, timeout)
	key := reuseKey(ctx, tables)
	// The database of the last query over the same tables answers the next
	// one when it already holds every table that one reads.
	if s := e.takeKept(key); s != nil {
		refs, err := s.parseGate(qctx, req.SQL)
		if err == nil && s.holds(refs) {
			res, err := s.exec(qctx, req.SQL, maxRows)
			return e.finish(qctx, release, s, res, err)
		}
		e.keep(s)
		if err != nil {
			release()
			return nil, err
		}
	}
	s, err := e.session(qctx)
	if err != nil {
		if cerr := query.ContextError(qctx); cerr != nil {
			err = cerr
		}
		release()
		return nil, err
	}
	s.budget, s.key = e.budget, key
	res, err := s.run(qctx, tables, req.SQL, maxRows)
	return e.finish(qctx, release, s, res, err)
}

// finish hands out a query's result; closing it releases the database: kept
// for the next query over the same tables when the query ended cleanly,
// closed otherwise.
func (e *Engine) finish(qctx context.Context, release context.CancelFunc, s *session, res *result, err error) (query.Result, error) {
	if err != nil {
		if cerr := query.ContextError(qctx); cerr != nil {
			err = cerr
		}
		var se *query.SQLError
		if errors.As(err, &se) && s.locked && qctx.Err() == nil {
			e.keep(s) // the SQL was refused; the database is as it was
		} else {
			e.discard(s)
		}
		release()
		return nil, err
	}
	res.ctx = qctx
	res.done = func(clean bool) error {
		clean = clean && qctx.Err() == nil
		release()
		if clean {
			e.keep(s)
		} else {
			e.discard(s)
		}
		return nil
	}
	return res, nil
}

// reuseKey names the tables a database holds: the organization and each
// table's name, location of its current snapshot (or files), key and columns.
// Tables read through Scan are read afresh by every query: "" (no reuse).
func reuseKey(ctx context.Context, tables []query.Table) string {
	org, _ := query.OrgFrom(ctx)
	var b strings.Builder
	b.WriteString("org " + org)
	for _, t := range tables {
		if t.Scan != nil {
			return ""
		}
		b.WriteString("\x00" + t.QualifiedName() + "\x00" + strings.Join(t.Files, "\x01") + "\x00" + strings.Join(t.PrimaryKey, "\x01") + "\x00" + t.Cursor)
		if t.Snapshot != nil {
			b.WriteString("\x00" + t.Snapshot.Warehouse + "\x00" + t.Snapshot.MetadataLocation)
		}
		if t.ArrowSchema != nil {
			b.WriteString("\x00" + t.ArrowSchema.String())
		}
	}
	return b.String()
}

// keptIdle is how long a kept database waits for its next query.
const keptIdle = time.Minute

// takeKept returns the kept database if it holds the tables named by key.
func (e *Engine) takeKept(key string) *session {
	if key == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.kept
	if s == nil || s.key != key {
		return nil
	}
	e.kept = nil
	s.idle.Stop()
	return s
}

// keep keeps s for the next query over the same tables (replacing the one
// kept before), or closes it.
func (e *Engine) keep(s *session) {
	if s.key == "" || !s.locked {
		e.discard(s)
		return
	}
	e.mu.Lock()
	old := e.kept
	e.kept = s
	s.idle = time.AfterFunc(keptIdle, func() {
		e.mu.Lock()
		if e.kept == s {
			e.kept = nil
		} else {
			s = nil
		}
		e.mu.Unlock()
		if s != nil {
			s.close()
		}
	})
	e.mu.Unlock()
	if old != nil {
		old.idle.Stop()
		e.discard(old)
	}
}

// discard closes s, in the background where databases are opened ahead (a
// worker answers its next query meanwhile).
func (e *Engine) discard(s *session) {
	if e.ready != nil {
		go s.close()
		return
	}
	s.close()
}

// checkTables refuses table lists the engine cannot present faithfully.
func checkTables(tables []query.Table) error {
	seen := make(map[string]bool, len(tables))
	for _, t := range tables {
		if t.Schema == "" || t.Name == "" {
			return fmt.Errorf("duckdb: table %q: schema and name are required", t.QualifiedName())
		}
		key := strings.ToLower(t.QualifiedName())
		if seen[key] {
			return fmt.Errorf("duckdb: table %s given twice", t.QualifiedName())
		}
		seen[key] = true
		if t.Snapshot == nil && len(t.Files) == 0 && t.Scan == nil && t.ArrowSchema == nil {
			return fmt.Errorf("duckdb: table %s has no snapshot, no files, no scan and no schema", t.QualifiedName())
		}
		for _, f := range t.Files {
			// read_parquet expands *, ? and [ as globs: a data file name must
			// name exactly one file.
			if f == "" || strings.ContainsAny(f, "*?[\x00") {
				return fmt.Errorf("duckdb: table %s: data file name %q is empty or has a glob character (* ? [)", t.QualifiedName(), f)
			}
		}
	}
	return nil
}

// session is one query's private database (kept for the next query over the
// same tables of the same organization, see Engine.keep).
type session struct {
	key     string          // reuseKey of the tables it holds
	read    map[string]bool // tables whose rows it reads (not only their columns)
	locked  bool            // lockDown succeeded
	idle    *time.Timer
	cfg     Config
	tempDir string
	db      *sql.DB // owns the connector (the database); used for parsing helpers
	conn    *duck.Conn
	closers []func() error    // files opened for the query
	allowed []string          // files the views read
	owner   map[string]string // each of those files → the table it belongs to
	budget  int64             // bytes the query may still copy into tempDir
}

func (e *Engine) open(ctx context.Context) (*session, error) {
	tempDir, err := os.MkdirTemp(e.cfg.TempDir, "lakeport-query-")
	if err != nil {
		return nil, fmt.Errorf("duckdb: private temp directory: %w", err)
	}
	s := &session{cfg: e.cfg, tempDir: tempDir}
	// Settings that must hold before anything runs go into the database's
	// startup config; access rules follow once the views exist (lockDown).
	dsn := "?" + strings.Join([]string{
		"threads=" + strconv.Itoa(e.cfg.Threads),
		"memory_limit=" + e.cfg.MemoryLimit,
		"max_temp_directory_size=" + e.cfg.MaxTempSize,
		"autoinstall_known_extensions=false",
		"autoload_known_extensions=false",
		"allow_community_extensions=false",
		"allow_unsigned_extensions=false",
		"allow_persistent_secrets=false",
		// Files are read through per-query descriptors whose numbers repeat:
		// never serve one query's bytes from another's cache.
		"enable_external_file_cache=false",
	}, "&")
	connector, err := duck.NewConnector(dsn, nil)
	if err != nil {
		os.RemoveAll(tempDir)
		return nil, fmt.Errorf("duckdb: open database: %w", err)
	}
	s.db = sql.OpenDB(connector)
	dc, err := connector.Connect(ctx)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("duckdb: connect: %w", err)
	}
	s.conn = dc.(*duck.Conn)
	// temp_directory is a path: set it with a quoted literal, not in the DSN.
	if err := s.execStmt(ctx, "SET temp_directory = "+quoteString(s.relative(tempDir))); err != nil {
		s.close()
		return nil, fmt.Errorf("duckdb: set temp directory: %w", err)
	}
	return s, nil
}

func (s *session) close() error {
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
		s.conn = nil
	}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	if s.db != nil {
		errs = append(errs, s.db.Close()) // closes the connector: the database
		s.db = nil
	}
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
		s.tempDir = ""
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("duckdb: close query: %w", err)
	}
	return nil
}

// relative names path relative to the working directory when it lies below
// it (a worker process works in its private directory), so that view
// definitions and messages do not show where the server keeps its files.
func (s *session) relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path
	}
	return rel
}

func (s *session) execStmt(ctx context.Context, stmt string) error {
	_, err := s.conn.ExecContext(ctx, stmt, nil)
	return err
}

// run sets up the tables, locks the database down, checks the SQL and starts it.
func (s *session) run(ctx context.Context, tables []query.Table, sqlText string, maxRows int) (*result, error) {
	referenced, err := s.parseGate(ctx, sqlText)
	if err != nil {
		return nil, err
	}
	if err := s.createViews(ctx, tables, referenced); err != nil {
		return nil, err
	}
	if err := s.lockDown(ctx); err != nil {
		return nil, err
	}
	return s.exec(ctx, sqlText, maxRows)
}

// holds reports whether the session reads every table in refs that it has.
func (s *session) holds(refs map[string]bool) bool {
	for name := range refs {
		if read, has := s.read[name]; has && !read {
			return false
		}
	}
	return true
}

// exec prepares and starts the caller's SQL in the locked-down database.
func (s *session) exec(ctx context.Context, sqlText string, maxRows int) (*result, error) {
	stmt, err := s.prepareReadOnly(sqlText, maxRows)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, nil)
	if err != nil {
		stmt.Close()
		return nil, s.classify(err)
	}
	res := newResult(stmt, rows, maxRows)
	res.classify = s.classify
	return res, nil
}

// lockDown closes every door before the caller's SQL is parsed: only the
// tables' own files stay readable, and no setting can change afterwards.
func (s *session) lockDown(ctx context.Context) error {
	// The extension settings repeat those the database opened with: a second
	// layer, set with the lock.
	stmts := []string{
		"SET allowed_paths = " + stringList(s.allowed),
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		"SET lock_configuration = true",
	}
	for _, st := range stmts {
		if err := s.execStmt(ctx, st); err != nil {
			return fmt.Errorf("duckdb: lock down (%s): %w", st, err)
		}
	}
	s.locked = true
	return nil
}

// prepareReadOnly parses and binds the caller's SQL (in the locked-down
// database) and refuses anything but one read-only statement. For SELECTs it
// returns a statement that stops after maxRows+1 rows, so a big result is
// never produced only to be cut.
func (s *session) prepareReadOnly(sqlText string, maxRows int) (*duck.Stmt, error) {
	stmt, err := s.prepare(sqlText)
	if err != nil {
		return nil, err
	}
	typ, err := stmt.StatementType()
	if err != nil {
		stmt.Close()
		return nil, fmt.Errorf("duckdb: statement type: %w", err)
	}
	switch typ {
	case duck.STATEMENT_TYPE_SELECT:
	case duck.STATEMENT_TYPE_EXPLAIN:
		// EXPLAIN ANALYZE runs its statement: allow only a plain EXPLAIN of a
		// read-only query.
		stmt.Close()
		return s.prepareExplain(sqlText)
	default:
		stmt.Close()
		return nil, notReadOnly("a %s statement", statementName(typ))
	}
	inner := strings.TrimRight(sqlText, "; \t\r\n")
	limited, err := s.prepare("SELECT * FROM (\n" + inner + "\n) LIMIT " + strconv.Itoa(maxRows+1))
	if err != nil {
		// Some SELECTs do not nest (a trailing ";", say): run them as they are.
		return stmt, nil
	}
	if t, err := limited.StatementType(); err != nil || t != duck.STATEMENT_TYPE_SELECT {
		limited.Close()
		return stmt, nil
	}
	stmt.Close()
	return limited, nil
}

// prepare parses and binds exactly one statement; it never runs anything.
func (s *session) prepare(sqlText string) (*duck.Stmt, error) {
	// Conn.Prepare (unlike PrepareContext) refuses more than one statement
	// instead of running all but the last.
	ds, err := s.conn.Prepare(sqlText)
	if err != nil {
		var de *duck.Error
		if errors.As(err, &de) {
			return nil, s.classify(err)
		}
		return nil, notReadOnly("more than one statement (send one SELECT)")
	}
	return ds.(*duck.Stmt), nil
}

func notReadOnly(format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	return &query.SQLError{
		Kind:    "Permission",
		Message: "Permission Error: " + what + " is not allowed: the query engine runs one read-only statement (SELECT, WITH … SELECT, VALUES, DESCRIBE, SHOW, EXPLAIN)",
		Err:     query.ErrNotReadOnly,
	}
}

// compile-time checks: the driver types this package relies on.
var (
	_ driver.Conn = (*duck.Conn)(nil)
	_ driver.Stmt = (*duck.Stmt)(nil)
)
