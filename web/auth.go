package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// MinPasswordLength is the shortest password CreateUser accepts.
const MinPasswordLength = tenant.MinPasswordLength

// ErrWeakPassword is returned by CreateUser for a password under MinPasswordLength.
var ErrWeakPassword = tenant.ErrWeakPassword

// CreateUser adds a console user to org with role (tenant.CreateUser).
func CreateUser(ctx context.Context, users store.Users, orgID, name, password string, role store.Role) (store.User, error) {
	return tenant.CreateUser(ctx, users, orgID, name, password, role)
}

// dummyHash is compared against when the organization or the user name is unknown, so
// that every refused sign-in costs one bcrypt comparison at the cost real hashes have.
// It is made once, when the console starts (New), not at package initialization: every
// lakeport process links this package, and the hash costs about 0.1 s of CPU.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("lakeport-no-such-user"), bcrypt.DefaultCost)
	return h
})

// compareHash is bcrypt's comparison; a test counts its calls.
var compareHash = bcrypt.CompareHashAndPassword

// wrongPassword is the one answer to a refused password sign-in, whichever of the
// organization, the user name or the password was wrong.
const wrongPassword = "The organization, user name or password is wrong."

type signinData struct {
	Passwords bool // user name + password sign-in is offered
	CSRF      string
	Next      string
	Error     string
	Org       string
	User      string
}

func (h *handler) signinPage(w http.ResponseWriter, r *http.Request) {
	s, err := h.lookupSession(r)
	if err != nil {
		h.log.Error("console: read the session", "err", err)
	}
	if s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.showSignin(w, r, http.StatusOK, "", "", r.URL.Query().Get("org"))
}

func (h *handler) showSignin(w http.ResponseWriter, r *http.Request, status int, msg, user, org string) {
	// Sign-in has no session yet: its CSRF token is a double-submit cookie.
	tok := randomToken()
	h.setCookie(w, r, csrfCookie, tok, 0)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	h.render(w, r, status, "signin", page{Title: "Sign in", Data: signinData{Passwords: h.cfg.Users != nil, CSRF: tok, Next: safeNext(next), Error: msg, User: user, Org: org}})
}

// home is where sign-in leads when next is missing or not a page of this console.
const home = "/connectors"

// safeNext keeps redirects after sign-in on this console: next must be a local path
// (localPath), and not the sign-in page itself.
func safeNext(next string) string {
	if !localPath(next) || strings.HasPrefix(next, "/signin") {
		return home
	}
	return next
}

