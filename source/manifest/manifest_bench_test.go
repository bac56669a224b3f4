package manifest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source/manifest"
	"github.com/lakeport/lakeport/source/manifest/manifesttest"
)

// benchUsers pages of 500 through the test API: the manifest runtime (Jinja
// templates, record selection, JSON encoding of each record as a protocol
// message) next to a plain Go loop over the same API, which only decodes.
const benchUsers = 20_000

const benchManifest = `
type: DeclarativeSource
streams:
  - type: DeclarativeStream
    name: users
    primary_key: [id]
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}/v1"
        path: /users
        authenticator:
          type: ApiKeyAuthenticator
          api_token: "{{ config['api_key'] }}"
          inject_into: {type: RequestOption, inject_into: header, field_name: X-Api-Key}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: [data]}}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: cursor}
        page_size_option: {type: RequestOption, inject_into: request_parameter, field_name: page_size}
        pagination_strategy:
          type: CursorPagination
          page_size: 500
          cursor_value: "{{ response.get('pagination', {}).get('next_page_token') }}"
          stop_condition: "{{ not response.get('pagination', {}).get('next_page_token') }}"
`

func BenchmarkManifestSource(b *testing.B) {
	api := manifesttest.New(b, benchUsers)
	s, err := manifest.New([]byte(benchManifest), manifest.Options{RequestsPerSecond: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	cfg := json.RawMessage(fmt.Sprintf(`{"base_url": %q, "api_key": %q}`, api.URL(), manifesttest.APIKey))
	cat, _ := s.Discover(context.Background(), cfg)
	cc := &protocol.ConfiguredCatalog{Streams: []protocol.ConfiguredStream{{Stream: cat.Streams[0], SyncMode: protocol.FullRefresh, DestinationSyncMode: protocol.Overwrite}}}
	b.ResetTimer()
	start := time.Now()
	var n int
	for i := 0; i < b.N; i++ {
		n = 0
		err := s.Run(context.Background(), cfg, cc, nil, func(m *protocol.Message) error {
			if m.Type == protocol.TypeRecord {
				n++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != benchUsers {
		b.Fatalf("%d records, want %d", n, benchUsers)
	}
	b.ReportMetric(float64(benchUsers*b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkPlainGoLoop reads the same pages with net/http and encoding/json:
// the floor the runtime's overhead is measured against.
func BenchmarkPlainGoLoop(b *testing.B) {
	api := manifesttest.New(b, benchUsers)
	client := &http.Client{}
	b.ResetTimer()
	start := time.Now()
	var n int
	for i := 0; i < b.N; i++ {
		n = 0
		cursor := ""
		for {
			q := url.Values{"page_size": {"500"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			req, _ := http.NewRequest(http.MethodGet, api.URL()+"/v1/users?"+q.Encode(), nil)
			req.Header.Set("X-Api-Key", manifesttest.APIKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Data       []map[string]any `json:"data"`
				Pagination struct {
					Next string `json:"next_page_token"`
				} `json:"pagination"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			n += len(page.Data)
			if strings.TrimSpace(page.Pagination.Next) == "" {
				break
			}
			cursor = page.Pagination.Next
		}
	}
	if n != benchUsers {
		b.Fatalf("%d records, want %d", n, benchUsers)
	}
	b.ReportMetric(float64(benchUsers*b.N)/time.Since(start).Seconds(), "records/s")
}
