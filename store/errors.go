package store

import "errors"

var (
	// ErrNotFound means the row does not exist in the caller's organization.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique value (such as an organization name) is taken.
	ErrConflict = errors.New("store: already exists")
)
