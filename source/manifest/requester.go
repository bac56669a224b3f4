package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/source/manifest/interp"
)

// requester builds and sends the HTTP requests of one retriever.
type requester struct {
	path                  string
	urlBase, urlPath, url *interp.Template
	method                string
	params, headers       any // map[string]any of templates, or one template yielding a mapping
	bodyJSON, bodyData    any
	auth                  authenticator
	errors                errorHandler
	decoder               string
	parameters            map[string]any
}

func (b *builder) requester(n node) *requester {
	if n.typ() != "HttpRequester" {
		b.fail(n.path, n.typ(), "a requester must be an HttpRequester")
		return nil
	}
	r := &requester{path: n.path, parameters: n.params(), method: strings.ToUpper(n.str("http_method"))}
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.method != http.MethodGet && r.method != http.MethodPost {
		b.fail(document.Path(n.path, "http_method"), "HttpRequester", "is %s; the CDK allows GET and POST", r.method)
	}
	r.urlBase, r.urlPath, r.url = n.tmpl("url_base"), n.tmpl("path"), n.tmpl("url")
	if r.urlBase == nil && r.url == nil && n.m["url_base"] == nil && n.m["url"] == nil {
		b.fail(n.path, "HttpRequester", "has neither url_base nor url")
	}
	r.params = b.requestMap(n, "request_parameters")
	r.headers = b.requestMap(n, "request_headers")
	if v, ok := n.m["request_body_json"]; ok && v != nil {
		r.bodyJSON = b.value(v, document.Path(n.path, "request_body_json"))
	}
	if v, ok := n.m["request_body_data"]; ok && v != nil {
		r.bodyData = b.value(v, document.Path(n.path, "request_body_data"))
	}
	if a, ok := n.child("authenticator"); ok {
		r.auth = b.authenticator(a)
	}
	if r.auth == nil {
		r.auth = noAuth{}
	}
	if eh, ok := n.child("error_handler"); ok {
		r.errors = b.errorHandler(eh)
	} else {
		r.errors = &defaultErrorHandler{maxRetries: -1}
	}
	return r
}

func (b *builder) requestMap(n node, key string) any {
	v, ok := n.m[key]
	if !ok || v == nil {
		return nil
	}
	return b.value(v, document.Path(n.path, key))
}

// request is one request being built: where it goes and what it carries.
type request struct {
	url     *url.URL
	query   url.Values
	headers http.Header
	json    map[string]any
	form    url.Values
	rawBody string
}

// vars are the interpolation variables of one request.
type reqVars struct {
	config    map[string]any
	slice     map[string]any
	token     any // the next page token, nil for the first page
	state     map[string]any
	params    map[string]any
	fullToken bool
}

func (v reqVars) interp(params map[string]any) interp.Vars {
	var tok any
	if v.token != nil {
		tok = map[string]any{"next_page_token": v.token}
	}
	state := any(v.state)
	if v.state == nil {
		state = map[string]any{}
	}
	slice := any(v.slice)
	if v.slice == nil {
		slice = map[string]any{}
	}
	return interp.Vars{"config": v.config, "parameters": params, "stream_slice": slice, "next_page_token": tok, "stream_state": state}
}

