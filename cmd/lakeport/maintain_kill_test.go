package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/store"
)

// The table's contents as a query sees them: what compaction must not change.
const eventsDigest = `SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS lo, max(id) AS hi, sum(id) AS total,
	count(DISTINCT session_id) AS sessions, count(customer_id) AS identified, max(created_at) AS latest FROM crm.events`

func digest(t *testing.T, ctx context.Context, c *client.Client) string {
	t.Helper()
	res, err := c.Query(ctx, api.QueryRequest{SQL: eventsDigest})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.Rows)
	return string(raw)
}

// Issue 13's promise: kill -9 `lakeport serve` while it compacts a table, start it
// again: the maintenance run resumes (a second attempt, planning again from the table
// as the first left it) and finishes, and the table holds exactly the rows it held
// before, every file it names present.
func TestKillNineDuringCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("LAKEPORT_MAINTENANCE_EVERY", "off") // only the maintenance this test starts
	first, url := startServeChild(t, dir)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(url, strings.TrimSpace(string(tok)))
	events := 300_000 // commits of batchRows() each: 15 data files
	if raceEnabled {
		events = 60_000 // 12 files of 5,000
	}
	if _, err := c.CreateConnector(ctx, connector.CreateRequest{Name: "crm", Source: "sample",
		Config:  []byte(fmt.Sprintf(`{"seed": 13, "customers": 0, "invoices": 0, "events": %d, "state_every": 1000}`, events)),
		Streams: []string{"events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.StartSync(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	for run.Status == store.RunQueued || run.Status == store.RunRunning {
		time.Sleep(100 * time.Millisecond)
		if run, err = c.Run(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	if run.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", run)
	}
	before := digest(t, ctx, c)

	// Compaction aims at about four of these files per output file, so it commits
	// several groups one after another: room to die between them.
	sizes := eventsFiles(dir)
	slices.Sort(sizes)
	if len(sizes) < 8 {
		t.Fatalf("%d data files after the sync, want one per commit", len(sizes))
	}
	target := max(4*sizes[len(sizes)/2], 1<<20)
	t.Logf("%d data files of %d to %d bytes; compaction target %d bytes", len(sizes), sizes[0], sizes[len(sizes)-1], target)
	first.Process.Signal(syscall.SIGTERM)
	first.Wait()
	t.Setenv("LAKEPORT_MAINTENANCE_TARGET_FILE_SIZE", fmt.Sprint(target))

	second, url := startServeChild(t, dir)
	c = client.New(url, strings.TrimSpace(string(tok)))
	m, err := c.StartMaintenance(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	written := 0 // by the groups the killed attempt committed
	for {
		if m, err = c.Run(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if m.Status != store.RunQueued && m.Status != store.RunRunning {
			t.Fatalf("the maintenance ended before it could be killed (%s): give the table more files for this machine; %s", m.Status, m.Tables)
		}
		var reps []maintain.Report
		json.Unmarshal(m.Tables, &reps)
		if len(reps) == 1 && reps[0].Compaction != nil && reps[0].Compaction.Committed > 0 {
			if reps[0].Compaction.Committed >= reps[0].Compaction.Groups {
				t.Fatalf("every compaction group was done before the kill: %+v", *reps[0].Compaction)
			}
			t.Logf("killing lakeport after %d of %d compaction groups", reps[0].Compaction.Committed, reps[0].Compaction.Groups)
			written = reps[0].Compaction.WrittenFiles
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the compaction never committed a group: %+v", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	second.Process.Signal(syscall.SIGKILL)
	second.Wait()
	t.Logf("%d events data files at the kill", len(eventsFiles(dir)))

	_, url = startServeChild(t, dir)
	restarted := time.Now()
	c = client.New(url, strings.TrimSpace(string(tok)))
	for m.Status == store.RunQueued || m.Status == store.RunRunning {
		if time.Since(restarted) > 2*time.Minute {
			t.Fatalf("the interrupted maintenance did not finish after the restart: %+v", m)
		}
		time.Sleep(100 * time.Millisecond)
		if m, err = c.Run(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if m.Status != store.RunSucceeded || m.Attempts != 2 {
		t.Fatalf("the interrupted maintenance: %s in %d attempts (%s); want succeeded in 2", m.Status, m.Attempts, m.Error)
	}
	var reps []maintain.Report
	if err := json.Unmarshal(m.Tables, &reps); err != nil || len(reps) != 1 {
		t.Fatalf("report: %s", m.Tables)
	}
	t.Logf("resumed attempt: %+v; finished %.1fs after the restart", *reps[0].Compaction, time.Since(restarted).Seconds())
	if cp := reps[0].Compaction; cp.Groups == 0 || cp.Committed != cp.Groups || cp.FilesAfter >= len(sizes)/2 {
		t.Errorf("the resumed compaction did not finish the table: %+v", *cp)
	}
	if after := digest(t, ctx, c); after != before {
		t.Fatalf("the table changed across the killed compaction:\nbefore %s\nafter  %s", before, after)
	}
	// On disk: the sync's files (older snapshots still read them), and what the
	// committed groups of both attempts wrote; the killed group's files are removed once
	// the resumed run finishes.
	want := len(sizes) + written + reps[0].Compaction.WrittenFiles
	for n := len(eventsFiles(dir)); n != want; n = len(eventsFiles(dir)) {
		if time.Since(restarted) > 3*time.Minute {
			t.Fatalf("%d events data files on disk after the resumed maintenance, want %d: the killed attempt's files stay", n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The next sync resumes from the table's state: the next epoch's events, once each.
	if run, err = c.StartSync(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	for run.Status == store.RunQueued || run.Status == store.RunRunning {
		time.Sleep(100 * time.Millisecond)
		if run, err = c.Run(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Query(ctx, api.QueryRequest{SQL: `SELECT count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi FROM crm.events`})
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	if n, d, lo, hi := num(row[0]), num(row[1]), num(row[2]), num(row[3]); run.Status != store.RunSucceeded || n != d || lo != 1 || hi != n || n != int64(2*events) {
		t.Fatalf("after the next sync (%s): %d rows, %d distinct ids from %d to %d; want every id from 1 to %d once", run.Status, n, d, lo, hi, 2*events)
	}
}

// Maintenance runs on its own in serve: a connector that synced is maintained within
// the scheduler's look (a quarter of maintenance.every), shows in its run history as a
// maintenance run with what it did to each table. (schedule's tests cover "not again
// before it syncs again, nor within maintenance.every".)
func TestServeMaintainsOnSchedule(t *testing.T) {
	url, dir := startServerConfig(t, func(c *config.Config) { c.Maintenance.Every = time.Minute })
	if out, code := run(t, url, dir, "connector", "create", "crm", "--source", "sample", "--stream", "events:incremental:append"); code != 0 {
		t.Fatalf("create: %s", out)
	}
	for range 3 {
		if out, code := run(t, url, dir, "connector", "sync", "crm"); code != 0 {
			if strings.Contains(out, "maintenance") {
				break // the scheduler got there between two syncs: fine
			}
			t.Fatalf("sync: %s", out)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	var runs []connector.RunView
	for {
		out, _ := run(t, url, dir, "connector", "runs", "crm", "--json")
		json.Unmarshal([]byte(out), &runs)
		if len(runs) > 0 && runs[0].Kind == store.RunMaintenance && runs[0].Status == store.RunSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled maintenance ran within 90s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, code := run(t, url, dir, "connector", "runs", "crm")
	if code != 0 || !strings.Contains(out, "maintenance") || !strings.Contains(out, "crm.events") {
		t.Fatalf("connector runs does not show the maintenance run and its table:\n%s", out)
	}
	t.Logf("%s", out)
	// On demand too: `connector maintain` waits for its run and prints each table.
	out, code = run(t, url, dir, "connector", "maintain", "crm")
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "crm.events") || !strings.Contains(out, "snapshots") {
		t.Fatalf("connector maintain: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "connector", "maintain", "crm", "--json")
	var m connector.RunView
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil || m.Kind != store.RunMaintenance || m.Status != store.RunSucceeded {
		t.Fatalf("connector maintain --json: exit %d, %v\n%s", code, err, out)
	}
	out, _ = run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM crm.events", "--format", "csv")
	if !strings.Contains(out, "3000,3000") && !strings.Contains(out, "2000,2000") && !strings.Contains(out, "1000,1000") {
		t.Fatalf("events after maintenance: %q", out)
	}
}

// eventsFiles is the sizes of crm.events' data files on disk under dir.
func eventsFiles(dir string) []int64 {
	var sizes []int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, filepath.Join("crm", "events", "data")) {
			if fi, err := d.Info(); err == nil {
				sizes = append(sizes, fi.Size())
			}
		}
		return nil
	})
	return sizes
}
