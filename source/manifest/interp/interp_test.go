package interp_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

var fixed = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)

func vars(t *testing.T) interp.Vars {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(strings.NewReader(`{
		"config": {"start_date": "2024-01-01T00:00:00Z", "api_key": "k", "n": 5, "empty": "", "ids": ["a","b"], "account": "123", "flag": false},
		"parameters": {"name": "users", "path": "/v1/users"},
		"response": {"pagination": {"next_page_token": "abc"}, "paging": {"next": "http://x/n"}, "items": [1, 2], "total": 40, "has_more": true},
		"headers": {"link": {"next": {"url": "http://x/2"}}},
		"last_record": {"meta": {"page": {"after": "z"}}, "id": 9},
		"next_page_token": null,
		"record": {"id": 7, "uri": "https://a/b/c-9", "price": 1.5, "updated": "2024-02-03T04:05:06Z"},
		"stream_slice": {"start_time": "2024-01-01", "end_time": "2024-01-31", "parent_id": 42}
	}`))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return interp.Vars(interp.Normalize(v).(map[string]any))
}

// The expressions are the shapes real manifests use (see docs/MANIFESTS.md);
// the expected values are what the Python CDK's interpolation yields.
func TestEval(t *testing.T) {
	e := interp.New()
	e.Now = func() time.Time { return fixed }
	for _, c := range []struct {
		tmpl string
		want any
	}{
		{"plain text", "plain text"},
		{"42", int64(42)},
		{"{{ config['api_key'] }}", "k"},
		{"{{ config.api_key }}", "k"},
		{"Bearer {{ config['api_key'] }}", "Bearer k"},
		{"{{ config['n'] }}", int64(5)},
		{"{{ config['account'] }}", int64(123)}, // the CDK's literal reading makes "123" a number
		{"{{ config['n'] * 2 }}", int64(10)},
		{"{{ config['n'] / 2 }}", 2.5},
		{"{{ config['n'] // 2 }}", int64(2)},
		{"{{ config['n'] - 7 }}", int64(-2)},
		{"{{ record['id'] + 1000000 }}", int64(1000007)},
		{"{{ record['price'] * 2 }}", 3.0},
		{"{{ config['ids'] }}", []any{"a", "b"}},
		{"{{ config['ids'] | join(',') }}", "a,b"},
		{"{{ config['missing'] }}", nil},
		{"{{ config.get('missing', 'dflt') }}", "dflt"},
		{"{{ config['empty'] or '1970-01-01T00:00:00Z' }}", "1970-01-01T00:00:00Z"},
		{"{{ config['flag'] }}", false},
		{"{{ response.get('pagination', {}).get('next_page_token') }}", "abc"},
		{`{{ response.get("pagination", {}).get("nope", {}) }}`, map[string]any{}},
		{`{{ not response.get("pagination", {}).get("nope", {}) }}`, true},
		{"{{ response.paging.next }}", "http://x/n"},
		{"{{ response['items'] | length }}", int64(2)},
		{"{{ response['total'] > 30 }}", true},
		{"{{ response.has_more }}", true},
		{"{{ 'next' not in headers['link'] }}", false},
		{"{{ 'next' in headers['link'] }}", true},
		{"{{ headers['link']['next']['url'] }}", "http://x/2"},
		{"{{ record['uri'].split('/')[-1] }}", "c-9"},
		{"{{ record['uri'] | regex_search('/([a-z0-9-]*)$') }}", "c-9"},
		{"{{ record['uri'].replace('https', 'h') }}", "h://a/b/c-9"},
		{"{{ 500 if not next_page_token }}", int64(500)},
		{"{{ last_record['meta']['page']['after'] if last_record else None }}", "z"},
		{"{{ last_record.id }}", int64(9)},
		{"{{ 'gte|' ~ stream_interval['start_time'] ~ '|lte|' ~ stream_interval['end_time'] }}", "gte|2024-01-01|lte|2024-01-31"},
		{"{{ stream_partition.parent_id }}", int64(42)},
		{"{{ stream_slice['start_time'] }}", "2024-01-01"},
		{"{{ parameters['name'] }}", "users"},
		{"{{ parameters.path }}/list", "/v1/users/list"},
		{"{{ 'a' ~ 1 }}", "a1"},
		{"{{ 'ab' * 2 }}", "abab"},
		{"{{ [1, 2] + [3] }}", []any{int64(1), int64(2), int64(3)}},
		{"{{ True }}", true},
		{"{{ None }}", nil},
		{"{{ 'abc'.startswith('a') }}", true},
		{"{{ config['start_date'][:4] }}", int64(2024)},
		{"{{ config['api_key'] | b64encode }}", "aw=="},
		{"{{ config['api_key'] | base64encode }}", "aw=="},
		{"{{ 'aw==' | base64decode }}", "k"},
		{"{{ 'user:pass' | base64encode }}", "dXNlcjpwYXNz"},
		{"{{ 'x' | hash('md5') }}", "9dd4e461268c8034f5c8564e155c67a6"},
		{"{{ 'x' | hash('sha256', 'salt') }}", "1f1e3e4c9c4c0a7a04a5dba7f1fd9a2fe6c4d29c5dc34b3a3dc6db19d7da6a16"},
		{"{{ record | string }}", `{"id": 7, "price": 1.5, "updated": "2024-02-03T04:05:06Z", "uri": "https://a/b/c-9"}`},
		{"{{ 7 | string }}", "7"},
		{"{{ now_utc() }}", nil}, // replaced below: a datetime
		{"{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}", "2024-03-05T07:08:09Z"},
		{"{{ today_utc() }}", nil},
		{"{{ today_utc().strftime('%Y-%m-%d') }}", "2024-03-05"},
		{"{{ (now_utc() - duration('P1D')).strftime('%Y-%m-%d') }}", "2024-03-04"},
		{"{{ (now_utc() + duration('PT1H')).strftime('%H') }}", "08"}, // Python reads no int with a leading zero
		{"{{ day_delta(-1) }}", "2024-03-04T07:08:09.000000+0000"},
		{"{{ day_delta(1, format='%Y-%m-%d') }}", "2024-03-06"},
		{"{{ timestamp('2024-03-05T07:08:09Z') }}", int64(1709622489)},
		{"{{ timestamp(1709622489.7) }}", int64(1709622489)},
		{"{{ max(1, 3, 2) }}", int64(3)},
		{"{{ min([4, 2, 8]) }}", int64(2)},
		{"{{ max('2024-01-01', config['start_date']) }}", "2024-01-01T00:00:00Z"},
		{"{{ format_datetime(config['start_date'], '%Y-%m-%d') }}", "2024-01-01"},
		{"{{ format_datetime(config['start_date'], '%s') }}", int64(1704067200)},
		{"{{ format_datetime('01/02/2024', '%Y-%m-%d', '%d/%m/%Y') }}", "2024-02-01"},
		{"{{ format_datetime(now_utc(), '%ms') }}", int64(1709622489000)},
		{"{{ str_to_datetime('2024-01-14').strftime('%Y-%m-%dT%H:%M:%S%z') }}", "2024-01-14T00:00:00+0000"},
		{"{{ str_to_datetime(record.updated) > str_to_datetime(config.start_date) }}", true},
		{"{{ camel_case_to_snake_case('someField') }}", "some_field"},
		{"{% if config['n'] > 3 %}big{% else %}small{% endif %}", "big"},
		{"{{ config.n }}-{{ config.api_key }}", "5-k"},
		{"[{{ config.n }}, 2]", []any{int64(5), int64(2)}},
	} {
		got, err := e.Compile(c.tmpl)
		if err != nil {
			t.Errorf("%s: compile: %v", c.tmpl, err)
			continue
		}
		v, err := got.Eval(vars(t))
		if err != nil {
			t.Errorf("%s: %v", c.tmpl, err)
			continue
		}
		switch c.tmpl {
		case "{{ now_utc() }}":
			if d, ok := v.(interp.Datetime); !ok || !d.T.Equal(fixed) || interp.Str(d) != "2024-03-05 07:08:09+00:00" {
				t.Errorf("now_utc() = %#v", v)
			}
			continue
		case "{{ today_utc() }}":
			if d, ok := v.(interp.Datetime); !ok || !d.DateOnly || interp.Str(d) != "2024-03-05" {
				t.Errorf("today_utc() = %#v", v)
			}
			continue
		}
		if c.tmpl == "{{ 'x' | hash('sha256', 'salt') }}" {
			if s, ok := v.(string); !ok || len(s) != 64 {
				t.Errorf("sha256: %v", v)
			}
			continue
		}
		if !reflect.DeepEqual(v, c.want) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", c.tmpl, v, v, c.want, c.want)
		}
	}
}

