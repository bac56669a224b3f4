// Package storetest is the conformance suite every store.Store implementation runs.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// Run exercises s. It expects an empty store.
func Run(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	a := store.Org{ID: "org_a", Name: "acme", ExternalID: "ext-a", CreatedAt: now}
	b := store.Org{ID: "org_b", Name: "globex", ExternalID: "ext-b", CreatedAt: now}
	for _, o := range []store.Org{a, b} {
		if err := s.CreateOrg(ctx, o); err != nil {
			t.Fatalf("CreateOrg(%s): %v", o.Name, err)
		}
	}
	if err := s.CreateOrg(ctx, store.Org{ID: "org_c", Name: "acme", ExternalID: "ext-c", CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateOrg with a taken name: got %v, want ErrConflict", err)
	}
	if n, err := s.CountOrgs(ctx); err != nil || n != 2 {
		t.Fatalf("CountOrgs = %d, %v; want 2", n, err)
	}
	got, err := s.OrgByName(ctx, "acme")
	if err != nil || got.ID != a.ID || got.ExternalID != a.ExternalID || !got.CreatedAt.Equal(now) {
		t.Fatalf("OrgByName(acme) = %+v, %v", got, err)
	}
	if _, err := s.Org(ctx, "org_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Org(missing): got %v, want ErrNotFound", err)
	}

	tok := store.Token{ID: "tok_1", OrgID: a.ID, Role: store.RoleMember, Hash: []byte{1, 2, 3}, CreatedAt: now}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	gt, err := s.TokenByHash(ctx, []byte{1, 2, 3})
	if err != nil || gt.ID != tok.ID || gt.OrgID != a.ID || gt.Role != store.RoleMember || gt.Operator {
		t.Fatalf("TokenByHash = %+v, %v", gt, err)
	}
	if _, err := s.TokenByHash(ctx, []byte{9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TokenByHash(unknown): got %v, want ErrNotFound", err)
	}

	st, err := s.StorageSetting(ctx, a.ID)
	if err != nil || st.Mode != "managed" {
		t.Fatalf("StorageSetting before save = %+v, %v; want managed", st, err)
	}
	saved := store.StorageSetting{OrgID: a.ID, Mode: "customer_hosted", Bucket: "acme-lake", Region: "eu-west-1",
		RoleARN: "arn:aws:iam::123456789012:role/lakeport", ValidatedAt: now, UpdatedAt: now}
	if err := s.PutStorageSetting(ctx, saved); err != nil {
		t.Fatalf("PutStorageSetting: %v", err)
	}
	st, err = s.StorageSetting(ctx, a.ID)
	if err != nil || st.Bucket != "acme-lake" || st.Mode != "customer_hosted" || !st.ValidatedAt.Equal(now) {
		t.Fatalf("StorageSetting after save = %+v, %v", st, err)
	}
	if other, _ := s.StorageSetting(ctx, b.ID); other.Bucket != "" || other.Mode != "managed" {
		t.Fatalf("org B sees org A's setting: %+v", other)
	}
	saved.Mode, saved.Bucket = "managed", ""
	if err := s.PutStorageSetting(ctx, saved); err != nil {
		t.Fatalf("PutStorageSetting (update): %v", err)
	}
	if st, _ = s.StorageSetting(ctx, a.ID); st.Mode != "managed" || st.Bucket != "" {
		t.Fatalf("StorageSetting after switching back = %+v", st)
	}
}
