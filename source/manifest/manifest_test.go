package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source/manifest"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
)

var usersManifest = manifesttest.UsersManifest

type collected struct {
	records map[string][]map[string]any
	states  []json.RawMessage // in order, per emission
	last    map[string]json.RawMessage
	msgs    []*protocol.Message
}

func (c *collected) stateArray() json.RawMessage {
	var list []any
	for name, s := range c.last {
		list = append(list, map[string]any{"type": "STREAM", "stream": map[string]any{"stream_descriptor": map[string]any{"name": name}, "stream_state": s}})
	}
	b, _ := json.Marshal(list)
	return b
}

type harness struct {
	now    time.Time
	mu     sync.Mutex
	sleeps []time.Duration
}

func (h *harness) opts() manifest.Options {
	return manifest.Options{
		Now:               func() time.Time { return h.now },
		RequestsPerSecond: 10000,
		BackoffBase:       time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if d > 0 {
				h.mu.Lock()
				h.sleeps = append(h.sleeps, d)
				h.mu.Unlock()
			}
			return ctx.Err()
		},
	}
}

func newSource(t *testing.T, yaml string, opts manifest.Options) *manifest.Source {
	t.Helper()
	s, err := manifest.New([]byte(yaml), opts)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return s
}

func catalogOf(t *testing.T, s *manifest.Source, config string, mode protocol.SyncMode) *protocol.ConfiguredCatalog {
	t.Helper()
	cat, err := s.Discover(context.Background(), json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	cc := &protocol.ConfiguredCatalog{}
	for _, st := range cat.Streams {
		m := mode
		if !st.Supports(m) {
			m = protocol.FullRefresh
		}
		cc.Streams = append(cc.Streams, protocol.ConfiguredStream{Stream: st, SyncMode: m, DestinationSyncMode: protocol.Append})
	}
	return cc
}

func read(t *testing.T, s *manifest.Source, config string, cat *protocol.ConfiguredCatalog, state json.RawMessage) (*collected, error) {
	t.Helper()
	c := &collected{records: map[string][]map[string]any{}, last: map[string]json.RawMessage{}}
	err := s.Run(context.Background(), json.RawMessage(config), cat, state, func(m *protocol.Message) error {
		c.msgs = append(c.msgs, m)
		switch m.Type {
		case protocol.TypeRecord:
			var rec map[string]any
			if err := json.Unmarshal(m.Record.Data, &rec); err != nil {
				t.Fatal(err)
			}
			c.records[m.Record.Stream] = append(c.records[m.Record.Stream], rec)
		case protocol.TypeState:
			c.states = append(c.states, m.State.Stream.StreamState)
			c.last[m.State.Stream.StreamDescriptor.Name] = m.State.Stream.StreamState
		}
		return nil
	})
	return c, err
}

func usersConfig(api *manifesttest.API) string {
	b, _ := json.Marshal(map[string]any{"api_key": manifesttest.APIKey, "start_date": "2024-01-01T00:00:00Z", "base_url": api.URL()})
	return string(b)
}

func TestIncrementalSyncRequestsOnlyTheNewWindow(t *testing.T) {
	api := manifesttest.New(t, 40) // one user every 6 hours from 2024-01-01: the last at 2024-01-10T18:00
	h := &harness{now: time.Date(2024, 1, 25, 0, 0, 0, 0, time.UTC)}
	s := newSource(t, usersManifest, h.opts())
	cfg := usersConfig(api)
	cat := catalogOf(t, s, cfg, protocol.Incremental)

	got, err := read(t, s, cfg, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.records["users"]); n != 40 {
		t.Fatalf("first sync: %d users, want 40", n)
	}
	reqs := api.RequestsTo("/v1/users")
	// Windows [01-01, 01-10T23:59:59] (40 users: 8 pages of 5), [01-11, 01-20T23:59:59] (1 empty page),
	// [01-21, 01-25] (1 empty page).
	if len(reqs) != 10 {
		t.Errorf("first sync sent %d requests, want 10", len(reqs))
	}
	if q := reqs[0]; q.Get("updated_since") != "2024-01-01T00:00:00Z" || q.Get("updated_before") != "2024-01-10T23:59:59Z" || q.Get("page_size") != "5" || q.Get("sort") != "updated_at" || q.Has("cursor") {
		t.Errorf("first request %v", q)
	}
	if q := reqs[1]; q.Get("cursor") != "c-5" {
		t.Errorf("second request %v: want cursor c-5", q)
	}
	// A state after every slice; the state is the highest cursor value seen, not the window's end.
	if len(got.states) != 3 {
		t.Fatalf("%d states, want one per slice (3): %s", len(got.states), got.states)
	}
	if s := string(got.last["users"]); s != `{"updated_at":"2024-01-10T18:00:00Z"}` {
		t.Errorf("final state %s", s)
	}

	// New data arrives; the next sync asks only for what is after the state.
	api.AddUsers(3, time.Date(2024, 1, 26, 0, 0, 0, 0, time.UTC), time.Hour)
	h.now = time.Date(2024, 1, 27, 0, 0, 0, 0, time.UTC)
	api.Reset()
	got2, err := read(t, s, cfg, cat, got.stateArray())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got2.records["users"]); n != 3 {
		t.Fatalf("second sync: %d users, want the 3 new ones", n)
	}
	reqs = api.RequestsTo("/v1/users")
	if len(reqs) == 0 || reqs[0].Get("updated_since") != "2024-01-10T18:00:01Z" {
		t.Errorf("second sync's first window starts at %q, want just after the state (2024-01-10T18:00:01Z)", reqs[0].Get("updated_since"))
	}
	if s := string(got2.last["users"]); s != `{"updated_at":"2024-01-26T02:00:00Z"}` {
		t.Errorf("second final state %s", s)
	}
}

