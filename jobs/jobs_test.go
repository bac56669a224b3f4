package jobs_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/store/sqlite"
)

// opener opens a Queue on one database; every call of the same opener is another
// "process" on that database.
type opener func(t *testing.T, run jobs.SyncFunc, cfg jobs.Config) *jobs.Queue

// forEachDriver runs test against a fresh SQLite file and a fresh PostgreSQL database.
func forEachDriver(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lakeport.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, func(t *testing.T, run jobs.SyncFunc, cfg jobs.Config) *jobs.Queue {
			q, err := jobs.OpenSQLite(context.Background(), st.DB(), run, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return q
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pool := postgresPool(t, pgtest.URL(t))
		test(t, func(t *testing.T, run jobs.SyncFunc, cfg jobs.Config) *jobs.Queue {
			q, err := jobs.OpenPostgres(context.Background(), pool, run, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return q
		})
	})
}

// postgresPool opens the metadata store on url, as a lakeport process does, and returns
// its pool.
func postgresPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.Pool()
}

func start(t *testing.T, q *jobs.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// Each job is worked once; the queue dedupes nothing (one active run per connector is
// the store's rule, see store.Leases), so two jobs of one connector both run.
func TestEachJobRunsOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		var mu sync.Mutex
		ran := map[string]int{}
		done := make(chan string, 10)
		q := open(t, func(ctx context.Context, a jobs.SyncArgs) error {
			mu.Lock()
			ran[a.RunID]++
			mu.Unlock()
			done <- a.RunID
			return nil
		}, jobs.Config{})
		start(t, q)
		for _, a := range []jobs.SyncArgs{{OrgID: "o", ConnectorID: "c1", RunID: "r1"}, {OrgID: "o", ConnectorID: "c1", RunID: "r2"}, {OrgID: "o", ConnectorID: "c2", RunID: "r3"}} {
			if err := q.EnqueueSync(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("jobs were not worked")
			}
		}
		time.Sleep(300 * time.Millisecond) // time for a duplicate to show up, if there were one
		mu.Lock()
		defer mu.Unlock()
		if ran["r1"] != 1 || ran["r2"] != 1 || ran["r3"] != 1 {
			t.Fatalf("runs worked: %v", ran)
		}
	})
}

// A job whose run may not start yet (Later) waits without holding a worker: with one
// worker, the job queued behind it is worked meanwhile, and it is worked again.
func TestLaterFreesTheWorker(t *testing.T) {
	forEachDriver(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		var mu sync.Mutex
		var order []string
		tries := 0
		done := make(chan struct{})
		q := open(t, func(ctx context.Context, a jobs.SyncArgs) error {
			mu.Lock()
			defer mu.Unlock()
			if a.RunID == "waits" && tries == 0 {
				tries++
				return jobs.Later(100 * time.Millisecond)
			}
			order = append(order, a.RunID)
			if len(order) == 2 {
				close(done)
			}
			return nil
		}, jobs.Config{Workers: 1})
		if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "a", ConnectorID: "c1", RunID: "waits"}); err != nil {
			t.Fatal(err)
		}
		if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "b", ConnectorID: "c2", RunID: "other"}); err != nil {
			t.Fatal(err)
		}
		start(t, q)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the waiting job was not worked again")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 2 || order[0] != "other" || order[1] != "waits" {
			t.Fatalf("worked in order %v, want other (while the first waited), then waits", order)
		}
	})
}

func TestFailedSyncIsNotRetried(t *testing.T) {
	forEachDriver(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		calls := make(chan string, 10)
		q := open(t, func(ctx context.Context, a jobs.SyncArgs) error {
			calls <- a.RunID
			return errors.New("the store is down")
		}, jobs.Config{})
		start(t, q)
		if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r1"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-calls:
		case <-time.After(20 * time.Second):
			t.Fatal("the job was not worked")
		}
		// The failed job is final...
		if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r2"}); err != nil {
			t.Fatal(err)
		}
		// ...and r1 is not worked a second time: only r2 comes next.
		select {
		case id := <-calls:
			if id != "r2" {
				t.Fatalf("worked %s after the failure, want r2", id)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("r2 was not worked")
		}
	})
}

