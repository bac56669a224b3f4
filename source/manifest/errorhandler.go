package manifest

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

type action int

const (
	actionSuccess action = iota
	actionRetry
	actionRateLimited
	actionFail
	actionIgnore
	actionRefresh
)

type outcome struct {
	action  action
	message string
	wait    time.Duration // from the manifest's backoff strategy; 0 for the default
}

// errorHandler decides what a response means.
type errorHandler interface {
	interpret(rt *run, pg *page, attempt int) outcome
	retries(rt *run) int
}

type responseFilter struct {
	action        action
	codes         map[int]bool
	contains      string
	predicate     *interp.Template
	message       *interp.Template
	matchedByCode bool
}

type defaultErrorHandler struct {
	filters    []responseFilter
	backoff    []backoffStrategy
	maxRetries int // -1: the source's default
	params     map[string]any
}

type compositeErrorHandler struct{ handlers []errorHandler }

func (b *builder) errorHandler(n node) errorHandler {
	switch n.typ() {
	case "CompositeErrorHandler":
		c := &compositeErrorHandler{}
		for _, h := range n.children("error_handlers") {
			if x := b.errorHandler(h); x != nil {
				c.handlers = append(c.handlers, x)
			}
		}
		return c
	case "DefaultErrorHandler":
		h := &defaultErrorHandler{maxRetries: int(n.integer("max_retries", -1)), params: n.params()}
		for _, f := range n.children("response_filters") {
			rf := responseFilter{codes: map[int]bool{}, contains: f.str("error_message_contains"), predicate: f.tmpl("predicate"), message: f.tmpl("error_message")}
			switch strings.ToUpper(f.str("action")) {
			case "RETRY":
				rf.action = actionRetry
			case "RATE_LIMITED":
				rf.action = actionRateLimited
			case "FAIL", "":
				rf.action = actionFail
			case "IGNORE":
				rf.action = actionIgnore
			case "SUCCESS":
				rf.action = actionSuccess
			case "REFRESH_TOKEN_THEN_RETRY":
				rf.action = actionRefresh
			default:
				b.fail(f.path+".action", "HttpResponseFilter", "%q is not an action (RETRY, FAIL, IGNORE, RATE_LIMITED, REFRESH_TOKEN_THEN_RETRY, SUCCESS)", f.str("action"))
			}
			if l, ok := f.m["http_codes"].([]any); ok {
				for _, c := range l {
					if i, err := strconv.Atoi(interp.Str(c)); err == nil {
						rf.codes[i] = true
					}
				}
			}
			h.filters = append(h.filters, rf)
		}
		for _, s := range n.children("backoff_strategies") {
			if x := b.backoff(s); x != nil {
				h.backoff = append(h.backoff, x)
			}
		}
		return h
	}
	b.fail(n.path, n.typ(), "is not an error handler lakeport supports (DefaultErrorHandler, CompositeErrorHandler)")
	return nil
}

func (h *defaultErrorHandler) retries(rt *run) int {
	if h.maxRetries >= 0 {
		return h.maxRetries
	}
	return rt.client.opts.MaxRetries
}

func (h *defaultErrorHandler) interpret(rt *run, pg *page, attempt int) outcome {
	vars := interp.Vars{"config": rt.config, "parameters": h.params, "response": pg.body, "headers": pg.headers}
	for _, f := range h.filters {
		matched := false
		if len(f.codes) > 0 && f.codes[pg.status] {
			matched = true
		}
		if f.contains != "" && strings.Contains(string(pg.raw), f.contains) {
			matched = true
		}
		if f.predicate != nil {
			if ok, err := f.predicate.EvalBool(vars); err == nil && ok {
				matched = true
			}
		}
		if !matched {
			continue
		}
		o := outcome{action: f.action}
		if f.message != nil {
			o.message, _ = f.message.Render(vars)
		}
		if o.action == actionRetry || o.action == actionRateLimited || o.action == actionRefresh {
			o.wait = h.wait(rt, pg, attempt)
		}
		return o
	}
	// The CDK's defaults: 2xx succeed, 429 is rate limiting, 5xx are
	// retried, other 4xx fail.
	switch {
	case pg.status >= 200 && pg.status < 300:
		return outcome{action: actionSuccess}
	case pg.status == 429:
		return outcome{action: actionRateLimited, wait: h.wait(rt, pg, attempt)}
	case pg.status >= 500:
		return outcome{action: actionRetry, wait: h.wait(rt, pg, attempt)}
	}
	return outcome{action: actionFail}
}

