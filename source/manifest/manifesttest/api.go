// Package manifesttest is a small SaaS API for tests and benchmarks of
// manifest sources: it enforces its auth, paginates, filters by the
// requested time window and counts requests.
package manifesttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// API is the fake SaaS API. Its users are updated every 6 hours from Base.
type API struct {
	srv *httptest.Server
	// Delay is slept before answering each users page (kill tests).
	Delay time.Duration

	mu       sync.Mutex
	users    []User
	requests []*http.Request // every request, in order
	// failures queued per path: status codes answered before the real answer
	failures map[string][]int
	// OAuth
	refreshes  int
	validToken string
	// Clock and TokenLife drive /oauth/token and /v1/secure/users.
	Clock      *Clock
	TokenLife  time.Duration
	tokenIssue time.Time
}

// User is one record of the API.
type User struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	UpdatedAt string `json:"updated_at"`
	Team      string `json:"team"`
	updated   time.Time
}

// APIKey is the key /v1/users wants in X-Api-Key.
const APIKey = "s3cret-key"

// Base is when the first user was updated.
var Base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// New starts the API with n users; it stops when the test ends.
func New(t testing.TB, n int) *API {
	a := &API{failures: map[string][]int{}}
	a.AddUsers(n, Base, 6*time.Hour)
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/users", a.handleUsers)
	mux.HandleFunc("/v1/teams", a.handleTeams)
	mux.HandleFunc("/v1/teams/{team}/members", a.handleMembers)
	mux.HandleFunc("/v1/offset/users", a.handleOffset)
	mux.HandleFunc("/v1/linked/users", a.handleLinked)
	mux.HandleFunc("/oauth/token", a.handleToken)
	mux.HandleFunc("/v1/login", a.handleLogin)
	mux.HandleFunc("/v1/secure/users", a.handleSecure)
	a.srv = httptest.NewServer(a.record(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the API's base URL.
func (a *API) URL() string { return a.srv.URL }

// AddUsers adds n users updated every `every` from `from`.
func (a *API) AddUsers(n int, from time.Time, every time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i < n; i++ {
		id := len(a.users) + 1
		a.users = append(a.users, User{ID: id, Name: fmt.Sprintf("user %d", id), UpdatedAt: from.Add(time.Duration(i) * every).Format(time.RFC3339), updated: from.Add(time.Duration(i) * every).Truncate(time.Second), Team: []string{"red", "blue", "green"}[id%3]})
	}
}

func (a *API) record(h http.Handler) http.Handler {
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

// Fail queues error statuses answered to the next requests to path.
func (a *API) Fail(path string, codes ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures[path] = append(a.failures[path], codes...)
}

// RequestsTo returns the query of every request to path.
func (a *API) RequestsTo(path string) []url.Values {
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

// Reset forgets the requests seen.
func (a *API) Reset() {
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
func (a *API) inWindow(r *http.Request) ([]User, error) {
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
	q0 := r.URL.Query()
	if q0.Get("updated_since") == "" && q0.Get("updated_before") == "" && q0.Get("team") == "" {
		return a.users, nil // the slice only grows: a prefix stays valid
	}
	var out []User
	for _, u := range a.users {
		t := u.updated
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
func (a *API) handleUsers(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-Key") != APIKey {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": "invalid api key"})
		return
	}
	users, err := a.inWindow(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if a.Delay > 0 {
		time.Sleep(a.Delay)
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

func (a *API) handleTeams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"teams": []map[string]any{{"key": "red"}, {"key": "blue"}, {"key": "green"}}})
}

func (a *API) handleMembers(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	if team != "red" && team != "blue" && team != "green" {
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]any{"error": "no such team"})
		return
	}
	a.mu.Lock()
	var out []User
	for _, u := range a.users {
		if u.Team == team {
			out = append(out, u)
		}
	}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"members": out})
}

// /v1/offset/users: limit/offset, or page/per_page (page from 1).
func (a *API) handleOffset(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	users := append([]User(nil), a.users...)
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
func (a *API) handleLinked(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	users := append([]User(nil), a.users...)
	a.mu.Unlock()
	start, _ := strconv.Atoi(r.URL.Query().Get("after"))
	end := min(start+4, len(users))
	if end < len(users) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/v1/linked/users?after=%d>; rel="next", <%s/v1/linked/users>; rel="first"`, a.srv.URL, end, a.srv.URL))
	}
	writeJSON(w, map[string]any{"items": users[start:end]})
}

// Clock is a clock tests move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// /oauth/token: the refresh-token grant; a token lives tokenLife on the
// fake clock.
func (a *API) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" ||
		r.Form.Get("client_id") != "cid" || r.Form.Get("client_secret") != "csecret" || r.Form.Get("refresh_token") != "rtok" {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]any{"error": "invalid_grant"})
		return
	}
	a.mu.Lock()
	a.refreshes++
	a.validToken = fmt.Sprintf("tok-%d", a.refreshes)
	a.tokenIssue = a.Clock.Now()
	tok := a.validToken
	a.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": int(a.TokenLife / time.Second), "token_type": "bearer"})
}

// /v1/secure/users: bearer tokens from /oauth/token, refused once expired;
// each page moves the clock on by a minute.
func (a *API) handleSecure(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	ok := a.validToken != "" && r.Header.Get("Authorization") == "Bearer "+a.validToken && a.Clock.Now().Before(a.tokenIssue.Add(a.TokenLife))
	users := append([]User(nil), a.users...)
	a.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": "token expired or invalid"})
		return
	}
	a.Clock.Add(time.Minute)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	start := page * 3
	end := min(start+3, len(users))
	if start > len(users) {
		start = len(users)
	}
	writeJSON(w, map[string]any{"data": users[start:end]})
}

// Refreshes returns how many OAuth tokens were issued.
func (a *API) Refreshes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refreshes
}

// Requests returns how many requests the API answered.
func (a *API) Requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.requests)
}

// NewClock returns a clock set at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// UsersManifest is written from the CDK's schema for these tests: an API
// key in a header, cursor pagination read from the body, an incremental
// cursor that slices time into 10-day windows sent as query parameters.
const UsersManifest = `
version: 6.0.0
type: DeclarativeSource
check:
  type: CheckStream
  stream_names: [users]
definitions:
  base_requester:
    type: HttpRequester
    url_base: "{{ config['base_url'] }}/v1"
    http_method: GET
    authenticator:
      type: ApiKeyAuthenticator
      api_token: "{{ config['api_key'] }}"
      inject_into:
        type: RequestOption
        inject_into: header
        field_name: X-Api-Key
  users:
    type: DeclarativeStream
    name: users
    primary_key: [id]
    $parameters:
      path: /users
    retriever:
      type: SimpleRetriever
      requester:
        $ref: "#/definitions/base_requester"
        request_parameters:
          sort: updated_at
      record_selector:
        type: RecordSelector
        extractor:
          type: DpathExtractor
          field_path: [data]
      paginator:
        type: DefaultPaginator
        page_token_option:
          type: RequestOption
          inject_into: request_parameter
          field_name: cursor
        page_size_option:
          type: RequestOption
          inject_into: request_parameter
          field_name: page_size
        pagination_strategy:
          type: CursorPagination
          page_size: 5
          cursor_value: "{{ response.get('pagination', {}).get('next_page_token') }}"
          stop_condition: "{{ not response.get('pagination', {}).get('next_page_token') }}"
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated_at
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      cursor_datetime_formats: ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"]
      start_datetime:
        type: MinMaxDatetime
        datetime: "{{ config['start_date'] }}"
        datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      end_datetime: "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}"
      step: P10D
      cursor_granularity: PT1S
      start_time_option:
        type: RequestOption
        inject_into: request_parameter
        field_name: updated_since
      end_time_option:
        type: RequestOption
        inject_into: request_parameter
        field_name: updated_before
    schema_loader:
      type: InlineSchemaLoader
      schema:
        type: object
        properties:
          id: {type: integer}
          name: {type: string}
          updated_at: {type: string, format: date-time}
streams:
  - $ref: "#/definitions/users"
spec:
  type: Spec
  connection_specification:
    type: object
    required: [api_key, start_date, base_url]
    properties:
      api_key: {type: string, airbyte_secret: true}
      start_date: {type: string}
      base_url: {type: string}
`

// /v1/login: a session login; the session token is the API key.
func (a *API) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct{ User, Password string }
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil || in.User != "u" || in.Password != "p" {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": "bad login"})
		return
	}
	writeJSON(w, map[string]any{"session": map[string]any{"token": APIKey}})
}
