package objstore

import "errors"

var (
	// ErrNotFound is wrapped by Get when the object does not exist.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrInvalidKey is wrapped by every operation given a key or prefix that
	// CheckKey rejects.
	ErrInvalidKey = errors.New("objstore: invalid key")
)

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
