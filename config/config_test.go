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
	if c.MetricsAddr != config.DefaultMetricsAddr || c.Console.SecureCookies || len(c.Console.TrustedProxies) != 0 ||
		c.Console.SignIn != (config.SignInLimits{PerUser: 10, PerAddress: 50, Window: 15 * time.Minute}) {
		t.Fatalf("example's metrics and console settings = %q %+v", c.MetricsAddr, c.Console)
	}
	if d := config.FromEnv(); d.MetricsAddr != config.DefaultMetricsAddr || d.Console.SignIn.WithDefaults() != c.Console.SignIn {
		t.Fatalf("the example's values are not the defaults: %+v", d)
	}
}

func TestConsoleSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lakeport.yaml")
	os.WriteFile(path, []byte("metrics_addr: \"off\"\nconsole:\n  secure_cookies: true\n  trusted_proxies: [10.0.0.0/8, 192.0.2.10]\n  signin:\n    max_failures_per_user: 3\n    window: 1h\n"), 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "off" || !c.Console.SecureCookies || len(c.Console.TrustedProxies) != 2 || c.Console.TrustedProxies[1].String() != "192.0.2.10/32" ||
		c.Console.SignIn.PerUser != 3 || c.Console.SignIn.Window != time.Hour || c.Console.SignIn.WithDefaults().PerAddress != config.DefaultSignInPerAddress {
		t.Fatalf("console settings = %q %+v", c.MetricsAddr, c.Console)
	}
	t.Setenv("LAKEPORT_TRUSTED_PROXIES", "127.0.0.1, ::1")
	t.Setenv("LAKEPORT_SECURE_COOKIES", "false")
	t.Setenv("LAKEPORT_SIGNIN_MAX_FAILURES_PER_ADDRESS", "7")
	if c, err = config.Load(path); err != nil || c.Console.SecureCookies || len(c.Console.TrustedProxies) != 2 || c.Console.SignIn.PerAddress != 7 {
		t.Fatalf("environment over the file: %+v, %v", c.Console, err)
	}
	for k, v := range map[string]string{"LAKEPORT_TRUSTED_PROXIES": "not-an-address", "LAKEPORT_SECURE_COOKIES": "sometimes",
		"LAKEPORT_SIGNIN_MAX_FAILURES_PER_USER": "0", "LAKEPORT_SIGNIN_WINDOW": "soon"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), k) {
				t.Fatalf("%s=%s: %v, want an error naming it", k, v, err)
			}
		})
	}
	os.WriteFile(path, []byte("console:\n  trusted_proxies: [everyone]\n"), 0o600)
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "console.trusted_proxies") {
		t.Fatalf("a bad trusted proxy in the file: %v", err)
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

func TestWorkerRole(t *testing.T) {
	const role = "arn:aws:iam::444455556666:role/lakeport-sync-worker"
	dir := t.TempDir()
	path := filepath.Join(dir, "lakeport.yaml")
	os.WriteFile(path, []byte("platform:\n  worker_role_arn: "+role+"\n"), 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckPrincipals(); err != nil || c.WorkerRoleARN != role || c.Platform.WorkerPrincipalARN != role {
		t.Fatalf("role %q, principal %q, %v; want both %s", c.WorkerRoleARN, c.Platform.WorkerPrincipalARN, err, role)
	}
	t.Setenv("LAKEPORT_WORKER_PRINCIPAL_ARN", "arn:aws:iam::444455556666:role/another")
	c, _ = config.Load(path)
	if err := c.CheckPrincipals(); err == nil || !strings.Contains(err.Error(), "LAKEPORT_WORKER_ROLE_ARN") {
		t.Fatalf("a principal other than the workers' role: %v", err)
	}
	t.Setenv("LAKEPORT_WORKER_PRINCIPAL_ARN", "")
	t.Setenv("LAKEPORT_WORKER_ROLE_ARN", "arn:aws:iam::444455556666:user/not-a-role")
	c, _ = config.Load(path)
	if err := c.CheckPrincipals(); err == nil || !strings.Contains(err.Error(), "LAKEPORT_WORKER_ROLE_ARN") {
		t.Fatalf("a user ARN as the workers' role: %v", err)
	}
}

func TestAllowPrivateNetworks(t *testing.T) {
	t.Setenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS", "")
	if c := config.FromEnv(); c.AllowPrivateNetworks || !netguard.IsBlocked(netguard.New(c.AllowPrivateNetworks).Check(netip.MustParseAddrPort("127.0.0.1:9000"))) {
		t.Fatalf("private networks must be refused by default: %+v", c)
	}
	path := filepath.Join(t.TempDir(), "lakeport.yaml")
	os.WriteFile(path, []byte("network:\n  allow_private: true\n"), 0o600)
	c, err := config.Load(path)
	if err != nil || !c.AllowPrivateNetworks {
		t.Fatalf("network.allow_private: %+v, %v", c, err)
	}
	if err := netguard.New(c.AllowPrivateNetworks).Check(netip.MustParseAddrPort("127.0.0.1:9000")); err != nil {
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

func TestMaintenanceSettings(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "lakeport.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Maintenance; m.Every != 24*time.Hour || m.TargetFileSize != 128<<20 || m.SnapshotRetention != 168*time.Hour || m.OrphanWindow != 72*time.Hour || m.MetadataVersions != 20 {
		t.Fatalf("the example's maintenance settings: %+v", m)
	}
	path := filepath.Join(t.TempDir(), "lakeport.yaml")
	os.WriteFile(path, []byte("maintenance:\n  every: \"off\"\n  target_file_size: 64MiB\n"), 0o600)
	t.Setenv("LAKEPORT_MAINTENANCE_TARGET_FILE_SIZE", "268435456")
	if c, err = config.Load(path); err != nil || c.Maintenance.Every >= 0 || c.Maintenance.TargetFileSize != 256<<20 {
		t.Fatalf("every off, and the environment over the file: %+v, %v", c.Maintenance, err)
	}
	t.Setenv("LAKEPORT_MAINTENANCE_TARGET_FILE_SIZE", "")
	for _, tc := range []struct{ yaml, names string }{
		{"maintenance:\n  target_file_size: 12 parsecs\n", "maintenance.target_file_size"},
		{"maintenance:\n  target_file_size: 1KiB\n", "maintenance.target_file_size"},
		{"maintenance:\n  every: 10s\n", "maintenance.every"},
		{"maintenance:\n  snapshot_retention: 10m\n", "maintenance.snapshot_retention"},
		{"maintenance:\n  metadata_versions: -3\n", "maintenance.metadata_versions"},
		// A window shorter than a sync may run would take its written files for orphans.
		{"sync_timeout: 12h\nmaintenance:\n  orphan_window: 6h\n", "maintenance.orphan_window"},
		{"maintenance:\n  orphan_window: 5h\n", "sync_timeout (6h0m0s)"},
	} {
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.names)
		}
	}
	os.WriteFile(path, []byte(""), 0o600)
	t.Setenv("LAKEPORT_MAINTENANCE_EVERY", "often")
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "LAKEPORT_MAINTENANCE_EVERY") {
		t.Errorf("a bad LAKEPORT_MAINTENANCE_EVERY: %v, want it named", err)
	}
}

