// Package config holds the install-wide settings of a lakeport server: where it keeps
// its data, where it listens, and the platform identity shown to organization admins.
package config

import (
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/lakeport/lakeport/storage"
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
	STSEndpoint string            // empty: AWS's own STS endpoint
	STSRegion   string            // region used to sign STS calls
	SecretKey   string            // base64 key for secrets at rest; empty: DataDir/secret.key
	StepTimeout time.Duration     // per step of Test connection
	Sample      bool              // create and sync the sample connector on first start
	QueryEngine string            // "duckdb" (embedded) or "athena"
	QueryProps  map[string]string // the engine's settings (e.g. memory_limit)
}

const (
	DefaultDataDir = "./lakeport-data"
	DefaultAddr    = "127.0.0.1:8080"
	DefaultURL     = "http://127.0.0.1:8080"
)

// FromEnv fills a Config from LAKEPORT_* variables over the defaults.
func FromEnv() Config {
	c := Config{
		DataDir:     envOr("LAKEPORT_DATA_DIR", DefaultDataDir),
		Addr:        envOr("LAKEPORT_ADDR", DefaultAddr),
		STSEndpoint: os.Getenv("LAKEPORT_STS_ENDPOINT"),
		STSRegion:   envOr("LAKEPORT_STS_REGION", "us-east-1"),
		SecretKey:   os.Getenv("LAKEPORT_SECRET_KEY"),
		StepTimeout: 15 * time.Second,
		Sample:      os.Getenv("LAKEPORT_SAMPLE") != "false",
		QueryEngine: envOr("LAKEPORT_QUERY_ENGINE", "duckdb"),
		Platform: Platform{
			AccountID:          os.Getenv("LAKEPORT_AWS_ACCOUNT_ID"),
			WorkerPrincipalARN: os.Getenv("LAKEPORT_WORKER_PRINCIPAL_ARN"),
		},
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_STEP_TIMEOUT")); err == nil && d > 0 {
		c.StepTimeout = d
	}
	return c
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	arnRE     = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:(iam|sts)::\d{12}:[\w+=,.@/-]+$`)
)

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

// Access is how this install reaches an organization's customer-hosted bucket: STS
// with the organization's external ID and a session name that names the organization.
func (c Config) Access(orgID, externalID string) storage.Access {
	return storage.Access{ExternalID: externalID, SessionName: "lakeport-" + orgID, STSEndpoint: c.STSEndpoint, STSRegion: c.STSRegion}
}

// Configured reports whether both principals are known, which the trust policy needs.
func (p Platform) Configured() bool { return p.AccountID != "" && p.WorkerPrincipalARN != "" }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
