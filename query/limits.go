package query

import (
	"strconv"
	"time"
)

// Limits bound the queries of an engine; every engine's configuration embeds them.
type Limits struct {
	// DefaultMaxRows applies when a request does not set MaxRows (default 10,000).
	DefaultMaxRows int
	// MaxRows is the most rows a request may ask for (default 1,000,000); asking for
	// more is ErrTooManyRows.
	MaxRows int
	// DefaultTimeout applies when a request does not set Timeout (default 30s).
	DefaultTimeout time.Duration
	// MaxTimeout caps a request's Timeout (default 60s); longer asks are cut to
	// it. It bounds how long one query can hold one of the shared slots.
	MaxTimeout time.Duration
}

// WithDefaults fills the zero limits.
func (l Limits) WithDefaults() Limits {
	if l.MaxRows <= 0 {
		l.MaxRows = 1_000_000
	}
	if l.DefaultMaxRows <= 0 {
		l.DefaultMaxRows = min(10_000, l.MaxRows)
	}
	if l.MaxTimeout <= 0 {
		l.MaxTimeout = 60 * time.Second
	}
	if l.DefaultTimeout <= 0 {
		l.DefaultTimeout = min(30*time.Second, l.MaxTimeout)
	}
	return l
}

// Set reads the limit named key (default_max_rows, max_rows, default_timeout,
// max_timeout) from a string setting; known is false for any other key.
func (l *Limits) Set(key, value string) (known bool, err error) {
	switch key {
	case "default_max_rows":
		l.DefaultMaxRows, err = strconv.Atoi(value)
	case "max_rows":
		l.MaxRows, err = strconv.Atoi(value)
	case "default_timeout":
		l.DefaultTimeout, err = time.ParseDuration(value)
	case "max_timeout":
		l.MaxTimeout, err = time.ParseDuration(value)
	default:
		return false, nil
	}
	return true, err
}
