package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// LeaseStore is a store with run attempts and leases.
type LeaseStore interface {
	store.Store
	store.Leases
}

// RunLeases exercises run attempts, leases, one active run per connector and the
// per-organization cap. It expects an empty store.
func RunLeases(t *testing.T, s LeaseStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	createTwoOrgs(t, s, now)
	for _, c := range []store.Connector{
		{ID: "con_1", OrgID: "org_a", Name: "one", Source: "sample", Catalog: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
		{ID: "con_2", OrgID: "org_a", Name: "two", Source: "sample", Catalog: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
		{ID: "con_3", OrgID: "org_b", Name: "three", Source: "sample", Catalog: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
	} {
		if err := s.CreateConnector(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	run := func(id, org, con string) store.Run {
		return store.Run{ID: id, OrgID: org, ConnectorID: con, Status: store.RunQueued, CreatedAt: now}
	}
	if err := s.CreateRun(ctx, run("run_1", "org_a", "con_1")); err != nil {
		t.Fatal(err)
	}
	// One active run per connector.
	if err := s.CreateRun(ctx, run("run_1b", "org_a", "con_1")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second queued run of one connector: %v, want ErrConflict", err)
	}
	if r, err := s.ActiveRun(ctx, "org_a", "con_1"); err != nil || r.ID != "run_1" {
		t.Fatalf("active run = %+v, %v; want run_1", r, err)
	}
	if _, err := s.ActiveRun(ctx, "org_b", "con_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B asking for org A's active run: %v, want ErrNotFound", err)
	}
	lease := time.Minute
	stale := func(at time.Time) time.Time { return at.Add(-lease) }

	a1, err := s.ClaimRun(ctx, "org_a", "run_1", "p1", now, stale(now), 1)
	if err != nil || a1.Number != 1 || a1.Owner != "p1" {
		t.Fatalf("first claim: %+v, %v", a1, err)
	}
	if r, _ := s.Run(ctx, "org_a", "run_1"); r.Status != store.RunRunning || r.Attempts != 1 || r.StartedAt.IsZero() {
		t.Fatalf("claimed run: %+v", r)
	}
	if _, err := s.ClaimRun(ctx, "org_a", "run_1", "p2", now, stale(now), 1); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("claim of a run with a live lease: %v, want ErrLeaseHeld", err)
	}
	if _, err := s.ClaimRun(ctx, "org_b", "run_1", "p2", now, stale(now), 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim through another org: %v, want ErrNotFound", err)
	}
	// The organization's cap: org A runs one sync, so its second waits; org B does not.
	if err := s.CreateRun(ctx, run("run_2", "org_a", "con_2")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRun(ctx, run("run_3", "org_b", "con_3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRun(ctx, "org_a", "run_2", "p2", now, stale(now), 1); !errors.Is(err, store.ErrOrgBusy) {
		t.Fatalf("second sync of org A under a cap of 1: %v, want ErrOrgBusy", err)
	}
	a3, err := s.ClaimRun(ctx, "org_b", "run_3", "p2", now, stale(now), 1)
	if err != nil {
		t.Fatalf("org B's sync while org A runs one: %v", err)
	}
	if _, err := s.ClaimRun(ctx, "org_a", "run_2", "p2", now, stale(now), 2); err != nil {
		t.Fatalf("second sync of org A under a cap of 2: %v", err)
	}

	// Heartbeats keep the lease; a lease not renewed goes stale and is taken over.
	later := now.Add(45 * time.Second)
	if err := s.RenewLease(ctx, a1, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRun(ctx, "org_a", "run_1", "p2", now.Add(90*time.Second), stale(now.Add(90*time.Second)), 0); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("claim 45 s after a heartbeat with a 60 s lease: %v, want ErrLeaseHeld", err)
	}
	takeover := later.Add(lease + time.Second)
	a1b, err := s.ClaimRun(ctx, "org_a", "run_1", "p2", takeover, stale(takeover), 0)
	if err != nil || a1b.Number != 2 {
		t.Fatalf("take over a stale lease: %+v, %v", a1b, err)
	}
	if err := s.RenewLease(ctx, a1, takeover); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the old owner renewing after a takeover: %v, want ErrLeaseLost", err)
	}
	if err := s.EndAttempt(ctx, a1, store.AttemptSucceeded, "", takeover); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the old owner ending its attempt after a takeover: %v, want ErrLeaseLost", err)
	}
	atts, err := s.Attempts(ctx, "org_a", "run_1")
	if err != nil || len(atts) != 2 || atts[0].Status != store.AttemptInterrupted || atts[1].Status != store.AttemptRunning || atts[1].Owner != "p2" {
		t.Fatalf("attempts of a run taken over: %+v, %v", atts, err)
	}
	if got, _ := s.Attempts(ctx, "org_b", "run_1"); len(got) != 0 {
		t.Fatalf("org B sees org A's attempts: %+v", got)
	}
	if err := s.EndAttempt(ctx, a1b, store.AttemptSucceeded, "", takeover); err != nil {
		t.Fatal(err)
	}
	r1, _ := s.Run(ctx, "org_a", "run_1")
	r1.Status, r1.FinishedAt = store.RunSucceeded, takeover
	if err := s.UpdateRun(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRun(ctx, "org_a", "run_1", "p3", takeover, stale(takeover), 0); !errors.Is(err, store.ErrRunDone) {
		t.Fatalf("claim of a finished run: %v, want ErrRunDone", err)
	}
	// A finished run frees its connector for the next one.
	if err := s.CreateRun(ctx, run("run_4", "org_a", "con_1")); err != nil {
		t.Fatalf("a new run after the last finished: %v", err)
	}

	// RequeueStale: the runs whose process went quiet come back queued, each once.
	if err := s.RenewLease(ctx, a3, takeover); err != nil {
		t.Fatal(err)
	}
	requeued, err := s.RequeueStale(ctx, takeover, stale(takeover), "process gone")
	if err != nil {
		t.Fatal(err)
	}
	if len(requeued) != 1 || requeued[0].ID != "run_2" || requeued[0].Status != store.RunQueued {
		t.Fatalf("requeued %+v, want run_2 only (run_3 renewed its lease)", requeued)
	}
	if again, err := s.RequeueStale(ctx, takeover, stale(takeover), "process gone"); err != nil || len(again) != 0 {
		t.Fatalf("a second RequeueStale: %+v, %v; want none", again, err)
	}
	if atts, _ := s.Attempts(ctx, "org_a", "run_2"); len(atts) != 1 || atts[0].Status != store.AttemptInterrupted || atts[0].Error != "process gone" {
		t.Fatalf("attempts of a requeued run: %+v", atts)
	}
	queued, err := s.QueuedRuns(ctx)
	if err != nil || len(queued) != 2 {
		t.Fatalf("queued runs %+v, %v; want run_2 and run_4", queued, err)
	}
	// ReleaseLease: a process stopping hands its run back.
	if err := s.ReleaseLease(ctx, a3, "stopping", takeover); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Run(ctx, "org_b", "run_3"); r.Status != store.RunQueued {
		t.Fatalf("a released run is %s, want queued", r.Status)
	}
	a3b, err := s.ClaimRun(ctx, "org_b", "run_3", "p4", takeover, stale(takeover), 1)
	if err != nil || a3b.Number != 2 {
		t.Fatalf("claim of a released run: %+v, %v", a3b, err)
	}
}

// createTwoOrgs creates the organizations org_a and org_b, created at now.
func createTwoOrgs(t *testing.T, s store.Store, now time.Time) {
	t.Helper()
	for _, o := range []store.Org{{ID: "org_a", Name: "a", ExternalID: "ea", CreatedAt: now}, {ID: "org_b", Name: "b", ExternalID: "eb", CreatedAt: now}} {
		if err := s.CreateOrg(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}