// localPath reports whether next can only mean a path on this origin, however a
// browser (which drops tabs and newlines, reads "\" as "/" and removes dot segments) or
// a proxy (which may decode it again) reads it. next itself must be printable ASCII
// without spaces or backslashes and parse with no scheme, host or user; it and each
// percent-decoding of it, down to a fixed point, must start with "/", have a clean path
// (no empty, "." or ".." segment) and hold no backslash or control character.
func localPath(next string) bool {
	for _, c := range []byte(next) {
		if c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	s := next
	for range 5 {
		if !strings.HasPrefix(s, "/") || !cleanPath(s) {
			return false
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' }) {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		if d == s {
			return true
		}
		s = d
	}
	return false // still changing after five decodings: nobody means that
}

// cleanPath reports whether the path part of s (before any ? or #) has no empty, "." or
// ".." segment: nothing a browser could fold into a leading "//".
func cleanPath(s string) bool {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if s == "/" {
		return true
	}
	for _, seg := range strings.Split(s[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	c, err := r.Cookie(csrfCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf_token"), c.Value) {
		h.showSignin(w, r, http.StatusForbidden, "The sign-in form was out of date. Try again.", "", "")
		return
	}
	ctx := r.Context()
	token := strings.TrimSpace(r.PostFormValue("token"))
	org := strings.ToLower(strings.TrimSpace(r.PostFormValue("org")))
	user := strings.TrimSpace(r.PostFormValue("username"))
	addr := h.throttle.addrKey(h.clientAddr(r))
	var s *session
	switch {
	case token != "":
		if h.throttled(w, r, "", "", addr) {
			return
		}
		parent, err := h.cfg.Store.TokenByHash(ctx, auth.HashToken(token))
		if err == nil && !parent.ExpiresAt.IsZero() && !h.cfg.Now().Before(parent.ExpiresAt) {
			err = store.ErrNotFound
		}
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				h.signinFailed(w, r, err, "", "")
				return
			}
			h.countFailure(ctx, addr)
			h.log.Info("console sign-in refused", "method", "token", "client", h.clientAddr(r))
			h.showSignin(w, r, http.StatusUnauthorized, "lakeport does not know this API token. Check that you copied all of it (it starts with lpt_).", "", "")
			return
		}
		// The session gets a token of its own, minted from this one: signing out revokes
		// it and leaves this one working; revoking this one ends the session too.
		minted := store.Token{OrgID: parent.OrgID, Role: parent.Role, ParentID: parent.ID, UserID: parent.UserID, ExpiresAt: parent.ExpiresAt}
		if parent.ParentID != "" { // a session's own token: the new one hangs off the same root
			minted.ParentID = parent.ParentID
		}
		s, err = h.startSession(ctx, minted, "")
		if err != nil {
			h.signinFailed(w, r, err, "", "")
			return
		}
	case user != "" && h.cfg.Users != nil:
		who := h.throttle.userKey(org, user)
		if h.throttled(w, r, user, org, who, addr) {
			return
		}
		u, ok, err := h.checkPassword(ctx, org, user, r.PostFormValue("password"))
		if err != nil {
			h.signinFailed(w, r, err, user, org)
			return
		}
		if !ok {
			h.countFailure(ctx, who, addr)
			h.log.Info("console sign-in refused", "method", "password", "org", org, "user", user, "client", h.clientAddr(r))
			h.showSignin(w, r, http.StatusUnauthorized, wrongPassword, user, org)
			return
		}
		if err := h.throttle.reset(ctx, who); err != nil {
			h.log.Warn("console sign-in: clear the user's failures", "err", err)
		}
		s, err = h.startSession(ctx, store.Token{OrgID: u.OrgID, Role: u.Role, UserID: u.ID}, u.Name)
		if err != nil {
			h.signinFailed(w, r, err, user, org)
			return
		}
	default:
		h.showSignin(w, r, http.StatusBadRequest, "Give an API token, or your organization, user name and password.", user, org)
		return
	}
	h.setCookie(w, r, csrfCookie, "", -1)
	h.setCookie(w, r, SessionCookie, s.Token, 0)
	h.log.Info("console sign-in", "org", s.OrgID, "role", s.Role, "user", s.User, "session", s.ID)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// checkPassword finds user in the organization named org and checks password. Every
// path (unknown organization, unknown user, wrong password) makes the same two store
// lookups and one bcrypt comparison, so neither the answer nor its time tells them apart.
func (h *handler) checkPassword(ctx context.Context, org, user, password string) (store.User, bool, error) {
	orgID := "" // no organization has it: the user lookup below finds nobody
	if o, err := h.cfg.Store.OrgByName(ctx, org); err == nil {
		orgID = o.ID
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, err
	}
	u, err := h.cfg.Users.UserByName(ctx, orgID, user)
	hash := u.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, false, err
		}
		hash = dummyHash()
	}
	match := compareHash(hash, []byte(password)) == nil
	return u, match && err == nil, nil
}

// throttled answers 429 with Retry-After when any key is at its limit.
func (h *handler) throttled(w http.ResponseWriter, r *http.Request, user, org string, keys ...limitKey) bool {
	wait, err := h.throttle.wait(r.Context(), keys...)
	if err != nil {
		h.signinFailed(w, r, err, user, org)
		return true
	}
	if wait <= 0 {
		return false
	}
	h.log.Warn("console sign-in throttled", "client", h.clientAddr(r), "org", org, "user", user, "retry_after_s", retryAfter(wait))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
	h.showSignin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins. Try again in "+waitText(wait)+
		" (the wait protects accounts from password guessing; an admin can create a token if you are locked out).", user, org)
	return true
}

func waitText(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(retryAfter(d)) + " seconds"
	}
	return strconv.Itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
}

func (h *handler) countFailure(ctx context.Context, keys ...limitKey) {
	if err := h.throttle.fail(context.WithoutCancel(ctx), keys...); err != nil {
		h.log.Error("console sign-in: count a failure", "err", err)
	}
}

func (h *handler) signinFailed(w http.ResponseWriter, r *http.Request, err error, user, org string) {
	h.log.Error("console sign-in failed", "err", err)
	h.showSignin(w, r, http.StatusInternalServerError, "lakeport could not sign you in; the server log has the details.", user, org)
}

func (h *handler) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	h.endSession(r.Context(), s.OrgID, s.ID)
	h.setCookie(w, r, SessionCookie, "", -1)
	h.log.Info("console sign-out", "org", s.OrgID, "user", s.User, "session", s.ID)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
