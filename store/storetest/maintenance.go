package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// MaintenanceStore is a store that finds connectors due for table maintenance.
type MaintenanceStore interface {
	store.Store
	store.Maintenance
}

// RunMaintenance exercises run kinds and MaintenanceDue. It expects an empty store.
func RunMaintenance(t *testing.T, s MaintenanceStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	createTwoOrgs(t, s, now)
	for _, c := range []store.Connector{
		{ID: "con_never", OrgID: "org_a", Name: "never"},     // never synced
		{ID: "con_synced", OrgID: "org_a", Name: "synced"},   // synced, never maintained
		{ID: "con_fresh", OrgID: "org_b", Name: "fresh"},     // maintained after its last sync
		{ID: "con_again", OrgID: "org_b", Name: "again"},     // synced again since, maintained long ago
		{ID: "con_recent", OrgID: "org_b", Name: "recent"},   // synced since, but maintained recently
		{ID: "con_running", OrgID: "org_a", Name: "running"}, // its only sync still runs
	} {
		c.Source, c.Catalog, c.CreatedAt, c.UpdatedAt = "sample", []byte(`{}`), now, now
		if err := s.CreateConnector(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	run := func(org, con, kind, status string, created, finished time.Time) store.Run {
		t.Helper()
		n++
		r := store.Run{ID: "run_" + string(rune('a'+n)), OrgID: org, ConnectorID: con, Kind: kind, Status: status, CreatedAt: created, StartedAt: created, FinishedAt: finished}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	h := func(d time.Duration) time.Time { return now.Add(d) }
	run("org_a", "con_synced", "", store.RunSucceeded, h(-50*time.Hour), h(-49*time.Hour)) // kind "" is a sync
	run("org_b", "con_fresh", store.RunSync, store.RunFailed, h(-30*time.Hour), h(-29*time.Hour))
	m := run("org_b", "con_fresh", store.RunMaintenance, store.RunSucceeded, h(-28*time.Hour), h(-27*time.Hour))
	run("org_b", "con_again", store.RunMaintenance, store.RunSucceeded, h(-40*time.Hour), h(-39*time.Hour))
	run("org_b", "con_again", store.RunSync, store.RunSucceeded, h(-2*time.Hour), h(-90*time.Minute-123456789*time.Nanosecond))
	run("org_b", "con_recent", store.RunMaintenance, store.RunSucceeded, h(-3*time.Hour), h(-170*time.Minute))
	run("org_b", "con_recent", store.RunSync, store.RunSucceeded, h(-time.Hour), h(-50*time.Minute))
	run("org_a", "con_running", store.RunSync, store.RunRunning, h(-time.Minute), time.Time{})

	got, err := s.Run(ctx, "org_b", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != store.RunMaintenance || !got.IsMaintenance() {
		t.Errorf("a maintenance run reads back as kind %q", got.Kind)
	}
	runs, err := s.Runs(ctx, "org_a", "con_synced", 10)
	if err != nil || len(runs) != 1 || runs[0].Kind != store.RunSync {
		t.Errorf("a run created without a kind reads back as %+v (%v), want kind sync", runs, err)
	}

	due, err := s.MaintenanceDue(ctx, h(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, d.OrgID+"/"+d.ConnectorID)
	}
	want := []string{"org_a/con_synced", "org_b/con_again"}
	if !slices.Equal(ids, want) {
		t.Errorf("due for maintenance (last one over 24h ago, synced since): %v, want %v", ids, want)
	}
	// A maintenance run created now (queued) makes con_again not due.
	run("org_b", "con_again", store.RunMaintenance, store.RunQueued, now, time.Time{})
	if due, err = s.MaintenanceDue(ctx, h(-24*time.Hour)); err != nil || len(due) != 1 || due[0].ConnectorID != "con_synced" {
		t.Errorf("after con_again's maintenance was queued: %+v (%v), want con_synced alone", due, err)
	}
}
