package syncer

import "errors"

var (
	// ErrUnknownStream means the source emitted a record for a stream that is not in
	// the configured catalog.
	ErrUnknownStream = errors.New("syncer: record for a stream that is not in the connector's catalog")
	// ErrRecordTooLarge means one record is over Options.MaxRecordBytes.
	ErrRecordTooLarge = errors.New("syncer: record over the size limit")
	// ErrMalformed means the source printed a line that is not a valid protocol message.
	ErrMalformed = errors.New("syncer: the source sent a malformed message")
	// ErrCatalog means the configured catalog cannot be synced as given.
	ErrCatalog = errors.New("syncer: invalid configured catalog")
)

// ErrRecordCount means a STATE's sourceStats.recordCount disagrees with the records
// lakeport received since the previous STATE: the commit it would make is refused.
var ErrRecordCount = errors.New("syncer: record count mismatch")

// ErrSourceFailed means the source reported an error (a TRACE message of type ERROR).
// The run fails with a *SourceError that carries the source's message.
var ErrSourceFailed = errors.New("syncer: the source reported an error")

// SourceError is the error a source reported with a TRACE ERROR message.
type SourceError struct {
	Message     string
	FailureType string // system_error, config_error, transient_error; may be empty
	Stream      string // the stream it concerns, if any
}

func (e *SourceError) Error() string {
	kind := e.FailureType
	if kind == "" {
		kind = "error"
	}
	s := "the source reported a " + kind + ": " + e.Message
	if e.Stream != "" {
		s += " (stream " + e.Stream + ")"
	}
	s += "; what it committed before stays, the rest is read again by the next sync"
	if e.FailureType == "config_error" {
		s += "; check the connector's config"
	}
	return s
}

func (e *SourceError) Unwrap() error { return ErrSourceFailed }
