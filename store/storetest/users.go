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
	// Names are unique in an organization, not in the install: org B may have its own
	// ann, and creating one tells org B nothing about org A's users.
	if err := s.CreateUser(ctx, store.User{ID: "usr_1b", OrgID: a.ID, Name: "ann", Role: store.RoleMember, PasswordHash: []byte("x"), CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateUser with a name taken in the same organization: got %v, want ErrConflict", err)
	}
	annB := store.User{ID: "usr_2", OrgID: b.ID, Name: "ann", Role: store.RoleMember, PasswordHash: []byte("x"), CreatedAt: now}
	if err := s.CreateUser(ctx, annB); err != nil {
		t.Fatalf("CreateUser with a name another organization uses: %v", err)
	}
	got, err := s.UserByName(ctx, a.ID, "ann")
	if err != nil || got.ID != ann.ID || got.OrgID != a.ID || got.Role != store.RoleAdmin || string(got.PasswordHash) != string(ann.PasswordHash) || !got.CreatedAt.Equal(now) {
		t.Fatalf("UserByName(org A, ann) = %+v, %v", got, err)
	}
	if got, err := s.UserByName(ctx, b.ID, "ann"); err != nil || got.ID != annB.ID || got.Role != store.RoleMember {
		t.Fatalf("UserByName(org B, ann) = %+v, %v", got, err)
	}
	if _, err := s.UserByName(ctx, a.ID, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByName(unknown): got %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "usr_3", OrgID: b.ID, Name: "bob", Role: store.RoleMember, PasswordHash: []byte("y"), CreatedAt: now}); err != nil {
		t.Fatalf("CreateUser(bob): %v", err)
	}
	if got, err := s.UserByName(ctx, b.ID, "bob"); err != nil || got.OrgID != b.ID || got.Role != store.RoleMember {
		t.Fatalf("UserByName(org B, bob) = %+v, %v", got, err)
	}
	if _, err := s.UserByName(ctx, a.ID, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByName(org A, org B's bob): got %v, want ErrNotFound", err)
	}
}

// CheckAccountsMigrated checks a store just migrated past the accounts migration
// from a database that held orgs org_a and org_b, org_a's admin user ann (usr_1) and
// org_a's operator token tok_1 with hash {1, 2}: both kept, and user names now unique
// per organization.
func CheckAccountsMigrated(t *testing.T, s interface {
	store.Store
	store.Users
}) {
	t.Helper()
	ctx := context.Background()
	if u, err := s.UserByName(ctx, "org_a", "ann"); err != nil || u.ID != "usr_1" || u.Role != store.RoleAdmin {
		t.Fatalf("user after migration: %+v, %v", u, err)
	}
	if tk, err := s.TokenByHash(ctx, []byte{1, 2}); err != nil || tk.ID != "tok_1" || !tk.Operator || tk.Name != "" || !tk.LastUsedAt.IsZero() {
		t.Fatalf("token after migration: %+v, %v", tk, err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "usr_2", OrgID: "org_b", Name: "ann", Role: store.RoleMember, PasswordHash: []byte("x")}); err != nil {
		t.Fatalf("org b's ann after migration: %v", err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "usr_3", OrgID: "org_a", Name: "ann", Role: store.RoleMember, PasswordHash: []byte("x")}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second ann in org a: %v, want ErrConflict", err)
	}
}