func TestSourcesSettings(t *testing.T) {
	t.Setenv("LAKEPORT_SOURCES_ALLOW", "")
	c, err := config.Load(filepath.Join("..", "lakeport.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources.Allow) != 0 || c.MaxConnectors != 50 || c.MinScheduleInterval != 5*time.Minute ||
		c.Sources.MemoryLimit != 2<<30 || c.Sources.CPULimit != 6*time.Hour || c.Sources.CommandTimeout != 5*time.Minute {
		t.Fatalf("example: %+v", c)
	}
	path := filepath.Join(t.TempDir(), "lakeport.yaml")
	os.WriteFile(path, []byte("sources:\n  allow: [\"exec:/opt/airbyte/bin/*\"]\n  env: {B: \"2\", A: \"1\"}\n  memory_limit: 512MiB\nconnectors:\n  max_per_org: 3\n"), 0o600)
	c, err = config.Load(path)
	if err != nil || len(c.Sources.Allow) != 1 || strings.Join(c.Sources.Env, ",") != "A=1,B=2" || c.Sources.MemoryLimit != 512<<20 || c.MaxConnectors != 3 {
		t.Fatalf("file: %+v, %v", c, err)
	}
	t.Setenv("LAKEPORT_SOURCES_ALLOW", "exec:/usr/local/bin/source-x, image:airbyte/source-*,")
	if c, _ = config.Load(path); strings.Join(c.Sources.Allow, " ") != "exec:/usr/local/bin/source-x image:airbyte/source-*" {
		t.Fatalf("LAKEPORT_SOURCES_ALLOW must win over the file: %q", c.Sources.Allow)
	}
	for _, bad := range []string{"sources:\n  memory_limit: lots\n", "sources:\n  cpu_limit: 0s\n", "connectors:\n  max_per_org: 0\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := config.Load(path); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
}
