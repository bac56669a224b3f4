package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/store/sqlite"
)

func TestSyncJobsRunOncePerConnector(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	release := make(chan struct{})
	var mu sync.Mutex
	ran := map[string]int{}
	done := make(chan string, 10)
	q, err := jobs.Open(ctx, st.DB(), func(ctx context.Context, a jobs.SyncArgs) error {
		<-release
		mu.Lock()
		ran[a.RunID]++
		mu.Unlock()
		done <- a.RunID
		return nil
	}, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)

	if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	// While r1 waits or runs, a second sync of the same connector is refused...
	if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r2"}); !errors.Is(err, jobs.ErrAlreadyQueued) {
		t.Fatalf("second sync of c1: %v, want ErrAlreadyQueued", err)
	}
	// ...but another connector's sync is not.
	if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c2", RunID: "r3"}); err != nil {
		t.Fatal(err)
	}
	close(release)
	for i := 0; i < 2; i++ {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("jobs were not worked")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if ran["r1"] != 1 || ran["r3"] != 1 || ran["r2"] != 0 {
		t.Fatalf("runs worked: %v", ran)
	}
	// Once c1's job finished, c1 may sync again.
	if err := q.EnqueueSync(ctx, jobs.SyncArgs{OrgID: "o", ConnectorID: "c1", RunID: "r4"}); err != nil {
		t.Fatalf("sync of c1 after the first finished: %v", err)
	}
}
