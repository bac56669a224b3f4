package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/config"
)

// The operator's settings reach the server from flags over the environment.
func TestSourceAndNetworkFlags(t *testing.T) {
	t.Setenv("LAKEPORT_SOURCES_ALLOW", "exec:/from/env")
	t.Setenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS", "")
	var got config.Config
	var out bytes.Buffer
	g := &globals{dataDir: t.TempDir(), stdout: &out, stderr: &out}
	cmd := processCmd(g, "serve", "", func(_ context.Context, c config.Config, _ *slog.Logger) error { got = c; return nil })
	cmd.SetArgs([]string{"--allow-source", "exec:/opt/airbyte/bin/*", "--allow-source", "image:airbyte/source-*", "--allow-private-networks"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Sources.Allow, " ") != "exec:/opt/airbyte/bin/* image:airbyte/source-*" || !got.AllowPrivateNetworks {
		t.Fatalf("flags: allow %q, private %v", got.Sources.Allow, got.AllowPrivateNetworks)
	}
	cmd = processCmd(g, "serve", "", func(_ context.Context, c config.Config, _ *slog.Logger) error { got = c; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Sources.Allow, " ") != "exec:/from/env" || got.AllowPrivateNetworks {
		t.Fatalf("environment: allow %q, private %v", got.Sources.Allow, got.AllowPrivateNetworks)
	}
}
