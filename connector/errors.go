package connector

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound: no connector or run of that name in the caller's organization.
	ErrNotFound = errors.New("connector: not found")
	// ErrExists: the organization already has a connector of that name.
	ErrExists = errors.New("connector: already exists")
	// ErrBusy: a run of the connector (a sync, or table maintenance) is queued or running.
	ErrBusy = errors.New("connector: a sync or table maintenance of the connector is queued or running")
	// ErrMaintaining: the connector's tables are being maintained (an ErrBusy).
	ErrMaintaining = fmt.Errorf("%w: table maintenance is running", ErrBusy)
	// ErrStoragePaused: the organization's storage failed its last background check, so
	// nothing is written to it until it passes again.
	ErrStoragePaused = errors.New("connector: syncs are paused: the storage failed its last check")
	// ErrNoSchedules: the metadata store cannot keep schedules.
	ErrNoSchedules = errors.New("connector: this metadata store does not keep schedules")
	// ErrLimit: the organization has as many connectors as the operator allows.
	ErrLimit = errors.New("connector: the organization's connector limit is reached")
	// ErrStorageChanged: the organization's storage changed since the connector was set up.
	ErrStorageChanged = errors.New("connector: the organization's storage changed since setup")
	// ErrMigrating: the connector's tables are being moved to the organization's new
	// storage (lakeport storage migrate); its syncs wait until the move is done.
	ErrMigrating = errors.New("connector: its tables are moving to the new storage")
)

// FieldError names one bad input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InvalidError is bad input: every problem, each naming its field.
type InvalidError struct{ Fields []FieldError }

func (e *InvalidError) Error() string {
	var parts []string
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return strings.Join(parts, "; ")
}

func invalid(field, msg string) error {
	return &InvalidError{Fields: []FieldError{{Field: field, Message: msg}}}
}
