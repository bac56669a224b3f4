package schedule_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/schedule"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
)

func TestParse(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 17, 0, 0, time.UTC)
	for spec, want := range map[string]time.Time{
		"every 6h":         base.Add(6 * time.Hour),
		"every 30m":        base.Add(30 * time.Minute),
		"every 2 hours":    base.Add(2 * time.Hour),
		"hourly":           base.Add(time.Hour),
		"daily":            base.Add(24 * time.Hour),
		"0 */6 * * *":      time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		"@daily":           time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		"30 9 * * MON-FRI": time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC),
	} {
		s, err := schedule.Parse(spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
			continue
		}
		if got := s.Next(base); !got.Equal(want) {
			t.Errorf("Parse(%q).Next = %s, want %s", spec, got, want)
		}
	}
	for _, bad := range []string{"", "every", "every 10s", "sometimes", "61 * * * *", "every -1h"} {
		if _, err := schedule.Parse(bad); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

// A schedule missed for a long time runs once, and two schedulers (two processes)
// sharing the store start it once between them.
func TestMissedRunsOnceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	st.CreateOrg(ctx, store.Org{ID: "o", Name: "o", ExternalID: "e", CreatedAt: now})
	st.CreateConnector(ctx, store.Connector{ID: "c", OrgID: "o", Name: "crm", Source: "sample", Catalog: []byte("{}"), CreatedAt: now, UpdatedAt: now})
	// Due since three days: 72 missed hourly slots.
	st.PutSchedule(ctx, store.Schedule{OrgID: "o", ConnectorID: "c", Spec: "hourly", NextRunAt: now.Add(-72 * time.Hour)})

	var mu sync.Mutex
	started := 0
	start := func(ctx context.Context, org, con string) error {
		mu.Lock()
		defer mu.Unlock()
		started++
		return nil
	}
	a := &schedule.Scheduler{Store: st, Start: start, Now: func() time.Time { return now }}
	b := &schedule.Scheduler{Store: st, Start: start, Now: func() time.Time { return now }}
	var wg sync.WaitGroup
	for _, s := range []*schedule.Scheduler{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Tick(ctx) }()
	}
	wg.Wait()
	if started != 1 {
		t.Fatalf("started %d syncs for 72 missed slots on two schedulers, want 1", started)
	}
	sc, _ := st.Schedule(ctx, "o", "c")
	if !sc.NextRunAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("next run %s, want an hour after now", sc.NextRunAt)
	}
	// An hour later it is due again, once.
	later := now.Add(time.Hour)
	a.Now = func() time.Time { return later }
	a.Tick(ctx)
	a.Tick(ctx)
	if started != 2 {
		t.Fatalf("started %d, want 2 after the next slot", started)
	}
}

// Maintenance starts for the connectors that synced since their last maintenance, once
// per Every, and not again until they sync again.
func TestMaintenanceStartsWhenDue(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	st.CreateOrg(ctx, store.Org{ID: "o", Name: "o", ExternalID: "e", CreatedAt: now})
	for _, id := range []string{"synced", "idle"} {
		st.CreateConnector(ctx, store.Connector{ID: id, OrgID: "o", Name: id, Source: "sample", Catalog: []byte("{}"), CreatedAt: now, UpdatedAt: now})
	}
	st.CreateRun(ctx, store.Run{ID: "r1", OrgID: "o", ConnectorID: "synced", Kind: store.RunSync, Status: store.RunSucceeded,
		CreatedAt: now.Add(-2 * time.Hour), FinishedAt: now.Add(-time.Hour)})
	var started []string
	m := &schedule.Maintenance{Store: st, Every: 24 * time.Hour, Now: func() time.Time { return now },
		Start: func(ctx context.Context, org, con string) error {
			started = append(started, con)
			// What connector.StartMaintenance records: a maintenance run, now.
			return st.CreateRun(ctx, store.Run{ID: "m" + itoa(len(started)), OrgID: org, ConnectorID: con, Kind: store.RunMaintenance,
				Status: store.RunSucceeded, CreatedAt: now, FinishedAt: now})
		}}
	m.Tick(ctx)
	m.Tick(ctx)
	if len(started) != 1 || started[0] != "synced" {
		t.Fatalf("started %v, want the synced connector once", started)
	}
	// It syncs again an hour later: not due before a day has passed since the last.
	st.CreateRun(ctx, store.Run{ID: "r2", OrgID: "o", ConnectorID: "synced", Kind: store.RunSync, Status: store.RunSucceeded,
		CreatedAt: now.Add(time.Hour), FinishedAt: now.Add(2 * time.Hour)})
	now = now.Add(3 * time.Hour)
	m.Tick(ctx)
	if len(started) != 1 {
		t.Fatalf("started %v within a day of the last maintenance", started)
	}
	now = now.Add(24 * time.Hour)
	m.Tick(ctx)
	if len(started) != 2 {
		t.Fatalf("started %v: a day after the last maintenance, with a sync since, it is due", started)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestShortest(t *testing.T) {
	from := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for spec, want := range map[string]time.Duration{
		"every 6h": 6 * time.Hour, "* * * * *": time.Minute, "*/5 * * * *": 5 * time.Minute,
		"0,1 * * * *": time.Minute, "0 */6 * * *": 6 * time.Hour, "@daily": 24 * time.Hour, "0 0 1 1 *": 365 * 24 * time.Hour,
	} {
		p, err := schedule.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := schedule.Shortest(p, from); got != want {
			t.Errorf("Shortest(%q) = %s, want %s", spec, got, want)
		}
	}
}
