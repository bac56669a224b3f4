package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/internal/pgtest"
)

// Two lakeport processes (serve and worker) on one PostgreSQL: every requested sync
// runs once in total, and the tables hold every record once.
func TestServeAndWorkerShareOnePostgres(t *testing.T) {
	db := pgtest.URL(t)
	dir := t.TempDir()
	cfg := config.Config{DataDir: dir, Addr: "127.0.0.1:0", Database: db, StepTimeout: 5 * time.Second, STSRegion: "us-east-1",
		Sample: true, QueryEngine: "duckdb", HealthInterval: time.Hour}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	serveDone, workDone := make(chan error, 1), make(chan error, 1)
	go func() { serveDone <- serve(ctx, cfg, quiet, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-serveDone:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	go func() { workDone <- work(ctx, cfg, quiet) }()
	t.Cleanup(func() {
		cancel()
		<-serveDone
		<-workDone
	})
	url := "http://" + addr

	waitRuns := func(n int) []map[string]any {
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, _ := run(t, url, dir, "connector", "runs", "sample", "--json", "--limit", "50")
			var runs []map[string]any
			json.Unmarshal([]byte(out), &runs)
			done := 0
			for _, r := range runs {
				if r["status"] == "succeeded" || r["status"] == "failed" {
					done++
				}
			}
			if done >= n {
				return runs
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %d finished runs:\n%s", n, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitRuns(1) // the sample's first sync
	for i := 0; i < 4; i++ {
		if out, code := run(t, url, dir, "connector", "sync", "sample"); code != 0 {
			t.Fatalf("sync %d: exit %d\n%s", i, code, out)
		}
	}
	runs := waitRuns(5)
	if len(runs) != 5 {
		t.Fatalf("%d runs for 5 requested syncs", len(runs))
	}
	for _, r := range runs {
		if r["status"] != "succeeded" {
			t.Fatalf("run %v", r)
		}
	}
	out, _ := run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM sample.events", "--format", "csv")
	if !strings.Contains(out, "5000,5000") {
		t.Fatalf("after 5 syncs on two processes events = %q, want 5000 distinct rows", out)
	}
}
