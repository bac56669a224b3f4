package manifest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a small SaaS API for the tests: it enforces its auth,
// paginates, filters by the requested time window and counts requests.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	users    []user
	requests []*http.Request // every request, in order
	// failures queued per path: status codes answered before the real answer
	failures map[string][]int
	// OAuth
	refreshes  int
	validToken string
	clock      *fakeClock
	tokenLife  time.Duration
	tokenIssue time.Time
}

type user struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	UpdatedAt string `json:"updated_at"`
	Team      string `json:"team"`
}

const apiKey = "s3cret-key"

var base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newFakeAPI(t *testing.T, n int) *fakeAPI {
	a := &fakeAPI{t: t, failures: map[string][]int{}}
	a.addUsers(n, base, 6*time.Hour)
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/users", a.handleUsers)
	mux.HandleFunc("/v1/teams", a.handleTeams)
	mux.HandleFunc("/v1/teams/{team}/members", a.handleMembers)
	mux.HandleFunc("/v1/offset/users", a.handleOffset)
	mux.HandleFunc("/v1/linked/users", a.handleLinked)
	mux.HandleFunc("/oauth/token", a.handleToken)
	mux.HandleFunc("/v1/secure/users", a.handleSecure)
	a.srv = httptest.NewServer(a.record(mux))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAPI) URL() string { return a.srv.URL }

func (a *fakeAPI) addUsers(n int, from time.Time, every time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i < n; i++ {
		id := len(a.users) + 1
		a.users = append(a.users, user{ID: id, Name: fmt.Sprintf("user %d", id), UpdatedAt: from.Add(time.Duration(i) * every).Format(time.RFC3339), Team: []string{"red", "blue", "green"}[id%3]})
	}
}

func (a *fakeAPI) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r.Clone(r.Context()))
		queue := a.failures[r.URL.Path]
		if len(queue) > 0 {
			code := queue[0]
			a.failures[r.URL.Path] = queue[1:]
			a.mu.Unlock()
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, `{"error":"injected"}`, code)
			return
		}
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (a *fakeAPI) fail(path string, codes ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures[path] = append(a.failures[path], codes...)
}

// requestsTo returns the query of every request to path.
func (a *fakeAPI) requestsTo(path string) []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []url.Values
	for _, r := range a.requests {
		if r.URL.Path == path {
			out = append(out, r.URL.Query())
		}
	}
	return out
}

func (a *fakeAPI) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// inWindow filters users by updated_since/updated_before (RFC 3339, both
// inclusive), as the API's documentation would say.
func (a *fakeAPI) inWindow(r *http.Request) ([]user, error) {
	q := r.URL.Query()
	var since, before time.Time
	var err error
	if s := q.Get("updated_since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return nil, err
		}
	}
	if s := q.Get("updated_before"); s != "" {
		if before, err = time.Parse(time.RFC3339, s); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []user
	for _, u := range a.users {
		t, _ := time.Parse(time.RFC3339, u.UpdatedAt)
		if !since.IsZero() && t.Before(since) || !before.IsZero() && t.After(before) {
			continue
		}
		if team := q.Get("team"); team != "" && u.Team != team {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// /v1/users: X-Api-Key auth, a time window, cursor pagination
// ({"data": [...], "pagination": {"next_page_token": "…"}}), page_size.
func (a *fakeAPI) handleUsers(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-Key") != apiKey {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": "invalid api key"})
		return
	}
	users, err := a.inWindow(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size := 5
	if s := r.URL.Query().Get("page_size"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		start, _ = strconv.Atoi(strings.TrimPrefix(c, "c-"))
	}
	end := min(start+size, len(users))
	page := map[string]any{"data": users[start:end], "pagination": map[string]any{}}
	if end < len(users) {
		page["pagination"] = map[string]any{"next_page_token": fmt.Sprintf("c-%d", end)}
	}
	writeJSON(w, page)
}

func (a *fakeAPI) handleTeams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"teams": []map[string]any{{"key": "red"}, {"key": "blue"}, {"key": "green"}}})
}

func (a *fakeAPI) handleMembers(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	a.mu.Lock()
	var out []user
	for _, u := range a.users {
		if u.Team == team {
			out = append(out, u)
		}
	}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"members": out})
}

// /v1/offset/users: limit/offset, or page/per_page (page from 1).
func (a *fakeAPI) handleOffset(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	users := append([]user(nil), a.users...)
	a.mu.Unlock()
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	if pp := q.Get("per_page"); pp != "" {
		limit, _ = strconv.Atoi(pp)
		page := 1
		if p := q.Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		offset = (page - 1) * limit
	}
	if limit == 0 {
		limit = 10
	}
	end := min(offset+limit, len(users))
	if offset > len(users) {
		offset = len(users)
	}
	writeJSON(w, users[offset:end])
}

// /v1/linked/users: pages linked by a Link header holding a full URL.
func (a *fakeAPI) handleLinked(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	users := append([]user(nil), a.users...)
	a.mu.Unlock()
	start, _ := strconv.Atoi(r.URL.Query().Get("after"))
	end := min(start+4, len(users))
	if end < len(users) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/v1/linked/users?after=%d>; rel="next", <%s/v1/linked/users>; rel="first"`, a.srv.URL, end, a.srv.URL))
	}
	writeJSON(w, map[string]any{"items": users[start:end]})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// /oauth/token: the refresh-token grant; a token lives tokenLife on the
// fake clock.
func (a *fakeAPI) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" ||
		r.Form.Get("client_id") != "cid" || r.Form.Get("client_secret") != "csecret" || r.Form.Get("refresh_token") != "rtok" {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]any{"error": "invalid_grant"})
		return
	}
	a.mu.Lock()
	a.refreshes++
	a.validToken = fmt.Sprintf("tok-%d", a.refreshes)
	a.tokenIssue = a.clock.Now()
	tok := a.validToken
	a.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": int(a.tokenLife / time.Second), "token_type": "bearer"})
}

// /v1/secure/users: bearer tokens from /oauth/token, refused once expired;
// each page moves the clock on by a minute.
func (a *fakeAPI) handleSecure(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	ok := a.validToken != "" && r.Header.Get("Authorization") == "Bearer "+a.validToken && a.clock.Now().Before(a.tokenIssue.Add(a.tokenLife))
	users := append([]user(nil), a.users...)
	a.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": "token expired or invalid"})
		return
	}
	a.clock.Add(time.Minute)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	start := page * 3
	end := min(start+3, len(users))
	if start > len(users) {
		start = len(users)
	}
	writeJSON(w, map[string]any{"data": users[start:end]})
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
