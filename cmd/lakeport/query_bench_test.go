package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
)

// BenchmarkSelect1OverAPI is `SELECT 1` as a client sees it: POST /api/v1/query
// to a real server (SQLite, the sample connector's three tables synced),
// through its query worker processes, the answer read to the end. "paced" runs
// leave 50 ms between queries (a person at the console); "back-to-back" runs
// send the next query as soon as the last one answered. Reported: the median
// and 90th percentile in ms.
//
//	go test -run '^$' -bench Select1OverAPI -benchtime 200x ./cmd/lakeport
func BenchmarkSelect1OverAPI(b *testing.B) {
	url, dir := startServerConfig(b, func(c *config.Config) { c.Sample = true })
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	deadline := time.Now().Add(2 * time.Minute)
	for { // the sample connector's first sync, so the organization has tables
		_, body, _ := postQuery(context.Background(), url, token, map[string]any{"sql": "SELECT count(*) FROM sample.events"})
		if strings.Contains(body, "1000") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the sample connector never synced: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, pace := range []time.Duration{50 * time.Millisecond, 0} {
		name := "paced"
		if pace == 0 {
			name = "back-to-back"
		}
		b.Run(name, func(b *testing.B) {
			one := func() {
				status, body, err := postQuery(context.Background(), url, token, map[string]any{"sql": "SELECT 1"})
				if err != nil || status != 200 {
					b.Fatalf("SELECT 1: %d %v\n%s", status, err, body)
				}
			}
			for range 10 { // warm up: workers started, databases opened ahead
				one()
			}
			var times []time.Duration
			for b.Loop() {
				time.Sleep(pace)
				start := time.Now()
				one()
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(times[len(times)/2]), "median-ms")
			b.ReportMetric(ms(times[len(times)*9/10]), "p90-ms")
		})
	}
}
