package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source/manifest"
	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
)

const substreamManifest = `
type: DeclarativeSource
definitions:
  requester:
    type: HttpRequester
    url_base: "{{ config.base_url }}"
  teams:
    type: DeclarativeStream
    name: teams
    primary_key: key
    retriever:
      type: SimpleRetriever
      requester: {$ref: "#/definitions/requester", path: /v1/teams}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [teams]}}
streams:
  - $ref: "#/definitions/teams"
  - type: DeclarativeStream
    name: members
    primary_key: [[id], [team_key]]
    retriever:
      type: SimpleRetriever
      requester:
        $ref: "#/definitions/requester"
        path: "/v1/teams/{{ stream_partition.team_key }}/members"
      record_selector:
        type: RecordSelector
        extractor: {type: DpathExtractor, field_path: [members]}
        record_filter:
          type: RecordFilter
          condition: "{{ record['id'] != 3 }}"
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - type: ParentStreamConfig
            stream: {$ref: "#/definitions/teams"}
            parent_key: key
            partition_field: team_key
    transformations:
      - type: AddFields
        fields:
          - path: [team_key]
            value: "{{ stream_partition['team_key'] }}"
          - path: [meta, name_upper]
            value: "{{ record['name'] | upper }}"
          - path: [id_plus]
            value: "{{ record['id'] + 1000 }}"
      - type: RemoveFields
        field_pointers: [[team]]
  - type: DeclarativeStream
    name: by_team
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config.base_url }}"
        path: /v1/users
        authenticator: {type: BearerAuthenticator, api_token: "{{ config.token }}"}
        request_headers:
          X-Api-Key: "{{ config.key }}"
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [data]}}
      partition_router:
        type: ListPartitionRouter
        values: "{{ config.teams }}"
        cursor_field: team
        request_option: {type: RequestOption, inject_into: request_parameter, field_name: team}
`

func TestSubstreamListRouterAndTransformations(t *testing.T) {
	api := manifesttest.New(t, 9)
	h := &harness{now: manifesttest.Base}
	s := newSource(t, substreamManifest, h.opts())
	cfg := fmt.Sprintf(`{"base_url": %q, "teams": ["red", "blue"], "key": %q, "token": "t"}`, api.URL(), manifesttest.APIKey)
	got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.FullRefresh), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.records["teams"]); n != 3 {
		t.Errorf("%d teams", n)
	}
	members := got.records["members"]
	if len(members) != 8 { // 9 users, the record filter drops id 3
		t.Fatalf("%d members, want 8", len(members))
	}
	for _, m := range members {
		if m["id"] == float64(3) {
			t.Error("record filter let id 3 through")
		}
		if _, ok := m["team"]; ok {
			t.Error("RemoveFields left team")
		}
		if m["team_key"] == nil || m["id_plus"] != m["id"].(float64)+1000 || m["meta"].(map[string]any)["name_upper"] != strings.ToUpper(m["name"].(string)) {
			t.Errorf("AddFields: %v", m)
		}
	}
	if n := len(api.RequestsTo("/v1/teams/red/members")); n != 1 {
		t.Errorf("red members requested %d times", n)
	}
	// ListPartitionRouter: one request per value, the value injected.
	q := api.RequestsTo("/v1/users")
	if len(q) != 2 || q[0].Get("team") != "red" || q[1].Get("team") != "blue" {
		t.Errorf("list partitions: %v", q)
	}
	if n := len(got.records["by_team"]); n != 6 {
		t.Errorf("by_team: %d records, want 6 (red and blue)", n)
	}
	cat, _ := s.Discover(context.Background(), json.RawMessage(cfg))
	if pk := cat.Streams[1].SourceDefinedPrimaryKey; len(pk) != 2 || pk[1][0] != "team_key" {
		t.Errorf("members primary key %v", pk)
	}
	if string(cat.Streams[0].JSONSchema) == "" || !strings.Contains(string(cat.Streams[0].JSONSchema), `"additionalProperties":true`) {
		t.Errorf("no schema given: want a permissive one, got %s", cat.Streams[0].JSONSchema)
	}
}

