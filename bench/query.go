package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/query/worker"
)

// TargetQueryRatio: a query through the engine takes at most 1.2× DuckDB
// reading the same Parquet files directly.
const TargetQueryRatio = 1.2

// QueryOptions configure Query.
type QueryOptions struct {
	// Records, Dir, Keep, Source and Child are as for Sync, whose sync (without
	// DuckDB) makes the table. LakeDir instead reuses a lake a bench sync
	// made (Sync's SyncResult.LakeDir); then no sync runs.
	Records int
	Dir     string
	Keep    bool
	Source  string
	Child   []string
	LakeDir string
	// Runs is how many times each query runs on each side (default 7); the
	// first run of each side is a warm-up and not counted.
	Runs int
}

// QueryCase is one query's figures; times are medians in milliseconds.
type QueryCase struct {
	Name string `json:"name"`
	// SQL has %s where the table goes: bench.events for the engine,
	// read_parquet([...]) for DuckDB directly.
	SQL  string `json:"sql"`
	Rows int    `json:"rows"`
	// Engine is query/duckdb: a fresh, locked-down database per query.
	EngineMs float64 `json:"engine_ms"`
	// DirectFreshMs is DuckDB on read_parquet in a new database per query.
	DirectFreshMs float64 `json:"direct_fresh_db_ms"`
	// DirectConnMs is DuckDB on read_parquet on one long-lived connection.
	DirectConnMs float64 `json:"direct_long_lived_ms"`
	// Ratios are EngineMs over each direct time.
	RatioFresh float64 `json:"ratio_vs_fresh_db"`
	RatioConn  float64 `json:"ratio_vs_long_lived"`
}

// QueryResult is Query's figures.
type QueryResult struct {
	Rows  int64 `json:"rows"`
	Files int   `json:"files"`
	Runs  int   `json:"runs"`
	// OpenMs is the engine's fixed cost: the median of SELECT 1.
	OpenMs float64 `json:"engine_select1_ms"`
	// WorkersSelect1Ms is SELECT 1 as lakeport serve answers it: through
	// its query worker processes (package query/worker with its defaults:
	// workers started ahead, each with its next database opened ahead), the
	// median. The API adds its HTTP round trip to it.
	WorkersSelect1Ms float64     `json:"workers_select1_ms"`
	Queries          []QueryCase `json:"queries"`
	// Sync is the sync that made the table, when Query ran one.
	Sync *SyncResult `json:"sync,omitempty"`
}

// queryCases are the two queries of the issue over the events table.
var queryCases = []QueryCase{
	{Name: "scan-and-aggregate", SQL: `SELECT type, date_trunc('day', created_at) AS day, count(*) AS events, count(customer_id) AS identified, count(DISTINCT session_id) AS sessions FROM %s GROUP BY ALL ORDER BY ALL`},
	{Name: "point filter", SQL: `SELECT * FROM %s WHERE id = 777777`},
}

// engineThreads and engineMemory are the query engine's defaults, given to
// the direct side too.
const (
	engineThreads = 2
	engineMemory  = "512MB"
)

// Query syncs opts.Records events into a local lake (or reuses
// opts.LakeDir) and times the queries through the engine and through DuckDB
// on the same Parquet files.
func Query(ctx context.Context, opts QueryOptions) (QueryResult, error) {
	var res QueryResult
	if opts.Runs <= 0 {
		opts.Runs = 7
	}
	res.Runs = opts.Runs - 1
	lakeDir := opts.LakeDir
	if lakeDir == "" {
		dir, cleanup, err := workDir(opts.Dir, opts.Keep)
		if err != nil {
			return res, err
		}
		defer cleanup()
		sr, err := Sync(ctx, Options{Records: opts.Records, Dir: dir, Keep: true, Source: opts.Source, Child: opts.Child, SkipDuckDB: true})
		if err != nil {
			return res, err
		}
		res.Sync = &sr
		lakeDir = sr.LakeDir
	}
	files, rows, err := DataFiles(ctx, lakeDir)
	if err != nil {
		return res, err
	}
	res.Files, res.Rows = len(files), rows
	e, err := newEngine(ctx, lakeDir)
	if err != nil {
		return res, err
	}
	defer e.e.Close()
	engine := func(sqlText string) (int, error) { return e.query(files, sqlText) }
	open, _, err := median(opts.Runs, func() (int, error) { return engine("SELECT 1") })
	if err != nil {
		return res, fmt.Errorf("bench: engine SELECT 1: %w", err)
	}
	res.OpenMs = open
	if res.WorkersSelect1Ms, err = workersSelect1(ctx, lakeDir, opts.Runs); err != nil {
		return res, err
	}

	src := "read_parquet(" + sqlList(files) + ", union_by_name = true)"
	// Every fresh database is closed before the next opens, and the
	// long-lived one opens only after them: an open DuckDB's idle workers
	// slow down another database's query.
	for _, qc := range queryCases {
		qc.EngineMs, qc.Rows, err = median(opts.Runs, func() (int, error) {
			return engine(fmt.Sprintf(qc.SQL, Namespace+"."+Table))
		})
		if err != nil {
			return res, fmt.Errorf("bench: engine %s: %w", qc.Name, err)
		}
		var n int
		qc.DirectFreshMs, n, err = median(opts.Runs, func() (int, error) {
			db, err := openDirect()
			if err != nil {
				return 0, err
			}
			defer db.Close()
			return drain(ctx, db, fmt.Sprintf(qc.SQL, src))
		})
		if err != nil {
			return res, fmt.Errorf("bench: direct %s: %w", qc.Name, err)
		}
		if n != qc.Rows {
			return res, fmt.Errorf("bench: %s: the engine returned %d rows, DuckDB directly %d", qc.Name, qc.Rows, n)
		}
		res.Queries = append(res.Queries, qc)
	}
	conn, err := openDirect()
	if err != nil {
		return res, err
	}
	defer conn.Close()
	for i := range res.Queries {
		qc := &res.Queries[i]
		qc.DirectConnMs, _, err = median(opts.Runs, func() (int, error) { return drain(ctx, conn, fmt.Sprintf(qc.SQL, src)) })
		if err != nil {
			return res, fmt.Errorf("bench: direct %s: %w", qc.Name, err)
		}
		qc.RatioFresh = qc.EngineMs / qc.DirectFreshMs
		qc.RatioConn = qc.EngineMs / qc.DirectConnMs
	}
	return res, nil
}

