// Package config holds the install-wide settings of a lakeport server: where it keeps
// its data, where it listens, and the platform identity shown to organization admins.
package config

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Platform is the install's AWS identity: the two principals a customer's trust policy
// must name.
type Platform struct {
	AccountID          string `json:"aws_account_id"`
	WorkerPrincipalARN string `json:"worker_principal_arn"`
}

// Config is a server's configuration. Zero values mean the embedded defaults.
type Config struct {
	DataDir     string
	Addr        string
	Platform    Platform
	STSEndpoint string // empty: AWS's own STS endpoint
	STSRegion   string // region used to sign STS calls
	// WorkerRoleARN is the sync workers' own IAM role: the platform's credentials
	// (the default AWS chain) assume it, and its session assumes each customer's
	// role (a role chain). Empty: the workers use the platform's credentials. When
	// set it is the workers' principal customers' trust policies name.
	WorkerRoleARN string
	SecretKey     string            // base64 key for secrets at rest; empty: DataDir/secret.key
	StepTimeout   time.Duration     // per step of Test connection
	Sample        bool              // create and sync the sample connector on first start
	QueryEngine   string            // "duckdb" (embedded) or "athena"
	QueryProps    map[string]string // the engine's settings (e.g. memory_limit)
	LogFormat     string            // text or json
	// HealthInterval is how often customer-hosted storage is re-validated in the
	// background; a failing check pauses the organization's syncs.
	HealthInterval time.Duration
	// Managed is where managed storage lives: empty for the data dir, or the
	// platform's bucket "s3://bucket/prefix" (a prefix per organization), reached with
	// ManagedRegion, ManagedEndpoint (S3-compatible servers) and ManagedAccessKeyID /
	// ManagedSecretAccessKey, or the default AWS credential chain.
	Managed                string
	ManagedRegion          string
	ManagedEndpoint        string
	ManagedAccessKeyID     string
	ManagedSecretAccessKey string
	// Catalog is the Iceberg catalog: "sql" (default: in the metadata store), "glue"
	// (AWS Glue, one database per organization's connector) or "rest".
	Catalog       string
	CatalogRegion string // glue
	CatalogID     string // glue: the account owning the Data Catalog
	CatalogPrefix string // glue, rest: database name prefix (default lakeport_)
	CatalogURI    string // rest
	CatalogToken  string // rest: bearer token
	// SyncTimeout is the longest one sync may run (default 6h); a sync whose process
	// died is run again SyncRescueAfter after it started (default SyncTimeout + 10m).
	SyncTimeout     time.Duration
	SyncRescueAfter time.Duration
	// SyncLeaseTimeout is how long a running sync's lease lasts without its process's
	// heartbeat before another process resumes the sync (default 60s).
	SyncLeaseTimeout time.Duration
	// SyncMaxPerOrg is how many syncs of one organization run at once (default 1;
	// -1: no limit).
	SyncMaxPerOrg int
	// SyncBatchRows commits a stream's rows at the next STATE once it holds this many
	// (default 200,000): smaller means more, smaller commits.
	SyncBatchRows int
	// Database is the metadata store: empty for SQLite in the data dir, or a
	// postgres:// URL shared by several lakeport processes.
	Database string
	// MetricsAddr is where /metrics is served, on a listener of its own (never the
	// API's): DefaultMetricsAddr unless set; empty or "off" serves no metrics.
	MetricsAddr string
	// Console is the web console's settings.
	Console Console
	// AllowPrivateNetworks lets the endpoints organizations choose (an
	// S3-compatible server) be loopback, link-local, private or unique-local
	// addresses (network.allow_private). Off: only public addresses.
	AllowPrivateNetworks bool
	// Maintenance is table maintenance: compaction, snapshot expiry, orphan files.
	Maintenance Maintenance
	// Sources is what source programs may run and what they are given.
	Sources Sources
	// MaxConnectors caps each organization's connectors (default 50);
	// MinScheduleInterval is the shortest schedule interval (default 5m).
	MaxConnectors       int
	MinScheduleInterval time.Duration
	// File is the config file Load read, if any.
	File string
	// ManifestsDir is the operator's catalogue of declarative manifests: each
	// DIR/<name>/manifest.yaml (schemas beside it) or DIR/<name>.yaml is the
	// source <name>. Empty for none.
	ManifestsDir string
}

// Console is how the web console treats its network: cookies, proxies, sign-in limits.
type Console struct {
	// SecureCookies marks the session cookie Secure even when lakeport itself serves
	// plain HTTP: set it behind a TLS-terminating proxy.
	SecureCookies bool
	// TrustedProxies are the peers (reverse proxies, load balancers) whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed; from anyone else
	// they are ignored.
	TrustedProxies []netip.Prefix
	// SignIn limits password guessing.
	SignIn SignInLimits
}

