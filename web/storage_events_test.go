package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The page's Test connection asks for events: the console relays each step from the API
// as it finishes, then the report.
func TestStorageTestRelaysStepEvents(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t, s.URL)
	b.signInToken(s.AdminToken)
	b.get("/settings/storage")
	form := url.Values{"csrf_token": {b.csrf}, "mode": {"customer_hosted"}, "bucket": {"Bad_Bucket"}, "region": {"us-east-1"}, "role_arn": {"arn:aws:iam::123456789012:role/x"}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/settings/storage/test", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/event-stream, application/json")
	req.Header.Set("X-CSRF-Token", b.csrf)
	code, body, hdr := b.do(req)
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("POST /settings/storage/test for events: %d %s\n%s", code, hdr.Get("Content-Type"), body)
	}
	var events []string
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, name)
		}
	}
	want := strings.Repeat("step ", 12) + "report" // 12 steps: the input checks, then the platform's and the workers'
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("events %q, want %q\n%s", got, want, body)
	}
	if !strings.Contains(body, `"name":"check_inputs","status":"failed"`) || !strings.Contains(body, `"can_save":false`) {
		t.Fatalf("the events do not carry the failing step and the report:\n%s", body)
	}
}
