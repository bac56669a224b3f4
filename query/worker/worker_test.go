package worker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/querytest"
)

const childEnv = "LAKEPORT_TEST_QUERY_WORKER"

// The test binary doubles as the worker process.
func TestMain(m *testing.M) {
	// Pools opened through query.Open start `<this binary> query-worker`.
	if os.Getenv(childEnv) == "1" || len(os.Args) == 2 && os.Args[1] == "query-worker" {
		if err := Serve(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testCommand() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{childEnv + "=1"}
	return cmd
}

func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.Command == nil {
		cfg.Command = testCommand
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func collect(t testing.TB, e query.Engine, tables []query.Table, sql string, timeout time.Duration) ([][]any, error) {
	t.Helper()
	res, err := e.Query(context.Background(), tables, query.Request{SQL: sql, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return query.Collect(res)
}

func TestConformance(t *testing.T) {
	fx := querytest.WriteLakeFixtures(t, t.TempDir())
	querytest.RunOn(t, fx, func(t *testing.T) query.Engine { return newPool(t, Config{}) })
}

// A worker runs with nothing of the server's: not its environment, not its
// descriptors, not its working directory.
func TestWorkerGetsNothingOfTheServer(t *testing.T) {
	t.Setenv("LAKEPORT_SECRET_KEY", "server-secret-canary")
	secret, err := os.Open(os.Args[0]) // a descriptor the server holds
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	p := newPool(t, Config{Ready: 1})
	pr, err := p.get()
	if err != nil {
		t.Fatal(err)
	}
	defer p.discard(pr, errors.New("test done"))
	pid := strconv.Itoa(pr.cmd.Process.Pid)
	env, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "canary") || strings.Contains(string(env), "LAKEPORT_SECRET_KEY") {
		t.Fatalf("the worker inherited the server's environment: %q", env)
	}
	fds, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/" + pid + "/fd/" + fd.Name())
		if target == secret.Name() || strings.HasSuffix(target, ".test") {
			t.Fatalf("the worker holds the server's descriptor %s → %s", fd.Name(), target)
		}
	}
	cwd, _ := os.Readlink("/proc/" + pid + "/cwd")
	if wd, _ := os.Getwd(); cwd == wd || !strings.HasPrefix(cwd, p.cfg.Dir) {
		t.Fatalf("the worker works in %s, want a private folder under %s", cwd, p.cfg.Dir)
	}
	limits, _ := os.ReadFile("/proc/" + pid + "/limits")
	if !strings.Contains(string(limits), "Max data size") || !strings.Contains(string(limits), strconv.FormatInt(p.cfg.ProcessMemory, 10)) {
		t.Fatalf("the worker's data limit is not %d:\n%s", p.cfg.ProcessMemory, limits)
	}
}

// rss is this process's peak resident memory in KiB.
func peakRSS(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// bombTime is the bombs' time limit.
var bombTime = 20 * time.Second

// Queries that would grow a process by gigabytes end with a clear error,
// their worker is replaced, the server stays small, and other queries go on.
func TestBombsEndInTheirWorker(t *testing.T) {
	p := newPool(t, Config{EngineProps: map[string]string{"memory_limit": "256MB", "threads": "2"}})
	var union strings.Builder
	union.WriteString("SELECT 1 AS x")
	for range 20_000 {
		union.WriteString(" UNION ALL SELECT 1")
	}
	for _, c := range []struct {
		name, sql string
		want      error // the limit that must end it
	}{
		{"a 100-million-element list", `SELECT len(range(100000000))`, query.ErrResources},
		{"a 20,000-branch UNION ALL", union.String(), nil},
		{"a string of 4 GB", `SELECT length(repeat('x', 4000000000))`, query.ErrResources},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Another organization's query keeps answering meanwhile.
			var wg sync.WaitGroup
			stop := make(chan struct{})
			answered := 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rows, err := collect(t, p, nil, `SELECT 42`, 10*time.Second); err != nil || rows[0][0] != int64(42) {
						t.Errorf("SELECT 42 beside the bomb: %v %v", rows, err)
						return
					}
					answered++
				}
			}()
			_, err := collect(t, p, nil, c.sql, bombTime)
			close(stop)
			wg.Wait()
			if !errors.Is(err, query.ErrResources) && !errors.Is(err, query.ErrTimeout) {
				t.Fatalf("%s: %v, want a memory or time limit error", c.name, err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("%s: %v, want %v", c.name, err, c.want)
			}
			if !strings.Contains(err.Error(), "memory") && !strings.Contains(err.Error(), "time limit") {
				t.Errorf("the error does not say which limit: %v", err)
			}
			if answered == 0 {
				t.Error("no other query answered while the bomb ran")
			}
		})
	}
	if rss := peakRSS(t); rss > 1<<20 {
		t.Fatalf("the server's peak RSS reached %d MiB: a query's memory is not confined to its worker", rss>>10)
	}
	if rows, err := collect(t, p, nil, `SELECT 1`, 10*time.Second); err != nil || len(rows) != 1 {
		t.Fatalf("after the bombs: %v %v", rows, err)
	}
}

// Past its time limit a worker is killed, even while DuckDB cannot be
// interrupted, and the slot it held is free again.
func TestTimeoutKillsTheWorker(t *testing.T) {
	p := newPool(t, Config{})
	var union strings.Builder
	union.WriteString("SELECT 1 AS x")
	for range 20_000 {
		union.WriteString(" UNION ALL SELECT 1")
	}
	start := time.Now()
	_, err := collect(t, p, nil, union.String(), 500*time.Millisecond)
	if !errors.Is(err, query.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the query ended %s after its 500ms limit", d)
	}
}

// BenchmarkSelect1 is the fixed cost of a query through a worker: the
// process is started ahead, its database opened ahead.
func BenchmarkSelect1(b *testing.B) {
	p := newPool(b, Config{})
	for range 3 { // warm up: the ready workers are started
		collect(b, p, nil, `SELECT 1`, 10*time.Second)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := collect(b, p, nil, `SELECT 1`, 10*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelect1Paced is SELECT 1 as a person runs queries: one at a time,
// with a pause between them, in which the worker opens its next database.
func BenchmarkSelect1Paced(b *testing.B) {
	p := newPool(b, Config{})
	for range 3 {
		collect(b, p, nil, `SELECT 1`, 10*time.Second)
	}
	var total time.Duration
	for b.Loop() {
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if _, err := collect(b, p, nil, `SELECT 1`, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/query")
}

// A query's caller that goes away after the answer (as every HTTP request's
// context does) must not kill the worker, which by then serves another query.
func TestLateCancelDoesNotKillTheNextQuery(t *testing.T) {
	p := newPool(t, Config{Ready: 1})
	for i := range 300 {
		ctx, cancel := context.WithCancel(context.Background())
		res, err := p.Query(ctx, nil, query.Request{SQL: `SELECT 1`, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		// The caller goes away the moment the answer is complete.
		for {
			_, err := res.Next()
			if errors.Is(err, io.EOF) {
				cancel()
				break
			}
			if err != nil {
				t.Fatalf("query %d: %v", i, err)
			}
		}
		res.Close()
	}
}

// The settings lakeport.example.yaml documents open the engine, and reach it:
// the per-organization cap holds.
func TestExampleSettings(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "lakeport.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.Open(c.QueryEngine, c.QueryProps)
	if err != nil {
		t.Fatalf("the example's query settings: %v", err)
	}
	if closer, ok := e.(interface{ Close() error }); ok {
		closer.Close()
	}
	for _, bad := range []map[string]string{{"max_concurrent_per_org": "0"}, {"process_memory_limit": "lots"}, {"max_timeout": "soon"}, {"memory_limt": "1GB"}} {
		if _, err := query.Open("duckdb", bad); err == nil {
			t.Errorf("settings %v were accepted", bad)
		}
	}
}

// A worker that cannot start (here: its folders' parent is missing) fails
// the query as engine_unavailable, which the API answers 503, not as bad SQL
// or an unexplained internal error.
func TestWorkerThatCannotStartIsEngineUnavailable(t *testing.T) {
	p := newPool(t, Config{Dir: filepath.Join(t.TempDir(), "missing")})
	_, err := collect(t, p, nil, "SELECT 1", 10*time.Second)
	if query.Code(err) != "engine_unavailable" || query.IsClientError(err) {
		t.Fatalf("a worker that cannot start: %s: %v", query.Code(err), err)
	}
}