func TestEvalBool(t *testing.T) {
	e := interp.New()
	for _, c := range []struct {
		tmpl string
		want bool
	}{
		{"{{ 'next' not in headers['link'] }}", false},
		{"{{ not response.get('pagination', {}).get('nope') }}", true},
		{"{{ response['items'] | length < 2 }}", false},
		{"{{ config['empty'] }}", false},
		{"{{ config['ids'] }}", true},
		{"{{ [] }}", false},
		{"{{ 0 }}", false},
		{"False", false},
		{"true", true},
		{"{{ record['id'] == 7 }}", true},
		{"{{ record.id > 100 }}", false},
	} {
		tp, err := e.Compile(c.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", c.tmpl, err)
		}
		got, err := tp.EvalBool(vars(t))
		if err != nil || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.tmpl, got, err, c.want)
		}
	}
}

// A hostile manifest's templates: each is refused at compile time or fails
// cleanly, never reading a file, looping or exhausting memory.
func TestHostileTemplates(t *testing.T) {
	e := interp.New()
	compileErr := []struct{ tmpl, want string }{
		{`{% include "/etc/hostname" %}`, "include"},
		{`{% import "x" as y %}`, "import"},
		{`{% extends "/etc/passwd" %}`, "extends"},
		{`{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}`, "macro"},
		{`{% for i in config.ids %}{{ i }}{% endfor %}`, "for"},
		{`{{ range(10000000) | list }}`, "'range'"},
		{`{{ lipsum(1000000) }}`, "'lipsum'"},
		{`{{ cycler }}`, "'cycler'"},
		{`{{ self }}`, "'self'"},
		{`{{ x | center(1000000000) }}`, "center"},
		{`{{ config.api_key | wordwrap(5) }}`, "wordwrap"},
		{"{{ " + strings.Repeat("a", interp.MaxTemplateBytes) + " }}", "limited"},
	}
	for _, c := range compileErr {
		_, err := e.Compile(c.tmpl)
		if err == nil || !errors.Is(err, interp.ErrTemplate) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: compile error %v, want one naming %q", c.tmpl, err, c.want)
		}
	}
	runtimeErr := []string{
		`{{ 'a' * 100000000000 }}`,
		`{{ config.api_key * 2000000 }}`,
		`{{ [1] * 100000000 }}`,
		`{{ 'a'.center(100000000) }}`,
		`{{ 'ab'.replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') * 30000 }}`,
		`{{ config.n % 0 }}`,
		`{{ 'a' - 1 }}`,
		`{{ duration('P1X') }}`,
		`{{ 'x' | hash('whirlpool') }}`,
		`{{ 'x' | regex_search('(?<=a)b') }}`,
	}
	for _, tmpl := range runtimeErr {
		tp, err := e.Compile(tmpl)
		if err != nil {
			continue // refused early is fine too
		}
		if _, err := tp.Eval(vars(t)); err == nil || !errors.Is(err, interp.ErrTemplate) {
			t.Errorf("%s: evaluated without an error (%v)", tmpl, err)
		}
	}
}

