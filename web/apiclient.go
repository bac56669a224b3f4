package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/protocol"
)

// inProcess is an http.RoundTripper that answers requests with the API handler in
// this process: the console calls exactly the API the CLI calls, with the same
// authentication and organization scoping, without a network hop. The API writes into
// a response writer of this package (apiWriter); the caller reads its body as it is
// written, so events the API flushes arrive while it is still working.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	// The API gets a context of its own, cancelled with the caller's, but without the
	// console's values: its router must not see the console's route context.
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(req.Context(), cancel)
	in := req.Clone(ctx)
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0" // the console itself
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &apiWriter{header: http.Header{}, body: pw, started: make(chan struct{})}
	resp := &http.Response{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: apiBody{pr, cancel}, ContentLength: -1,
		Request: req, Trailer: http.Header{}}
	go func() {
		defer func() { stop(); cancel() }()
		defer func() {
			// A handler that wrote nothing answered 200; its trailers are ready before EOF.
			w.WriteHeader(http.StatusOK)
			w.trailers(resp.Trailer)
			pw.Close()
		}()
		t.h.ServeHTTP(w, in)
	}()
	<-w.started
	resp.StatusCode, resp.Status, resp.Header = w.status, fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), w.sent
	return resp, nil
}

// apiBody is the body of an in-process answer; Close stops the API's work for it.
type apiBody struct {
	*io.PipeReader
	cancel func()
}

func (b apiBody) Close() error {
	b.cancel()
	return b.PipeReader.Close()
}

// apiWriter is the http.ResponseWriter of an in-process call: the header goes out on
// the first WriteHeader, Write or Flush, the body through the pipe, and trailers
// (declared in the Trailer header, or with http.TrailerPrefix) once the API returns.
type apiWriter struct {
	header  http.Header
	sent    http.Header
	status  int
	body    *io.PipeWriter
	started chan struct{}
}

func (w *apiWriter) Header() http.Header { return w.header }

func (w *apiWriter) WriteHeader(status int) {
	if w.sent != nil {
		return
	}
	w.status, w.sent = status, w.header.Clone()
	close(w.started)
}

func (w *apiWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush sends the header; what was written is already with the reader.
func (w *apiWriter) Flush() { w.WriteHeader(http.StatusOK) }

// trailers copies the API's trailers into t, as net/http would send them.
func (w *apiWriter) trailers(t http.Header) {
	for _, declared := range w.sent.Values("Trailer") {
		for _, k := range strings.Split(declared, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if v, ok := w.header[k]; ok {
				t[k] = v
			}
		}
	}
	for k, v := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			t[http.CanonicalHeaderKey(name)] = v
		}
	}
}

// apiURL is the base URL of the in-process API; nothing listens there.
const apiURL = "http://lakeport.console"

// apiClient returns a client of the in-process API acting with token.
func (h *handler) apiClient(token string) *client.Client {
	return &client.Client{URL: apiURL, Token: token, HTTP: &http.Client{Transport: inProcess{h.cfg.API}}}
}

// The calls below are ones package client does not have (yet). They use only the
// public API, with the same error shape as package client.

// discoverSource asks the API which streams a source offers with config, before a
// connector exists (POST /api/v1/sources/discover). The endpoint is optional: a server
// without it answers 404 or 405 and the create form falls back to typed stream names.
func discoverSource(ctx context.Context, c *client.Client, source string, config json.RawMessage, manifest string) (protocol.Catalog, error) {
	if len(config) == 0 {
		config = json.RawMessage(`{}`)
	}
	var out protocol.Catalog
	in := map[string]any{"source": source, "config": config}
	if manifest != "" {
		in["manifest"] = manifest
	}
	err := doJSON(ctx, c, http.MethodPost, "/api/v1/sources/discover", in, &out)
	return out, err
}

// doJSON sends in as JSON and decodes the answer into out; an error answer is a
// *client.Error like package client's.
func doJSON(ctx context.Context, c *client.Client, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &client.Error{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Code == "" {
			e.Body.Code, e.Body.Message = fmt.Sprintf("http_%d", resp.StatusCode), strings.TrimSpace(string(data))
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
