package config_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/netguard"
)

func TestLoadExampleFile(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "lakeport.example.yaml"))
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.QueryEngine != "duckdb" || c.QueryProps["memory_limit"] != "512MB" || c.StepTimeout != 15*time.Second || !c.Sample {
		t.Fatalf("example = %+v", c)
	}
}

func TestPrecedenceAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lakeport.yaml")
	os.WriteFile(path, []byte("addr: 127.0.0.1:9000\nplatform:\n  aws_account_id: \"111122223333\"\nsample: false\n"), 0o600)
	t.Setenv("LAKEPORT_ADDR", "127.0.0.1:9100")
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9100" || c.Platform.AccountID != "111122223333" || c.Sample {
		t.Fatalf("env must win over the file, the file over defaults: %+v", c)
	}
	os.WriteFile(path, []byte("adr: typo\n"), 0o600)
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("an unknown key must be named: %v", err)
	}
	os.WriteFile(path, []byte("step_timeout: soon\n"), 0o600)
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "step_timeout") {
		t.Fatalf("a bad duration must be named: %v", err)
	}
	if _, err := config.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file must be an error")
	}
}

func TestAllowPrivateNetworks(t *testing.T) {
	t.Setenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS", "")
	if c := config.FromEnv(); c.AllowPrivateNetworks || !netguard.IsBlocked(c.Access("o", "x").Guard.Check(netip.MustParseAddrPort("127.0.0.1:9000"))) {
		t.Fatalf("private networks must be refused by default: %+v", c)
	}
	path := filepath.Join(t.TempDir(), "lakeport.yaml")
	os.WriteFile(path, []byte("network:\n  allow_private: true\n"), 0o600)
	c, err := config.Load(path)
	if err != nil || !c.AllowPrivateNetworks {
		t.Fatalf("network.allow_private: %+v, %v", c, err)
	}
	if err := c.Access("o", "x").Guard.Check(netip.MustParseAddrPort("127.0.0.1:9000")); err != nil {
		t.Fatalf("allowed by the file, refused by the guard: %v", err)
	}
	t.Setenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS", "0")
	if c, _ := config.Load(path); c.AllowPrivateNetworks {
		t.Fatal("LAKEPORT_ALLOW_PRIVATE_NETWORKS=0 must win over the file")
	}
	t.Setenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS", "1")
	if c := config.FromEnv(); !c.AllowPrivateNetworks {
		t.Fatal("LAKEPORT_ALLOW_PRIVATE_NETWORKS=1 must allow private networks")
	}
}
