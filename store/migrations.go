package store

import (
	"context"
	"time"
)

// StorageLocation is a storage setting an organization saved, by the warehouse root
// it reaches: connectors bound to an earlier storage stay reachable through it (to
// migrate their tables) after the organization saves another.
type StorageLocation struct {
	Root    string // file:///… or s3://bucket[/prefix], as connectors record it
	Setting StorageSetting
}

// Migration states.
const (
	MigrationRunning = "running" // started: the connector's syncs wait
	MigrationDone    = "done"
	MigrationFailed  = "failed" // stopped with Error; running the migration again resumes it
	// MigrationRolledBack: stopped half way, then the organization's storage changed
	// again; the tables it had moved point at their source again.
	MigrationRolledBack = "rolled_back"
)

// Migration is a connector's move from one storage to another without a re-sync.
type Migration struct {
	OrgID       string
	ConnectorID string
	Source      string // the warehouse root it moves from
	Target      string // the warehouse root it moves to
	State       string
	// Tables lists the tables copied, rewritten and registered at Target so far
	// (JSON: names and checks), so an interrupted migration resumes.
	Tables       []byte
	DeleteSource bool
	Error        string
	StartedAt    time.Time
	UpdatedAt    time.Time
	FinishedAt   time.Time // zero while running
}

// Migrations keeps the settings of earlier storage and connectors' migrations. Every
// method takes the caller's org ID: a row of another organization is ErrNotFound.
type Migrations interface {
	// PutStorageLocation remembers the setting that reaches l.Root (the newest wins).
	PutStorageLocation(ctx context.Context, l StorageLocation) error
	// StorageLocation returns the setting that reached root; ErrNotFound when none.
	StorageLocation(ctx context.Context, orgID, root string) (StorageLocation, error)
	// PutMigration creates or replaces the connector's migration.
	PutMigration(ctx context.Context, m Migration) error
	// Migration returns the connector's latest migration; ErrNotFound when none.
	Migration(ctx context.Context, orgID, connectorID string) (Migration, error)
}
