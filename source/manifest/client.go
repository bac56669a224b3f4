package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Options tune how a manifest source reaches its API. The zero value works.
type Options struct {
	// DialContext dials the API; the operator's outbound address rules
	// (no loopback, private or link-local addresses unless allowed) plug in
	// here. Nil uses a plain dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Transport, when set, replaces the HTTP transport (DialContext is then
	// not used).
	Transport http.RoundTripper
	// Timeout bounds one request (default 60s).
	Timeout time.Duration
	// RequestsPerSecond caps the request rate of one source when its
	// manifest has no api_budget (default 10).
	RequestsPerSecond float64
	// MaxRetries caps the retries of one request when the manifest says
	// nothing (default 5).
	MaxRetries int
	// BackoffBase is the first wait of the default exponential backoff
	// (default 5s, as in the CDK: 5s, 10s, 20s…).
	BackoffBase time.Duration
	// MaxWait caps any one wait, Retry-After included (default 10 minutes).
	MaxWait time.Duration
	// UserAgent is sent with every request (default "lakeport (manifest source)").
	UserAgent string
	// MaxResponseBytes bounds one response body (default 64 MiB).
	MaxResponseBytes int64
	// ManifestDir, for a manifest the operator published, is the folder
	// JsonFileSchemaLoader reads schemas from. Empty for tenants' manifests:
	// they cannot name files.
	ManifestDir string
	// Now is the clock (tests fix it).
	Now func() time.Time
	// Sleep waits (tests may shorten it); it returns early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = 10
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 5 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 10 * time.Minute
	}
	if o.UserAgent == "" {
		o.UserAgent = "lakeport (manifest source; +https://github.com/lakeport/lakeport)"
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	return o
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// client is the one HTTP client of a source: timeouts, a rate limit, a
// User-Agent, and the operator's dialer.
type client struct {
	http  *http.Client
	opts  Options
	limit *limiter
}

func newClient(o Options, rate float64) *client {
	tr := o.Transport
	if tr == nil {
		dial := o.DialContext
		if dial == nil {
			dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		}
		tr = &http.Transport{
			Proxy:                 nil, // a tenant's requests never go through the server's proxy settings
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: o.Timeout,
		}
	}
	return &client{
		http: &http.Client{
			Transport: tr,
			Timeout:   o.Timeout,
			// Redirects stay on the API's own host: a redirect elsewhere
			// would carry the tenant's credentials to another server.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("stopped after 5 redirects")
				}
				if req.URL.Host != via[0].URL.Host {
					return fmt.Errorf("refused a redirect from %s to another host (%s)", via[0].URL.Host, req.URL.Host)
				}
				return nil
			},
		},
		opts:  o,
		limit: newLimiter(rate, o.Now),
	}
}

// do sends one request (after waiting for the rate limit) and reads its
// body, bounded.
func (c *client) do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	if err := c.limit.wait(ctx, c.opts.Sleep); err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return resp, nil, err
	}
	if int64(len(body)) > c.opts.MaxResponseBytes {
		return resp, nil, fmt.Errorf("the response of %s is larger than %d bytes", redactURL(req.URL), c.opts.MaxResponseBytes)
	}
	return resp, body, nil
}

// limiter spaces requests evenly at a given rate.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	now      func() time.Time
}

func newLimiter(perSecond float64, now func() time.Time) *limiter {
	return &limiter{interval: time.Duration(float64(time.Second) / perSecond), now: now}
}

func (l *limiter) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	l.mu.Lock()
	now := l.now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}

// redactURL drops the query (it may hold an API key) from a URL for messages.
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}
