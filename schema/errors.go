package schema

import "errors"

var (
	// ErrInvalidJSONSchema means a stream's JSON schema is not a JSON object.
	ErrInvalidJSONSchema = errors.New("schema: the stream's JSON schema is not a JSON object")
	// ErrInvalidRecord means a record is not a JSON object; nothing of it
	// was appended.
	ErrInvalidRecord = errors.New("schema: record is not a valid JSON object")
	// ErrUnsupportedColumn means a table has a column type the batch
	// builder cannot fill (a table lakeport did not create).
	ErrUnsupportedColumn = errors.New("schema: unsupported column type")
)
