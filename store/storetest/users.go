package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// RunUsers exercises a store.Users. s must also be a store.Store (users belong to
// organizations) and be empty.
func RunUsers(t *testing.T, s interface {
	store.Store
	store.Users
}) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := store.Org{ID: "org_ua", Name: "users-a", ExternalID: "ext-ua", CreatedAt: now}
	b := store.Org{ID: "org_ub", Name: "users-b", ExternalID: "ext-ub", CreatedAt: now}
	for _, o := range []store.Org{a, b} {
		if err := s.CreateOrg(ctx, o); err != nil {
			t.Fatalf("CreateOrg(%s): %v", o.Name, err)
		}
	}
	ann := store.User{ID: "usr_1", OrgID: a.ID, Name: "ann", Role: store.RoleAdmin, PasswordHash: []byte("$2a$10$hash"), CreatedAt: now}
	if err := s.CreateUser(ctx, ann); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	// Names are unique in the install, not per organization: sign-in asks only for the name.
	if err := s.CreateUser(ctx, store.User{ID: "usr_2", OrgID: b.ID, Name: "ann", Role: store.RoleMember, PasswordHash: []byte("x"), CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateUser with a taken name: got %v, want ErrConflict", err)
	}
	got, err := s.UserByName(ctx, "ann")
	if err != nil || got.ID != ann.ID || got.OrgID != a.ID || got.Role != store.RoleAdmin || string(got.PasswordHash) != string(ann.PasswordHash) || !got.CreatedAt.Equal(now) {
		t.Fatalf("UserByName(ann) = %+v, %v", got, err)
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByName(unknown): got %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "usr_3", OrgID: b.ID, Name: "bob", Role: store.RoleMember, PasswordHash: []byte("y"), CreatedAt: now}); err != nil {
		t.Fatalf("CreateUser(bob): %v", err)
	}
	if got, err := s.UserByName(ctx, "bob"); err != nil || got.OrgID != b.ID || got.Role != store.RoleMember {
		t.Fatalf("UserByName(bob) = %+v, %v", got, err)
	}
}
