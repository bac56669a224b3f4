package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// MigrationStore is a store that keeps earlier storage and migrations.
type MigrationStore interface {
	store.Store
	store.Migrations
}

// RunMigrations exercises earlier storage locations and connectors' migrations. It
// expects an empty store.
func RunMigrations(t *testing.T, s MigrationStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	createTwoOrgs(t, s, now)
	if _, err := s.StorageLocation(ctx, "org_a", "s3://acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a location never saved: %v, want ErrNotFound", err)
	}
	l := store.StorageLocation{Root: "s3://acme", Setting: store.StorageSetting{OrgID: "org_a", Mode: "customer_hosted", Bucket: "acme",
		Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/r", KMSKeyARN: "k", Endpoint: "", AccessKeyID: "",
		SecretAccessKeySealed: "sealed", UpdatedAt: now}}
	if err := s.PutStorageLocation(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := s.StorageLocation(ctx, "org_a", "s3://acme")
	if err != nil || got.Setting.RoleARN != l.Setting.RoleARN || got.Setting.SecretAccessKeySealed != "sealed" || !got.Setting.UpdatedAt.Equal(now) {
		t.Fatalf("StorageLocation = %+v, %v; want %+v", got, err, l)
	}
	if _, err := s.StorageLocation(ctx, "org_b", "s3://acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B reading org A's location: %v, want ErrNotFound", err)
	}
	l.Setting.RoleARN = "arn:aws:iam::123456789012:role/newer"
	if err := s.PutStorageLocation(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.StorageLocation(ctx, "org_a", "s3://acme"); got.Setting.RoleARN != l.Setting.RoleARN {
		t.Fatalf("the newest setting of a root does not win: %+v", got)
	}

	if _, err := s.Migration(ctx, "org_a", "con_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no migration yet: %v, want ErrNotFound", err)
	}
	m := store.Migration{OrgID: "org_a", ConnectorID: "con_1", Source: "file:///x/org_a", Target: "s3://acme", State: store.MigrationRunning,
		Tables: []byte(`[{"name":"events"}]`), DeleteSource: true, StartedAt: now, UpdatedAt: now}
	if err := s.PutMigration(ctx, m); err != nil {
		t.Fatal(err)
	}
	gm, err := s.Migration(ctx, "org_a", "con_1")
	if err != nil || gm.Source != m.Source || gm.Target != m.Target || gm.State != m.State || string(gm.Tables) != string(m.Tables) ||
		!gm.DeleteSource || !gm.StartedAt.Equal(now) || !gm.FinishedAt.IsZero() {
		t.Fatalf("Migration = %+v, %v; want %+v", gm, err, m)
	}
	if _, err := s.Migration(ctx, "org_b", "con_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B reading org A's migration: %v, want ErrNotFound", err)
	}
	m.State, m.Error, m.FinishedAt = store.MigrationDone, "", now.Add(time.Second)
	if err := s.PutMigration(ctx, m); err != nil {
		t.Fatal(err)
	}
	if gm, _ := s.Migration(ctx, "org_a", "con_1"); gm.State != store.MigrationDone || !gm.FinishedAt.Equal(m.FinishedAt) {
		t.Fatalf("after finishing: %+v", gm)
	}
}
