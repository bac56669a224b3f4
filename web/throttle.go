package web

import (
	"context"
	"crypto/sha256"
	"math"
	"net/netip"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/store"
)

// throttle limits console sign-in guessing, counting failures in the metadata store so
// that every `serve` process counts the same ones. Keys are hashes: the store holds no
// user names or addresses for this.
type throttle struct {
	failures store.SignInFailures
	limits   config.SignInLimits
	now      func() time.Time
}

// limitKey is one counter and its limit.
type limitKey struct {
	key   []byte
	limit int
}

// userKey counts failures of one user name in one organization, whether or not either
// exists, so that the throttle says nothing about who exists.
func (t *throttle) userKey(org, user string) limitKey {
	return limitKey{hashKey("user", org, user), t.limits.PerUser}
}

// addrKey counts failures from one client address; an IPv6 client is counted by its
// /64, which one customer line usually holds whole.
func (t *throttle) addrKey(a netip.Addr) limitKey {
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return limitKey{hashKey("addr", p.String()), t.limits.PerAddress}
		}
	}
	return limitKey{hashKey("addr", a.String()), t.limits.PerAddress}
}

func hashKey(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// wait is how long the caller must wait before trying again: zero when no key is at
// its limit, else until the oldest failure of the fullest key leaves the window.
func (t *throttle) wait(ctx context.Context, keys ...limitKey) (time.Duration, error) {
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		n, oldest, err := t.failures.SignInFailures(ctx, k.key, now.Add(-t.limits.Window))
		if err != nil {
			return 0, err
		}
		if n >= k.limit {
			wait = max(wait, oldest.Add(t.limits.Window).Sub(now), time.Second)
		}
	}
	return wait, nil
}

// fail counts a failed sign-in against every key, and forgets failures older than the
// window.
func (t *throttle) fail(ctx context.Context, keys ...limitKey) error {
	now := t.now()
	for _, k := range keys {
		if err := t.failures.AddSignInFailure(ctx, k.key, now); err != nil {
			return err
		}
	}
	return t.failures.PruneSignInFailures(ctx, now.Add(-t.limits.Window))
}

// reset forgets a key's failures (a user who then signed in).
func (t *throttle) reset(ctx context.Context, k limitKey) error {
	return t.failures.ClearSignInFailures(ctx, k.key)
}

// retryAfter is a Retry-After header value: whole seconds, rounded up.
func retryAfter(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
