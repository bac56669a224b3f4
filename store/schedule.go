package store

import (
	"context"
	"time"
)

// Schedule is when a connector syncs on its own.
type Schedule struct {
	OrgID       string
	ConnectorID string
	Spec        string // "every 6h" or a cron expression
	NextRunAt   time.Time
}

// Schedules keeps connector schedules. Like Users it is a capability of its own, so a
// backend without it still builds; the scheduler needs it.
type Schedules interface {
	// PutSchedule sets a connector's schedule; an empty Spec removes it.
	PutSchedule(ctx context.Context, s Schedule) error
	// Schedule returns a connector's schedule; ErrNotFound when it has none.
	Schedule(ctx context.Context, orgID, connectorID string) (Schedule, error)
	// DueSchedules returns the schedules whose next run is at or before now.
	DueSchedules(ctx context.Context, now time.Time) ([]Schedule, error)
	// AdvanceSchedule moves s to next only if nobody moved it since s was read, so that
	// of several processes exactly one starts the run; false when another did.
	AdvanceSchedule(ctx context.Context, s Schedule, next time.Time) (bool, error)
}

// StorageHealth is the result of the last background Test connection of an
// organization's customer-hosted storage.
type StorageHealth struct {
	OrgID     string
	OK        bool
	Cause     string // the failing step's cause, e.g. explicit_deny
	Message   string // what failed, for people
	CheckedAt time.Time
}

// Health keeps storage health.
type Health interface {
	PutStorageHealth(ctx context.Context, h StorageHealth) error
	// StorageHealth returns the last result; ErrNotFound when never checked.
	StorageHealth(ctx context.Context, orgID string) (StorageHealth, error)
	// CustomerHostedOrgs lists the organizations whose storage is customer-hosted.
	CustomerHostedOrgs(ctx context.Context) ([]string, error)
}
