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
