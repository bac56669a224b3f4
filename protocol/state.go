package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrLegacyState is returned by StreamStates for a LEGACY state blob, which
// has no per-stream structure.
var ErrLegacyState = errors.New("protocol: LEGACY state has no per-stream states")

// StreamStates splits a saved state, as given to a source's `read --state`,
// into per-stream state blobs. It accepts:
//   - nothing, or null: no state;
//   - a JSON array of state messages (STREAM ones, or a GLOBAL one whose
//     stream_states are used);
//   - a single state message object.
//
// A LEGACY state returns ErrLegacyState.
func StreamStates(raw json.RawMessage) (map[StreamDescriptor]json.RawMessage, error) {
	out := make(map[StreamDescriptor]json.RawMessage)
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var msgs []StateMessage
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, fmt.Errorf("protocol: decode state: %w", err)
		}
	} else {
		var m StateMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("protocol: decode state: %w", err)
		}
		msgs = []StateMessage{m}
	}
	for i, m := range msgs {
		switch m.Type {
		case StateStream:
			if m.Stream == nil || m.Stream.StreamDescriptor.Name == "" {
				return nil, fmt.Errorf("protocol: decode state: [%d]: STREAM state without stream_descriptor.name", i)
			}
			out[m.Stream.StreamDescriptor] = m.Stream.StreamState
		case StateGlobal:
			if m.Global == nil {
				return nil, fmt.Errorf("protocol: decode state: [%d]: GLOBAL state without global", i)
			}
			for _, s := range m.Global.StreamStates {
				out[s.StreamDescriptor] = s.StreamState
			}
		default:
			return nil, ErrLegacyState
		}
	}
	return out, nil
}

// NewStreamStateMessage returns a STREAM state message for one stream,
// covering count records since the stream's previous state message.
func NewStreamStateMessage(d StreamDescriptor, state json.RawMessage, count int64) *Message {
	return &Message{Type: TypeState, State: &StateMessage{
		Type:        StateStream,
		Stream:      &StreamState{StreamDescriptor: d, StreamState: state},
		SourceStats: &StateStats{RecordCount: float64(count)},
	}}
}
