package store

import (
	"context"
	"time"
)

// Session is one signed-in console browser. Its credential is an expiring API token
// (TokenID; the token's secret is the browser's session cookie and only its hash is
// stored), so the session ends with the token: on sign-out, on revoke, or at expiry.
// Keeping sessions in the store lets any `serve` process answer any request.
type Session struct {
	TokenID    string
	UserName   string // the console user, or "" for a sign-in with an API token
	CSRF       string // the token every form and fetch of the session must carry
	CreatedAt  time.Time
	LastSeenAt time.Time
	// EndsAt is the session's absolute end: its lifetime, or the expiry of the token
	// it was signed in with if sooner. Its token's own expiry slides (an idle timeout
	// after the last use, TouchSession) but never past EndsAt.
	EndsAt time.Time
	Flash  string // a message for the session's next page
	// Tested is the storage setting whose Test connection last passed in this session,
	// sealed (it may hold a secret access key); Save is offered only for it.
	Tested []byte
}

// Sessions keeps console sessions. A session is deleted with its token
// (Store.RevokeToken, Store.DeleteExpiredTokens).
type Sessions interface {
	// CreateSession adds a session for an existing token.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session of token tokenID; ErrNotFound when there is none.
	Session(ctx context.Context, tokenID string) (Session, error)
	// TouchSession records that the session was used at t and moves its token's expiry
	// to expires, together.
	TouchSession(ctx context.Context, tokenID string, t, expires time.Time) error
	// SetSessionFlash keeps msg for the session's next page.
	SetSessionFlash(ctx context.Context, tokenID, msg string) error
	// TakeSessionFlash returns the session's message and clears it, at most once.
	TakeSessionFlash(ctx context.Context, tokenID string) (string, error)
	// SetSessionTested sets (nil: clears) the session's sealed tested setting.
	SetSessionTested(ctx context.Context, tokenID string, sealed []byte) error
}

// SignInFailures counts failed console sign-ins by key (a hash of a user or a client
// address) so that every `serve` process throttles password guessing alike.
type SignInFailures interface {
	AddSignInFailure(ctx context.Context, key []byte, at time.Time) error
	// SignInFailures returns how many failures key has since t, and the oldest of them.
	SignInFailures(ctx context.Context, key []byte, since time.Time) (n int, oldest time.Time, err error)
	// ClearSignInFailures forgets key's failures (after a successful sign-in).
	ClearSignInFailures(ctx context.Context, key []byte) error
	// PruneSignInFailures forgets every failure before t.
	PruneSignInFailures(ctx context.Context, before time.Time) error
}