// SignInLimits throttle console sign-ins: after PerUser failed sign-ins of one user
// (from any address) or PerAddress failures from one client address (for any user)
// within Window, further attempts answer 429 until the oldest failure leaves the window.
type SignInLimits struct {
	PerUser    int
	PerAddress int
	Window     time.Duration
}

// Default sign-in limits.
const (
	DefaultSignInPerUser    = 10
	DefaultSignInPerAddress = 50
	DefaultSignInWindow     = 15 * time.Minute
)

// WithDefaults fills the limits left at zero.
func (l SignInLimits) WithDefaults() SignInLimits {
	if l.PerUser <= 0 {
		l.PerUser = DefaultSignInPerUser
	}
	if l.PerAddress <= 0 {
		l.PerAddress = DefaultSignInPerAddress
	}
	if l.Window <= 0 {
		l.Window = DefaultSignInWindow
	}
	return l
}

// ParseProxies reads trusted proxies: CIDR prefixes or single addresses, separated by
// commas or spaces.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := parseProxy(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q: give an address or a CIDR prefix such as 10.0.0.0/8", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

const (
	DefaultDataDir     = "./lakeport-data"
	DefaultAddr        = "127.0.0.1:8080"
	DefaultURL         = "http://127.0.0.1:8080"
	DefaultMetricsAddr = "127.0.0.1:9464"
)

// FromEnv is Load without a file: the defaults overlaid with LAKEPORT_* variables.
func FromEnv() Config {
	c, _ := Load("")
	return c
}

func defaults() Config {
	return Config{DataDir: DefaultDataDir, Addr: DefaultAddr, STSRegion: "us-east-1", StepTimeout: 15 * time.Second,
		Sample: true, QueryEngine: "duckdb", LogFormat: "text", HealthInterval: 30 * time.Minute,
		MaxConnectors: DefaultMaxConnectors, MinScheduleInterval: DefaultMinScheduleInterval, MetricsAddr: DefaultMetricsAddr}
}

func applyEnv(c *Config) error {
	for k, dst := range map[string]*string{
		"LAKEPORT_DATA_DIR": &c.DataDir, "LAKEPORT_ADDR": &c.Addr, "LAKEPORT_STS_ENDPOINT": &c.STSEndpoint,
		"LAKEPORT_STS_REGION": &c.STSRegion, "LAKEPORT_SECRET_KEY": &c.SecretKey, "LAKEPORT_QUERY_ENGINE": &c.QueryEngine,
		"LAKEPORT_AWS_ACCOUNT_ID": &c.Platform.AccountID, "LAKEPORT_WORKER_PRINCIPAL_ARN": &c.Platform.WorkerPrincipalARN,
		"LAKEPORT_WORKER_ROLE_ARN": &c.WorkerRoleARN,
		"LAKEPORT_LOG_FORMAT":      &c.LogFormat, "LAKEPORT_DATABASE_URL": &c.Database, "LAKEPORT_METRICS_ADDR": &c.MetricsAddr,
		"LAKEPORT_MANAGED_WAREHOUSE": &c.Managed, "LAKEPORT_MANAGED_REGION": &c.ManagedRegion,
		"LAKEPORT_MANAGED_ENDPOINT": &c.ManagedEndpoint, "LAKEPORT_MANAGED_ACCESS_KEY_ID": &c.ManagedAccessKeyID,
		"LAKEPORT_MANAGED_SECRET_ACCESS_KEY": &c.ManagedSecretAccessKey,
		"LAKEPORT_CATALOG":                   &c.Catalog, "LAKEPORT_CATALOG_REGION": &c.CatalogRegion, "LAKEPORT_CATALOG_ID": &c.CatalogID,
		"LAKEPORT_CATALOG_URI": &c.CatalogURI, "LAKEPORT_CATALOG_TOKEN": &c.CatalogToken,
		"LAKEPORT_MANIFESTS_DIR": &c.ManifestsDir,
	} {
		if v := os.Getenv(k); v != "" {
			*dst = v
		}
	}
	applySourcesEnv(c)
	if v := os.Getenv("LAKEPORT_ALLOW_PRIVATE_NETWORKS"); v != "" {
		c.AllowPrivateNetworks = v == "1" || v == "true"
	}
	// The query settings an operator most often sets for a shared install.
	for env, key := range map[string]string{"LAKEPORT_QUERY_MAX_CONCURRENT": "max_concurrent",
		"LAKEPORT_QUERY_MAX_CONCURRENT_PER_ORG": "max_concurrent_per_org", "LAKEPORT_QUERY_MAX_TIMEOUT": "max_timeout"} {
		if v := os.Getenv(env); v != "" {
			props := maps.Clone(c.QueryProps)
			if props == nil {
				props = map[string]string{}
			}
			props[key] = v
			c.QueryProps = props
		}
	}
	if v := os.Getenv("LAKEPORT_SAMPLE"); v != "" {
		c.Sample = v != "false"
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_STEP_TIMEOUT")); err == nil && d > 0 {
		c.StepTimeout = d
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_HEALTH_INTERVAL")); err == nil && d > 0 {
		c.HealthInterval = d
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_SYNC_TIMEOUT")); err == nil && d > 0 {
		c.SyncTimeout = d
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_SYNC_RESCUE_AFTER")); err == nil && d > 0 {
		c.SyncRescueAfter = d
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_SYNC_LEASE_TIMEOUT")); err == nil && d > 0 {
		c.SyncLeaseTimeout = d
	}
	if n, err := strconv.Atoi(os.Getenv("LAKEPORT_SYNC_MAX_PER_ORG")); err == nil && n != 0 {
		c.SyncMaxPerOrg = n
	}
	return applyConsoleEnv(c)
}

