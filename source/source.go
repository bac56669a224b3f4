// Package source runs sources: programs that speak the Airbyte protocol.
//
// A Source is opened by reference with Open:
//
//	sample                 a built-in source, run in process
//	exec:/path/to/program  a local executable
//	image:REF              a container image, run with docker or podman
//
// Every kind answers through the same interface and streams its messages
// as protocol.Message values.
package source

import (
	"context"
	"encoding/json"

	"github.com/lakeport/lakeport/protocol"
)

// Source is a connector that speaks the Airbyte protocol.
type Source interface {
	// Spec returns the connector's specification, including the JSON schema
	// of its config.
	Spec(ctx context.Context) (*protocol.ConnectorSpecification, error)
	// Check tries the config. A config the source rejects is a FAILED
	// status, not an error; an error means the check could not run.
	Check(ctx context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error)
	// Discover returns the streams the source offers with this config.
	Discover(ctx context.Context, config json.RawMessage) (*protocol.Catalog, error)
	// Read starts reading the configured streams from the given state (nil
	// for none; otherwise the JSON array of state messages last committed).
	// Messages arrive on the returned stream until io.EOF.
	Read(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage) (MessageStream, error)
}

// MessageStream is the output of a Read.
//
// Next returns the next message, and io.EOF once the source has finished
// successfully. When the source fails (a non-zero exit status, a cancelled
// context) Next returns that error instead of io.EOF. A *protocol.LineError
// (a malformed or plain-text line) concerns one line only: the caller may
// skip it and call Next again.
//
// Close stops the source if it is still running and releases everything
// the read holds. It returns the source's failure, if it failed; closing a
// stream early is not a failure. Close must always be called.
type MessageStream interface {
	Next() (*protocol.Message, error)
	Close() error
}
