package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Datetime slicing as the CDK documents it: slices of step from the start
// (or from the state, one cursor_granularity later, less the lookback
// window) to the end, each ending one granularity before the next begins.
func TestDatetimeSlicing(t *testing.T) {
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	d := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		name   string
		cursor string // DatetimeBasedCursor fields
		state  map[string]any
		want   []string // "start/end" in RFC 3339
	}{
		{"ten-day steps", "start_datetime: 2024-01-01T00:00:00Z\nend_datetime: 2024-01-31T00:00:00Z\nstep: P10D\ncursor_granularity: PT1S", nil,
			[]string{"2024-01-01T00:00:00Z/2024-01-10T23:59:59Z", "2024-01-11T00:00:00Z/2024-01-20T23:59:59Z", "2024-01-21T00:00:00Z/2024-01-30T23:59:59Z", "2024-01-31T00:00:00Z/2024-01-31T00:00:00Z"}},
		{"no step: one slice to now", "start_datetime: 2024-02-20T00:00:00Z", nil,
			[]string{"2024-02-20T00:00:00Z/2024-03-01T00:00:00Z"}},
		{"monthly from the 31st", "start_datetime: 2024-01-31T00:00:00Z\nend_datetime: 2024-03-15T00:00:00Z\nstep: P1M\ncursor_granularity: P1D", nil,
			[]string{"2024-01-31T00:00:00Z/2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z/2024-03-15T00:00:00Z"}},
		{"from the state, one granularity later", "start_datetime: 2024-01-01T00:00:00Z\nstep: P30D\ncursor_granularity: PT1S",
			map[string]any{"updated_at": "2024-02-15T12:00:00Z"},
			[]string{"2024-02-15T12:00:01Z/2024-03-01T00:00:00Z"}},
		{"lookback window", "start_datetime: 2024-01-01T00:00:00Z\ncursor_granularity: PT1S\nlookback_window: P1D",
			map[string]any{"updated_at": "2024-02-15T12:00:00Z"},
			[]string{"2024-02-14T12:00:01Z/2024-03-01T00:00:00Z"}},
		{"state before the start", "start_datetime: 2024-02-01T00:00:00Z",
			map[string]any{"updated_at": "2023-01-01T00:00:00Z"},
			[]string{"2024-02-01T00:00:00Z/2024-03-01T00:00:00Z"}},
		{"start after the end", "start_datetime: 2024-04-01T00:00:00Z", nil, nil},
		{"min and max bounds", "start_datetime: {type: MinMaxDatetime, datetime: '2020-01-01T00:00:00Z', min_datetime: '2024-02-28T00:00:00Z'}\nend_datetime: {type: MinMaxDatetime, datetime: '2030-01-01T00:00:00Z', max_datetime: '2024-02-29T00:00:00Z'}", nil,
			[]string{"2024-02-28T00:00:00Z/2024-02-29T00:00:00Z"}},
		{"state in a second cursor format", "start_datetime: 2024-01-01T00:00:00Z\ncursor_datetime_formats: ['%Y-%m-%dT%H:%M:%SZ', '%s']\ncursor_granularity: PT1S",
			map[string]any{"updated_at": "1708000000"},
			[]string{"2024-02-15T12:26:41Z/2024-03-01T00:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fields strings.Builder
			for _, l := range strings.Split(c.cursor, "\n") {
				fields.WriteString("      " + l + "\n")
			}
			m := fmt.Sprintf(`
type: DeclarativeSource
streams:
  - type: DeclarativeStream
    name: s
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "https://api.example.com"}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: []}}
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated_at
      datetime_format: "%%Y-%%m-%%dT%%H:%%M:%%SZ"
%s`, fields.String())
			src, err := New([]byte(m), Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			rt, _ := src.newRun(nil)
			ws, err := src.rt.streams[0].cursor.windows(rt, c.state)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.start.Format(time.RFC3339)+"/"+w.end.Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("slices\n got %v\nwant %v", got, c.want)
			}
			_ = d
		})
	}
}