// TestTwoProcessesShareTheWork runs two Queues on one PostgreSQL database, as two
// lakeport processes do: every job is worked exactly once in total, by either.
func TestTwoProcessesShareTheWork(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const n = 200

	var mu sync.Mutex
	ran := map[string]int{}
	byProcess := [2]int{}
	all := make(chan struct{})
	queues := make([]*jobs.Queue, 2)
	for p := range queues {
		pool := postgresPool(t, url) // each process has its own pool
		q, err := jobs.OpenPostgres(ctx, pool, func(ctx context.Context, a jobs.SyncArgs) error {
			time.Sleep(2 * time.Millisecond) // long enough that both processes get work
			mu.Lock()
			defer mu.Unlock()
			ran[a.RunID]++
			byProcess[p]++
			if byProcess[0]+byProcess[1] == n {
				close(all)
			}
			return nil
		}, jobs.Config{Workers: 4})
		if err != nil {
			t.Fatal(err)
		}
		queues[p] = q
	}
	for i := 0; i < n; i++ {
		a := jobs.SyncArgs{OrgID: "o", ConnectorID: fmt.Sprintf("c%d", i), RunID: fmt.Sprintf("r%d", i)}
		if err := queues[i%2].EnqueueSync(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range queues {
		start(t, q)
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("after a minute %d of %d jobs were worked", len(ran), n)
	}
	time.Sleep(500 * time.Millisecond) // time for a duplicate to show up, if there were one
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("r%d", i); ran[id] != 1 {
			t.Errorf("%s worked %d times, want 1", id, ran[id])
		}
	}
	if len(ran) != n {
		t.Errorf("%d distinct runs worked, want %d: %v", len(ran), n, ran)
	}
	if byProcess[0] == 0 || byProcess[1] == 0 {
		t.Errorf("jobs worked per process: %v; want both to take part", byProcess)
	}
	t.Logf("jobs worked per process: %v", byProcess)
}

// childEnv names the database a child process of TestDeadProcessSyncIsResumed works on.
const childEnv = "LAKEPORT_JOBS_TEST_CHILD_URL"

// Short enough for a test: a sync running longer than rescueAfter is presumed dead.
var testTimeouts = jobs.Config{SyncTimeout: time.Second, RescueAfter: 2 * time.Second}

// TestDeadProcessSyncIsResumed starts a sync in a child process, kills it with SIGKILL
// mid-sync, and checks that River's rescuer still works the job again in another
// process: the backstop behind leases (package connector resumes such a run sooner).
func TestDeadProcessSyncIsResumed(t *testing.T) {
	if url := os.Getenv(childEnv); url != "" {
		runChild(t, url)
		return
	}
	ctx := context.Background()
	url := pgtest.URL(t)
	pool := postgresPool(t, url)

	// Enqueue from a process that does not work jobs, then start the child to work it.
	enqueuer, err := jobs.OpenPostgres(ctx, pool, func(context.Context, jobs.SyncArgs) error {
		return errors.New("this process works no jobs")
	}, testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	if err := enqueuer.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r1"}); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestDeadProcessSyncIsResumed$")
	child.Env = append(os.Environ(), childEnv+"="+url)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	working := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "working "); ok {
				working <- id
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case id := <-working:
		if id != "r1" {
			t.Fatalf("child works %s, want r1", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the child process did not start the sync")
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no cleanup, the job stays running
		t.Fatal(err)
	}
	child.Wait()

	var state string
	if err := pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'sync'`).Scan(&state); err != nil || state != "running" {
		t.Fatalf("after the kill the job is %q, %v; want running", state, err)
	}

	resumed := make(chan string, 1)
	survivor, err := jobs.OpenPostgres(ctx, pool, func(ctx context.Context, a jobs.SyncArgs) error {
		resumed <- a.RunID
		return nil
	}, testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	start(t, survivor)
	// The survivor becomes leader once the dead process's lease runs out (up to ~15s),
	// its rescuer makes the job retryable, its scheduler makes it available.
	select {
	case id := <-resumed:
		if id != "r1" {
			t.Fatalf("resumed %s, want r1", id)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the dead process's sync was not resumed within 90s")
	}
	var attempt int
	var errs []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := pool.QueryRow(ctx, `SELECT state, attempt, ARRAY(SELECT e->>'error' FROM unnest(errors) e) FROM river_job WHERE kind = 'sync'`).Scan(&state, &attempt, &errs); err != nil {
			t.Fatal(err)
		}
		if state == "completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state != "completed" || attempt != 2 || len(errs) != 1 || !strings.Contains(errs[0], "Stuck job rescued") {
		t.Fatalf("job after the rescue: state %s, attempt %d, errors %q; want completed at attempt 2 after one rescue", state, attempt, errs)
	}
}

// runChild is the child process: it works the sync and hangs in it until killed.
func runChild(t *testing.T, url string) {
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.OpenPostgres(context.Background(), pool, func(ctx context.Context, a jobs.SyncArgs) error {
		fmt.Printf("working %s\n", a.RunID)
		select {} // a process that stops here, mid-sync, until it is killed
	}, testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {}
}

// TestConcurrentOpenPostgresMigratesOnce starts several processes on an empty database
// at once: one migrates River's tables under the advisory lock, the others wait.
func TestConcurrentOpenPostgresMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		pool := postgresPool(t, url)
		wg.Go(func() {
			_, errs[i] = jobs.OpenPostgres(context.Background(), pool, func(context.Context, jobs.SyncArgs) error { return nil }, jobs.Config{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d: %v", i, err)
		}
	}
}
