package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/bench"
)

// TestMain lets the test binary be the sync child of a bench run (as
// `lakeport bench sync --child` is for the command).
func TestMain(m *testing.M) {
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
	s, err := bench.Run(t.Context(), bench.SuiteOptions{Records: 3000, BigRecords: 6000, DuckDBRuns: 2, QueryRuns: 2,
		Child: []string{os.Args[0], "bench-child"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Machine.CPUs <= 0 || s.Machine.Go == "" || s.Machine.DuckDB == "" {
		t.Errorf("machine: %+v", s.Machine)
	}
	checkSync(t, s.Sync, 3000)
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
	if s.Query.Rows != 3000 || len(s.Query.Queries) != 2 || s.Query.OpenMs <= 0 {
		t.Errorf("query: %+v", s.Query)
	}
	var names []string
	for _, tg := range s.Targets {
		names = append(names, tg.Name)
		if tg.Want == "" || tg.Got == "" {
			t.Errorf("target %+v", tg)
		}
	}
	for _, want := range []string{"sync time vs DuckDB", "records per CPU-second", "peak RSS, 3000 events", "peak RSS, 6000 events", "SELECT 1"} {
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
	for _, want := range []string{"## Machine", "## Targets", "## Sync: 3,000 events", "## Sync: 6,000 events (memory)", "## Query",
		bench.DuckDBProtocol, "lakeport sync", "SELECT 1"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "<no value>") {
		t.Errorf("report has a missing value:\n%s", md.String())
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