// engine is the query engine (query/duckdb) over the bench table.
type engine struct {
	ctx context.Context
	e   *duckdb.Engine
}

// newEngine opens the query engine with its temporary files under dir.
func newEngine(ctx context.Context, dir string) (*engine, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := mkdirs(tmp); err != nil {
		return nil, err
	}
	e, err := duckdb.New(duckdb.Config{TempDir: tmp})
	if err != nil {
		return nil, err
	}
	return &engine{ctx: ctx, e: e}, nil
}

// query runs sqlText over the bench table made of files and returns the
// number of rows, all read.
func (e *engine) query(files []string, sqlText string) (int, error) {
	tbl := query.Table{Schema: Namespace, Name: Table, Files: files}
	r, err := e.e.Query(e.ctx, []query.Table{tbl}, query.Request{SQL: sqlText, MaxRows: 1_000_000})
	if err != nil {
		return 0, err
	}
	got, err := query.Collect(r)
	return len(got), err
}

// workersSelect1 is the median time of SELECT 1 through a pool of query
// worker processes (as serve runs them), after the pool's first query.
func workersSelect1(ctx context.Context, dir string, runs int) (float64, error) {
	tmp := filepath.Join(dir, "workers")
	if err := mkdirs(tmp); err != nil {
		return 0, err
	}
	pool, err := worker.New(worker.Config{Dir: tmp})
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	ms, _, err := median(runs, func() (int, error) {
		r, err := pool.Query(ctx, nil, query.Request{SQL: "SELECT 1"})
		if err != nil {
			return 0, err
		}
		got, err := query.Collect(r)
		return len(got), err
	})
	if err != nil {
		return 0, fmt.Errorf("bench: SELECT 1 through query workers: %w", err)
	}
	return ms, nil
}

// DataFiles returns the local paths of the bench table's current data files
// and their row count.
func DataFiles(ctx context.Context, lakeDir string) ([]string, int64, error) {
	t, closer, err := openTable(ctx, lakeDir)
	if err != nil {
		return nil, 0, err
	}
	defer closer.Close()
	tasks, err := t.Iceberg().Scan().PlanFiles(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: plan files: %w", err)
	}
	var files []string
	var rows int64
	for _, task := range tasks {
		files = append(files, strings.TrimPrefix(task.File.FilePath(), "file://"))
		rows += task.File.Count()
	}
	return files, rows, nil
}

// openTable opens the bench table of the lake in lakeDir. Close the
// returned closer when done with it.
func openTable(ctx context.Context, lakeDir string) (*lake.Table, io.Closer, error) {
	l, closer, err := OpenLake(ctx, lakeDir)
	if err != nil {
		return nil, nil, err
	}
	t, err := l.LoadTable(ctx, Namespace, Table)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return t, closer, nil
}

// openDirect opens DuckDB with the engine's threads and memory limit, set
// the way the engine sets them (in the startup configuration).
func openDirect() (*sql.DB, error) {
	db, err := openDuckDB(engineThreads, "memory_limit="+engineMemory)
	if err != nil {
		return nil, err
	}
	// One connection: a long-lived session, as a dashboard would hold.
	db.SetMaxOpenConns(1)
	return db, nil
}

// drain runs q and reads every value of every row, as the engine does.
func drain(ctx context.Context, db *sql.DB, q string) (int, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// median runs fn runs times and returns the median time in ms of all but
// the first (a warm-up), and fn's last count.
func median(runs int, fn func() (int, error)) (float64, int, error) {
	var times []float64
	n := 0
	for i := range runs {
		start := time.Now()
		var err error
		n, err = fn()
		if err != nil {
			return 0, 0, err
		}
		if i > 0 || runs == 1 {
			times = append(times, float64(time.Since(start).Microseconds())/1000)
		}
	}
	return medianOf(times), n, nil
}

// medians runs each of fns once per round, in turn, for runs rounds, and
// returns the median time in ms of each over all rounds but the first (a
// warm-up).
func medians(runs int, fns ...func() (int, error)) ([]float64, error) {
	times := make([][]float64, len(fns))
	for i := range runs {
		for j, fn := range fns {
			start := time.Now()
			if _, err := fn(); err != nil {
				return nil, err
			}
			if i > 0 || runs == 1 {
				times[j] = append(times[j], float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	out := make([]float64, len(fns))
	for j := range times {
		out[j] = medianOf(times[j])
	}
	return out, nil
}

func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = sqlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
