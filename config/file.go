package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// file is lakeport.yaml; lakeport.example.yaml documents every key.
type file struct {
	DataDir        string `yaml:"data_dir"`
	Database       string `yaml:"database"`
	Addr           string `yaml:"addr"`
	LogFormat      string `yaml:"log_format"`
	Sample         *bool  `yaml:"sample"`
	StepTimeout    string `yaml:"step_timeout"`
	HealthInterval string `yaml:"health_interval"`
	SyncTimeout    string `yaml:"sync_timeout"`
	MetricsAddr    string `yaml:"metrics_addr"`
	Console        struct {
		SecureCookies  *bool    `yaml:"secure_cookies"`
		TrustedProxies []string `yaml:"trusted_proxies"`
		SignIn         struct {
			MaxFailuresPerUser    int    `yaml:"max_failures_per_user"`
			MaxFailuresPerAddress int    `yaml:"max_failures_per_address"`
			Window                string `yaml:"window"`
		} `yaml:"signin"`
	} `yaml:"console"`
	Sync struct {
		LeaseTimeout string `yaml:"lease_timeout"`
		MaxPerOrg    int    `yaml:"max_per_org"`
	} `yaml:"sync"`
	Platform struct {
		AWSAccountID       string `yaml:"aws_account_id"`
		WorkerPrincipalARN string `yaml:"worker_principal_arn"`
		WorkerRoleARN      string `yaml:"worker_role_arn"`
	} `yaml:"platform"`
	STS struct {
		Endpoint string `yaml:"endpoint"`
		Region   string `yaml:"region"`
	} `yaml:"sts"`
	Managed struct {
		Warehouse       string `yaml:"warehouse"`
		Region          string `yaml:"region"`
		Endpoint        string `yaml:"endpoint"`
		AccessKeyID     string `yaml:"access_key_id"`
		SecretAccessKey string `yaml:"secret_access_key"`
	} `yaml:"managed"`
	Catalog struct {
		Kind      string `yaml:"kind"`
		Region    string `yaml:"region"`
		CatalogID string `yaml:"catalog_id"`
		Prefix    string `yaml:"prefix"`
		URI       string `yaml:"uri"`
		Token     string `yaml:"token"`
	} `yaml:"catalog"`
	Query struct {
		Engine   string            `yaml:"engine"`
		Settings map[string]string `yaml:"settings"`
	} `yaml:"query"`
	Network struct {
		AllowPrivate *bool `yaml:"allow_private"`
	} `yaml:"network"`
	Sources     sourcesFile     `yaml:"sources"`
	Connectors  connectorsFile  `yaml:"connectors"`
	Maintenance maintenanceFile `yaml:"maintenance"`
}

