// Package store holds lakeport's metadata: organizations, API tokens and storage
// settings. Store is the interface; store/sqlite is the embedded implementation and a
// PostgreSQL one fills the same interface for several lakeport processes.
package store

import (
	"context"
	"time"
)

// Role is what a token may do inside its organization.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMember }

// Org is a tenant. Every other row belongs to exactly one.
type Org struct {
	ID         string
	Name       string
	ExternalID string // generated once, passed to sts:AssumeRole; never taken from a request
	CreatedAt  time.Time
}

// Token is an API token. Only the SHA-256 hash of the secret is stored.
type Token struct {
	ID         string
	OrgID      string
	Role       Role
	Operator   bool // the install's operator (the bootstrap admin) may create organizations
	Hash       []byte
	Name       string // what it is for, given at creation (may be empty)
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used (updated at most once a minute)
	// ParentID is the token a console session's token was minted from (a sign-in with
	// an API token); revoking the parent revokes it. UserID is the console user a
	// session's token acts for (a sign-in with a password). Both are empty for tokens
	// made with `token create` or with an organization.
	ParentID string
	UserID   string
}

// Owner is who holds t: the console user it acts for, else the token it was minted
// from, else itself. A member sees and revokes only tokens with their own Owner.
func (t Token) Owner() string {
	switch {
	case t.UserID != "":
		return "user:" + t.UserID
	case t.ParentID != "":
		return "token:" + t.ParentID
	default:
		return "token:" + t.ID
	}
}

// StorageSetting is an organization's saved choice of where its data lives.
// SecretAccessKeySealed is the encrypted secret key (secrets.Box); it is never returned
// by the API.
type StorageSetting struct {
	OrgID                 string
	Mode                  string // "managed" or "customer_hosted"
	Bucket                string
	Region                string
	RoleARN               string
	KMSKeyARN             string
	Endpoint              string
	AccessKeyID           string
	SecretAccessKeySealed string
	ValidatedAt           time.Time // zero when never validated
	UpdatedAt             time.Time
}

// Store is lakeport's metadata store.
type Store interface {
	// CreateOrg creates an organization; ErrConflict when the name is taken.
	CreateOrg(ctx context.Context, o Org) error
	Org(ctx context.Context, id string) (Org, error)
	OrgByName(ctx context.Context, name string) (Org, error)
	CountOrgs(ctx context.Context) (int, error)

	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token by the hash of its secret; ErrNotFound when none.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// ListTokens returns the organization's tokens, oldest first.
	ListTokens(ctx context.Context, orgID string) ([]Token, error)
	// RevokeToken deletes the organization's token id, the tokens minted from it
	// (ParentID) and their console sessions; ErrNotFound when the organization has no
	// such token.
	RevokeToken(ctx context.Context, orgID, id string) error
	// TouchToken records that token id was used at t.
	TouchToken(ctx context.Context, id string, t time.Time) error
	// DeleteExpiredTokens deletes the tokens (and their sessions) that expired before t.
	DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error)

	// StorageSetting returns the org's setting; an org that never saved one gets
	// Mode "managed" and no error.
	StorageSetting(ctx context.Context, orgID string) (StorageSetting, error)
	PutStorageSetting(ctx context.Context, s StorageSetting) error

	Connectors

	Close() error
}

// Connector is an organization's configured source, the streams it syncs and the
// warehouse it was bound to at setup.
type Connector struct {
	ID     string
	OrgID  string
	Name   string
	Source string // "sample", "exec:/path/to/program", "image:REF" or "manifest:LABEL"
	// Manifest is the declarative manifest (YAML or JSON) a manifest: source
	// was created with; empty for other sources. It is not secret.
	Manifest     string
	ConfigSealed string // the source's config JSON, sealed with secrets.Box
	Catalog      []byte // the configured catalog (protocol.ConfiguredCatalog JSON)
	Warehouse    string // where its namespace lives: file:///… or s3://bucket/…
	StorageMode  string // the org's storage mode when it was set up
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Run kinds: what a run does. Both kinds share a connector's one active run (see
// Leases): a connector's tables are synced or maintained, never both at once.
const (
	RunSync        = "sync"
	RunMaintenance = "maintenance" // compaction, snapshot expiry, orphan files (package maintain)
)

// Run is one run of a connector: a sync, or table maintenance.
type Run struct {
	ID          string
	OrgID       string
	ConnectorID string
	// Kind is RunSync (also when empty) or RunMaintenance.
	Kind    string
	Status  string
	Records int64
	Bytes   int64
	// Streams is a sync's per-stream figures, or maintenance's per-table report, JSON.
	Streams    []byte
	Error      string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// Attempts counts the processes that took the run on (see Leases); set by the
	// store when an attempt starts.
	Attempts int
}

// Connectors is the part of Store that keeps connectors and their runs. Every method
// takes the caller's org ID: a row of another organization is ErrNotFound.
type Connectors interface {
	CreateConnector(ctx context.Context, c Connector) error
	Connector(ctx context.Context, orgID, name string) (Connector, error)
	ConnectorByID(ctx context.Context, orgID, id string) (Connector, error)
	ListConnectors(ctx context.Context, orgID string) ([]Connector, error)
	UpdateConnector(ctx context.Context, c Connector) error
	DeleteConnector(ctx context.Context, orgID, id string) error

	CreateRun(ctx context.Context, r Run) error
	UpdateRun(ctx context.Context, r Run) error
	Run(ctx context.Context, orgID, id string) (Run, error)
	Runs(ctx context.Context, orgID, connectorID string, limit int) ([]Run, error)
}

// IsMaintenance reports whether r is a table maintenance run.
func (r Run) IsMaintenance() bool { return r.Kind == RunMaintenance }

// Due is a connector whose tables are due for maintenance.
type Due struct {
	OrgID, ConnectorID string
}

// Maintenance finds the connectors whose tables are due for maintenance. Like
// Schedules it is a capability of its own; the maintenance scheduler needs it.
type Maintenance interface {
	// MaintenanceDue returns, across organizations, the connectors that finished a
	// sync run after their latest maintenance run was created (or that never had
	// one) and whose latest maintenance run was created before before (or never).
	MaintenanceDue(ctx context.Context, before time.Time) ([]Due, error)
}
