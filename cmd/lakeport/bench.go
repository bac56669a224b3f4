package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/bench"
)

// newBenchCmd is `lakeport bench`: measurements on this machine, next to
// DuckDB in the same run. See BENCHMARKS.md.
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sync and query speed on this machine, next to DuckDB",
	}
	cmd.AddCommand(newBenchSyncCmd(g), newBenchQueryCmd(g))
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
	f.BoolVar(&opts.SkipDuckDB, "no-duckdb", false, "leave DuckDB out")
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

func printSync(w io.Writer, r bench.SyncResult) {
	fmt.Fprintf(w, "%s events: %.1f MB of record JSON (%.1f MB of protocol lines), %d commits, %d cores\n\n",
		thousands(float64(r.Records)), float64(r.DataBytes)/1e6, float64(r.ProtocolBytes)/1e6, r.Commits, r.Cores)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ttime\trecords/s\tper core\tMB/s\tCPU time\trecords/CPU-s\tpeak RSS\tlakeport ÷ this (time, CPU)\t")
	fmt.Fprintf(tw, "lakeport sync (%s source)\t%.2f s\t%s\t%s\t%.1f\t%.2f s\t%s\t%.0f MiB\t\t\n", r.Source, r.Seconds,
		thousands(r.RecordsPerSec), thousands(r.RecordsPerSecPerCore), r.MBPerSec, r.CPUSeconds, thousands(r.RecordsPerCPUSec), float64(r.PeakRSS)/(1<<20))
	for _, d := range r.DuckDB {
		rps := float64(r.Records) / d.Seconds
		fmt.Fprintf(tw, "DuckDB %s\t%.2f s\t%s\t%s\t%.1f\t%.2f s\t%s\t\t%.2f×, %.2f×\t\n", d.Name, d.Seconds,
			thousands(rps), thousands(rps/float64(r.Cores)), float64(r.DataBytes)/1e6/d.Seconds,
			d.CPUSeconds, thousands(float64(r.Records)/d.CPUSeconds), d.Ratio, d.CPURatio)
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
	fmt.Fprintf(w, "  ≥ %s records/s per core: %s\n", thousands(bench.TargetRecordsPerSecPerCore), verdict(r.RecordsPerSecPerCore >= bench.TargetRecordsPerSecPerCore))
	if len(r.DuckDB) > 0 {
		worst := 0.0
		for _, d := range r.DuckDB {
			worst = max(worst, d.Ratio)
		}
		fmt.Fprintf(w, "  ≤ %.1f× DuckDB's time: %s (%.2f× against the faster DuckDB run)\n", bench.TargetSyncRatio, verdict(worst <= bench.TargetSyncRatio), worst)
	}
	fmt.Fprintf(w, "  peak RSS < %d MiB: %s\n", bench.TargetPeakRSS>>20, verdict(r.PeakRSS > 0 && r.PeakRSS < bench.TargetPeakRSS))
}

func printQuery(w io.Writer, r bench.QueryResult) {
	fmt.Fprintf(w, "%s rows in %d Parquet files; medians of %d runs after a warm-up\n", thousands(float64(r.Rows)), r.Files, r.Runs)
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

// thousands formats v rounded, with commas: 1234567 → "1,234,567".
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
