package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/bench"
)

// newBenchCmd is `lakeport bench`: measurements on this machine, next to
// DuckDB in the same run. See BENCHMARKS.md.
func newBenchCmd(g *globals) *cobra.Command {
	var opts bench.SuiteOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sync and query speed on this machine, next to DuckDB",
		Long: `With no subcommand: the whole suite that BENCHMARKS.md reports. A sync of --records
sample events next to DuckDB converting the same input (timed --duckdb-runs times,
medians), the queries over the synced table, the aged table (--aged-syncs small
syncs, then maintenance, against one sync of the same rows), and a sync of
--big-records events for memory. --json prints every figure; ` + "`lakeport bench report`" + ` turns that into BENCHMARKS.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: cannot re-run myself for the sync child: %w", err)
			}
			opts.Child = []string{self, "bench", "sync", "--child"}
			res, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			return bench.Report(g.stdout, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Records, "records", 1_000_000, "events in the main sync (timed next to DuckDB, then queried)")
	f.IntVar(&opts.BigRecords, "big-records", 10_000_000, "events in the sync for memory (-1: none)")
	f.IntVar(&opts.DuckDBRuns, "duckdb-runs", bench.DefaultDuckDBRuns, "times each DuckDB conversion is timed (the median counts)")
	f.IntVar(&opts.SyncRuns, "sync-runs", bench.DefaultSyncRuns, "times the main sync runs, each into a new lake (the median counts)")
	f.IntVar(&opts.QueryRuns, "query-runs", 7, "runs of each query on each side; the first is a warm-up")
	f.IntVar(&opts.AgedSyncs, "aged-syncs", 300, "incremental syncs that make the aged table (-1: none)")
	f.IntVar(&opts.AgedRecords, "aged-records", 1000, "events in each of those syncs")
	f.StringVar(&opts.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the temporary working directory")
	cmd.AddCommand(newBenchSyncCmd(g), newBenchQueryCmd(g), newBenchAgedCmd(g), newBenchReportCmd(g))
	return cmd
}

func newBenchReportCmd(g *globals) *cobra.Command {
	var in, out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write BENCHMARKS.md from the JSON of `lakeport bench --json`",
		Long: `Reads the JSON that ` + "`lakeport bench --json`" + ` printed (stdin, or --in) and writes the
markdown report (stdout, or --out), every figure taken from that run:

  lakeport bench --json > bench.json && lakeport bench report < bench.json > BENCHMARKS.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := io.Reader(os.Stdin)
			if in != "" {
				f, err := os.Open(in)
				if err != nil {
					return fmt.Errorf("bench report: %w", err)
				}
				defer f.Close()
				r = f
			}
			var s bench.Suite
			dec := json.NewDecoder(r)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				return fmt.Errorf("bench report: the input is not the JSON of lakeport bench --json: %w", err)
			}
			if s.Sync.Records == 0 {
				return fmt.Errorf("bench report: the input has no sync figures; give it the output of lakeport bench --json (not bench sync)")
			}
			var b bytes.Buffer
			if err := bench.Report(&b, s); err != nil {
				return err
			}
			if out == "" {
				_, err := g.stdout.Write(b.Bytes())
				return err
			}
			return os.WriteFile(out, b.Bytes(), 0o644)
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "the JSON file (default: stdin)")
	cmd.Flags().StringVar(&out, "out", "", "the markdown file to write (default: stdout)")
	return cmd
}

