package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/syncer"
)

func newSourcesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "List the sources a connector can use, with their config spec",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.Sources(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(out)
			}
			for _, s := range out {
				fmt.Fprintf(g.stdout, "%-26s %-8s %s\n", s.Name, s.Kind, s.Help)
				if s.Spec != nil && len(s.Spec.ConnectionSpecification) > 0 {
					fmt.Fprintf(g.stdout, "  config schema: %s\n", compactJSON(s.Spec.ConnectionSpecification))
				}
			}
			return nil
		},
	}
	cmd.AddCommand(newCheckManifestCmd(g))
	return cmd
}

func compactJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func newConnectorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Aliases: []string{"connectors"}, Short: "Create, sync and manage connectors"}
	cmd.AddCommand(connectorCreateCmd(g), connectorListCmd(g), connectorShowCmd(g), connectorDiscoverCmd(g),
		newSyncCmd(g), connectorMaintainCmd(g), connectorRunsCmd(g), connectorSetupCmd(g), connectorDeleteCmd(g), connectorScheduleCmd(g))
	return cmd
}

func connectorCreateCmd(g *globals) *cobra.Command {
	var src, configFile string
	var streams []string
	cmd := &cobra.Command{
		Use:   "create NAME --source sample|manifest:PATH|exec:PATH|image:REF [--config FILE] [--stream S[:sync_mode:destination_sync_mode]]...",
		Short: "Create a connector bound to your organization's current storage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cfg := json.RawMessage(`{}`)
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				cfg = b
			}
			req := connector.CreateRequest{Name: args[0], Source: src, Config: cfg, Streams: streams}
			if strings.HasPrefix(src, "manifest:") {
				label, doc, err := readManifest(src)
				if err != nil {
					return err
				}
				req.Source, req.Manifest = "manifest:"+label, doc
			}
			v, err := c.CreateConnector(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			fmt.Fprintf(g.stdout, "created connector %s (%s), writing to %s/%s/\n", v.Name, v.Source, v.Warehouse, v.Name)
			printStreams(g, v)
			fmt.Fprintf(g.stdout, "\nnext: lakeport connector sync %s\n", v.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&src, "source", "", "sample, a published manifest's name, manifest:PATH (an Airbyte declarative manifest read here and sent with the connector), exec:/path/to/connector or image:REF")
	cmd.Flags().StringVar(&configFile, "config", "", "JSON file with the source's config (validated against its spec)")
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to sync, each NAME or NAME:SYNC_MODE:DESTINATION_SYNC_MODE (default: all, with lakeport's modes)")
	return cmd
}

func printStreams(g *globals, v connector.View) {
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  STREAM\tMODE\tPRIMARY KEY\tCURSOR")
	for _, s := range v.Streams {
		fmt.Fprintf(w, "  %s\t%s %s\t%s\t%s\n", s.Name, s.SyncMode, s.DestinationSyncMode, strings.Join(s.PrimaryKey, ","), strings.Join(s.CursorField, "."))
	}
	w.Flush()
}

func connectorListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List your organization's connectors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			list, err := c.Connectors(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(list)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSOURCE\tSTREAMS\tLAST RUN\tRECORDS\tWHERE")
			for _, v := range list {
				last, recs := "never", ""
				if v.LastRun != nil {
					last = v.LastRun.Status + " " + v.LastRun.CreatedAt.Local().Format("2006-01-02 15:04")
					recs = fmt.Sprint(v.LastRun.Records)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", v.Name, v.Source, len(v.Streams), last, recs, v.Warehouse)
			}
			return w.Flush()
		},
	}
}

func connectorShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a connector: source, config (secrets hidden), streams, storage, last run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.Connector(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			fmt.Fprintf(g.stdout, "connector %s (%s)\nsource:   %s\nconfig:   %s\nwrites to: %s/%s/ (%s)\n", v.Name, v.ID, v.Source, compactJSON(v.Config), v.Warehouse, v.Name, v.StorageMode)
			if v.Schedule != "" {
				fmt.Fprintf(g.stdout, "schedule: %s (next %s)\n", v.Schedule, v.NextRunAt.Local().Format(time.RFC3339))
			}
			printStreams(g, v)
			if v.LastRun != nil {
				printRun(g, *v.LastRun)
			}
			return nil
		},
	}
}

func connectorDiscoverCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "discover NAME",
		Short: "Ask the connector's source which streams it offers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cat, err := c.Discover(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(cat)
			}
			for _, s := range cat.Streams {
				var modes []string
				for _, m := range s.SupportedSyncModes {
					modes = append(modes, string(m))
				}
				fmt.Fprintf(g.stdout, "%s\tmodes: %s\tcursor: %s\tprimary key: %v\n", s.Name, strings.Join(modes, ","), strings.Join(s.DefaultCursorField, "."), s.SourceDefinedPrimaryKey)
			}
			return nil
		},
	}
}

func newSyncCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sync NAME",
		Short: "Sync a connector now and wait, with live progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := c.StartSync(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if run.Joined && !g.json {
				fmt.Fprintf(g.stderr, "joined run %s: it resumes, from its last committed state, a sync whose process stopped\n", run.ID)
			}
			return g.follow(cmd.Context(), c, run, progressLine, func(run connector.RunView) { printRun(g, run) })
		},
	}
}

func streamsOf(run connector.RunView) map[string]*syncer.StreamStats {
	out := map[string]*syncer.StreamStats{}
	_ = json.Unmarshal(run.Streams, &out)
	return out
}