const pagingManifest = `
type: DeclarativeSource
definitions:
  sel: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: []}}
streams:
  - type: DeclarativeStream
    name: offset
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "{{ config.base_url }}", path: /v1/offset/users}
      record_selector: {$ref: "#/definitions/sel"}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: offset}
        page_size_option: {type: RequestOption, inject_into: request_parameter, field_name: limit}
        pagination_strategy: {type: OffsetIncrement, page_size: 4}
  - type: DeclarativeStream
    name: pages
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "{{ config.base_url }}", path: /v1/offset/users}
      record_selector: {$ref: "#/definitions/sel"}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: page}
        page_size_option: {type: RequestOption, inject_into: request_parameter, field_name: per_page}
        pagination_strategy: {type: PageIncrement, page_size: 3, start_from_page: 1, inject_on_first_request: true}
  - type: DeclarativeStream
    name: linked
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "{{ config.base_url }}", path: /v1/linked/users}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [items]}}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestPath}
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ headers['link']['next']['url'] }}"
          stop_condition: "{{ 'next' not in headers['link'] }}"
`

func TestPaginationStrategies(t *testing.T) {
	api := manifesttest.New(t, 10)
	s := newSource(t, pagingManifest, (&harness{now: manifesttest.Base}).opts())
	cfg := fmt.Sprintf(`{"base_url": %q}`, api.URL())
	got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.FullRefresh), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"offset", "pages", "linked"} {
		if n := len(got.records[name]); n != 10 {
			t.Errorf("%s: %d records, want 10", name, n)
		}
	}
	var offsets, pages []string
	for _, q := range api.RequestsTo("/v1/offset/users") {
		if q.Has("limit") {
			offsets = append(offsets, q.Get("offset"))
		} else {
			pages = append(pages, q.Get("page"))
		}
	}
	if strings.Join(offsets, ",") != ",4,8" {
		t.Errorf("offsets %q (the first request carries none)", offsets)
	}
	if strings.Join(pages, ",") != "1,2,3,4" {
		t.Errorf("pages %q", pages)
	}
	if n := len(api.RequestsTo("/v1/linked/users")); n != 3 {
		t.Errorf("linked: %d requests, want 3", n)
	}
}

// A Link header (or next-page token) that points at another host is not
// followed: the request would carry the tenant's credentials there.
func TestNextPageOnAnotherHostRefused(t *testing.T) {
	api := manifesttest.New(t, 10)
	m := strings.Replace(pagingManifest, `cursor_value: "{{ headers['link']['next']['url'] }}"`, `cursor_value: "https://evil.example/steal"`, 1)
	s := newSource(t, m, (&harness{now: manifesttest.Base}).opts())
	cfg := fmt.Sprintf(`{"base_url": %q}`, api.URL())
	cat := catalogOf(t, s, cfg, protocol.FullRefresh)
	cat.Streams = cat.Streams[2:]
	_, err := read(t, s, cfg, cat, nil)
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("err = %v", err)
	}
}

const oauthManifest = `
type: DeclarativeSource
streams:
  - type: DeclarativeStream
    name: secure
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config.base_url }}"
        path: /v1/secure/users
        authenticator:
          type: OAuthAuthenticator
          token_refresh_endpoint: "{{ config.base_url }}/oauth/token"
          client_id: "{{ config.client_id }}"
          client_secret: "{{ config.client_secret }}"
          refresh_token: "{{ config.refresh_token }}"
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [data]}}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: page}
        pagination_strategy: {type: PageIncrement, page_size: 3}
`

func TestOAuthRefreshesAnExpiredToken(t *testing.T) {
	api := manifesttest.New(t, 15) // 5 pages of 3, then an empty one
	clock := manifesttest.NewClock(manifesttest.Base)
	api.Clock, api.TokenLife = clock, 150*time.Second // each page costs a minute: a token lasts 2 pages
	opts := (&harness{}).opts()
	opts.Now = clock.Now
	s := newSource(t, oauthManifest, opts)
	cfg := fmt.Sprintf(`{"base_url": %q, "client_id": "cid", "client_secret": "csecret", "refresh_token": "rtok"}`, api.URL())
	got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.FullRefresh), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.records["secure"]); n != 15 {
		t.Errorf("%d records, want 15", n)
	}
	// Pages at minutes 0..5; a token lasts 2.5 minutes: one at the start,
	// one when it expires at minute 3; no request is refused.
	if api.Refreshes() != 2 {
		t.Errorf("%d token refreshes, want 2", api.Refreshes())
	}
	if n := len(api.RequestsTo("/v1/secure/users")); n != 6 {
		t.Errorf("%d requests, want 6 (none refused and retried)", n)
	}
	bad := strings.Replace(cfg, "rtok", "revoked", 1)
	_, err = read(t, s, bad, catalogOf(t, s, bad, protocol.FullRefresh), nil)
	if err == nil || !strings.Contains(err.Error(), "OAuth token refresh") || !strings.Contains(err.Error(), "refresh token") {
		t.Errorf("revoked refresh token: %v", err)
	}
}

