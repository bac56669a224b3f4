package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// ScheduleStore is a store with schedules and storage health.
type ScheduleStore interface {
	store.Store
	store.Schedules
	store.Health
}

// RunSchedules exercises schedules and storage health. It expects an empty store.
func RunSchedules(t *testing.T, s ScheduleStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	createTwoOrgs(t, s, now)
	c := store.Connector{ID: "con_s", OrgID: "org_a", Name: "crm", Source: "sample", Catalog: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConnector(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Schedule(ctx, "org_a", "con_s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule before one is set: %v, want ErrNotFound", err)
	}
	sc := store.Schedule{OrgID: "org_a", ConnectorID: "con_s", Spec: "every 1h", NextRunAt: now.Add(-time.Minute)}
	if err := s.PutSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Schedule(ctx, "org_b", "con_s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B reading org A's schedule: %v, want ErrNotFound", err)
	}
	due, err := s.DueSchedules(ctx, now)
	if err != nil || len(due) != 1 || due[0].Spec != "every 1h" || !due[0].NextRunAt.Equal(sc.NextRunAt) {
		t.Fatalf("DueSchedules = %+v, %v", due, err)
	}
	// Two processes advance the same due schedule: exactly one wins.
	won1, err1 := s.AdvanceSchedule(ctx, due[0], now.Add(time.Hour))
	won2, err2 := s.AdvanceSchedule(ctx, due[0], now.Add(time.Hour))
	if err1 != nil || err2 != nil || !won1 || won2 {
		t.Fatalf("AdvanceSchedule twice = %v/%v, %v/%v; want exactly the first to win", won1, err1, won2, err2)
	}
	if due, _ := s.DueSchedules(ctx, now); len(due) != 0 {
		t.Fatalf("an advanced schedule is still due: %+v", due)
	}
	if err := s.PutSchedule(ctx, store.Schedule{OrgID: "org_a", ConnectorID: "con_s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Schedule(ctx, "org_a", "con_s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a removed schedule: %v", err)
	}

	if _, err := s.StorageHealth(ctx, "org_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("health before a check: %v", err)
	}
	h := store.StorageHealth{OrgID: "org_a", OK: false, Cause: "explicit_deny", Message: "put_object denied", CheckedAt: now}
	if err := s.PutStorageHealth(ctx, h); err != nil {
		t.Fatal(err)
	}
	if got, err := s.StorageHealth(ctx, "org_a"); err != nil || got.OK || got.Cause != "explicit_deny" || !got.CheckedAt.Equal(now) {
		t.Fatalf("StorageHealth = %+v, %v", got, err)
	}
	h.OK, h.Cause = true, ""
	s.PutStorageHealth(ctx, h)
	if got, _ := s.StorageHealth(ctx, "org_a"); !got.OK {
		t.Fatal("health did not update")
	}
	s.PutStorageSetting(ctx, store.StorageSetting{OrgID: "org_b", Mode: "customer_hosted", Bucket: "b", UpdatedAt: now})
	s.PutStorageSetting(ctx, store.StorageSetting{OrgID: "org_a", Mode: "managed", UpdatedAt: now})
	if orgs, err := s.CustomerHostedOrgs(ctx); err != nil || len(orgs) != 1 || orgs[0] != "org_b" {
		t.Fatalf("CustomerHostedOrgs = %v, %v", orgs, err)
	}
}
