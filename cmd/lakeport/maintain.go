package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/maintain"
)

// connectorMaintainCmd is `lakeport connector maintain NAME`: table maintenance now.
func connectorMaintainCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "maintain NAME",
		Short: "Maintain a connector's tables now and wait: compact small files, expire old snapshots, remove orphan files",
		Long: `Runs table maintenance of every table of the connector, as a run of kind
"maintenance" (connector runs lists it): small data files are rewritten into files near
the target size (maintenance.target_file_size), snapshots older than the retention are
expired (the one holding the table's latest source state, and those after it, always
stay), and files no snapshot references that are older than the orphan window are
removed. Rows do not change. The server also runs it on its own, at most once per
maintenance.every, for connectors that synced since their last maintenance.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := c.StartMaintenance(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.follow(cmd.Context(), c, run, func(run connector.RunView) string {
				return fmt.Sprintf("%s maintenance %s: %s", run.Connector, run.Status, strings.Join(maintenanceLines(run), "; "))
			}, func(run connector.RunView) {
				fmt.Fprintf(g.stdout, "run %s %s in %.1fs\n", run.ID, run.Status, float64(run.DurationMS)/1000)
				if run.Attempts > 1 {
					fmt.Fprintf(g.stdout, "  resumed: %d attempts (a process running it stopped; each planned again from the tables as they were)\n", run.Attempts)
				}
				for _, line := range maintenanceLines(run) {
					fmt.Fprintf(g.stdout, "  %s\n", line)
				}
				if run.Error != "" {
					fmt.Fprintf(g.stdout, "error: %s\n", run.Error)
				}
			})
		},
	}
}

// maintenanceLines is one line per table of a maintenance run's report.
func maintenanceLines(run connector.RunView) []string {
	var reports []maintain.Report
	_ = json.Unmarshal(run.Tables, &reports)
	var out []string
	for _, r := range reports {
		var parts []string
		if c := r.Compaction; c != nil {
			p := fmt.Sprintf("data files %d → %d", c.FilesBefore, c.FilesAfter)
			if c.Committed > 0 {
				p += fmt.Sprintf(" (%s rewritten into %s)", humanBytes(c.BytesBefore), humanBytes(c.BytesAfter))
			}
			if c.Superseded > 0 {
				p += fmt.Sprintf(", %d group(s) left for next time: a sync replaced their files meanwhile", c.Superseded)
			}
			parts = append(parts, p)
		}
		if e := r.Expiry; e != nil {
			parts = append(parts, fmt.Sprintf("snapshots %d → %d", e.SnapshotsBefore, e.SnapshotsAfter))
		}
		if o := r.Orphans; o != nil {
			parts = append(parts, fmt.Sprintf("%d orphan file(s) removed", o.Removed))
		}
		if r.Error != "" {
			parts = append(parts, "error: "+firstLine(r.Error))
		}
		out = append(out, fmt.Sprintf("%-24s %s", r.Table, strings.Join(parts, ", ")))
	}
	return out
}
