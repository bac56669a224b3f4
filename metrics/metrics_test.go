package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/metrics"
)

// Storage health is counted per state; no organization ID reaches the output.
func TestHealthNamesNoOrganization(t *testing.T) {
	m := metrics.New(nil)
	m.Health("org_secretacme", false)
	m.Health("org_secretglobex", true)
	m.Health("org_secretinitech", true)
	m.Health("org_secretglobex", false) // a later check of the same organization replaces its state
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	if strings.Contains(out, "org_") || strings.Contains(out, "secret") {
		t.Fatalf("metrics name an organization:\n%s", out)
	}
	for _, want := range []string{`lakeport_storage_orgs{state="healthy"} 1`, `lakeport_storage_orgs{state="unhealthy"} 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
}
