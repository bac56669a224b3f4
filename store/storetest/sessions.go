package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// SessionStore is a store with console sessions and sign-in failure counts.
type SessionStore interface {
	store.Store
	store.Sessions
	store.SignInFailures
}

// RunSessions exercises console sessions and sign-in failure counts. It expects an
// empty store.
func RunSessions(t *testing.T, s SessionStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateOrg(ctx, store.Org{ID: "org_s", Name: "sessions", ExternalID: "es", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []store.Token{
		{ID: "tok_root", OrgID: "org_s", Role: store.RoleMember, Hash: []byte("root"), CreatedAt: now},
		{ID: "tok_s1", OrgID: "org_s", Role: store.RoleMember, Hash: []byte("s1"), ParentID: "tok_root", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "tok_s2", OrgID: "org_s", Role: store.RoleAdmin, Hash: []byte("s2"), UserID: "usr_a", CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
	} {
		if err := s.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	s1 := store.Session{TokenID: "tok_s1", CSRF: "csrf-1", CreatedAt: now, LastSeenAt: now, EndsAt: now.Add(12 * time.Hour)}
	s2 := store.Session{TokenID: "tok_s2", UserName: "ann", CSRF: "csrf-2", CreatedAt: now, LastSeenAt: now, EndsAt: now.Add(time.Minute)}
	for _, ss := range []store.Session{s1, s2} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatalf("CreateSession(%s): %v", ss.TokenID, err)
		}
	}
	if err := s.CreateSession(ctx, store.Session{TokenID: "tok_missing", CSRF: "x", CreatedAt: now, LastSeenAt: now}); err == nil {
		t.Fatal("CreateSession for a token that does not exist succeeded")
	}
	got, err := s.Session(ctx, "tok_s2")
	if err != nil || got.UserName != "ann" || got.CSRF != "csrf-2" || !got.CreatedAt.Equal(now) || !got.LastSeenAt.Equal(now) ||
		!got.EndsAt.Equal(now.Add(time.Minute)) || got.Flash != "" || got.Tested != nil {
		t.Fatalf("Session(tok_s2) = %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "tok_root"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session of a token without one: %v, want ErrNotFound", err)
	}

	// A use moves the session's last-seen time and its token's expiry together.
	seen := now.Add(10 * time.Minute)
	if err := s.TouchSession(ctx, "tok_s1", seen, seen.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "tok_s1"); !got.LastSeenAt.Equal(seen) || !got.CreatedAt.Equal(now) || !got.EndsAt.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("after TouchSession: %+v", got)
	}
	if tk, _ := s.TokenByHash(ctx, []byte("s1")); !tk.ExpiresAt.Equal(seen.Add(time.Hour)) {
		t.Fatalf("the session's token expires at %v after TouchSession, want %v", tk.ExpiresAt, seen.Add(time.Hour))
	}
	if err := s.TouchSession(ctx, "tok_root", seen, seen); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TouchSession of a token without a session: %v, want ErrNotFound", err)
	}
	if tk, _ := s.TokenByHash(ctx, []byte("root")); !tk.ExpiresAt.IsZero() {
		t.Fatalf("TouchSession without a session changed a token's expiry: %v", tk.ExpiresAt)
	}

	// A flash is taken once, even by several processes at the same moment.
	if err := s.SetSessionFlash(ctx, "tok_s1", "Saved."); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var taken []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			msg, err := s.TakeSessionFlash(ctx, "tok_s1")
			if err != nil {
				t.Errorf("TakeSessionFlash: %v", err)
			}
			if msg != "" {
				mu.Lock()
				taken = append(taken, msg)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != 1 || taken[0] != "Saved." {
		t.Fatalf("four concurrent TakeSessionFlash got %q, want the message once", taken)
	}

	if err := s.SetSessionTested(ctx, "tok_s1", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "tok_s1"); string(got.Tested) != "sealed" {
		t.Fatalf("Tested = %q", got.Tested)
	}
	if got, _ := s.Session(ctx, "tok_s2"); got.Tested != nil {
		t.Fatalf("another session's Tested = %q", got.Tested)
	}
	if err := s.SetSessionTested(ctx, "tok_s1", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "tok_s1"); got.Tested != nil {
		t.Fatalf("Tested after clearing = %q", got.Tested)
	}

	// A session ends with its token: revoking the token it was minted from, or expiry.
	if err := s.RevokeToken(ctx, "org_s", "tok_root"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "tok_s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after its parent token was revoked: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteExpiredTokens(ctx, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "tok_s2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after its token expired and was deleted: %v, want ErrNotFound", err)
	}

	// Sign-in failures, counted per key within a window.
	ann, bob := []byte("user:ann"), []byte("addr:192.0.2.1")
	for i := range 3 {
		if err := s.AddSignInFailure(ctx, ann, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSignInFailure(ctx, bob, now); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := s.SignInFailures(ctx, ann, now.Add(-time.Hour)); err != nil || n != 3 || !oldest.Equal(now) {
		t.Fatalf("SignInFailures(ann) = %d, %v, %v; want 3 since %v", n, oldest, err, now)
	}
	if n, oldest, err := s.SignInFailures(ctx, ann, now.Add(30*time.Second)); err != nil || n != 2 || !oldest.Equal(now.Add(time.Minute)) {
		t.Fatalf("SignInFailures(ann, since +30s) = %d, %v, %v; want 2", n, oldest, err)
	}
	if n, _, err := s.SignInFailures(ctx, []byte("user:nobody"), now.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("SignInFailures(unknown) = %d, %v", n, err)
	}
	if err := s.ClearSignInFailures(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.SignInFailures(ctx, ann, now.Add(-time.Hour)); n != 0 {
		t.Fatalf("after ClearSignInFailures: %d", n)
	}
	if n, _, _ := s.SignInFailures(ctx, bob, now.Add(-time.Hour)); n != 1 {
		t.Fatalf("ClearSignInFailures(ann) cleared another key: %d left", n)
	}
	if err := s.PruneSignInFailures(ctx, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.SignInFailures(ctx, bob, now.Add(-time.Hour)); n != 0 {
		t.Fatalf("after PruneSignInFailures: %d", n)
	}
}