// evalTree evaluates the templates inside a tree built by builder.value.
func evalTree(v any, vars interp.Vars) (any, error) {
	switch x := v.(type) {
	case *interp.Template:
		if x == nil {
			return nil, nil
		}
		return x.Eval(vars)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ev, err := evalTree(e, vars)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ev, err := evalTree(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	}
	return v, nil
}

// evalOptions evaluates request_parameters or request_headers to a flat
// mapping of strings, dropping empty values as the CDK does.
func evalOptions(v any, vars interp.Vars, what string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	ev, err := evalTree(v, vars)
	if err != nil {
		return nil, err
	}
	if s, ok := ev.(string); ok { // a whole-mapping template that did not read as a mapping
		return nil, fmt.Errorf("%s: %q is not a mapping", what, s)
	}
	m, ok := ev.(map[string]any)
	if !ok {
		if ev == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("%s must be a mapping", what)
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if e == nil {
			continue
		}
		s := optionString(e)
		if s == "" {
			continue
		}
		out[k] = s
	}
	return out, nil
}

// optionString writes a value as a query parameter or header value.
func optionString(v any) string {
	switch x := v.(type) {
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return interp.Str(v)
}

// build assembles the request for one page.
func (r *requester) build(v reqVars, pageURL string) (*request, error) {
	vars := v.interp(r.parameters)
	var target string
	switch {
	case pageURL != "":
		target = pageURL
	case r.url != nil:
		s, err := r.url.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("%s.url: %w", r.path, err)
		}
		target = s
	default:
		base, err := renderOrEmpty(r.urlBase, vars)
		if err != nil {
			return nil, fmt.Errorf("%s.url_base: %w", r.path, err)
		}
		p, err := renderOrEmpty(r.urlPath, vars)
		if err != nil {
			return nil, fmt.Errorf("%s.path: %w", r.path, err)
		}
		target = joinURL(base, p)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http(s) URL", r.path, target)
	}
	req := &request{url: u, query: u.Query(), headers: http.Header{}}
	u.RawQuery = ""
	params, err := evalOptions(r.params, vars, "request_parameters")
	if err != nil {
		return nil, fmt.Errorf("%s.%w", r.path, err)
	}
	for k, val := range params {
		if _, inURL := req.query[k]; !inURL {
			req.query.Set(k, val)
		}
	}
	headers, err := evalOptions(r.headers, vars, "request_headers")
	if err != nil {
		return nil, fmt.Errorf("%s.%w", r.path, err)
	}
	for k, val := range headers {
		req.headers.Set(k, val)
	}
	if r.bodyJSON != nil {
		ev, err := evalTree(r.bodyJSON, vars)
		if err != nil {
			return nil, fmt.Errorf("%s.request_body_json: %w", r.path, err)
		}
		m, ok := ev.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.request_body_json must be a mapping", r.path)
		}
		req.json = dropEmpty(m)
	}
	if r.bodyData != nil {
		ev, err := evalTree(r.bodyData, vars)
		if err != nil {
			return nil, fmt.Errorf("%s.request_body_data: %w", r.path, err)
		}
		switch x := ev.(type) {
		case map[string]any:
			req.form = url.Values{}
			for k, e := range x {
				if s := optionString(e); s != "" {
					req.form.Set(k, s)
				}
			}
		default:
			req.rawBody = interp.Str(x)
		}
	}
	return req, nil
}

func dropEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == nil || v == "" {
			delete(m, k)
		}
	}
	return m
}

func renderOrEmpty(t *interp.Template, vars interp.Vars) (string, error) {
	if t == nil {
		return "", nil
	}
	return t.Render(vars)
}