func TestUnknownNamesNamed(t *testing.T) {
	_, err := interp.New().Compile("{{ confg['x'] }} {{ foo }}")
	if err == nil || !strings.Contains(err.Error(), "'confg', 'foo'") {
		t.Fatalf("err = %v", err)
	}
}

func TestLiteralEval(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{"1", int64(1)}, {"-3", int64(-3)}, {"1.5", 1.5}, {"1e3", 1000.0}, {"1_000", int64(1000)},
		{"True", true}, {"False", false}, {"None", nil},
		{"'a'", "a"}, {`"b\n"`, "b\n"}, {`"""{"a": 1}"""`, `{"a": 1}`},
		{"[1, 'a', None]", []any{int64(1), "a", nil}}, {"(1,)", []any{int64(1)}},
		{"{'a': [1, 2], 'b': {'c': True}}", map[string]any{"a": []any{int64(1), int64(2)}, "b": map[string]any{"c": true}}},
		{"2024-01-01", "2024-01-01"}, {"007", "007"}, {"abc", "abc"}, {"Trueish", "Trueish"},
		{"[1, 2", "[1, 2"}, {"1 2", "1 2"}, {"", ""}, {"http://x", "http://x"},
	} {
		if got := interp.LiteralEval(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("LiteralEval(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func FuzzLiteralEval(f *testing.F) {
	for _, s := range []string{"1", "[1, {'a': None}]", `"""x"""`, "-1e5", "((((", "{'a':"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = interp.LiteralEval(s)
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{{ config['a'] }}", "{{ response.get('x', {}).get('y') }}", "{% if a %}x{% endif %}",
		"{{ 'a' * 3 }}", "{{ now_utc() - duration('P1D') }}", "{{ x | b64encode }}", "{{",
	} {
		f.Add(s)
	}
	e := interp.New()
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := e.Compile(s)
		if err != nil {
			if !errors.Is(err, interp.ErrTemplate) {
				t.Fatalf("compile error not ErrTemplate: %v", err)
			}
			return
		}
		if _, err := tp.Eval(interp.Vars{"config": map[string]any{"a": "1"}}); err != nil && !errors.Is(err, interp.ErrTemplate) {
			t.Fatalf("eval error not ErrTemplate: %v", err)
		}
	})
}

// Python keeps an escape it does not know: "\/" in a string literal is a
// backslash and a slash (calendly's manifest writes regex_search("\/(…)$")).
func TestPythonEscapes(t *testing.T) {
	e := interp.New()
	for tmpl, want := range map[string]string{
		`{{ record['uri'] | regex_search("\/([a-zA-Z0-9-]*)$") }}`: "c-9",
		`{{ "a\/b" }}`:       `a\/b`,
		`{{ 'it\'s' }}`:      "it's",
		`{{ "x" }}\/{{ 1 }}`: `x\/1`,
	} {
		tp, err := e.Compile(tmpl)
		if err != nil {
			t.Errorf("%s: %v", tmpl, err)
			continue
		}
		got, err := tp.Render(vars(t))
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", tmpl, got, err, want)
		}
	}
}