func progressLine(run connector.RunView) string {
	secs := float64(run.DurationMS) / 1000
	rate := 0.0
	if secs > 0 {
		rate = float64(run.Records) / secs
	}
	line := fmt.Sprintf("%s %s: %d records, %s, %.0f records/s", run.Connector, run.Status, run.Records, humanBytes(run.Bytes), rate)
	streams := streamsOf(run)
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, streams[n].Records))
	}
	if len(parts) > 0 {
		line += " — " + strings.Join(parts, ", ")
	}
	return line
}

func printRun(g *globals, run connector.RunView) {
	fmt.Fprintf(g.stdout, "run %s %s: %d records, %s in %.1fs\n", run.ID, run.Status, run.Records, humanBytes(run.Bytes), float64(run.DurationMS)/1000)
	if run.Attempts > 1 {
		fmt.Fprintf(g.stdout, "  resumed: %d attempts (a process running it stopped; each went on from the last committed state)\n", run.Attempts)
	}
	streams := streamsOf(run)
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := streams[n]
		fmt.Fprintf(g.stdout, "  %-20s %8d records  %8d committed  %s\n", n, s.Records, s.Committed, s.Mode)
		for _, c := range s.Changes {
			fmt.Fprintf(g.stdout, "      schema: %s\n", c)
		}
	}
	if run.Error != "" {
		fmt.Fprintf(g.stdout, "error: %s\n", run.Error)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func connectorRunsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs NAME",
		Short: "A connector's run history: syncs and table maintenance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			runs, err := c.Runs(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(runs)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "RUN\tKIND\tSTATUS\tATTEMPTS\tSTARTED\tDURATION\tRECORDS\tBYTES\tERROR")
			for _, r := range runs {
				records, bytes := fmt.Sprint(r.Records), humanBytes(r.Bytes)
				if r.Kind == "maintenance" {
					records, bytes = "-", "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%.1fs\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, r.Attempts, r.CreatedAt.Local().Format("2006-01-02 15:04:05"),
					float64(r.DurationMS)/1000, records, bytes, firstLine(r.Error))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			// Schema changes are few and matter: each on its own line, under the table;
			// so is what maintenance did to each table.
			for _, r := range runs {
				for _, line := range maintenanceLines(r) {
					fmt.Fprintf(g.stdout, "%s maintenance: %s\n", r.ID, line)
				}
				for _, line := range schemaChanges(r) {
					fmt.Fprintf(g.stdout, "%s schema: %s\n", r.ID, line)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	return cmd
}

// schemaChanges lists a run's schema changes as "stream: change", streams in order.
func schemaChanges(run connector.RunView) []string {
	streams := streamsOf(run)
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		for _, c := range streams[n].Changes {
			out = append(out, n+": "+c)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

func connectorSetupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "setup NAME",
		Short: "Run a connector's setup again: its streams' schemas from the source, and your organization's current storage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.SetupConnector(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			fmt.Fprintf(g.stdout, "connector %s now writes to %s/%s/ (%s)\n", v.Name, v.Warehouse, v.Name, v.StorageMode)
			return nil
		},
	}
}

func connectorDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a connector, its tables and its data (admins; only under its own prefix)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rep, err := c.DeleteConnector(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(rep)
			}
			fmt.Fprintf(g.stdout, "deleted connector %s: %d tables (%s), %d objects under %s\n", rep.Connector, len(rep.Tables), strings.Join(rep.Tables, ", "), rep.ObjectsDeleted, rep.Location)
			return nil
		},
	}
}

func connectorScheduleCmd(g *globals) *cobra.Command {
	var off bool
	cmd := &cobra.Command{
		Use:   `schedule NAME ["every 6h" | "CRON"] [--off]`,
		Short: "Sync a connector on its own: an interval (every 6h) or a cron expression (0 */6 * * *)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := ""
			switch {
			case off && len(args) == 2:
				return fmt.Errorf("give a schedule or --off, not both")
			case !off && len(args) == 1:
				return fmt.Errorf(`give a schedule, e.g. lakeport connector schedule %s "every 6h", or --off`, args[0])
			case !off:
				spec = args[1]
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.ScheduleConnector(cmd.Context(), args[0], spec)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			if v.Schedule == "" {
				fmt.Fprintf(g.stdout, "connector %s has no schedule: it syncs only when asked\n", v.Name)
			} else {
				fmt.Fprintf(g.stdout, "connector %s syncs %s; next run %s\n", v.Name, v.Schedule, v.NextRunAt.Local().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&off, "off", false, "remove the schedule")
	return cmd
}

// follow polls run until it finishes, showing line(run) as progress, then prints it
// (as JSON with --json, else with print); a run that did not succeed exits 1.
func (g *globals) follow(ctx context.Context, c *client.Client, run connector.RunView, line func(connector.RunView) string, print func(connector.RunView)) error {
	var prog *progress
	if !g.json {
		prog = newProgress(g.stderr)
	}
	for run.Status == "queued" || run.Status == "running" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		var err error
		if run, err = c.Run(ctx, run.ID); err != nil {
			return err
		}
		if prog != nil {
			prog.show(line(run))
		}
	}
	if prog != nil {
		prog.done()
	}
	if g.json {
		if err := g.printJSON(run); err != nil {
			return err
		}
	} else {
		print(run)
	}
	if run.Status != "succeeded" {
		return exitError{1}
	}
	return nil
}
