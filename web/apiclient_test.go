package web

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// No lakeport package in the server binary is built on net/http/httptest: the console
// calls the API with a response writer of its own (issue 14.5).
func TestProductionCodeDoesNotUseHTTPTest(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", "github.com/lakeport/lakeport/cmd/lakeport").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		if !strings.HasPrefix(pkg, "github.com/lakeport/lakeport/") {
			continue
		}
		seen++
		for _, imp := range strings.Fields(imports) {
			if imp == "net/http/httptest" {
				t.Errorf("%s imports net/http/httptest in production code", pkg)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list named only %d lakeport packages:\n%s", seen, out)
	}
}

// An in-process API call streams its body, keeps the API's status and headers, and
// carries its trailers (declared, or with http.TrailerPrefix) to the caller after the
// body, as the network would.
func TestInProcessCallCarriesStatusBodyAndTrailers(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer lpt_x" || r.RemoteAddr != "127.0.0.1:0" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Trailer", "X-Query-Error")
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "a,b\n1,2\n")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Query-Error", "stopped after 1 row")
		w.Header().Set(http.TrailerPrefix+"X-Rows", "1")
	})
	c := &http.Client{Transport: inProcess{api}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, apiURL+"/api/v1/query", nil)
	req.Header.Set("Authorization", "Bearer lpt_x")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Type") != "text/csv" || string(body) != "a,b\n1,2\n" {
		t.Fatalf("answer: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if resp.Trailer.Get("X-Query-Error") != "stopped after 1 row" || resp.Trailer.Get("X-Rows") != "1" {
		t.Fatalf("trailers = %v", resp.Trailer)
	}
}
