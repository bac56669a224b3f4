// Package faults is a fault-injecting HTTP proxy for tests: put it in front of an S3
// server (versitygw, see package s3test) and it answers chosen requests with HTTP 500,
// 503 SlowDown, a connection reset in the middle of the body, a truncated body, or
// added latency, by request count and by object key pattern. Everything else passes
// through unchanged (the Host header too, so SigV4 signatures still verify).
package faults

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Kind is what a fault does.
type Kind int

const (
	// InternalError answers 500 InternalError without reaching the server.
	InternalError Kind = iota + 1
	// SlowDown answers 503 SlowDown without reaching the server.
	SlowDown
	// ResetMidBody cuts the connection (TCP RST) halfway through: through the
	// request body of an upload (the server sees nothing), or through the response
	// body of a download (after the server answered).
	ResetMidBody
	// Truncate sends the server's headers, Content-Length included, and only half
	// its response body, then closes the connection.
	Truncate
	// Latency waits Rule.Delay, then passes the request through.
	Latency
)

func (k Kind) String() string {
	return [...]string{"", "500 InternalError", "503 SlowDown", "connection reset mid-body", "truncated response", "latency"}[k]
}

// Rule picks requests and the fault they get.
type Rule struct {
	Kind Kind
	// Method matches the HTTP method ("" any).
	Method string
	// Key matches the request's object key (the path after the bucket) as a regular
	// expression ("" any).
	Key string
	// After skips the first After matching requests; Times then faults that many
	// (0: every one after).
	After, Times int
	// Delay is the Latency fault's wait.
	Delay time.Duration

	key  *regexp.Regexp
	seen int
	hits int
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is the proxy's base URL, to use as the S3 endpoint.
	URL string

	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	ln     net.Listener

	mu       sync.Mutex
	rules    []*Rule
	requests int
	faulted  map[Kind]int
}

// Start starts a proxy in front of target (a base URL such as http://127.0.0.1:9000) on
// a free loopback port.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faults: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: listen: %w", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), target: u, ln: ln, faulted: map[Kind]int{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the signature covers the Host the client used
		},
		Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 16},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln) //nolint:errcheck // ends with Close
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// Set replaces the rules; nil or none lets every request through.
func (p *Proxy) Set(rules ...Rule) error {
	rs := make([]*Rule, 0, len(rules))
	for i := range rules {
		r := rules[i]
		if r.Key != "" {
			re, err := regexp.Compile(r.Key)
			if err != nil {
				return fmt.Errorf("faults: rule %d key %q: %w", i, r.Key, err)
			}
			r.key = re
		}
		rs = append(rs, &r)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = rs
	return nil
}

// Faulted returns how many requests got each kind of fault so far.
func (p *Proxy) Faulted() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.faulted))
	for k, v := range p.faulted {
		out[k] = v
	}
	return out
}

// Requests returns how many requests the proxy received.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// objectKey is the key of a path-style request: /bucket/key → key.
func objectKey(path string) string {
	path = strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return ""
}

// pick returns the fault for r, if a rule takes it.
func (p *Proxy) pick(r *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	key := objectKey(r.URL.Path)
	for _, rule := range p.rules {
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if rule.key != nil && !rule.key.MatchString(key) {
			continue
		}
		rule.seen++
		if rule.seen <= rule.After || (rule.Times > 0 && rule.hits >= rule.Times) {
			continue
		}
		rule.hits++
		p.faulted[rule.Kind]++
		return rule
	}
	return nil
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rule := p.pick(r)
	if rule == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	switch rule.Kind {
	case InternalError:
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case SlowDown:
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case Latency:
		time.Sleep(rule.Delay)
		p.rp.ServeHTTP(w, r)
	case ResetMidBody:
		if r.ContentLength > 0 {
			io.CopyN(io.Discard, r.Body, r.ContentLength/2) //nolint:errcheck // cut anyway
			reset(w)
			return
		}
		p.relayCut(w, r, true)
	case Truncate:
		p.relayCut(w, r, false)
	}
}

// relayCut passes r to the server and relays half of the answer's body, then resets
// the connection (rst) or closes it.
func (p *Proxy) relayCut(w http.ResponseWriter, r *http.Request, rst bool) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(rec.code)
	w.Write(body[:len(body)/2]) //nolint:errcheck // cut anyway
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if rst {
		reset(w)
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // best effort: a plain close still cuts
	}
	conn.Close()
}

func s3Error(w http.ResponseWriter, code int, s3code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>fault</RequestId></Error>`, s3code, msg)
}

// recorder keeps a whole answer to relay part of it.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
