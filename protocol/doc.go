// Package protocol implements the Airbyte protocol: the JSON-lines messages a
// source prints on stdout (RECORD, STATE, LOG, TRACE, SPEC, CATALOG,
// CONNECTION_STATUS, CONTROL), the configured catalog a source is given, a
// streaming Reader tuned for the RECORD hot path and a Writer.
//
// Field names follow the wire format exactly; the protocol mixes camelCase
// (connectionSpecification, connectionStatus, sourceStats) and snake_case
// (emitted_at, json_schema, stream_descriptor).
//
// Record data stays a json.RawMessage: the Reader checks that it is a
// well-formed JSON object but never decodes it.
package protocol
