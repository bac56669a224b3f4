package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "lakeport_session"

// csrfCookie carries the sign-in form's CSRF token, before there is a session.
const csrfCookie = "lakeport_csrf"

// Defaults for Config's session limits.
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultIdleTimeout     = time.Hour
)

// session is one signed-in browser. It lives in server memory only: the API token it
// holds is never written anywhere, and a restart signs everyone out.
type session struct {
	ID       string
	CSRF     string
	Token    string // the API token the console uses for this person
	OrgID    string
	OrgName  string
	Role     store.Role
	User     string // user name, or "" for a token sign-in
	Created  time.Time
	LastSeen time.Time

	// tested is the last setting whose Test connection passed in this session; Save
	// is offered only for exactly these values.
	tested *storage.Setting
	flash  string
}

func (s *session) Admin() bool { return s.Role == store.RoleAdmin }

// sessions is the in-memory session table of one lakeport process.
type sessions struct {
	mu       sync.Mutex
	m        map[string]*session
	lifetime time.Duration
	idle     time.Duration
	now      func() time.Time
}

func newSessions(lifetime, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, lifetime: lifetime, idle: idle, now: now}
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) create(s *session) *session {
	now := ss.now()
	s.ID, s.CSRF, s.Created, s.LastSeen = randomToken(), randomToken(), now, now
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.gcLocked(now)
	ss.m[s.ID] = s
	return s
}

// get returns the live session id names and marks it seen; an expired one is removed.
func (ss *sessions) get(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil, false
	}
	now := ss.now()
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil, false
	}
	s.LastSeen = now
	return s, true
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.Created) >= ss.lifetime || now.Sub(s.LastSeen) >= ss.idle
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// update runs fn with the session table locked, for changes to a session's fields.
func (ss *sessions) update(fn func()) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	fn()
}

func (ss *sessions) gcLocked(now time.Time) {
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
		}
	}
}

// sameToken compares two secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