// joinURL joins url_base and path as the CDK does: one slash between them;
// a path that is a whole URL is used as it is.
func joinURL(base, path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if path == "" {
		return base
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

// inject places a value where a RequestOption says.
func (req *request) inject(where, field string, value any) error {
	s := optionString(value)
	switch where {
	case "request_parameter", "":
		req.query.Set(field, s)
	case "header":
		req.headers.Set(field, s)
	case "body_data":
		if req.form == nil {
			req.form = url.Values{}
		}
		req.form.Set(field, s)
	case "body_json":
		if req.json == nil {
			req.json = map[string]any{}
		}
		req.json[field] = value
	default:
		return fmt.Errorf("inject_into %q is not one of request_parameter, header, body_data, body_json", where)
	}
	return nil
}

func (req *request) httpRequest(method string) (*http.Request, error) {
	u := *req.url
	u.RawQuery = req.query.Encode()
	var body []byte
	contentType := ""
	switch {
	case req.json != nil:
		var err error
		if body, err = json.Marshal(req.json); err != nil {
			return nil, err
		}
		contentType = "application/json"
	case req.form != nil:
		body = []byte(req.form.Encode())
		contentType = "application/x-www-form-urlencoded"
	case req.rawBody != "":
		body = []byte(req.rawBody)
	}
	hr, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, vs := range req.headers {
		hr.Header[k] = vs
	}
	if contentType != "" && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", contentType)
	}
	hr.Header.Set("Accept", "application/json")
	return hr, nil
}

// page is one response, decoded.
type page struct {
	status  int
	body    any
	raw     []byte
	headers map[string]any
	ignored bool
}

// HTTPError is a response the manifest's error handling fails on.
type HTTPError struct {
	Status  int
	URL     string
	Message string
	Body    string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s answered HTTP %d", e.URL, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		msg += " (the API refused the credentials: check the config's API key or token)"
	case e.Status == http.StatusForbidden:
		msg += " (the credentials lack a permission or scope this stream needs)"
	}
	if e.Body != "" {
		msg += "; response: " + e.Body
	}
	return msg
}

// send sends one page's request, with the manifest's error handling:
// retries with backoff, a token refresh, or ignoring the response.
func (r *requester) send(ctx context.Context, rt *run, v reqVars, pageURL string, extra func(*request) error) (*page, error) {
	var last error
	for attempt := 0; ; attempt++ {
		req, err := r.build(v, pageURL)
		if err != nil {
			return nil, err
		}
		if extra != nil {
			if err := extra(req); err != nil {
				return nil, err
			}
		}
		if err := r.auth.apply(ctx, rt, req); err != nil {
			return nil, err
		}
		hr, err := req.httpRequest(r.method)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.path, err)
		}
		rt.requests.Add(1)
		resp, body, err := rt.client.do(ctx, hr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = fmt.Errorf("request to %s: %w", redactURL(hr.URL), err)
			if netguard.IsBlocked(err) || attempt >= r.errors.retries(rt) {
				return nil, last
			}
			if err := rt.client.opts.Sleep(ctx, rt.backoff(attempt, 0)); err != nil {
				return nil, err
			}
			continue
		}
		pg := &page{status: resp.StatusCode, raw: body, headers: headerMap(resp.Header)}
		pg.body = decodeBody(body, r.decoder)
		out := r.errors.interpret(rt, pg, attempt)
		switch out.action {
		case actionSuccess:
			return pg, nil
		case actionIgnore:
			pg.ignored = true
			return pg, nil
		case actionRefresh:
			r.auth.invalidate(rt)
			fallthrough
		case actionRetry, actionRateLimited:
			httpErr := &HTTPError{Status: resp.StatusCode, URL: redactURL(hr.URL), Message: out.message, Body: snippet(body)}
			if attempt >= r.errors.retries(rt) {
				return nil, fmt.Errorf("%w (gave up after %d retries)", httpErr, attempt)
			}
			wait := out.wait
			if wait <= 0 {
				wait = retryAfter(resp.Header, rt.client.opts.Now())
			}
			if wait <= 0 {
				wait = rt.backoff(attempt, 0)
			}
			if wait > rt.client.opts.MaxWait {
				wait = rt.client.opts.MaxWait
			}
			if err := rt.client.opts.Sleep(ctx, wait); err != nil {
				return nil, err
			}
			last = httpErr
			continue
		default:
			return nil, &HTTPError{Status: resp.StatusCode, URL: redactURL(hr.URL), Message: out.message, Body: snippet(body)}
		}
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func decodeBody(b []byte, decoder string) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if decoder == "JsonlDecoder" {
		var out []any
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if v, err := decodeJSON(line); err == nil {
				out = append(out, v)
			}
		}
		return out
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return interp.Normalize(v), nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>\s*((?:;\s*[^;,]+)*)`)

// headerMap gives templates the response headers as the CDK does: any
// spelling of a name finds it, and "link" is the parsed Link header
// (headers['link']['next']['url']).
func headerMap(h http.Header) map[string]any {
	m := make(map[string]any, 2*len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		m[k] = v
		m[strings.ToLower(k)] = v
	}
	links := map[string]any{}
	for _, l := range h.Values("Link") {
		for _, match := range linkRE.FindAllStringSubmatch(l, -1) {
			entry := map[string]any{"url": match[1]}
			for _, p := range strings.Split(match[2], ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok {
					entry[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
			if rel, ok := entry["rel"].(string); ok {
				for _, r := range strings.Fields(rel) {
					links[r] = entry
				}
			}
		}
	}
	m["link"] = links
	m["Link"] = links
	return m
}
