package objstore_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/objstore/objtest"
	"github.com/lakeport/lakeport/s3test"
)

// proxy sits between an S3 client and versitygw: it records requests and
// can answer some itself (faults).
type proxy struct {
	*httptest.Server

	mu   sync.Mutex
	reqs []*http.Request
	// intercept, when it returns true, has answered the request itself.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newProxy(t *testing.T, s *s3test.Server) *proxy {
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the signature covers the Host header
	}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Clone(r.Context()))
		icpt := p.intercept
		p.mu.Unlock()
		if icpt != nil && icpt(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// count returns how many requests had the method and query parameter.
func (p *proxy) count(method, query string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.reqs {
		if r.Method == method && (query == "" || r.URL.Query().Has(query)) {
			n++
		}
	}
	return n
}

func (p *proxy) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

func (p *proxy) client(s *s3test.Server) *s3.Client {
	return s3.New(s.Client().Options(), func(o *s3.Options) { o.BaseEndpoint = &p.URL })
}

func TestS3DeleteUsesDeleteObjectsInChunks(t *testing.T) {
	s := s3test.Shared(t)
	p := newProxy(t, s)
	b := objstore.NewS3(p.client(s), s.NewBucket(t, "chunks"), "", "")
	keys := make([]string, 2001)
	for i := range keys {
		keys[i] = "gone/k" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
	}
	if err := b.Delete(t.Context(), keys...); err != nil {
		t.Fatal(err)
	}
	if n := p.count(http.MethodPost, "delete"); n != 3 {
		t.Errorf("%d DeleteObjects calls for %d keys, want 3", n, len(keys))
	}
	if n := p.count(http.MethodDelete, ""); n != 0 {
		t.Errorf("%d single DeleteObject calls, want none", n)
	}
}

func TestS3DeleteFallsBackWithoutDeleteObjects(t *testing.T) {
	s := s3test.Shared(t)
	p := newProxy(t, s)
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !r.URL.Query().Has("delete") {
			return false
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotImplemented)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>` +
			`<Message>A header you provided implies functionality that is not implemented</Message><RequestId>r1</RequestId></Error>`))
		return true
	}
	bucket := s.NewBucket(t, "fallback")
	b := objstore.NewS3(p.client(s), bucket, "", "")
	objtest.MustPut(t, b, "x", "ns/a", "ns/b", "ns/c", "keep")

	if err := b.Delete(t.Context(), "ns/a", "ns/b", "ns/missing"); err != nil {
		t.Fatalf("delete without DeleteObjects: %v", err)
	}
	if err := b.Delete(t.Context(), "ns/c"); err != nil {
		t.Fatal(err)
	}
	if got := objtest.Keys(t, b, ""); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("left %q, want only keep", got)
	}
	if n := p.count(http.MethodPost, "delete"); n != 1 {
		t.Errorf("DeleteObjects tried %d times, want once (then remembered as missing)", n)
	}
	if n := p.count(http.MethodDelete, ""); n != 4 {
		t.Errorf("%d single deletes, want 4", n)
	}
}

func TestS3PutSendsSSEKMS(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	s := s3test.Shared(t)
	p := newProxy(t, s)
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		w.WriteHeader(http.StatusOK) // versitygw has no KMS: answer as S3 would
		return true
	}
	bucket := s.NewBucket(t, "kms")
	for _, kms := range []string{key, ""} {
		b := objstore.NewS3(p.client(s), bucket, "", kms)
		if err := b.Put(t.Context(), "x", []byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	var puts []*http.Request
	for _, r := range p.requests() {
		if r.Method == http.MethodPut {
			puts = append(puts, r)
		}
	}
	if len(puts) != 2 {
		t.Fatalf("%d PUTs, want 2", len(puts))
	}
	if h := puts[0].Header; h.Get("X-Amz-Server-Side-Encryption") != "aws:kms" || h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") != key {
		t.Errorf("put with a KMS key sent SSE headers %q, %q", h.Get("X-Amz-Server-Side-Encryption"), h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	}
	if h := puts[1].Header; h.Get("X-Amz-Server-Side-Encryption") != "" {
		t.Errorf("put without a KMS key sent SSE header %q", h.Get("X-Amz-Server-Side-Encryption"))
	}
}

func TestS3PrefixKeepsToItself(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "prefix")
	whole := objstore.NewS3(s.Client(), bucket, "", "")
	org := objstore.NewS3(s.Client(), bucket, "/org-1/", "")
	if got, want := org.Location(), "s3://"+bucket+"/org-1"; got != want {
		t.Errorf("location %q, want %q", got, want)
	}
	if got, want := whole.Location(), "s3://"+bucket; got != want {
		t.Errorf("location %q, want %q", got, want)
	}
	objtest.MustPut(t, whole, "outside", "crm/a", "org-10/crm/a", "org-1.json")
	objtest.MustPut(t, org, "inside", "crm/a")
	if got := objtest.Keys(t, org, ""); !slices.Equal(got, []string{"crm/a"}) {
		t.Errorf("org bucket lists %q", got)
	}
	if err := org.Delete(t.Context(), "crm/a"); err != nil {
		t.Fatal(err)
	}
	want := []string{"crm/a", "org-1.json", "org-10/crm/a"}
	if got := objtest.Keys(t, whole, ""); !slices.Equal(got, want) {
		t.Errorf("whole bucket after deleting in the prefix: %q, want %q", got, want)
	}
	if !s.ObjectExists(t, bucket, "crm/a") {
		t.Error("crm/a outside the prefix is gone")
	}
}
