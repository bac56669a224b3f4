package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/query/worker"
)

func newTablesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tables",
		Short: "List your organization's synced tables with row counts, columns and last sync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tables, err := c.Tables(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(tables)
			}
			if len(tables) == 0 {
				fmt.Fprintln(g.stdout, "no tables yet: create a connector and sync it (lakeport connector create --help)")
				return nil
			}
			w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "TABLE\tROWS\tLAST SYNC\tCOLUMNS")
			for _, t := range tables {
				var cols []string
				for _, c := range t.Columns {
					if !strings.HasPrefix(c.Name, "_lakeport_") {
						cols = append(cols, c.Name)
					}
				}
				last := ""
				if t.LastSync != nil {
					last = t.LastSync.Local().Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", t.Name, t.Rows, last, strings.Join(cols, ", "))
			}
			return w.Flush()
		},
	}
}

func newQueryCmd(g *globals) *cobra.Command {
	var format string
	var maxRows int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   `query "SQL"`,
		Short: "Run a read-only SQL query over your organization's tables (named connector.stream)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if g.json {
				format = "json"
			}
			req := api.QueryRequest{SQL: args[0], MaxRows: maxRows, TimeoutMS: int(timeout.Milliseconds())}
			switch format {
			case "csv":
				return c.QueryCSV(cmd.Context(), req, g.stdout)
			case "json", "table":
			default:
				return fmt.Errorf("--format must be table, json or csv")
			}
			res, err := c.Query(cmd.Context(), req)
			if err != nil {
				return err
			}
			if format == "json" {
				if err := g.printJSON(res); err != nil {
					return err
				}
			} else {
				printTable(g, res)
			}
			if res.Error != nil {
				return fmt.Errorf("the query failed after %d rows: %s", res.RowCount, res.Error.Message)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json or csv")
	cmd.Flags().IntVar(&maxRows, "max-rows", 0, "at most this many rows (default: the server's limit)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "cancel the query after this long (default: the server's limit)")
	return cmd
}

// newQueryWorkerCmd is the hidden command lakeport serve runs its query workers
// with (see query/worker): it answers queries on the sockets it inherits.
func newQueryWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "query-worker",
		Short:  "Run queries for lakeport serve (started by the server, not by hand)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(*cobra.Command, []string) error { return worker.Serve() },
	}
}

func printTable(g *globals, res api.QueryResponse) {
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	var head []string
	for _, c := range res.Columns {
		head = append(head, c.Name)
	}
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	w.Flush()
	more := ""
	if res.Truncated {
		more = " (cut at the row limit; use --max-rows)"
	}
	fmt.Fprintf(g.stdout, "(%d rows in %d ms%s)\n", res.RowCount, res.ElapsedMS, more)
}

func cell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "NULL"
	case string:
		s = x
	case float64:
		s = fmt.Sprint(x)
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\t", " "), "\n", " ")
	if utf8.RuneCountInString(s) > 60 {
		s = string([]rune(s)[:59]) + "…"
	}
	return s
}
