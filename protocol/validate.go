package protocol

import "fmt"

// Validate checks that m has what its type requires: the matching field set
// and that field's required members. It returns an error wrapping
// ErrMissingType, ErrUnknownType or ErrInvalidMessage.
func (m *Message) Validate() error {
	if m.Type == "" {
		return &messageError{kind: ErrMissingType}
	}
	bad := func(format string, args ...any) error {
		return &messageError{kind: ErrInvalidMessage, detail: fmt.Sprintf(format, args...)}
	}
	switch m.Type {
	case TypeRecord:
		r := m.Record
		switch {
		case r == nil:
			return bad("RECORD without record")
		case r.Stream == "":
			return bad("RECORD without stream")
		case len(r.Data) == 0 || string(r.Data) == "null":
			return bad("RECORD without data")
		case r.Data[0] != '{':
			return bad("RECORD data is not a JSON object")
		}
	case TypeState:
		s := m.State
		if s == nil {
			return bad("STATE without state")
		}
		switch s.Type {
		case StateStream:
			if s.Stream == nil || s.Stream.StreamDescriptor.Name == "" {
				return bad("STREAM state without stream.stream_descriptor.name")
			}
		case StateGlobal:
			if s.Global == nil {
				return bad("GLOBAL state without global")
			}
			for i, ss := range s.Global.StreamStates {
				if ss.StreamDescriptor.Name == "" {
					return bad("GLOBAL state: stream_states[%d] without stream_descriptor.name", i)
				}
			}
		case StateLegacy, "":
		default:
			return bad("unknown state type %q", s.Type)
		}
	case TypeLog:
		if m.Log == nil {
			return bad("LOG without log")
		}
		if m.Log.Level == "" {
			return bad("LOG without level")
		}
	case TypeSpec:
		if m.Spec == nil {
			return bad("SPEC without spec")
		}
		if len(m.Spec.ConnectionSpecification) == 0 || string(m.Spec.ConnectionSpecification) == "null" {
			return bad("SPEC without connectionSpecification")
		}
	case TypeConnectionStatus:
		if m.ConnectionStatus == nil {
			return bad("CONNECTION_STATUS without connectionStatus")
		}
		if s := m.ConnectionStatus.Status; s != StatusSucceeded && s != StatusFailed {
			return bad("CONNECTION_STATUS with status %q, want SUCCEEDED or FAILED", s)
		}
	case TypeCatalog:
		if m.Catalog == nil {
			return bad("CATALOG without catalog")
		}
		for i, s := range m.Catalog.Streams {
			if s.Name == "" {
				return bad("CATALOG: streams[%d] without name", i)
			}
		}
	case TypeTrace:
		if m.Trace == nil {
			return bad("TRACE without trace")
		}
		switch m.Trace.Type {
		case TraceError:
			if m.Trace.Error == nil {
				return bad("ERROR trace without error")
			}
		case TraceEstimate:
			if m.Trace.Estimate == nil {
				return bad("ESTIMATE trace without estimate")
			}
		case TraceStreamStatus:
			if m.Trace.StreamStatus == nil || m.Trace.StreamStatus.StreamDescriptor.Name == "" {
				return bad("STREAM_STATUS trace without stream_status.stream_descriptor.name")
			}
		case TraceAnalytics:
			if m.Trace.Analytics == nil {
				return bad("ANALYTICS trace without analytics")
			}
		case "":
			return bad("TRACE without type")
		default:
			// Newer trace types are tolerated: the protocol grows them.
		}
	case TypeControl:
		if m.Control == nil {
			return bad("CONTROL without control")
		}
	default:
		return &messageError{kind: ErrUnknownType, detail: fmt.Sprintf("%q", m.Type)}
	}
	return nil
}

// messageError is what Validate returns: a kind and a detail, kept apart
// so the Reader can put them into a LineError.
type messageError struct {
	kind   error
	detail string
}

func (e *messageError) Error() string {
	if e.detail == "" {
		return "protocol: " + e.kind.Error()
	}
	return "protocol: " + e.kind.Error() + ": " + e.detail
}

func (e *messageError) Unwrap() error { return e.kind }
