package syncer_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

const killHelperEnv = "LAKEPORT_SYNCER_KILL_HELPER"

// TestMain doubles as the sync process that TestKillNineAndResume kills.
func TestMain(m *testing.M) {
	source.Default.Allow = source.MustAllowList("exec:*")
	if spec := os.Getenv(loopEnv); spec != "" {
		if err := loopHelper(spec); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv(killHelperEnv); dir != "" {
		if err := killableSync(dir, os.Getenv(killHelperEnv+"_ID")); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var killConfig = json.RawMessage(`{"seed": 11, "customers": 300, "invoices": 400, "events": 3000, "state_every": 25}`)

func killJob(t testing.TB, dir string) syncer.Job {
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	disc, err := src.Discover(context.Background(), killConfig)
	if err != nil {
		t.Fatal(err)
	}
	return syncer.Job{Source: src, Config: killConfig, Catalog: syncer.DefaultCatalog(disc), Lake: openLake(t, dir),
		Namespace: "crm", Location: "file://" + filepath.Join(dir, "warehouse", "crm")}
}

// killOpts make many small commits, so a kill lands between, inside and after them.
var killOpts = syncer.Options{BatchRows: 300}

func killableSync(dir, id string) error {
	t := &testing.T{}
	job := killJob(t, dir)
	job.SyncID = id
	_, err := syncer.Run(context.Background(), job, killOpts)
	return err
}

func TestKillNineAndResume(t *testing.T) {
	if testing.Short() {
		t.Log("-short: fewer kills")
	}
	dir := t.TempDir()
	// Sized for CI (2 cores, -race): TestKillLoop carries the heavier loop.
	kills := 8
	if testing.Short() || raceEnabled {
		kills = 4
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killed := 0
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir, killHelperEnv+"_ID=killed-"+strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done: // finished before the kill
			if err != nil {
				t.Fatalf("sync process %d failed on its own: %v", i, err)
			}
		case <-time.After(time.Duration(30+rng.IntN(400)) * time.Millisecond):
			cmd.Process.Kill() // SIGKILL
			<-done
			killed++
		}
	}
	t.Logf("%d of %d sync processes were killed with SIGKILL", killed, kills)

	job := killJob(t, dir)
	job.SyncID = "final"
	if _, err := syncer.Run(context.Background(), job, killOpts); err != nil {
		t.Fatalf("sync after the kills: %v", err)
	}

	// events are append only with ids 1, 2, 3, …: every id of every completed week
	// exactly once, no gaps, no duplicates.
	l := job.Lake
	evIDs := column(t, l, "crm", "events", "id")
	nums := make([]int, len(evIDs))
	for i, s := range evIDs {
		nums[i], _ = strconv.Atoi(s)
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("events: position %d holds id %d: a record was lost or duplicated (%d rows)", i, n, len(nums))
		}
	}
	if len(nums) == 0 || len(nums)%3000 != 0 {
		t.Fatalf("events: %d rows, want a whole number of syncs of 3000", len(nums))
	}
	weeks := len(nums) / 3000

	// customers and invoices: exactly the oracle's rows after as many reads as it takes
	// the source to reach the state the table committed. Each stream keeps its own
	// state, so after kills the streams may be at different weeks.
	src, _ := source.Open("sample")
	for i, cs := range job.Catalog.Streams {
		s := cs.Stream.Name
		if s == "events" {
			continue
		}
		committed := committedStreamState(t, l, "crm", s)
		one := &protocol.ConfiguredCatalog{Streams: job.Catalog.Streams[i : i+1]}
		var state json.RawMessage
		var all []map[string]any
		for w := 0; ; w++ {
			if w > 100 {
				t.Fatalf("%s: the source never reached the committed state %s", s, committed)
			}
			recs, next := oracle(t, src, killConfig, one, state)
			all = append(all, recs[s]...)
			state = next
			if streamStateOf(t, next, s) == committed {
				break
			}
		}
		want := latest(all, "updated_at")
		ids, curs := column(t, l, "crm", s, "id"), column(t, l, "crm", s, "updated_at")
		if len(ids) != len(want) {
			t.Fatalf("%s: %d rows, want %d", s, len(ids), len(want))
		}
		for i, id := range ids {
			if want[id] != curs[i] {
				t.Fatalf("%s id %s: updated_at %s, want %s", s, id, curs[i], want[id])
			}
		}
	}
	t.Logf("after %d kills: %d complete weeks of events (%d), customers and invoices exactly as the source", killed, weeks, len(nums))
}

// committedStreamState is the stream_state of the table's last commit.
func committedStreamState(t *testing.T, l *lake.Lake, ns, name string) string {
	t.Helper()
	tbl, err := l.LoadTable(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, ok, err := tbl.LastState(context.Background())
	if err != nil || !ok {
		t.Fatalf("%s has no committed state: %v", name, err)
	}
	var env struct {
		Message protocol.StateMessage `json:"message"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Message.Stream == nil {
		t.Fatalf("committed state of %s: %s (%v)", name, raw, err)
	}
	return string(env.Message.Stream.StreamState)
}

// streamStateOf picks one stream's stream_state out of a state array.
func streamStateOf(t *testing.T, states json.RawMessage, name string) string {
	var msgs []protocol.StateMessage
	if err := json.Unmarshal(states, &msgs); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Stream != nil && m.Stream.StreamDescriptor.Name == name {
			return string(m.Stream.StreamState)
		}
	}
	return ""
}
