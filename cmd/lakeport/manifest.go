package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/source/manifest"
)

// readManifest reads a manifest: PATH on the client: the server never reads
// a tenant's path, so the CLI sends the manifest itself.
func readManifest(ref string) (label, doc string, err error) {
	path := strings.TrimPrefix(ref, "manifest:")
	if path == "" {
		return "", "", fmt.Errorf("--source manifest:PATH needs the path of a manifest.yaml")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("--source %s: %w", ref, err)
	}
	label = filepath.Base(path)
	if label == "manifest.yaml" || label == "manifest.yml" {
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != string(filepath.Separator) {
			label = dir + "/" + label
		}
	}
	return label, string(b), nil
}

func newCheckManifestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check-manifest PATH",
		Short: "Report what an Airbyte declarative manifest uses and whether lakeport runs all of it (reads the file here; sends nothing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r := manifest.Inspect(b)
			if g.json {
				if err := g.printJSON(r); err != nil {
					return err
				}
			} else {
				printReport(g, args[0], r)
			}
			if !r.Runnable {
				return fmt.Errorf("lakeport cannot run %s as it is", args[0])
			}
			return nil
		},
	}
}

func printReport(g *globals, path string, r manifest.Report) {
	w := g.stdout
	if r.Error != "" {
		fmt.Fprintf(w, "%s: %s\n", path, r.Error)
		return
	}
	fmt.Fprintf(w, "components used:\n")
	for _, c := range r.Components {
		mark := "ok"
		if !c.Supported {
			mark = "NOT SUPPORTED"
		}
		fmt.Fprintf(w, "  %-32s %4d  %s\n", c.Type, c.Count, mark)
	}
	if len(r.Deprecated) > 0 {
		fmt.Fprintf(w, "deprecated (accepted):\n")
		for _, d := range r.Deprecated {
			fmt.Fprintf(w, "  %s: %s\n", d.Path, d.Note)
		}
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "what lakeport cannot run:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		return
	}
	fmt.Fprintf(w, "lakeport runs this manifest: streams %s\n", strings.Join(r.Streams, ", "))
}
