package migration

import "errors"

var (
	// ErrBusy: a sync of the connector kept running for longer than the migration
	// waits; run the migration again once it finished.
	ErrBusy = errors.New("migration: a sync of the connector is still running")
	// ErrRunning: a migration of the organization is already running (in this
	// process: one lakeport serve migrates an organization at a time).
	ErrRunning = errors.New("migration: a migration of this organization is already running")
	// ErrUnsafe: the table's metadata names a file outside the table's own location
	// (or a location outside the connector's prefix). Metadata in a customer's bucket
	// is untrusted: the migration copies nothing it names from elsewhere.
	ErrUnsafe = errors.New("migration: table metadata names a path outside the table")
	// ErrVerify: the copy at the new place does not match the original (rows, files
	// or checksums); the connector stays where it was.
	ErrVerify = errors.New("migration: the copy does not match the original")
	// ErrUnsupported: a table lakeport cannot move as it is (a format version other
	// than 2).
	ErrUnsupported = errors.New("migration: table not supported")
)
