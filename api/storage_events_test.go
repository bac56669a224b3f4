package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
	"github.com/lakeport/lakeport/validation"
)

// TestStorageTestStreamsSteps reads POST /api/v1/storage/test as Server-Sent Events: each
// step arrives as it finishes, in order, before the report, and the report is the one
// the plain JSON answer gives.
func TestStorageTestStreamsSteps(t *testing.T) {
	// The real validation, held after its first step until the test has read that step
	// from the stream: so the step was sent while the test was still running.
	firstRead := make(chan struct{})
	held := make(chan bool, 1)
	url, admin := newStreamEnv(t, func(ctx context.Context, s storage.Setting, o validation.Options) validation.Report {
		if next := o.OnStep; next != nil {
			o.OnStep = func(st validation.Step) {
				next(st)
				if st.Name == validation.StepCheckInputs {
					ok := true
					select {
					case <-firstRead:
					case <-time.After(10 * time.Second):
						ok = false
					}
					select {
					case held <- ok: // the first streamed test
					default:
					}
				}
			}
		}
		return validation.Run(ctx, s, o)
	})
	set, _ := goodSetting(t)
	body, _ := json.Marshal(set)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/storage/test", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("streamed test: HTTP %d, Content-Type %q", resp.StatusCode, ct)
	}

	var steps []validation.Step
	var report *validation.Report
	sc := bufio.NewScanner(resp.Body)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("the stream ended early (%v) after %d steps", sc.Err(), len(steps))
		}
		return sc.Text()
	}
	for report == nil {
		event, data, blank := next(), next(), next()
		name, ok := strings.CutPrefix(event, "event: ")
		payload, ok2 := strings.CutPrefix(data, "data: ")
		if !ok || !ok2 || blank != "" {
			t.Fatalf("not an event: %q %q %q", event, data, blank)
		}
		switch name {
		case "step":
			var st validation.Step
			if err := json.Unmarshal([]byte(payload), &st); err != nil {
				t.Fatalf("step event %s: %v", payload, err)
			}
			steps = append(steps, st)
			if st.Name == validation.StepCheckInputs {
				close(firstRead)
			}
		case "report":
			report = new(validation.Report)
			if err := json.Unmarshal([]byte(payload), report); err != nil {
				t.Fatalf("report event %s: %v", payload, err)
			}
		default:
			t.Fatalf("unexpected event %q", name)
		}
	}
	if rest, _ := io.ReadAll(resp.Body); len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("events after the report: %q", rest)
	}
	if !<-held {
		t.Fatal("check_inputs did not arrive while Test connection was running: the step events are held back until the end")
	}

	want := []string{"/check_inputs", "platform/assume_role", "workers/assume_role", "platform/head_bucket",
		"platform/put_object", "platform/get_object", "platform/list_objects", "platform/delete_object",
		"workers/put_object", "workers/get_object", "workers/list_objects", "workers/delete_object"}
	var names []string
	for _, st := range steps {
		names = append(names, st.Principal+"/"+st.Name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("steps arrived as %v, want %v", names, want)
	}
	if !report.OK || !reflect.DeepEqual(report.Steps, steps) {
		t.Fatalf("the report %+v does not hold exactly the streamed steps %+v", report, steps)
	}

	// The JSON answer of the same test is the same report.
	plain, err := admin.TestStorage(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stable(*report), stable(plain)) {
		t.Fatalf("streamed report %+v\nJSON report %+v", stable(*report), stable(plain))
	}

	// The client reads the stream, calling back per step.
	var called []validation.Step
	got, err := admin.TestStorageEvents(context.Background(), set, func(st validation.Step) { called = append(called, st) })
	if err != nil || !reflect.DeepEqual(got.Steps, called) || !reflect.DeepEqual(stable(got), stable(plain)) {
		t.Fatalf("client: report %+v, steps called back %+v, %v", got, called, err)
	}

	// Errors before the test runs are JSON with their status, as without the stream.
	bad := set
	bad.Bucket = "Bad_Bucket"
	_, err = admin.TestStorageEvents(context.Background(), bad, nil)
	if err != nil {
		t.Fatalf("an invalid setting is a failing report, not an error: %v", err)
	}
	m, _ := admin.CreateToken(context.Background(), "member")
	_, err = client.New(url, m.Token).TestStorageEvents(context.Background(), set, nil)
	wantCode(t, err, 403, "admin_only")
}

// newStreamEnv is an API server whose Test connection is validate; it returns its URL
// and the bootstrap admin.
func newStreamEnv(t *testing.T, validate func(context.Context, storage.Setting, validation.Options) validation.Report) (string, *client.Client) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	path, err := tenant.Bootstrap(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := os.ReadFile(path)
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	srv := &api.Server{Store: st, Secrets: box, Platform: config.Platform{}, StepTimeout: 5 * time.Second,
		// versitygw listens on loopback: allow it as an operator with private networks would.
		Storage: &storage.Resolver{Store: st, Secrets: box, Identity: storage.Identity{Guard: netguard.New(true)}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)), Validate: validate}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, client.New(hs.URL, strings.TrimSpace(string(tok)))
}

// stable is r without what differs between two runs (durations, request IDs).
func stable(r validation.Report) validation.Report {
	out := r
	out.Steps = nil
	for _, st := range r.Steps {
		st.DurationMS, st.RequestID = 0, ""
		out.Steps = append(out.Steps, st)
	}
	return out
}
