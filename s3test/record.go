package s3test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Recorder is a reverse proxy in front of an S3 server that records every request
// and can refuse the ones a test forbids: point a client's endpoint at its URL. It
// keeps the Host header, so SigV4 signatures still verify.
type Recorder struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Recorded
}

// Recorded is one request the recorder saw.
type Recorded struct {
	Method, Bucket, Key string
	Query               url.Values
	Header              http.Header
	// Refused is why the recorder's check refused it ("" when passed on).
	Refused string
}

// Op names the S3 operation of a request as far as lakeport writes objects:
// "PutObject", "CopyObject", "UploadPart", "CreateMultipartUpload",
// "CompleteMultipartUpload", or "" for anything else.
func (r Recorded) Op() string {
	switch {
	case r.Key == "":
		return ""
	case r.Method == http.MethodPut && r.Query.Has("partNumber"):
		return "UploadPart"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "CopyObject"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodPost && r.Query.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && r.Query.Has("uploadId"):
		return "CompleteMultipartUpload"
	}
	return ""
}

// NewRecorder starts a recorder in front of endpoint (path-style requests, as
// lakeport sends to S3-compatible servers), stopped when the test ends. check, when
// not nil, sees every request first; an error refuses it with 400 and is recorded.
func NewRecorder(t testing.TB, endpoint string, check func(Recorded) error) *Recorder {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the signature covers the Host header
	}}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		seen := Recorded{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.Query(), Header: r.Header.Clone()}
		if check != nil {
			if err := check(seen); err != nil {
				seen.Refused = err.Error()
			}
		}
		rec.mu.Lock()
		rec.requests = append(rec.requests, seen)
		rec.mu.Unlock()
		if seen.Refused != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>s3test recorder: %s</Message></Error>`, html.EscapeString(seen.Refused))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// Requests returns the requests seen so far.
func (rec *Recorder) Requests() []Recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Recorded(nil), rec.requests...)
}

// RequireSSEKMS is a Recorder check that refuses every object write (PutObject,
// CreateMultipartUpload, CopyObject) without SSE-KMS with key.
func RequireSSEKMS(key string) func(Recorded) error {
	return func(r Recorded) error {
		switch r.Op() {
		case "PutObject", "CreateMultipartUpload", "CopyObject":
			sse, id := r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
			if sse != "aws:kms" || id != key {
				return fmt.Errorf("%s %s without SSE-KMS with %s (x-amz-server-side-encryption %q, key ID %q)", r.Op(), r.Key, key, sse, id)
			}
		}
		return nil
	}
}
