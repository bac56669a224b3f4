package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/store"
)

// serveChildEnv names the data dir of a `lakeport serve` child process of this test
// binary (see TestMain).
const serveChildEnv = "LAKEPORT_TEST_SERVE_DIR"

// serveChild runs `lakeport serve` on the embedded defaults until it is killed, and
// prints "serving ADDR" once it listens.
func serveChild(dir string) int {
	cfg := config.Config{DataDir: dir, Addr: "127.0.0.1:0", StepTimeout: 5 * time.Second, STSRegion: "us-east-1", QueryEngine: "duckdb",
		HealthInterval: time.Hour, SyncTimeout: time.Hour, SyncBatchRows: batchRows(),
		Maintenance: config.FromEnv().Maintenance} // LAKEPORT_MAINTENANCE_* of the test
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ready := make(chan string, 1)
	go func() {
		fmt.Printf("serving %s\n", <-ready)
	}()
	if err := serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

// startServeChild starts `lakeport serve` on dir in a child process and returns it and
// its URL.
func startServeChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("lakeport serve did not start")
	}
	return nil, ""
}

// Issue 10's first promise: kill -9 `lakeport serve` mid-sync and start it again: the
// sync finishes by itself within a minute (a second attempt of the same run, resuming
// from the last committed state), a sync asked for right after the restart is
// accepted at once, and the table holds every record exactly once.
func TestKillNineServeResumesAtRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first, url := startServeChild(t, dir)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(url, strings.TrimSpace(string(tok)))
	events := 300_000
	if raceEnabled {
		events = 40_000 // the resumed sync must finish within the minute under -race too
	}
	if _, err := c.CreateConnector(ctx, connector.CreateRequest{Name: "crm", Source: "sample",
		Config:  []byte(fmt.Sprintf(`{"seed": 8, "customers": 0, "invoices": 0, "events": %d, "state_every": 1000}`, events)),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.StartSync(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, err := c.Run(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded {
			t.Fatal("the sync finished before it could be killed: make it longer (events) for this machine")
		}
		if r.Status == store.RunRunning && strings.Contains(string(r.Streams), `"committed":`) && !strings.Contains(string(r.Streams), `"committed":0`) {
			break // killed after some commits, before the end
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync never got going: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	_, url = startServeChild(t, dir)
	restarted := time.Now()
	c = client.New(url, strings.TrimSpace(string(tok)))
	asked, err := c.StartSync(ctx, "crm")
	if err != nil {
		t.Fatalf("a sync asked for right after the restart was refused: %v", err)
	}
	if asked.ID != run.ID {
		t.Logf("the sync asked for after the restart is a new run %s (the interrupted one had finished)", asked.ID)
	}
	var r connector.RunView
	for {
		if r, err = c.Run(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		if r.Status == store.RunSucceeded || r.Status == store.RunFailed {
			break
		}
		if time.Since(restarted) > time.Minute {
			t.Fatalf("the interrupted sync did not finish within a minute of the restart: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Status != store.RunSucceeded || r.Attempts != 2 {
		t.Fatalf("the interrupted run: %s in %d attempts (%s); want succeeded in 2", r.Status, r.Attempts, r.Error)
	}
	t.Logf("resumed and finished %.1fs after the restart", time.Since(restarted).Seconds())
	// Let the joined (or new) run end too, then read the table.
	for asked.Status == store.RunQueued || asked.Status == store.RunRunning {
		time.Sleep(100 * time.Millisecond)
		if asked, err = c.Run(ctx, asked.ID); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Query(ctx, api.QueryRequest{SQL: `SELECT count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi FROM crm.events`})
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	n, d, lo, hi := num(row[0]), num(row[1]), num(row[2]), num(row[3])
	if n != d || lo != 1 || hi != n || n < int64(events) {
		t.Fatalf("events: %d rows, %d distinct ids from %d to %d; want every id from 1 once (at least %d)", n, d, lo, hi, events)
	}
}

func num(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}