func TestParametersAndRefs(t *testing.T) {
	doc, err := document.Parse([]byte(`
type: DeclarativeSource
definitions:
  base:
    type: DeclarativeStream
    primary_key: id
    retriever:
      type: SimpleRetriever
      requester: {$ref: "#/definitions/req"}
      record_selector: {extractor: {field_path: ["{{ parameters.name }}"]}}
  req: {url_base: "https://api.example.com", authenticator: {$ref: "#/definitions/auth"}}
  auth: {type: BearerAuthenticator, api_token: x}
streams:
  - $ref: "#/definitions/base"
    $parameters: {name: users, path: /users}
  - $ref: "#/definitions/base"
    name: orders
    $parameters: {path: /orders}
`))
	if err != nil {
		t.Fatal(err)
	}
	s0 := doc.Root["streams"].([]any)[0].(map[string]any)
	req := s0["retriever"].(map[string]any)["requester"].(map[string]any)
	if s0["name"] != "users" || req["type"] != "HttpRequester" || req["path"] != "/users" || s0["primary_key"] != "id" {
		t.Errorf("stream 0: name %v, requester type %v path %v, pk %v", s0["name"], req["type"], req["path"], s0["primary_key"])
	}
	if req["authenticator"].(map[string]any)["type"] != "BearerAuthenticator" {
		t.Errorf("nested $ref not resolved: %v", req["authenticator"])
	}
	s1 := doc.Root["streams"].([]any)[1].(map[string]any)
	if s1["name"] != "orders" || s1["retriever"].(map[string]any)["requester"].(map[string]any)["path"] != "/orders" {
		t.Errorf("stream 1: %v", s1)
	}
	ex := s0["retriever"].(map[string]any)["record_selector"].(map[string]any)["extractor"].(map[string]any)
	if ex["type"] != "DpathExtractor" {
		t.Errorf("default type: %v", ex)
	}
}

