package storage

import (
	"errors"
	"strings"
)

var (
	// ErrInvalidSetting is wrapped by errors about a Setting that fails Check.
	ErrInvalidSetting = errors.New("storage: invalid setting")
	// ErrInvalidAccess is wrapped by errors about an Access the platform built
	// wrongly (an external ID or session name AWS would reject).
	ErrInvalidAccess = errors.New("storage: invalid access")
	// ErrInvalidOrgID is wrapped when an organization ID cannot name a
	// folder of the managed warehouse.
	ErrInvalidOrgID = errors.New("storage: invalid organization ID")
	// ErrUnknownMode is wrapped when the storage mode is neither managed nor
	// customer_hosted.
	ErrUnknownMode = errors.New("storage: unknown storage mode")
	// ErrNoCredentials is wrapped when the role of a customer bucket cannot
	// be assumed, or the platform's credentials for the managed bucket cannot
	// be loaded; the wrapped error says why.
	ErrNoCredentials = errors.New("storage: cannot get credentials for the bucket")
	// ErrNotLocal is wrapped when a local folder is asked of a bucket.
	ErrNotLocal = errors.New("storage: not a local folder")
	// ErrOutside is wrapped when a path does not lie under a location's root.
	ErrOutside = errors.New("storage: path outside the location")
	// ErrUnknownLocation is wrapped when lakeport no longer knows how to reach a
	// warehouse root (no saved setting ever reached it).
	ErrUnknownLocation = errors.New("storage: unknown location")
)

// SettingError carries every problem Check found with a Setting.
type SettingError struct{ Fields []FieldError }

func (e *SettingError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "storage: invalid setting: " + strings.Join(msgs, "; ")
}

func (e *SettingError) Unwrap() error { return ErrInvalidSetting }
