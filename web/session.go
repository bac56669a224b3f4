package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// SessionCookie is the name of the console's session cookie. Its value is the session's
// own API token: an expiring token minted at sign-in, of the signed-in person's
// organization and role, that the console sends to the API on their behalf.
const SessionCookie = "lakeport_session"

// csrfCookie carries the sign-in form's CSRF token, before there is a session.
const csrfCookie = "lakeport_csrf"

// Defaults for Config's session limits.
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultIdleTimeout     = time.Hour
)

// touchEvery is how stale a session's last-seen time may get before a request updates
// it: the idle timeout is kept to within this much, without a write per request.
const touchEvery = time.Minute

// sessionName names the tokens minted for console sessions in token list.
const sessionName = "console session"

// session is one signed-in browser, read from the metadata store for each request (so
// any `serve` process answers it). It ends with its token: on sign-out, when the token
// (or the token it was minted from) is revoked, at its absolute lifetime, or when idle.
type session struct {
	ID       string // the session token's ID
	Token    string // the session token's secret: the cookie, and the console's API credential
	CSRF     string
	OrgID    string
	OrgName  string
	Role     store.Role
	User     string // user name, or "" for a token sign-in
	Created  time.Time
	LastSeen time.Time
}

func (s *session) Admin() bool { return s.Role == store.RoleAdmin }

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// startSession mints the session's token as t describes it (organization, role, and
// ParentID or UserID) and stores the session, which ends at its lifetime or at
// t.ExpiresAt if sooner.
func (h *handler) startSession(ctx context.Context, t store.Token, user string) (*session, error) {
	now := h.cfg.Now()
	end := now.Add(h.cfg.SessionLifetime)
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(end) {
		end = t.ExpiresAt
	}
	t.Name, t.ExpiresAt = sessionName, tokenExpiry(now, h.cfg.IdleTimeout, end)
	secret, tok, err := tenant.MintToken(ctx, h.cfg.Store, t)
	if err != nil {
		return nil, err
	}
	ss := store.Session{TokenID: tok.ID, UserName: user, CSRF: randomToken(), CreatedAt: now, LastSeenAt: now, EndsAt: end}
	if err := h.sessions.CreateSession(ctx, ss); err != nil {
		_ = h.cfg.Store.RevokeToken(context.WithoutCancel(ctx), tok.OrgID, tok.ID)
		return nil, err
	}
	// Sign-ins are rare: a good moment to drop tokens (and so sessions) that expired.
	if n, err := h.cfg.Store.DeleteExpiredTokens(ctx, time.Now()); err != nil {
		h.log.Warn("could not delete expired tokens", "err", err)
	} else if n > 0 {
		h.log.Info("deleted expired tokens", "tokens", n)
	}
	s, err := h.sessionOf(ctx, tok, ss)
	if err != nil {
		return nil, err
	}
	s.Token = secret
	return s, nil
}

// tokenExpiry is when a session's token stops working if the session is not used
// again: an idle timeout from now, but never after the session's end. So a copied
// session cookie is worth no more at the API than in the console.
func tokenExpiry(now time.Time, idle time.Duration, end time.Time) time.Time {
	if e := now.Add(idle); e.Before(end) {
		return e
	}
	return end
}

func (h *handler) sessionOf(ctx context.Context, t store.Token, ss store.Session) (*session, error) {
	org, err := h.cfg.Store.Org(ctx, t.OrgID)
	if err != nil {
		return nil, err
	}
	return &session{ID: t.ID, CSRF: ss.CSRF, OrgID: org.ID, OrgName: org.Name, Role: t.Role, User: ss.UserName,
		Created: ss.CreatedAt, LastSeen: ss.LastSeenAt}, nil
}

// lookupSession returns the live session of the request's cookie, or nil. An API token
// that is not a session's, an unknown cookie, and an ended session are all nil.
func (h *handler) lookupSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	ctx := r.Context()
	t, err := h.cfg.Store.TokenByHash(ctx, auth.HashToken(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ss, err := h.sessions.Session(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := h.cfg.Now()
	if now.Sub(ss.CreatedAt) >= h.cfg.SessionLifetime || !now.Before(ss.EndsAt) || now.Sub(ss.LastSeenAt) >= h.cfg.IdleTimeout || !now.Before(t.ExpiresAt) {
		h.endSession(ctx, t.OrgID, t.ID)
		return nil, nil
	}
	if now.Sub(ss.LastSeenAt) >= touchEvery {
		if err := h.sessions.TouchSession(ctx, t.ID, now, tokenExpiry(now, h.cfg.IdleTimeout, ss.EndsAt)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		ss.LastSeenAt = now
	}
	s, err := h.sessionOf(ctx, t, ss)
	if err != nil {
		return nil, err
	}
	s.Token = c.Value
	return s, nil
}

// endSession revokes the session's token, which deletes the session with it.
func (h *handler) endSession(ctx context.Context, orgID, tokenID string) {
	err := h.cfg.Store.RevokeToken(context.WithoutCancel(ctx), orgID, tokenID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Error("could not end a console session (revoke its token)", "token", tokenID, "err", err)
	}
}

// testedContext binds a session's sealed tested setting to that session.
func testedContext(sessionID string) string { return "session/" + sessionID + "/tested" }

// setTested keeps set as the session's tested setting (sealed: it may hold a secret
// access key); nil forgets it.
func (h *handler) setTested(ctx context.Context, s *session, set *storage.Setting) error {
	var sealed []byte
	if set != nil {
		b, err := json.Marshal(set)
		if err != nil {
			return err
		}
		v, err := h.cfg.Secrets.Seal(string(b), testedContext(s.ID))
		if err != nil {
			return err
		}
		sealed = []byte(v)
	}
	return h.sessions.SetSessionTested(ctx, s.ID, sealed)
}

// tested returns the session's tested setting, or nil.
func (h *handler) tested(ctx context.Context, s *session) (*storage.Setting, error) {
	ss, err := h.sessions.Session(ctx, s.ID)
	if err != nil || len(ss.Tested) == 0 {
		return nil, err
	}
	plain, err := h.cfg.Secrets.Open(string(ss.Tested), testedContext(s.ID))
	if err != nil {
		return nil, fmt.Errorf("open the session's tested setting: %w", err)
	}
	var set storage.Setting
	if err := json.Unmarshal([]byte(plain), &set); err != nil {
		return nil, err
	}
	return &set, nil
}

// sameToken compares two secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