func TestHostileManifests(t *testing.T) {
	big := "type: DeclarativeSource\nstreams: []\n# " + strings.Repeat("x", document.MaxBytes)
	for name, m := range map[string]string{
		"ref loop":       "type: DeclarativeSource\ndefinitions:\n  a: {$ref: '#/definitions/b'}\n  b: {$ref: '#/definitions/a'}\nstreams:\n  - $ref: '#/definitions/a'\n",
		"ref to a file":  "type: DeclarativeSource\nstreams:\n  - $ref: '/etc/passwd.json'\n",
		"ref to a URL":   "type: DeclarativeSource\nstreams:\n  - $ref: 'https://example.com/x.yaml'\n",
		"ref to nothing": "type: DeclarativeSource\nstreams:\n  - $ref: '#/definitions/none'\n",
		"too big":        big,
		"not a mapping":  "- 1\n- 2\n",
		"billion refs":   billionRefs(),
	} {
		_, err := manifest.New([]byte(m), manifest.Options{})
		if !errors.Is(err, document.ErrInvalid) {
			t.Errorf("%s: err = %v, want a manifest error", name, err)
		}
	}
	// A tenant's manifest cannot read a schema file; a published one reads
	// only inside its folder.
	withFile := strings.Replace(usersManifest, "      type: InlineSchemaLoader\n      schema:", "      type: JsonFileSchemaLoader\n      file_path: ../../../etc/hostname\n      x_schema:", 1)
	if _, err := manifest.New([]byte(withFile), manifest.Options{}); err == nil || !strings.Contains(err.Error(), "cannot read files") {
		t.Errorf("tenant file schema: %v", err)
	}
	dir := t.TempDir()
	if _, err := manifest.New([]byte(withFile), manifest.Options{ManifestDir: dir}); err == nil || !strings.Contains(err.Error(), "outside the manifest's folder") {
		t.Errorf("published, ../: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
	os.WriteFile(filepath.Join(dir, "schemas", "users.json"), []byte(`{"type":"object","properties":{"id":{"type":"integer"}}}`), 0o644)
	ok := strings.Replace(withFile, "file_path: ../../../etc/hostname", "file_path: ./source_users/schemas/users.json", 1)
	s, err := manifest.New([]byte(ok), manifest.Options{ManifestDir: dir})
	if err != nil {
		t.Fatalf("published schema: %v", err)
	}
	cat, _ := s.Discover(context.Background(), nil)
	if !strings.Contains(string(cat.Streams[0].JSONSchema), `"integer"`) {
		t.Errorf("schema %s", cat.Streams[0].JSONSchema)
	}
}

// billionRefs makes each definition refer to the one before twice: ten
// levels resolve to 2^10 copies, thirty to a billion.
func billionRefs() string {
	var b strings.Builder
	b.WriteString("type: DeclarativeSource\ndefinitions:\n  d0: {x: 1}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "  d%d: {a: {$ref: '#/definitions/d%d'}, b: {$ref: '#/definitions/d%d'}}\n", i, i-1, i-1)
	}
	b.WriteString("streams:\n  - $ref: '#/definitions/d30'\n")
	return b.String()
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(usersManifest))
	f.Add([]byte(substreamManifest))
	f.Add([]byte(billionRefs()))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := manifest.New(data, manifest.Options{})
		if err != nil && !errors.Is(err, document.ErrInvalid) && !errors.Is(err, manifest.ErrUnsupported) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

const authManifest = `
type: DeclarativeSource
definitions:
  session:
    type: SessionTokenAuthenticator
    login_requester:
      type: HttpRequester
      url_base: "{{ config.base_url }}"
      path: /v1/login
      http_method: POST
      request_body_json:
        user: "{{ config.auth.user }}"
        password: "{{ config.auth.password }}"
    session_token_path: [session, token]
    expiration_duration: PT1H
    request_authentication:
      type: ApiKey
      inject_into: {type: RequestOption, inject_into: header, field_name: X-Api-Key}
  key:
    type: ApiKeyAuthenticator
    header: X-Api-Key
    api_token: "{{ config.auth.key }}"
streams:
  - type: DeclarativeStream
    name: users
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config.base_url }}"
        path: /v1/users
        request_parameters: {page_size: "100"}
        authenticator:
          type: SelectiveAuthenticator
          authenticator_selection_path: [auth, type]
          authenticators:
            session: {$ref: "#/definitions/session"}
            key: {$ref: "#/definitions/key"}
        error_handler:
          type: DefaultErrorHandler
          max_retries: 2
          backoff_strategies:
            - type: WaitUntilTimeFromHeader
              header: X-Reset-At
            - type: ConstantBackoffStrategy
              backoff_time_in_seconds: 7
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [data]}}
  - type: DeclarativeStream
    name: members
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config.base_url }}"
        path: "/v1/teams/{{ stream_partition.team }}/members"
        error_handler:
          type: DefaultErrorHandler
          response_filters:
            - {type: HttpResponseFilter, http_codes: [404], action: IGNORE}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [members]}}
      partition_router: {type: ListPartitionRouter, values: [red, nosuch, blue], cursor_field: team}
`

func TestSessionSelectiveAuthBackoffAndIgnore(t *testing.T) {
	api := manifesttest.New(t, 6)
	h := &harness{now: manifesttest.Base}
	s := newSource(t, authManifest, h.opts())
	for _, auth := range []string{`{"type": "session", "user": "u", "password": "p"}`, fmt.Sprintf(`{"type": "key", "key": %q}`, manifesttest.APIKey)} {
		cfg := fmt.Sprintf(`{"base_url": %q, "auth": %s}`, api.URL(), auth)
		api.Fail("/v1/users", 503)
		got, err := read(t, s, cfg, catalogOf(t, s, cfg, protocol.FullRefresh), nil)
		if err != nil {
			t.Fatalf("%s: %v", auth, err)
		}
		if len(got.records["users"]) != 6 {
			t.Errorf("%s: %d users", auth, len(got.records["users"]))
		}
		// 404 on one partition is ignored, as the manifest says.
		if len(got.records["members"]) != 4 {
			t.Errorf("%s: %d members, want red and blue's 4", auth, len(got.records["members"]))
		}
	}
	if n := len(api.RequestsTo("/v1/login")); n != 1 {
		t.Errorf("%d logins, want one (the session token is reused)", n)
	}
	// No X-Reset-At header: the constant backoff's 7s, once per 503.
	var waits []time.Duration
	for _, d := range h.sleeps {
		if d >= time.Second {
			waits = append(waits, d)
		}
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
		t.Errorf("retry waits %v, want 7s for each 503", waits)
	}
	bad := fmt.Sprintf(`{"base_url": %q, "auth": {"type": "session", "user": "u", "password": "wrong"}}`, api.URL())
	if _, err := read(t, s, bad, catalogOf(t, s, bad, protocol.FullRefresh), nil); err == nil || !strings.Contains(err.Error(), "session login") || !strings.Contains(err.Error(), "401") {
		t.Errorf("a bad login: %v", err)
	}
	other := fmt.Sprintf(`{"base_url": %q, "auth": {"type": "oauth"}}`, api.URL())
	if _, err := read(t, s, other, catalogOf(t, s, other, protocol.FullRefresh), nil); err == nil || !strings.Contains(err.Error(), `"oauth", which names none of the authenticators`) {
		t.Errorf("an unknown selection: %v", err)
	}
	if r := manifest.Inspect([]byte(authManifest)); len(r.Deprecated) == 0 || !strings.Contains(r.Deprecated[0].Path, "header") {
		t.Errorf("the deprecated ApiKeyAuthenticator.header is not reported: %+v", r.Deprecated)
	}
}

// A child stream with incremental_dependency keeps its parent's state
// inside its own: the next sync reads the parent only from there, and a
// parent with nothing new means no child request at all.
func TestIncrementalDependency(t *testing.T) {
	api := manifesttest.New(t, 6)
	h := &harness{now: manifesttest.Base.Add(10 * 24 * time.Hour)}
	parent := strings.Replace(strings.SplitN(manifesttest.UsersManifest, "streams:\n  - $ref", 2)[0], "stream_names: [users]", "stream_names: [team_members]", 1)
	m := parent + `streams:
  - type: DeclarativeStream
    name: team_members
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}"
        path: "/v1/teams/{{ stream_partition.team }}/members"
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [members]}}
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - type: ParentStreamConfig
            stream: {$ref: "#/definitions/users"}
            parent_key: team
            partition_field: team
            incremental_dependency: true
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated_at
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
      start_datetime: "{{ config['start_date'] }}"
      cursor_granularity: PT1S
`
	s := newSource(t, m, h.opts())
	cfg := usersConfig(api)
	cat := catalogOf(t, s, cfg, protocol.Incremental)
	got, err := read(t, s, cfg, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.records["team_members"]) == 0 {
		t.Fatal("no team members read")
	}
	var final map[string]any
	json.Unmarshal(got.last["team_members"], &final)
	ps, _ := final["parent_state"].(map[string]any)
	if u, _ := ps["users"].(map[string]any); u == nil || u["updated_at"] != "2024-01-02T06:00:00Z" {
		t.Fatalf("final state %s: want the parent's state inside", got.last["team_members"])
	}
	api.Reset()
	got2, err := read(t, s, cfg, cat, got.stateArray())
	if err != nil {
		t.Fatal(err)
	}
	if q := api.RequestsTo("/v1/users"); len(q) == 0 || q[0].Get("updated_since") != "2024-01-02T06:00:01Z" {
		t.Errorf("the parent was not read from its state: %v", q)
	}
	if n := len(api.RequestsTo("/v1/teams/red/members")); n != 0 || len(got2.records["team_members"]) != 0 {
		t.Errorf("nothing new in the parent, yet %d child requests and %d records", n, len(got2.records["team_members"]))
	}
}
