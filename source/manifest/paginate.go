package manifest

import (
	"fmt"
	"net/url"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

// requestOption is where a RequestOption puts a value.
type requestOption struct {
	where string
	field *interp.Template
}

func (b *builder) requestOption(n node) *requestOption {
	if n.typ() == "RequestPath" {
		return &requestOption{where: "path"}
	}
	o := &requestOption{where: n.str("inject_into"), field: n.tmpl("field_name")}
	if o.field == nil {
		if fp := toStrings(n.m["field_path"]); len(fp) > 0 {
			o.field = b.compile(fp[len(fp)-1], n.path+".field_path")
		}
	}
	if o.field == nil {
		b.fail(n.path, "RequestOption", "needs field_name")
		return nil
	}
	switch o.where {
	case "request_parameter", "header", "body_data", "body_json":
	default:
		b.fail(n.path+".inject_into", "RequestOption", "%q is not one of request_parameter, header, body_data, body_json", o.where)
	}
	return o
}

func (o *requestOption) put(req *request, vars interp.Vars, value any) error {
	if o == nil || value == nil {
		return nil
	}
	field, err := o.field.Render(vars)
	if err != nil {
		return err
	}
	return req.inject(o.where, field, value)
}

// paginator walks the pages of one slice.
type paginator struct {
	none     bool
	tokenOpt *requestOption // nil with RequestPath
	path     bool           // the token is the next page's URL or path
	sizeOpt  *requestOption
	strategy strategy
	params   map[string]any
}

// strategy computes the next page token.
type strategy interface {
	// first returns the token of the first request, if it carries one.
	first() any
	// next returns the next token, or done.
	next(rt *run, last pageInfo) (any, bool, error)
	size() int64
}

type pageInfo struct {
	body       any
	headers    map[string]any
	lastRecord map[string]any
	count      int
	token      any
}

func (b *builder) paginator(n node) *paginator {
	switch n.typ() {
	case "NoPagination":
		return &paginator{none: true}
	case "DefaultPaginator":
	default:
		b.fail(n.path, n.typ(), "is not a paginator lakeport supports (DefaultPaginator, NoPagination)")
		return &paginator{none: true}
	}
	p := &paginator{params: n.params()}
	if o, ok := n.child("page_token_option"); ok {
		if o.typ() == "RequestPath" {
			p.path = true
		} else {
			p.tokenOpt = b.requestOption(o)
		}
	}
	if o, ok := n.child("page_size_option"); ok {
		p.sizeOpt = b.requestOption(o)
	}
	s, ok := n.child("pagination_strategy")
	if !ok {
		b.fail(n.path, "DefaultPaginator", "needs pagination_strategy")
		return &paginator{none: true}
	}
	params := s.params()
	switch s.typ() {
	case "CursorPagination":
		c := &cursorPagination{value: s.tmpl("cursor_value"), stop: s.tmpl("stop_condition"), pageSize: s.integer("page_size", 0), params: params}
		if c.value == nil {
			b.fail(s.path, "CursorPagination", "needs cursor_value")
		}
		p.strategy = c
	case "OffsetIncrement":
		p.strategy = &offsetIncrement{pageSize: s.integer("page_size", 0), injectFirst: s.boolean("inject_on_first_request", false)}
	case "PageIncrement":
		p.strategy = &pageIncrement{pageSize: s.integer("page_size", 0), start: s.integer("start_from_page", 0), injectFirst: s.boolean("inject_on_first_request", false)}
	default:
		b.fail(s.path, s.typ(), "is not a pagination strategy lakeport supports (CursorPagination, OffsetIncrement, PageIncrement)")
		return &paginator{none: true}
	}
	return p
}

// apply puts the page token and page size on a request.
func (p *paginator) apply(req *request, vars interp.Vars, token any) error {
	if p == nil || p.none {
		return nil
	}
	if p.sizeOpt != nil && p.strategy.size() > 0 {
		if err := p.sizeOpt.put(req, vars, p.strategy.size()); err != nil {
			return err
		}
	}
	if token != nil && p.tokenOpt != nil {
		return p.tokenOpt.put(req, vars, token)
	}
	return nil
}

// pageURL is the URL of the next request when the token is a path or URL
// (RequestPath); it must stay on the API's host.
func (p *paginator) pageURL(first *url.URL, token any) (string, error) {
	if p == nil || !p.path || token == nil {
		return "", nil
	}
	s := interp.Str(token)
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("next page %q is not a URL or path: %v", s, err)
	}
	next := first.ResolveReference(u)
	if next.Host != first.Host || next.Scheme != first.Scheme {
		return "", fmt.Errorf("the next page is on another host (%s, not %s): lakeport does not send the connector's credentials elsewhere", next.Host, first.Host)
	}
	return next.String(), nil
}

type cursorPagination struct {
	value, stop *interp.Template
	pageSize    int64
	params      map[string]any
}

func (c *cursorPagination) first() any  { return nil }
func (c *cursorPagination) size() int64 { return c.pageSize }

func (c *cursorPagination) next(rt *run, last pageInfo) (any, bool, error) {
	var lastRecord any
	if last.lastRecord != nil {
		lastRecord = last.lastRecord
	}
	vars := interp.Vars{
		"config": rt.config, "parameters": c.params, "response": last.body, "headers": last.headers,
		"last_record": lastRecord, "last_page_size": int64(last.count), "next_page_token": wrapToken(last.token),
	}
	if c.stop != nil {
		stop, err := c.stop.EvalBool(vars)
		if err != nil {
			return nil, true, fmt.Errorf("stop_condition: %w", err)
		}
		if stop {
			return nil, true, nil
		}
	}
	v, err := c.value.Eval(vars)
	if err != nil {
		return nil, true, fmt.Errorf("cursor_value: %w", err)
	}
	if v == nil || v == "" || !interp.Truthy(v) && v != int64(0) {
		return nil, true, nil
	}
	return v, false, nil
}

func wrapToken(t any) any {
	if t == nil {
		return nil
	}
	return map[string]any{"next_page_token": t}
}

type offsetIncrement struct {
	pageSize    int64
	injectFirst bool
}

func (o *offsetIncrement) first() any {
	if o.injectFirst {
		return int64(0)
	}
	return nil
}
func (o *offsetIncrement) size() int64 { return o.pageSize }

func (o *offsetIncrement) next(_ *run, last pageInfo) (any, bool, error) {
	if last.count == 0 || (o.pageSize > 0 && int64(last.count) < o.pageSize) {
		return nil, true, nil
	}
	cur, _ := last.token.(int64)
	return cur + int64(last.count), false, nil
}

type pageIncrement struct {
	pageSize, start int64
	injectFirst     bool
}

func (p *pageIncrement) first() any {
	if p.injectFirst {
		return p.start
	}
	return nil
}
func (p *pageIncrement) size() int64 { return p.pageSize }

func (p *pageIncrement) next(_ *run, last pageInfo) (any, bool, error) {
	if last.count == 0 || (p.pageSize > 0 && int64(last.count) < p.pageSize) {
		return nil, true, nil
	}
	cur, ok := last.token.(int64)
	if !ok {
		cur = p.start
	}
	return cur + 1, false, nil
}