// wait asks the backoff strategies in order; the first with an answer wins.
func (h *defaultErrorHandler) wait(rt *run, pg *page, attempt int) time.Duration {
	for _, s := range h.backoff {
		if d, ok := s.wait(rt, pg, attempt); ok {
			return d
		}
	}
	return 0
}

func (c *compositeErrorHandler) interpret(rt *run, pg *page, attempt int) outcome {
	var last outcome
	for _, h := range c.handlers {
		last = h.interpret(rt, pg, attempt)
		if last.action != actionSuccess || (pg.status >= 200 && pg.status < 300) {
			return last
		}
	}
	return last
}

func (c *compositeErrorHandler) retries(rt *run) int {
	best := 0
	for _, h := range c.handlers {
		if r := h.retries(rt); r > best {
			best = r
		}
	}
	return best
}

type backoffStrategy interface {
	wait(rt *run, pg *page, attempt int) (time.Duration, bool)
}

type constantBackoff struct{ seconds float64 }

func (c constantBackoff) wait(*run, *page, int) (time.Duration, bool) {
	return time.Duration(c.seconds * float64(time.Second)), true
}

type exponentialBackoff struct{ factor float64 }

func (e exponentialBackoff) wait(_ *run, _ *page, attempt int) (time.Duration, bool) {
	return time.Duration(e.factor * math.Pow(2, float64(attempt)) * float64(time.Second)), true
}

type headerBackoff struct {
	header string
	re     *regexp.Regexp
	max    float64
	until  bool // WaitUntilTimeFromHeader: the header is an epoch time
	min    float64
}

func (h headerBackoff) wait(rt *run, pg *page, _ int) (time.Duration, bool) {
	v, _ := pg.headers[strings.ToLower(h.header)].(string)
	if v == "" {
		return 0, false
	}
	if h.re != nil {
		m := h.re.FindStringSubmatch(v)
		if m == nil {
			return 0, false
		}
		v = m[len(m)-1]
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, false
	}
	if h.until {
		f -= float64(rt.client.opts.Now().UnixNano()) / 1e9
		if f < h.min {
			f = h.min
		}
	}
	if h.max > 0 && f > h.max {
		return 0, false // the CDK gives up waiting past its maximum
	}
	if f < 0 {
		f = 0
	}
	return time.Duration(f * float64(time.Second)), true
}

func (b *builder) backoff(n node) backoffStrategy {
	num := func(key string, def float64) float64 {
		switch v := n.m[key].(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		case string:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
			if t := n.tmpl(key); t != nil && !t.Static() {
				b.fail(n.path+"."+key, n.typ(), "lakeport needs a number here, not a template")
			}
		}
		return def
	}
	switch n.typ() {
	case "ConstantBackoffStrategy":
		return constantBackoff{seconds: num("backoff_time_in_seconds", 5)}
	case "ExponentialBackoffStrategy":
		return exponentialBackoff{factor: num("factor", 5)}
	case "WaitTimeFromHeader", "WaitUntilTimeFromHeader":
		h := headerBackoff{header: n.str("header"), max: num("max_waiting_time_in_seconds", 0), until: n.typ() == "WaitUntilTimeFromHeader", min: num("min_wait", 0)}
		if r := n.str("regex"); r != "" {
			re, err := regexp.Compile(r)
			if err != nil {
				b.fail(n.path+".regex", n.typ(), "%v", err)
				return nil
			}
			h.re = re
		}
		if h.header == "" {
			b.fail(n.path, n.typ(), "needs header")
			return nil
		}
		return h
	}
	b.fail(n.path, n.typ(), "is not a backoff strategy lakeport supports")
	return nil
}