func TestFullRefreshIgnoresStateAndEmitsNone(t *testing.T) {
	api := manifesttest.New(t, 12)
	h := &harness{now: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)}
	s := newSource(t, usersManifest, h.opts())
	cfg := usersConfig(api)
	got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.FullRefresh), json.RawMessage(`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"updated_at":"2024-01-02T00:00:00Z"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.records["users"]) != 12 || len(got.states) != 0 {
		t.Errorf("full refresh: %d records, %d states; want 12 and 0", len(got.records["users"]), len(got.states))
	}
}

func TestWrongAPIKeyFailsClearly(t *testing.T) {
	api := manifesttest.New(t, 3)
	h := &harness{now: manifesttest.Base.Add(24 * time.Hour)}
	s := newSource(t, usersManifest, h.opts())
	cfg := strings.Replace(usersConfig(api), manifesttest.APIKey, "wrong", 1)
	st, err := s.Check(context.Background(), json.RawMessage(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != protocol.StatusFailed || !strings.Contains(st.Message, "HTTP 401") || !strings.Contains(st.Message, "check the config's API key") {
		t.Errorf("check: %+v", st)
	}
	if strings.Contains(st.Message, "wrong") {
		t.Errorf("the message shows the key: %s", st.Message)
	}
	if n := len(api.RequestsTo("/v1/users")); n != 1 {
		t.Errorf("a 401 was retried: %d requests", n)
	}
	_, err = read(t, s, cfg, catalogOf(t, s, cfg, protocol.Incremental), nil)
	var he *manifest.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("read: %v, want an HTTPError 401", err)
	}
	if ok, _ := s.Check(context.Background(), json.RawMessage(usersConfig(api))); ok.Status != protocol.StatusSucceeded {
		t.Errorf("check with the right key: %+v", ok)
	}
}

func TestRetries429WithRetryAfterAnd500(t *testing.T) {
	api := manifesttest.New(t, 7)
	h := &harness{now: manifesttest.Base.Add(48 * time.Hour)}
	s := newSource(t, usersManifest, h.opts())
	cfg := usersConfig(api)
	api.Fail("/v1/users", http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway)
	got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.Incremental), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.records["users"]) != 7 {
		t.Errorf("%d records after retries, want 7", len(got.records["users"]))
	}
	if len(h.sleeps) < 3 || h.sleeps[0] != time.Second {
		t.Errorf("waits %v: want Retry-After's 1s first, then backoff", h.sleeps)
	}
	// Out of retries: the error says what happened.
	api.Fail("/v1/users", 503, 503, 503, 503, 503, 503, 503)
	_, err = read(t, s, cfg, catalogOf(t, s, cfg, protocol.Incremental), nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "gave up after 5 retries") {
		t.Errorf("err = %v", err)
	}
}

func TestUnsupportedComponentsRefusedWithPath(t *testing.T) {
	m := strings.Replace(usersManifest, "    retriever:\n      type: SimpleRetriever\n", "    retriever:\n      type: CustomRetriever\n      class_name: source_x.components.MyRetriever\n", 1)
	m = strings.Replace(m, "      paginator:\n        type: DefaultPaginator", "      paginator:\n        type: DefaultPaginator\n        page_token_option_x: 1", 1)
	m = strings.Replace(m, "  type: Spec\n", "  type: Spec\n", 1)
	_, err := manifest.New([]byte(m), manifest.Options{})
	var ue *manifest.UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, manifest.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	found := false
	for _, p := range ue.Problems {
		if p.Type == "CustomRetriever" && p.Path == "streams.0.retriever" && strings.Contains(p.Msg, "Python") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v: want CustomRetriever at streams.0.retriever", ue.Problems)
	}

	// A template that uses what lakeport does not have is refused too, with its place.
	m2 := strings.Replace(usersManifest, "field_name: updated_since", "field_name: \"{{ config['x'] | slugify }}\"", 1)
	_, err = manifest.New([]byte(m2), manifest.Options{})
	if err == nil || !strings.Contains(err.Error(), "streams.0.incremental_sync.start_time_option.field_name") || !strings.Contains(err.Error(), "slugify") {
		t.Errorf("err = %v", err)
	}
}

// Requests go through the dialer the operator gives: with the network guard
// and private networks not allowed, an API on loopback is refused (before
// any byte is sent); allowed, it is reached.
func TestLoopbackAPIRefusedByTheGuard(t *testing.T) {
	api := manifesttest.New(t, 3)
	h := &harness{now: manifesttest.Base.Add(24 * time.Hour)}
	opts := h.opts()
	opts.DialContext = netguard.New(false).Dialer().DialContext
	s := newSource(t, usersManifest, opts)
	cfg := usersConfig(api)
	st, err := s.Check(context.Background(), json.RawMessage(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != protocol.StatusFailed || !strings.Contains(st.Message, "netguard") || !strings.Contains(st.Message, "loopback") {
		t.Errorf("check against a loopback API: %+v", st)
	}
	_, err = read(t, s, cfg, catalogOf(t, s, cfg, protocol.Incremental), nil)
	if !netguard.IsBlocked(err) {
		t.Errorf("read: %v, want a netguard refusal", err)
	}
	if n := api.Requests(); n != 0 {
		t.Errorf("the API saw %d requests", n)
	}
	if len(h.sleeps) != 0 {
		t.Errorf("a refused address was retried (waits %v)", h.sleeps)
	}
	opts.DialContext = netguard.New(true).Dialer().DialContext
	s = newSource(t, usersManifest, opts)
	if got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.Incremental), nil); err != nil || len(got.records["users"]) != 3 {
		t.Errorf("with private networks allowed: %v", err)
	}
}
