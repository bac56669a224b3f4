package schedule_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/schedule"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/postgres"
)

// A scheduler process of TestSchedulesTwoProcesses: env names the database, the shared
// clock's epoch and this process's number.
const (
	schedChildURL   = "LAKEPORT_SCHED_CHILD_URL"
	schedChildEpoch = "LAKEPORT_SCHED_CHILD_EPOCH"
	schedChildN     = "LAKEPORT_SCHED_CHILD_N"
)

// speed makes one real second ten virtual minutes: a schedule "every 1m" is due every
// 100 ms, so a few seconds give many due runs.
const speed = 600

// runFor is how long (real time) each scheduler process runs: about 60 due runs per
// schedule.
const runFor = 6 * time.Second

func TestMain(m *testing.M) {
	if url := os.Getenv(schedChildURL); url != "" {
		if err := schedChild(url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// virtualNow is the clock both processes share: the epoch plus real time since, sped up.
func virtualNow(epoch time.Time) time.Time {
	return epoch.Add(time.Since(epoch) * speed)
}

func schedChild(url string) error {
	ctx := context.Background()
	ns, _ := strconv.ParseInt(os.Getenv(schedChildEpoch), 10, 64)
	epoch := time.Unix(0, ns)
	n := os.Getenv(schedChildN)
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	s := &schedule.Scheduler{Store: st, Interval: 10 * time.Millisecond, Now: func() time.Time { return virtualNow(epoch) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Start: func(ctx context.Context, org, con string) error {
			_, err := st.Pool().Exec(ctx, `INSERT INTO sched_starts (connector, process, at_ms) VALUES ($1, $2, $3)`, con, n, virtualNow(epoch).UnixMilli())
			return err
		}}
	runCtx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()
	s.Run(runCtx)
	return nil
}

// Two real scheduler processes on one PostgreSQL database, over many due runs: each due
// run of each schedule starts exactly once (never twice, never skipped), and both
// processes take part.
func TestSchedulesTwoProcesses(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Pool().Exec(ctx, `CREATE TABLE sched_starts (connector text, process text, at_ms bigint)`); err != nil {
		t.Fatal(err)
	}
	epoch := time.Now().Add(200 * time.Millisecond) // both children start before the first slot
	now := time.Now().UTC()
	if err := st.CreateOrg(ctx, store.Org{ID: "o", Name: "o", ExternalID: "e", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cons := []string{"c1", "c2", "c3"}
	for _, c := range cons {
		if err := st.CreateConnector(ctx, store.Connector{ID: c, OrgID: "o", Name: c, Source: "sample", Catalog: []byte("{}"), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutSchedule(ctx, store.Schedule{OrgID: "o", ConnectorID: c, Spec: "every 1m", NextRunAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	var children []*exec.Cmd
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), schedChildURL+"="+url, schedChildEpoch+"="+strconv.FormatInt(epoch.UnixNano(), 10), schedChildN+"="+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
	}
	for _, c := range children {
		if err := c.Wait(); err != nil {
			t.Fatalf("scheduler process: %v", err)
		}
	}
	rows, err := st.Pool().Query(ctx, `SELECT connector, process, at_ms FROM sched_starts`)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string][]int64{}
	byProcess := map[string]int{}
	for rows.Next() {
		var c, p string
		var at int64
		if err := rows.Scan(&c, &p, &at); err != nil {
			t.Fatal(err)
		}
		starts[c] = append(starts[c], at)
		byProcess[p]++
	}
	rows.Close()
	// Consecutive runs of one schedule are a minute apart (virtual); two starts of one
	// due run are a few virtual seconds apart at most (the clock reads of two processes
	// racing for it). Half a minute tells them apart with room for a slow machine.
	minGap := (30 * time.Second).Milliseconds()
	for _, c := range cons {
		ats := starts[c]
		sort.Slice(ats, func(i, j int) bool { return ats[i] < ats[j] })
		if len(ats) < 20 {
			t.Fatalf("%s started %d times in %s (%d virtual minutes): the schedulers did not keep up", c, len(ats), runFor, int(runFor*speed/time.Minute))
		}
		for i := 1; i < len(ats); i++ {
			gap := ats[i] - ats[i-1]
			if gap < minGap {
				t.Fatalf("%s started twice for one due run: starts %d ms apart (virtual), the schedule is every minute", c, gap)
			}
			// The next run counts from the start (missed slots collapse into one), so a
			// gap of two minutes or more is a due run nobody started.
			if gap >= (2 * time.Minute).Milliseconds() {
				t.Fatalf("%s: no start for %s virtual: a due run was skipped", c, time.Duration(gap)*time.Millisecond)
			}
		}
	}
	if len(byProcess) != 2 {
		t.Fatalf("starts per process %v: want both processes to take part", byProcess)
	}
	t.Logf("starts per connector: c1 %d, c2 %d, c3 %d; per process %v", len(starts["c1"]), len(starts["c2"]), len(starts["c3"]), byProcess)
}