// Load returns the defaults, overlaid with the file at path (when not empty), overlaid
// with LAKEPORT_* environment variables. Command-line flags go over all of them.
func Load(path string) (Config, error) {
	c := defaults()
	c.File = path
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		var f file
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config: %s: %w (lakeport.example.yaml lists every setting)", path, err)
		}
		if err := f.apply(&c); err != nil {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&c); err != nil {
		return c, err
	}
	if err := maintenanceEnv(&c.Maintenance); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.Maintenance.Check(c.SyncTimeout); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func (f *file) apply(c *Config) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.DataDir, f.DataDir)
	set(&c.Database, f.Database)
	set(&c.Catalog, f.Catalog.Kind)
	set(&c.CatalogRegion, f.Catalog.Region)
	set(&c.CatalogID, f.Catalog.CatalogID)
	set(&c.CatalogPrefix, f.Catalog.Prefix)
	set(&c.CatalogURI, f.Catalog.URI)
	set(&c.CatalogToken, f.Catalog.Token)
	set(&c.Managed, f.Managed.Warehouse)
	set(&c.ManagedRegion, f.Managed.Region)
	set(&c.ManagedEndpoint, f.Managed.Endpoint)
	set(&c.ManagedAccessKeyID, f.Managed.AccessKeyID)
	set(&c.ManagedSecretAccessKey, f.Managed.SecretAccessKey)
	set(&c.Addr, f.Addr)
	set(&c.LogFormat, f.LogFormat)
	set(&c.Platform.AccountID, f.Platform.AWSAccountID)
	set(&c.Platform.WorkerPrincipalARN, f.Platform.WorkerPrincipalARN)
	set(&c.WorkerRoleARN, f.Platform.WorkerRoleARN)
	set(&c.STSEndpoint, f.STS.Endpoint)
	set(&c.STSRegion, f.STS.Region)
	set(&c.QueryEngine, f.Query.Engine)
	if f.Sample != nil {
		c.Sample = *f.Sample
	}
	if f.Network.AllowPrivate != nil {
		c.AllowPrivateNetworks = *f.Network.AllowPrivate
	}
	if len(f.Query.Settings) > 0 {
		c.QueryProps = f.Query.Settings
	}
	if f.StepTimeout != "" {
		d, err := time.ParseDuration(f.StepTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("step_timeout %q: give a duration such as 15s", f.StepTimeout)
		}
		c.StepTimeout = d
	}
	if f.HealthInterval != "" {
		d, err := time.ParseDuration(f.HealthInterval)
		if err != nil || d < time.Minute {
			return fmt.Errorf("health_interval %q: give a duration of at least 1m, such as 30m", f.HealthInterval)
		}
		c.HealthInterval = d
	}
	if f.SyncTimeout != "" {
		d, err := time.ParseDuration(f.SyncTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("sync_timeout %q: give a duration such as 6h", f.SyncTimeout)
		}
		c.SyncTimeout = d
	}
	if f.Sync.LeaseTimeout != "" {
		d, err := time.ParseDuration(f.Sync.LeaseTimeout)
		if err != nil || d < 5*time.Second {
			return fmt.Errorf("sync.lease_timeout %q: give a duration of at least 5s, such as 60s", f.Sync.LeaseTimeout)
		}
		c.SyncLeaseTimeout = d
	}
	if f.Sync.MaxPerOrg < -1 {
		return fmt.Errorf("sync.max_per_org %d: give how many syncs of one organization may run at once (at least 1), or -1 for no limit", f.Sync.MaxPerOrg)
	}
	if f.Sync.MaxPerOrg != 0 {
		c.SyncMaxPerOrg = f.Sync.MaxPerOrg
	}
	if err := f.Maintenance.apply(&c.Maintenance); err != nil {
		return err
	}
	if err := f.Sources.apply(c); err != nil {
		return err
	}
	if err := f.Connectors.apply(c); err != nil {
		return err
	}
	set(&c.MetricsAddr, f.MetricsAddr)
	if err := f.applyConsole(&c.Console); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format %q: must be text or json", c.LogFormat)
	}
	return nil
}

func (f *file) applyConsole(c *Console) error {
	fc := f.Console
	if fc.SecureCookies != nil {
		c.SecureCookies = *fc.SecureCookies
	}
	for _, p := range fc.TrustedProxies {
		prefix, err := parseProxy(p)
		if err != nil {
			return fmt.Errorf("console.trusted_proxies: %w", err)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if n := fc.SignIn.MaxFailuresPerUser; n != 0 {
		if n < 1 {
			return fmt.Errorf("console.signin.max_failures_per_user %d: give a whole number of at least 1", n)
		}
		c.SignIn.PerUser = n
	}
	if n := fc.SignIn.MaxFailuresPerAddress; n != 0 {
		if n < 1 {
			return fmt.Errorf("console.signin.max_failures_per_address %d: give a whole number of at least 1", n)
		}
		c.SignIn.PerAddress = n
	}
	if w := fc.SignIn.Window; w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < time.Second {
			return fmt.Errorf("console.signin.window %q: give a duration such as 15m", w)
		}
		c.SignIn.Window = d
	}
	return nil
}
