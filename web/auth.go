package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"golang.org/x/crypto/bcrypt"

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

// dummyHash is compared against when a user name is unknown, so an unknown name takes
// as long to refuse as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("lakeport-no-such-user"), bcrypt.DefaultCost)

type signinData struct {
	Passwords bool // user name + password sign-in is offered
	CSRF      string
	Next      string
	Error     string
	User      string
}

func (h *handler) signinPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if _, ok := h.sessions.get(c.Value); ok {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.showSignin(w, r, http.StatusOK, "", "")
}

func (h *handler) showSignin(w http.ResponseWriter, r *http.Request, status int, msg, user string) {
	// Sign-in has no session yet: its CSRF token is a double-submit cookie.
	tok := randomToken()
	setCookie(w, r, csrfCookie, tok, 0)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	h.render(w, r, status, "signin", page{Title: "Sign in", Data: signinData{Passwords: h.cfg.Users != nil, CSRF: tok, Next: safeNext(next), Error: msg, User: user}})
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/signin") {
		return "/connectors"
	}
	return next
}

func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	c, err := r.Cookie(csrfCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf_token"), c.Value) {
		h.showSignin(w, r, http.StatusForbidden, "The sign-in form was out of date. Try again.", "")
		return
	}
	ctx := r.Context()
	var s *session
	switch token, user := strings.TrimSpace(r.PostFormValue("token")), strings.TrimSpace(r.PostFormValue("username")); {
	case token != "":
		who, err := h.apiClient(token).WhoAmI(ctx)
		if err != nil {
			h.log.Info("console sign-in refused", "method", "token", "err", err)
			h.showSignin(w, r, http.StatusUnauthorized, "lakeport does not know this API token. Check that you copied all of it (it starts with lpt_).", "")
			return
		}
		s = &session{Token: token, OrgID: who.Org.ID, OrgName: who.Org.Name, Role: who.Role}
	case user != "" && h.cfg.Users != nil:
		u, err := h.cfg.Users.UserByName(ctx, user)
		hash := u.PasswordHash
		if err != nil {
			hash = dummyHash
		}
		cmp := bcrypt.CompareHashAndPassword(hash, []byte(r.PostFormValue("password")))
		if err != nil || cmp != nil {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				h.log.Error("console sign-in failed", "err", err)
			}
			h.log.Info("console sign-in refused", "method", "password", "user", user)
			h.showSignin(w, r, http.StatusUnauthorized, "The user name or password is wrong.", user)
			return
		}
		// The console acts for the user with a token of their organization and role,
		// held only in this process's memory, that expires with the session.
		tok, err := tenant.CreateTokenUntil(ctx, h.cfg.Store, u.OrgID, u.Role, false, h.cfg.Now().Add(h.cfg.SessionLifetime))
		if err != nil {
			h.log.Error("console sign-in: create token", "user", user, "err", err)
			h.showSignin(w, r, http.StatusInternalServerError, "lakeport could not sign you in; the server log has the details.", user)
			return
		}
		who, err := h.apiClient(tok).WhoAmI(ctx)
		if err != nil {
			h.log.Error("console sign-in: whoami", "user", user, "err", err)
			h.showSignin(w, r, http.StatusInternalServerError, "lakeport could not sign you in; the server log has the details.", user)
			return
		}
		s = &session{Token: tok, OrgID: who.Org.ID, OrgName: who.Org.Name, Role: who.Role, User: u.Name}
	default:
		h.showSignin(w, r, http.StatusBadRequest, "Give an API token, or a user name and password.", user)
		return
	}
	s = h.sessions.create(s)
	setCookie(w, r, csrfCookie, "", -1)
	setCookie(w, r, SessionCookie, s.ID, 0)
	h.log.Info("console sign-in", "org", s.OrgID, "role", s.Role, "user", s.User)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *handler) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	h.sessions.delete(s.ID)
	setCookie(w, r, SessionCookie, "", -1)
	h.log.Info("console sign-out", "org", s.OrgID, "user", s.User)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
