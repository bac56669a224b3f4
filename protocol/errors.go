package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// Kinds of errors the Reader reports, wrapped by *LineError. Test with
// errors.Is or the predicates below, never by matching messages.
var (
	// ErrNotJSON: the line is plain text, not a JSON message. Connectors
	// sometimes print such lines; a caller may treat them as log lines.
	ErrNotJSON = errors.New("not a JSON message")
	// ErrMalformed: the line starts like a JSON object but is not valid JSON.
	ErrMalformed = errors.New("malformed JSON")
	// ErrLineTooLong: the line is longer than the reader's maximum.
	ErrLineTooLong = errors.New("line too long")
	// ErrMissingType: the message has no "type".
	ErrMissingType = errors.New("message without type")
	// ErrUnknownType: the "type" is not one of the protocol's message types.
	ErrUnknownType = errors.New("unknown message type")
	// ErrInvalidMessage: the message is JSON with a known type but lacks what
	// that type requires (a RECORD without stream or data, a STATE without state…).
	ErrInvalidMessage = errors.New("invalid message")
)

// LineError is an error about one line of input. The Reader stays usable
// after returning one: the next call to Next reads the following line.
type LineError struct {
	Line   int64  // 1-based line number
	Kind   error  // one of the Err* kinds above
	Detail string // what is wrong, for people
	// Text is the start of the offending line (at most 4 KiB), e.g. to log a
	// plain-text line; empty for ErrLineTooLong.
	Text string
}

func (e *LineError) Error() string {
	s := "protocol: line " + strconv.FormatInt(e.Line, 10) + ": " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Kind == ErrNotJSON {
		t := e.Text
		if len(t) > 120 {
			t = t[:120] + "…"
		}
		s += fmt.Sprintf(" (%q)", t)
	}
	return s
}

// Unwrap returns the kind of the error.
func (e *LineError) Unwrap() error { return e.Kind }

// IsNotJSON reports whether err is about a plain-text (non-JSON) line.
func IsNotJSON(err error) bool { return errors.Is(err, ErrNotJSON) }

// IsLineTooLong reports whether err is about a line over the maximum size.
func IsLineTooLong(err error) bool { return errors.Is(err, ErrLineTooLong) }

// IsLineError reports whether err concerns a single line, after which the
// Reader can go on; any other error from Next (I/O) is final.
func IsLineError(err error) bool {
	var le *LineError
	return errors.As(err, &le)
}
