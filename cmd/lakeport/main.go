// Command lakeport is one binary for the lakeport server (lakeport serve) and its
// command-line client (every other command), which talks to a server over its API.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/tenant"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	err := newRoot(os.Stdout, os.Stderr).Execute()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "lakeport:", err)
		os.Exit(1)
	}
}

// globals are the flags every client command shares.
type globals struct {
	url, token, dataDir string
	json                bool
	stdout, stderr      io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "lakeport",
		Short:         "lakeport syncs SaaS data into Iceberg tables in your own bucket and answers SQL over them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.url, "url", envOr("LAKEPORT_URL", config.DefaultURL), "lakeport server URL (LAKEPORT_URL)")
	pf.StringVar(&g.token, "token", os.Getenv("LAKEPORT_TOKEN"), "API token (LAKEPORT_TOKEN; default: the data dir's admin.token)")
	pf.StringVar(&g.dataDir, "data-dir", envOr("LAKEPORT_DATA_DIR", config.DefaultDataDir), "data directory (LAKEPORT_DATA_DIR)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON")

	root.AddCommand(newServeCmd(g), newWorkerCmd(g), newOrgCmd(g), newTokenCmd(g), newUserCmd(g), newStorageCmd(g), newSourcesCmd(g), newConnectorCmd(g), newSyncCmd(g),
		newTablesCmd(g), newQueryCmd(g), newBenchCmd(g), newQueryWorkerCmd())
	return root
}

// client returns an API client with the token from --token, LAKEPORT_TOKEN or the local
// data dir's token file.
func (g *globals) client() (*client.Client, error) {
	tok := g.token
	if tok == "" {
		path := filepath.Join(g.dataDir, tenant.TokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no API token: give --token or LAKEPORT_TOKEN, or run this next to the server's data dir (%s was not readable: %v)", path, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	return client.New(g.url, tok), nil
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
