// Package duckdb is the embedded query engine: every query runs in a fresh
// in-memory DuckDB database that holds only the tables it is given, as views,
// and is locked down before the caller's SQL is even parsed (no files but the
// tables' own, no network, no extensions, no settings).
//
// Tables with local Parquet files are views over read_parquet. Tables read
// through Table.Scan (an S3 warehouse) are registered as Arrow streams, which
// needs the duckdb_arrow build tag: go build -tags duckdb_arrow.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// Config tunes the engine. The zero value works: see the defaults.
type Config struct {
	// MemoryLimit is DuckDB's memory_limit per query, e.g. "512MB" (default).
	MemoryLimit string
	// Threads is DuckDB's threads per query (default 2).
	Threads int
	// TempDir is where each query gets a private directory for spilling
	// (removed when the query ends). Default: os.TempDir().
	TempDir string
	// MaxTempSize caps the spill directory, e.g. "1GB" (default). "0B"
	// disables spilling.
	MaxTempSize string
	// Limits bound each request (rows, time).
	query.Limits
	// MaxConcurrent is how many queries run at once; more wait their turn
	// (default 4). Each query uses up to Threads threads and MemoryLimit memory.
	MaxConcurrent int
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
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 4
	}
	return c
}

// Engine runs read-only SQL in a fresh, locked-down DuckDB database per query.
// It is safe for concurrent use.
type Engine struct {
	cfg Config
	sem chan struct{}
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
	return &Engine{cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrent)}, nil
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

// ConfigFromProps reads a Config from string properties: memory_limit,
// threads, temp_dir, max_temp_size, default_max_rows, max_rows,
// default_timeout, max_timeout, max_concurrent. Unknown keys are an error.
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
		case "max_concurrent":
			c.MaxConcurrent, err = strconv.Atoi(v)
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

// validSize accepts what the engine passes into SQL settings: digits, an
// optional dot, and a unit of letters. It keeps quotes out of SET statements.
func validSize(s string) bool {
	num := strings.TrimRight(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
	unit := strings.TrimSpace(s[len(num):])
	if num == "" || unit == "" {
		return false
	}
	if _, err := strconv.ParseFloat(num, 64); err != nil {
		return false
	}
	return true
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

	qctx, cancel := context.WithTimeout(ctx, timeout)
	select {
	case e.sem <- struct{}{}:
	case <-qctx.Done():
		cancel()
		return nil, fmt.Errorf("duckdb: waiting for a free query slot: %w", query.ContextError(qctx))
	}
	release := func() { <-e.sem; cancel() }

	s, err := e.open(qctx)
	if err != nil {
		release()
		return nil, err
	}
	res, err := s.run(qctx, tables, req.SQL, maxRows)
	if err != nil {
		if cerr := query.ContextError(qctx); cerr != nil {
			err = cerr
		}
		s.close()
		release()
		return nil, err
	}
	res.ctx = qctx
	res.done = func() error {
		err := s.close()
		release()
		return err
	}
	return res, nil
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
		if len(t.Files) == 0 && t.Scan == nil && t.ArrowSchema == nil {
			return fmt.Errorf("duckdb: table %s has no files, no scan and no schema", t.QualifiedName())
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

// session is one query's private database.
type session struct {
	cfg      Config
	tempDir  string
	db       *sql.DB // owns the connector (the database); used for parsing helpers
	conn     *duck.Conn
	releases []func() // Arrow streams to release after the query
	allowed  []string // files the views read
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
	if err := s.exec(ctx, "SET temp_directory = "+quoteString(tempDir)); err != nil {
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
	for _, r := range s.releases {
		r()
	}
	s.releases = nil
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

func (s *session) exec(ctx context.Context, stmt string) error {
	_, err := s.conn.ExecContext(ctx, stmt, nil)
	return err
}

// run sets up the tables, locks the database down, checks the SQL and starts it.
func (s *session) run(ctx context.Context, tables []query.Table, sqlText string, maxRows int) (*result, error) {
	if err := s.parseGate(ctx, sqlText); err != nil {
		return nil, err
	}
	referenced := s.referencedTables(ctx, sqlText)
	if err := s.createViews(ctx, tables, referenced); err != nil {
		return nil, err
	}
	if err := s.lockDown(ctx); err != nil {
		return nil, err
	}
	stmt, err := s.prepareReadOnly(sqlText, maxRows)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, nil)
	if err != nil {
		stmt.Close()
		return nil, classify(err)
	}
	return newResult(stmt, rows, maxRows), nil
}

// referencedTables names the tables the SQL reads (lower-cased "schema.name"),
// or nil when DuckDB cannot tell (then every table is set up).
func (s *session) referencedTables(ctx context.Context, sqlText string) map[string]bool {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	names, err := duck.GetTableNames(c, sqlText, true)
	if err != nil {
		return nil
	}
	ref := make(map[string]bool, len(names))
	for _, n := range names {
		// DuckDB quotes a part that is a keyword (`"sample".events`).
		parts := nameParts(strings.ToLower(n))
		ref[strings.Join(parts, ".")] = true
		// "catalog.schema.name" also names schema.name.
		if len(parts) == 3 {
			ref[parts[1]+"."+parts[2]] = true
		}
	}
	return ref
}

// nameParts splits a qualified name as DuckDB prints it into its parts, without the
// double quotes around a quoted part (in which "" is one quote and a dot is no
// separator).
func nameParts(n string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(n); i++ {
		switch ch := n[i]; {
		case ch == '"' && quoted && i+1 < len(n) && n[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			quoted = !quoted
		case ch == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, cur.String())
}

// lockDown closes every door before the caller's SQL is parsed: only the
// tables' own files stay readable, and no setting can change afterwards.
func (s *session) lockDown(ctx context.Context) error {
	stmts := []string{
		"SET allowed_paths = " + stringList(s.allowed),
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		"SET lock_configuration = true",
	}
	for _, st := range stmts {
		if err := s.exec(ctx, st); err != nil {
			return fmt.Errorf("duckdb: lock down (%s): %w", st, err)
		}
	}
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
			return nil, classify(err)
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