// applyConsoleEnv reads the console's LAKEPORT_* variables; a value that cannot be used
// is an error naming the variable (these settings guard sign-in, so none is ignored).
func applyConsoleEnv(c *Config) error {
	if v := os.Getenv("LAKEPORT_SECURE_COOKIES"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: LAKEPORT_SECURE_COOKIES=%q: give true or false", v)
		}
		c.Console.SecureCookies = b
	}
	if v := os.Getenv("LAKEPORT_TRUSTED_PROXIES"); v != "" {
		p, err := ParseProxies(v)
		if err != nil {
			return fmt.Errorf("config: LAKEPORT_TRUSTED_PROXIES: %w", err)
		}
		c.Console.TrustedProxies = p
	}
	for k, dst := range map[string]*int{"LAKEPORT_SIGNIN_MAX_FAILURES_PER_USER": &c.Console.SignIn.PerUser,
		"LAKEPORT_SIGNIN_MAX_FAILURES_PER_ADDRESS": &c.Console.SignIn.PerAddress} {
		if v := os.Getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("config: %s=%q: give a whole number of at least 1", k, v)
			}
			*dst = n
		}
	}
	if v := os.Getenv("LAKEPORT_SIGNIN_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("config: LAKEPORT_SIGNIN_WINDOW=%q: give a duration such as 15m", v)
		}
		c.Console.SignIn.Window = d
	}
	return nil
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	arnRE     = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:(iam|sts)::\d{12}:[\w+=,.@/-]+$`)
	roleRE    = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]+$`)
)

// CheckPrincipals checks the workers' role and fills in the platform identity from
// it: with LAKEPORT_WORKER_ROLE_ARN set, that role is the workers' principal in
// customers' trust policies, so LAKEPORT_WORKER_PRINCIPAL_ARN defaults to it and
// may not name another.
func (c *Config) CheckPrincipals() error {
	if c.WorkerRoleARN == "" {
		return c.Platform.Check()
	}
	if !roleRE.MatchString(c.WorkerRoleARN) {
		return fmt.Errorf("config: LAKEPORT_WORKER_ROLE_ARN %q is not an IAM role ARN (arn:aws:iam::123456789012:role/lakeport-sync-worker)", c.WorkerRoleARN)
	}
	switch c.Platform.WorkerPrincipalARN {
	case "":
		c.Platform.WorkerPrincipalARN = c.WorkerRoleARN
	case c.WorkerRoleARN:
	default:
		return fmt.Errorf("config: LAKEPORT_WORKER_PRINCIPAL_ARN %q is not the workers' role %q (LAKEPORT_WORKER_ROLE_ARN): "+
			"the workers reach customers' roles as that role, so it is the principal their trust policies must name; "+
			"leave LAKEPORT_WORKER_PRINCIPAL_ARN unset or give it the same ARN", c.Platform.WorkerPrincipalARN, c.WorkerRoleARN)
	}
	return c.Platform.Check()
}

// Check reports a platform identity that is set but malformed.
func (p Platform) Check() error {
	if p.AccountID != "" && !accountRE.MatchString(p.AccountID) {
		return fmt.Errorf("config: LAKEPORT_AWS_ACCOUNT_ID %q is not a 12-digit AWS account ID", p.AccountID)
	}
	if p.WorkerPrincipalARN != "" && !arnRE.MatchString(p.WorkerPrincipalARN) {
		return fmt.Errorf("config: LAKEPORT_WORKER_PRINCIPAL_ARN %q is not an IAM role or user ARN (arn:aws:iam::123456789012:role/lakeport-sync-worker)", p.WorkerPrincipalARN)
	}
	return nil
}

// CatalogSettings are the chosen catalog backend's settings (see catalog/glue and
// catalog/rest for the keys each reads).
func (c Config) CatalogSettings() map[string]string {
	return map[string]string{"region": c.CatalogRegion, "catalog-id": c.CatalogID, "namespace-prefix": c.CatalogPrefix,
		"uri": c.CatalogURI, "token": c.CatalogToken}
}

// Configured reports whether both principals are known, which the trust policy needs.
func (p Platform) Configured() bool { return p.AccountID != "" && p.WorkerPrincipalARN != "" }
