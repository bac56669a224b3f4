package syncer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/lakeport/lakeport/protocol"
)

// This file is the sync's state handling, kept apart from the record pipeline in
// syncer.go: which shape a STATE message has, what a commit stores as its state, what
// the source is handed back on the next read, and the checks a STATE asks for
// (sourceStats.recordCount).
//
// The three shapes of the Airbyte protocol:
//
//   - STREAM: one state per stream. Each stream's table commits its own; the next read
//     gets the array of every stream's last message.
//   - GLOBAL: one state shared by every stream (CDC sources: a log position plus
//     per-stream states). Every table commits the same message; the next read gets it
//     back as one message in an array.
//   - LEGACY: an opaque blob under "data", from sources that predate per-stream state (a
//     STATE with no "type" at all is LEGACY). Committed like GLOBAL; the next read gets
//     the blob itself, as the source wrote it.
//
// GLOBAL and LEGACY states cover every table, but tables commit one by one: a sync that
// dies between two of them leaves some tables one state ahead. The next read resumes
// from the oldest state any table holds, and a table that is ahead takes none of the
// records the source sends again until the source re-sends the state that table holds
// (its records up to there are in the table already).

// stateEnvelope is what a commit stores as its state: the STATE message that covers
// the commit, and for GLOBAL and LEGACY states a sequence that orders them across
// tables (the oldest is resumed from).
type stateEnvelope struct {
	V       int                    `json:"v"`
	Seq     int64                  `json:"seq,omitempty"`
	Message *protocol.StateMessage `json:"message"`
}

// stateShape is the shape of a STATE message: a STATE without a type is LEGACY unless
// it plainly carries a stream or global state.
func stateShape(m *protocol.StateMessage) (protocol.StateType, error) {
	switch m.Type {
	case protocol.StateStream:
		if m.Stream == nil || m.Stream.StreamDescriptor.Name == "" {
			return "", fmt.Errorf("%w: a STREAM state without stream.stream_descriptor.name", ErrMalformed)
		}
		return protocol.StateStream, nil
	case protocol.StateGlobal:
		if m.Global == nil {
			return "", fmt.Errorf("%w: a GLOBAL state without global", ErrMalformed)
		}
		return protocol.StateGlobal, nil
	case protocol.StateLegacy, "":
		switch {
		case len(m.Data) > 0 && string(m.Data) != "null":
			return protocol.StateLegacy, nil
		case m.Type == "" && m.Global != nil:
			return protocol.StateGlobal, nil
		case m.Type == "" && m.Stream != nil && m.Stream.StreamDescriptor.Name != "":
			return protocol.StateStream, nil
		}
		return "", fmt.Errorf("%w: a LEGACY state (a STATE with no type, or type LEGACY) without data", ErrMalformed)
	}
	return "", fmt.Errorf("%w: a STATE of unknown type %q (want STREAM, GLOBAL or LEGACY)", ErrMalformed, m.Type)
}

// stored is the message as a commit keeps it: its shape made explicit, without the
// counts that only concern this read.
func stored(m *protocol.StateMessage, shape protocol.StateType) *protocol.StateMessage {
	c := *m
	c.Type = shape
	c.SourceStats, c.DestinationStats = nil, nil
	return &c
}

// sharedKey identifies a GLOBAL or LEGACY state by its content (JSON with sorted keys),
// so a state the source sends again is recognised.
func sharedKey(m *protocol.StateMessage) string {
	var v any
	switch m.Type {
	case protocol.StateLegacy:
		v = m.Data
	default:
		v = m.Global
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return string(raw)
	}
	canon, _ := json.Marshal(generic)
	return string(canon)
}

// resume is what a sync starts from: the state handed to the source, and the tables
// that are ahead of it (see the file comment).
type resume struct {
	state json.RawMessage
	// ahead maps a stream key to the sharedKey of the state its table holds.
	ahead map[string]string
}

// resumeFrom builds the state handed to the source from each incremental table's last
// committed envelope (nil for a table that has none).
func resumeFrom(envs map[string]*stateEnvelope) (resume, error) {
	var oldest *stateEnvelope
	var streams []*protocol.StateMessage
	keys := make([]string, 0, len(envs))
	for k := range envs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env := envs[k]
		if env == nil {
			continue
		}
		switch env.Message.Type {
		case protocol.StateGlobal, protocol.StateLegacy:
			if oldest == nil || env.Seq < oldest.Seq {
				oldest = env
			}
		default:
			streams = append(streams, env.Message)
		}
	}
	r := resume{ahead: map[string]string{}}
	switch {
	case oldest != nil:
		want := sharedKey(oldest.Message)
		for k, env := range envs {
			if env != nil && env.Seq > oldest.Seq && env.Message.Type == oldest.Message.Type {
				if key := sharedKey(env.Message); key != want {
					r.ahead[k] = key
				}
			}
		}
		if oldest.Message.Type == protocol.StateLegacy {
			r.state = append(json.RawMessage(nil), oldest.Message.Data...)
			return r, nil
		}
		raw, err := json.Marshal([]*protocol.StateMessage{oldest.Message})
		r.state = raw
		return r, err
	case len(streams) > 0:
		raw, err := json.Marshal(streams)
		r.state = raw
		return r, err
	}
	return r, nil
}

// checkCount compares a STATE's sourceStats.recordCount, when it has one, with the
// records lakeport received since the previous STATE it covers.
func checkCount(m *protocol.StateMessage, what string, received int64) error {
	if m.SourceStats == nil {
		return nil
	}
	want := m.SourceStats.RecordCount
	if want < 0 || want != math.Trunc(want) || int64(want) != received {
		return fmt.Errorf("%w: the source's STATE for %s says it covers %s records, but lakeport received %d since the previous STATE; nothing after the last commit was committed (the source or the pipe between lost or added records)",
			ErrRecordCount, what, formatCount(want), received)
	}
	return nil
}

func formatCount(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}

// decodeEnvelope reads what a commit stored as its state. States committed before
// shapes were made explicit may carry an empty type: they were STREAM states when
// they name a stream, LEGACY ones otherwise.
func decodeEnvelope(raw []byte) (*stateEnvelope, error) {
	var env stateEnvelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Message == nil {
		return nil, fmt.Errorf("not a lakeport state envelope: %s", truncate(string(bytes.TrimSpace(raw)), 200))
	}
	if env.Message.Type == "" {
		shape, err := stateShape(env.Message)
		if err != nil {
			return nil, err
		}
		env.Message.Type = shape
	}
	return &env, nil
}
