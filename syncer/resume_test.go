package syncer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

// A sync run again under the same sync ID (a queued job rescued after its process died)
// resumes from the last committed state, and none of its commits is mistaken for one of
// the dead run's: every record lands once.
func TestSameSyncIDResumesExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	l := openLake(t, dir)
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	cfg := json.RawMessage(`{"seed": 9, "customers": 0, "invoices": 0, "events": 20000, "state_every": 100}`)
	disc, err := src.Discover(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := syncer.Select(disc, []string{"events:incremental:append"})
	if err != nil {
		t.Fatal(err)
	}
	job := syncer.Job{Source: src, Config: cfg, Catalog: cat, Lake: l, Namespace: "crm",
		Location: "file://" + filepath.Join(dir, "warehouse", "crm"), SyncID: "run_same"}

	// The first run dies after its third commit.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = syncer.Run(ctx, job, syncer.Options{BatchRows: 1000, Progress: func(p syncer.Progress) {
		if p.Streams["events"].Commits >= 3 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the first run was meant to die part way")
	}
	// The same sync runs again to the end.
	if _, err := syncer.Run(context.Background(), job, syncer.Options{BatchRows: 1000}); err != nil {
		t.Fatal(err)
	}
	ids := column(t, l, "crm", "events", "id")
	nums := make([]int, len(ids))
	for i, s := range ids {
		nums[i], _ = strconv.Atoi(s)
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("events: position %d holds id %d: a record was lost or written twice (%d rows)", i, n, len(nums))
		}
	}
	if len(nums) < 20000 {
		t.Fatalf("%d events, want at least 20000", len(nums))
	}
}
