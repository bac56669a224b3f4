package source

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrUnknownSource: Open was given a reference it does not understand.
	ErrUnknownSource = errors.New("source: unknown source")
	// ErrNoContainerEngine: an image: source was asked for and neither
	// docker nor podman is installed with a reachable engine.
	ErrNoContainerEngine = errors.New("source: no container engine is available")
	// ErrNoMessage: the connector finished without printing the message the
	// command is for (SPEC, CONNECTION_STATUS or CATALOG).
	ErrNoMessage = errors.New("source: connector printed no answer")
	// ErrInvalidConfig: a config does not match the spec's schema.
	ErrInvalidConfig = errors.New("source: invalid config")
	// ErrInvalidSpec: a spec's connectionSpecification is not a usable schema.
	ErrInvalidSpec = errors.New("source: invalid connector spec")
	// ErrNotAllowed: an exec: or image: reference the operator's allow-list
	// does not name. The API answers it with 403.
	ErrNotAllowed = errors.New("source: not allowed on this install")
	// ErrInvalidAllowList: an entry of the operator's allow-list cannot be used.
	ErrInvalidAllowList = errors.New("source: invalid allow-list")
	// ErrTimeout: spec, check or discover ran past the server's time limit.
	ErrTimeout = errors.New("source: ran out of time")
)

// ExitError is returned when a connector process exits with a non-zero status.
type ExitError struct {
	Source  string // the reference it was opened with, e.g. "exec:/usr/bin/x"
	Command string // spec, check, discover or read
	Code    int    // exit status; -1 when killed by a signal
	// Signal names the signal that ended it ("killed", "CPU time limit
	// exceeded"), when one did.
	Signal string
	// CPULimit is the CPU-time limit the program used up, when it did.
	CPULimit time.Duration
	// TraceError is the message of the last TRACE ERROR the connector
	// printed, if any: usually the best explanation.
	TraceError string
	// Stderr is the end of what the connector wrote to stderr.
	Stderr string

	traceConfig bool // the trace error was a config_error
}

func (e *ExitError) Error() string {
	var b strings.Builder
	if e.Signal != "" {
		fmt.Fprintf(&b, "source %s: %s ended by signal (%s)", e.Source, e.Command, e.Signal)
	} else {
		fmt.Fprintf(&b, "source %s: %s exited with status %d", e.Source, e.Command, e.Code)
	}
	b.WriteString(": the connector failed")
	if e.CPULimit > 0 {
		fmt.Fprintf(&b, "; it used up its CPU-time limit of %s (the operator sets it: sources.cpu_limit)", e.CPULimit)
	}
	if e.TraceError != "" {
		fmt.Fprintf(&b, "; it reported: %s", e.TraceError)
	}
	if e.Stderr != "" {
		fmt.Fprintf(&b, "; end of its stderr: %s", strings.TrimSpace(e.Stderr))
	} else if e.TraceError == "" {
		b.WriteString(" without writing to stderr")
	}
	return b.String()
}

// IsExitError reports whether err is a connector's non-zero exit, and returns it.
func IsExitError(err error) (*ExitError, bool) {
	var e *ExitError
	ok := errors.As(err, &e)
	return e, ok
}

// ConfigError lists every way a config fails its spec's schema.
type ConfigError struct {
	Fields []FieldError
}

// FieldError is one problem with one config field.
type FieldError struct {
	// Path is the field, dotted ("credentials.api_key"); empty for the
	// config as a whole.
	Path    string
	Message string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return "config: " + e.Message
	}
	return "field " + e.Path + ": " + e.Message
}

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "source: invalid config: " + strings.Join(msgs, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
