package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/bench"
	"github.com/lakeport/lakeport/query/worker"
)

// TestMain lets the test binary be the sync child of a bench run (as
// `lakeport bench sync --child` is for the command).
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "query-worker" { // the query workers' command
		if err := worker.Serve(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 3 && os.Args[1] == "bench-child" {
		if err := bench.ChildMain(context.Background(), os.Args[2], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var update = flag.Bool("update", false, "rewrite testdata/suite.json (from TestSuiteTiny's run) and testdata/report.golden.md")

// The whole suite runs at a tiny size (the sync in a child process, DuckDB
// timed twice per conversion, the queries, the big sync) and its report has
// every figure BENCHMARKS.md states, in the shape `bench report` reads.
func TestSuiteTiny(t *testing.T) {
	s, err := bench.Run(t.Context(), bench.SuiteOptions{Records: 3000, BigRecords: 6000, DuckDBRuns: 2, QueryRuns: 2, SyncRuns: 3,
		AgedSyncs: 3, AgedRecords: 200, Child: []string{os.Args[0], "bench-child"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Machine.CPUs <= 0 || s.Machine.Go == "" || s.Machine.DuckDB == "" {
		t.Errorf("machine: %+v", s.Machine)
	}
	checkSync(t, s.Sync, 3000)
	if times := slices.Sorted(slices.Values(s.Sync.Times)); len(times) != 3 || s.Sync.Seconds != times[1] {
		t.Errorf("sync runs %v: the figures are of the run of %v s, not the median's", s.Sync.Times, s.Sync.Seconds)
	}
	if len(s.Sync.DuckDB) != 2 {
		t.Fatalf("DuckDB conversions: %+v", s.Sync.DuckDB)
	}
	for _, d := range s.Sync.DuckDB {
		if len(d.Times) != 2 || len(d.CPUTimes) != 2 || d.Seconds <= 0 || d.OutputBytes <= 0 || d.Ratio <= 0 {
			t.Errorf("DuckDB %s: %+v", d.Name, d)
		}
		if d.Seconds < min(d.Times[0], d.Times[1]) || d.Seconds > max(d.Times[0], d.Times[1]) {
			t.Errorf("DuckDB %s: median %v outside its runs %v", d.Name, d.Seconds, d.Times)
		}
	}
	if s.Sync.DuckDBRun(bench.DuckDBProtocol) == nil || s.Sync.DuckDBRun(bench.DuckDBData) == nil {
		t.Errorf("DuckDB conversions by name: %+v", s.Sync.DuckDB)
	}
	if s.SyncBig == nil {
		t.Fatal("no big sync")
	}
	checkSync(t, *s.SyncBig, 6000)
	if s.Query.Rows != 3000 || len(s.Query.Queries) != 2 || s.Query.OpenMs <= 0 || s.Query.WorkersSelect1Ms <= 0 {
		t.Errorf("query: %+v", s.Query)
	}
	if s.Aged == nil {
		t.Fatal("no aged table")
	}
	checkAged(t, *s.Aged, 3, 200)
	var names []string
	for _, tg := range s.Targets {
		names = append(names, tg.Name)
		if tg.Want == "" || tg.Got == "" {
			t.Errorf("target %+v", tg)
		}
	}
	for _, want := range []string{"sync time vs DuckDB", "records per CPU-second", "peak RSS, 3000 events", "peak RSS, 6000 events", "SELECT 1", "aged table (3 syncs of 200 events, maintained)"} {
		if !strings.Contains(strings.Join(names, "\n"), want) {
			t.Errorf("no target %q in %q", want, names)
		}
	}

	// The JSON goes back in whole, and the report names every figure.
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var pretty bytes.Buffer
		json.Indent(&pretty, raw, "", "  ")
		if err := os.WriteFile(filepath.Join("testdata", "suite.json"), pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var back bench.Suite
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := bench.Report(&md, back); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Machine", "## Targets", "## Sync: 3,000 events", "## Sync: 6,000 events (memory)", "## Query", "## Aged table: 3 syncs of 200 events",
		bench.DuckDBProtocol, "lakeport sync", "SELECT 1"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "<no value>") {
		t.Errorf("report has a missing value:\n%s", md.String())
	}
}

// checkAged checks an aged-table result's shape: the small syncs left a
// file and a snapshot each, maintenance compacted them into one file, and
// every query time and ratio is there.
func checkAged(t *testing.T, a bench.AgedResult, syncs, per int) {
	t.Helper()
	if a.Syncs != syncs || a.RecordsPerSync != per || a.Rows != int64(syncs*per) || a.SyncSeconds <= 0 || a.MaintenanceSeconds <= 0 {
		t.Errorf("aged: %+v", a)
	}
	if a.Aged.DataFiles < syncs || a.Aged.Snapshots < syncs {
		t.Errorf("aged table before maintenance: %+v, want a file and a snapshot per sync at least", a.Aged)
	}
	if a.Maintained.DataFiles != 1 || a.Maintenance.Compaction == nil || a.Maintenance.Compaction.RewrittenFiles != a.Aged.DataFiles {
		t.Errorf("after maintenance: %+v (compaction %+v), want one file from all %d", a.Maintained, a.Maintenance.Compaction, a.Aged.DataFiles)
	}
	for _, tb := range []bench.AgedTable{a.Aged, a.Maintained, a.OneSync} {
		if tb.QueryMs <= 0 || tb.DataFileBytes <= 0 || tb.MetadataBytes <= 0 || tb.MetadataFileBytes <= 0 || tb.Snapshots <= 0 {
			t.Errorf("aged table figures: %+v", tb)
		}
	}
	if a.Ratio <= 0 || a.RatioUnmaintained <= 0 {
		t.Errorf("aged ratios: %v, %v", a.Ratio, a.RatioUnmaintained)
	}
}

func checkSync(t *testing.T, r bench.SyncResult, records int64) {
	t.Helper()
	if r.Records != records || r.Seconds <= 0 || r.CPUSeconds <= 0 || r.SyncCPUSeconds <= 0 || r.RecordsPerCPUSec <= 0 ||
		r.PeakRSS <= 0 || r.DataFiles <= 0 || r.DataFileBytes <= 0 || r.Commits <= 0 {
		t.Errorf("sync of %d: %+v", records, r)
	}
	if !strings.Contains(r.PeakRSSOf, "child") {
		t.Errorf("peak RSS of %q, want the child's", r.PeakRSSOf)
	}
}

// The report of a recorded run is the golden file: the template's output
// changes only on purpose (go test ./bench -run TestReportGolden -update).
func TestReportGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s bench.Suite
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := bench.Report(&md, s); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(golden, md.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if md.String() != string(want) {
		t.Errorf("report differs from %s (rerun with -update if meant):\n%s", golden, md.String())
	}
}
