package syncer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/syncer"
)

// loopEnv is what a kill-loop sync process needs, passed in its environment as JSON.
const loopEnv = "LAKEPORT_SYNCER_KILLLOOP"

type loopSpec struct {
	Dir       string `json:"dir"`
	Warehouse string `json:"warehouse"` // file:///… or s3://bucket
	Endpoint  string `json:"endpoint,omitempty"`
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
	SyncID    string `json:"sync_id"`
}

// The kill loop's source: every stream in a mode where a double commit shows (append:
// a row committed twice is two rows) or a half-visible generation shows (overwrite).
var loopConfig = json.RawMessage(`{"seed": 21, "customers": 100, "invoices": 150, "events": 1000, "state_every": 20}`)

const loopEvents = 1000

var loopStreams = []string{"customers:incremental:append", "events:incremental:append", "invoices:full_refresh:overwrite"}

func (s loopSpec) lake(t testing.TB) *lake.Lake {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(s.Dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	props := iceberg.Properties{}
	if s.Endpoint != "" {
		props = iceberg.Properties{lake.PropS3Endpoint: s.Endpoint, lake.PropS3AccessKeyID: s.AccessKey, lake.PropS3SecretAccessKey: s.SecretKey,
			lake.PropS3Region: s3test.Region, lake.PropS3ForceVirtualAddressing: "false"}
	}
	l, err := lake.Open(ctx, lake.Config{DB: st.DB(), CatalogName: "org_loop", Warehouse: s.Warehouse, Props: props})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (s loopSpec) job(t testing.TB) syncer.Job {
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	disc, err := src.Discover(context.Background(), loopConfig)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := syncer.Select(disc, loopStreams)
	if err != nil {
		t.Fatal(err)
	}
	return syncer.Job{Source: src, Config: loopConfig, Catalog: cat, Lake: s.lake(t), Namespace: "crm",
		Location: strings.TrimSuffix(s.Warehouse, "/") + "/crm", SyncID: s.SyncID}
}

// loopOpts make many small commits.
var loopOpts = syncer.Options{BatchRows: 80}

// loopHelper is the sync process the loop kills: it prints "commit N" after its N-th
// commit.
func loopHelper(raw string) error {
	var spec loopSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return err
	}
	t := &testing.T{}
	job := spec.job(t)
	opts := loopOpts
	last := 0
	opts.Progress = func(p syncer.Progress) {
		n := 0
		for _, s := range p.Streams {
			n += s.Commits
		}
		if n > last {
			last = n
			fmt.Printf("commit %d\n", n)
		}
	}
	_, err := syncer.Run(context.Background(), job, opts)
	return err
}

// The kill loop: sync processes killed with SIGKILL after a random number of commits
// (so each kill lands between two commits of a running sync), then one sync to the end.
// Every stream is in a mode where a record committed twice is visible; after every
// kill the full-refresh table holds one whole generation or nothing; at the end every
// record is in the tables exactly once, no metadata names a missing file, and the
// files the killed attempts left are found and removed without changing a row. On the
// local warehouse and on a versitygw bucket. The seed is logged; LAKEPORT_KILL_SEED
// replays one.
func TestKillLoop(t *testing.T) {
	// Sized for CI (2 cores, the whole run well under 30 minutes): 6 kills on the
	// local warehouse and 3 on versitygw, 3 and 2 under -race or -short.
	kills, s3kills := 6, 3
	if testing.Short() || raceEnabled {
		kills, s3kills = 3, 2
	}
	t.Run("local", func(t *testing.T) {
		dir := t.TempDir()
		killLoop(t, loopSpec{Dir: dir, Warehouse: "file://" + filepath.Join(dir, "warehouse")}, kills,
			func(t *testing.T) lake.Files {
				b, err := objstore.NewFile(filepath.Join(dir, "warehouse"))
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		bucket := srv.NewBucket(t, "killloop")
		killLoop(t, loopSpec{Dir: t.TempDir(), Warehouse: "s3://" + bucket, Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
			s3kills, func(t *testing.T) lake.Files { return objstore.NewS3(srv.Client(), bucket, "", "") })
	})
}

func killLoop(t *testing.T, spec loopSpec, kills int, files func(*testing.T) lake.Files) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LAKEPORT_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("kill loop seed %d (LAKEPORT_KILL_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	l := spec.lake(t)
	src, _ := source.Open("sample")
	invoices := fullRefreshCount(t, src)

	between, finished := 0, 0
	for i := 0; i < kills; i++ {
		s := spec
		s.SyncID = "killed-" + strconv.Itoa(i)
		raw, _ := json.Marshal(s)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), loopEnv+"="+string(raw))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := 1 + rng.IntN(4) // commits before the kill
		extra := time.Duration(rng.IntN(40)) * time.Millisecond
		sc := bufio.NewScanner(out)
		commits := 0
		for commits < after && sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "commit "); ok {
				commits, _ = strconv.Atoi(n)
			}
		}
		if commits >= after {
			time.Sleep(extra)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		err = cmd.Wait()
		switch {
		case err == nil:
			finished++
		case strings.Contains(err.Error(), "killed"):
			between++
		default:
			t.Fatalf("sync process %d failed on its own: %v", i, err)
		}
		// Overwrite: the old generation stays whole until the new one commits.
		if ids := tableIDs(t, l, "invoices"); len(ids) != 0 && (len(ids) != invoices || len(uniq(ids)) != invoices) {
			t.Fatalf("after kill %d the full-refresh table holds %d rows (%d distinct ids), want none or one whole generation of %d", i, len(ids), len(uniq(ids)), invoices)
		}
	}
	t.Logf("%d of %d sync processes were killed between two commits (after 1-4 commits), %d finished first", between, kills, finished)
	if between < kills/2 {
		t.Fatalf("only %d of %d kills landed between commits: the loop tests little; make the source bigger", between, kills)
	}

	final := spec
	final.SyncID = "final"
	job := final.job(t)
	job.Lake = l
	if _, err := syncer.Run(context.Background(), job, loopOpts); err != nil {
		t.Fatalf("sync after the kills: %v", err)
	}
	check := func(when string) {
		t.Helper()
		// events: ids 1, 2, 3, … each once, whole weeks.
		nums := ints(tableIDs(t, l, "events"))
		for i, n := range nums {
			if n != i+1 {
				t.Fatalf("%s: events position %d holds id %d: a record lost or written twice (%d rows)", when, i, n, len(nums))
			}
		}
		if len(nums) == 0 || len(nums)%loopEvents != 0 {
			t.Fatalf("%s: events %d rows, want whole reads of %d", when, len(nums), loopEvents)
		}
		// customers, append: each version (id, updated_at) once, and as many as the
		// source sent up to the committed state.
		ids, upd := column(t, l, "crm", "customers", "id"), column(t, l, "crm", "customers", "updated_at")
		seen := map[string]bool{}
		for i := range ids {
			k := ids[i] + "@" + upd[i]
			if seen[k] {
				t.Fatalf("%s: customers version %s is in the table twice", when, k)
			}
			seen[k] = true
		}
		if want := appendOracle(t, src, job, "customers", l); len(ids) != want {
			t.Fatalf("%s: customers %d rows, want the %d versions the source sent", when, len(ids), want)
		}
		if inv := tableIDs(t, l, "invoices"); len(inv) != invoices || len(uniq(inv)) != invoices {
			t.Fatalf("%s: invoices %d rows, want one generation of %d", when, len(inv), invoices)
		}
	}
	check("after the final sync")

	// Leftovers of the killed attempts: found, removed, and nothing else touched.
	b := files(t)
	removed := 0
	for _, name := range []string{"customers", "events", "invoices"} {
		tbl, err := l.LoadTable(context.Background(), "crm", name)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := tbl.RemoveOrphanFiles(context.Background(), b, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		removed += len(keys)
		checkReferencedExist(t, tbl, b)
	}
	t.Logf("removed %d files the killed attempts left", removed)
	check("after removing leftovers")
}

func fullRefreshCount(t *testing.T, src source.Source) int {
	disc, err := src.Discover(context.Background(), loopConfig)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := syncer.Select(disc, []string{"invoices:full_refresh:overwrite"})
	recs, _ := oracle(t, src, loopConfig, cat, nil)
	return len(recs["invoices"])
}

// appendOracle counts the records of an append stream the source sends over as many
// reads as it takes to reach the state the table committed.
func appendOracle(t *testing.T, src source.Source, job syncer.Job, name string, l *lake.Lake) int {
	committed := committedStreamState(t, l, "crm", name)
	var one *protocol.ConfiguredCatalog
	for i, cs := range job.Catalog.Streams {
		if cs.Stream.Name == name {
			one = &protocol.ConfiguredCatalog{Streams: job.Catalog.Streams[i : i+1]}
		}
	}
	var state json.RawMessage
	n := 0
	for w := 0; ; w++ {
		if w > 100 {
			t.Fatalf("%s: the source never reached the committed state %s", name, committed)
		}
		recs, next := oracle(t, src, loopConfig, one, state)
		n += len(recs[name])
		state = next
		if streamStateOf(t, next, name) == committed {
			return n
		}
	}
}

func tableIDs(t *testing.T, l *lake.Lake, name string) []string {
	if _, err := l.LoadTable(context.Background(), "crm", name); err != nil {
		return nil
	}
	return column(t, l, "crm", name, "id")
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func ints(s []string) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i], _ = strconv.Atoi(v)
	}
	sort.Ints(out)
	return out
}

// checkReferencedExist checks that every file the table's metadata reaches exists.
func checkReferencedExist(t *testing.T, tbl *lake.Table, b lake.Files) {
	t.Helper()
	refs, err := tbl.Referenced(context.Background())
	if err != nil {
		t.Fatalf("read the metadata of %s: %v", tbl.Location(), err)
	}
	root := strings.TrimPrefix(strings.TrimSuffix(b.Location(), "/")+"/", "file://")
	for loc := range refs {
		key := strings.TrimPrefix(strings.TrimPrefix(loc, "file://"), root)
		if _, err := b.ModTime(context.Background(), key); err != nil {
			t.Fatalf("the metadata of %s names %s, which is missing: %v", tbl.Location(), loc, err)
		}
	}
}