func newBenchSyncCmd(g *globals) *cobra.Command {
	var opts bench.Options
	var child string
	inProcess := false
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Sync N sample events from a protocol stream into a local Iceberg table; DuckDB converts the same JSON to Parquet",
		Long: `Records N events of the sample source as protocol lines (RECORD and STATE), syncs
them into a new local Iceberg table through an exec: source that replays the file
(a child process runs the sync, so its peak RSS is its own), then times DuckDB
converting the same records to one Parquet file. Prints records/s, MB/s of record
JSON, peak RSS and the ratio to DuckDB.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if child != "" {
				return bench.ChildMain(ctx, child, g.stdout)
			}
			if !inProcess {
				self, err := os.Executable()
				if err != nil {
					return fmt.Errorf("bench: cannot re-run myself for the sync child (use --in-process): %w", err)
				}
				opts.Child = []string{self, "bench", "sync", "--child"}
			}
			res, err := bench.Sync(ctx, opts)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			printSync(g.stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Records, "records", 1_000_000, "events in the stream")
	f.StringVar(&opts.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the temporary working directory")
	f.IntVar(&opts.StateEvery, "state-every", bench.DefaultStateEvery, "records between STATE messages")
	f.StringVar(&opts.Source, "source", bench.SourceExec, "how the sync reads the stream: exec (a program's stdout) or reader (the file, in process)")
	f.IntVar(&opts.BatchRows, "batch-rows", 0, "syncer BatchRows (0: its default)")
	f.Int64Var(&opts.BatchBytes, "batch-bytes", 0, "syncer BatchBytes (0: its default)")
	f.IntVar(&opts.DuckDBThreads, "duckdb-threads", 0, "DuckDB threads (0: every core)")
	f.IntVar(&opts.DuckDBRuns, "duckdb-runs", bench.DefaultDuckDBRuns, "times each DuckDB conversion is timed (the median counts)")
	f.BoolVar(&opts.SkipDuckDB, "no-duckdb", false, "leave DuckDB out")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the sync to this file (go tool pprof lakeport FILE)")
	f.BoolVar(&inProcess, "in-process", false, "run the sync in this process (peak RSS then includes generating the input)")
	f.StringVar(&child, "child", "", "internal: run the sync described by this spec file")
	_ = f.MarkHidden("child")
	return cmd
}

func newBenchQueryCmd(g *globals) *cobra.Command {
	var opts bench.QueryOptions
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Query a synced N-row table through the engine and DuckDB directly on the same Parquet files",
		Long: `Syncs N sample events into a local lake (or reuses --lake), then runs a
scan-and-aggregate and a point filter through the query engine (a fresh,
locked-down DuckDB per query) and through DuckDB reading the table's Parquet files
directly, both in a fresh database per query and on one long-lived connection.
Prints the medians and the ratios.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err == nil {
				opts.Child = []string{self, "bench", "sync", "--child"}
			}
			res, err := bench.Query(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			printQuery(g.stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Records, "records", 1_000_000, "rows in the table")
	f.StringVar(&opts.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the temporary working directory")
	f.StringVar(&opts.LakeDir, "lake", "", "reuse the lake of an earlier `bench sync --keep` (its lake_dir) instead of syncing")
	f.IntVar(&opts.Runs, "runs", 7, "runs of each query on each side; the first is a warm-up")
	return cmd
}

func newBenchAgedCmd(g *globals) *cobra.Command {
	var opts bench.AgedOptions
	cmd := &cobra.Command{
		Use:   "aged",
		Short: "Many small incremental syncs into one table, then maintenance: query time against one sync of the same rows",
		Long: `Writes one table with --syncs incremental syncs of --records sample events each,
times a scan-and-aggregate query over it, runs table maintenance (compaction and
snapshot expiry, with serve's defaults) and times the query again, next to the
same rows written by one sync. Prints each table's files, snapshots, metadata
size and query time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := bench.Aged(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			printAged(g.stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Syncs, "syncs", 300, "incremental syncs")
	f.IntVar(&opts.RecordsPerSync, "records", 1000, "events in each sync")
	f.IntVar(&opts.Runs, "runs", 7, "runs of the query per table; the first is a warm-up")
	f.StringVar(&opts.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the temporary working directory")
	return cmd
}

func printAged(w io.Writer, r bench.AgedResult) {
	fmt.Fprintf(w, "%d syncs of %s events (%.1f s), then maintenance (%.1f s); the same %s rows in one sync\n\n",
		r.Syncs, bench.Thousands(float64(r.RecordsPerSync)), r.SyncSeconds, r.MaintenanceSeconds, bench.Thousands(float64(r.Rows)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tdata files\tdata MB\tsnapshots\tmetadata MB\tquery\t÷ one sync\t")
	for _, row := range []struct {
		name  string
		t     bench.AgedTable
		ratio float64
	}{{"after the syncs", r.Aged, r.RatioUnmaintained}, {"after maintenance", r.Maintained, r.Ratio}, {"one sync", r.OneSync, 1}} {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%.1f\t%.1f ms\t%.2f×\t\n", row.name, row.t.DataFiles, float64(row.t.DataFileBytes)/1e6,
			row.t.Snapshots, float64(row.t.MetadataBytes)/1e6, row.t.QueryMs, row.ratio)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntarget ≤ %.1f× one sync after maintenance: %s\n", bench.TargetAgedRatio, verdict(r.Ratio > 0 && r.Ratio <= bench.TargetAgedRatio))
}

func printSync(w io.Writer, r bench.SyncResult) {
	fmt.Fprintf(w, "%s events: %.1f MB of record JSON (%.1f MB of protocol lines), %d commits, %d cores\n\n",
		bench.Thousands(float64(r.Records)), float64(r.DataBytes)/1e6, float64(r.ProtocolBytes)/1e6, r.Commits, r.Cores)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ttime\trecords/s\tper core\tMB/s\tCPU time\trecords/CPU-s\tpeak RSS\tlakeport ÷ this (time, CPU)\t")
	fmt.Fprintf(tw, "lakeport sync (%s source)\t%.2f s\t%s\t%s\t%.1f\t%.2f s\t%s\t%.0f MiB\t\t\n", r.Source, r.Seconds,
		bench.Thousands(r.RecordsPerSec), bench.Thousands(r.RecordsPerSecPerCore), r.MBPerSec, r.CPUSeconds, bench.Thousands(r.RecordsPerCPUSec), float64(r.PeakRSS)/(1<<20))
	for _, d := range r.DuckDB {
		rps := float64(r.Records) / d.Seconds
		fmt.Fprintf(tw, "DuckDB %s\t%.2f s\t%s\t%s\t%.1f\t%.2f s\t%s\t\t%.2f×, %.2f×\t\n", d.Name, d.Seconds,
			bench.Thousands(rps), bench.Thousands(rps/float64(r.Cores)), float64(r.DataBytes)/1e6/d.Seconds,
			d.CPUSeconds, bench.Thousands(float64(r.Records)/d.CPUSeconds), d.Ratio, d.CPURatio)
	}
	tw.Flush()
	fmt.Fprintf(w, "\npeak RSS: %s; of it anonymous (sampled): %.0f MiB, Go heap in use at most %.0f MiB\n",
		r.PeakRSSOf, float64(r.AnonRSSPeak)/(1<<20), float64(r.GoHeapPeak)/(1<<20))
	if r.GoMemLimit != "" {
		fmt.Fprintf(w, "GOMEMLIMIT=%s\n", r.GoMemLimit)
	}
	if r.LoadAvg != "" {
		fmt.Fprintf(w, "load average at the start: %s (other work on the machine skews the times)\n", r.LoadAvg)
	}
	fmt.Fprintln(w, "targets:")
	fmt.Fprintf(w, "  ≥ %s records per CPU-second: %s\n", bench.Thousands(bench.TargetRecordsPerCPUSec), verdict(r.RecordsPerCPUSec >= bench.TargetRecordsPerCPUSec))
	if len(r.DuckDB) > 0 {
		worst := 0.0
		for _, d := range r.DuckDB {
			worst = max(worst, d.Ratio)
		}
		fmt.Fprintf(w, "  ≤ %.1f× DuckDB's time: %s (%.2f× against the faster DuckDB conversion)\n", bench.TargetSyncRatio, verdict(worst <= bench.TargetSyncRatio), worst)
	}
	fmt.Fprintf(w, "  peak RSS < %d MiB: %s\n", bench.TargetPeakRSS>>20, verdict(r.PeakRSS > 0 && r.PeakRSS < bench.TargetPeakRSS))
}

func printQuery(w io.Writer, r bench.QueryResult) {
	fmt.Fprintf(w, "%s rows in %d Parquet files; medians of %d runs after a warm-up\n", bench.Thousands(float64(r.Rows)), r.Files, r.Runs)
	fmt.Fprintf(w, "the engine opens a fresh, locked-down DuckDB per query: SELECT 1 takes %.1f ms\n\n", r.OpenMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\trows\tengine\tDuckDB fresh db\tratio\tDuckDB long-lived\tratio\t")
	for _, q := range r.Queries {
		fmt.Fprintf(tw, "%s\t%d\t%.1f ms\t%.1f ms\t%.2f×\t%.1f ms\t%.2f×\t\n", q.Name, q.Rows, q.EngineMs, q.DirectFreshMs, q.RatioFresh, q.DirectConnMs, q.RatioConn)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntarget ≤ %.1f× DuckDB directly:\n", bench.TargetQueryRatio)
	for _, q := range r.Queries {
		fmt.Fprintf(w, "  %s: %s against a fresh database, %s against a long-lived connection\n", q.Name,
			verdict(q.RatioFresh <= bench.TargetQueryRatio), verdict(q.RatioConn <= bench.TargetQueryRatio))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
