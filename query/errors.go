package query

import (
	"context"
	"errors"
	"fmt"
)

// Sentinels. Every error an Engine returns for a reason the caller can act on
// wraps one of them; anything else is an internal failure (HTTP 500).
var (
	// ErrBadSQL: the SQL does not parse, names a table or column that does
	// not exist, or fails while running (a bad cast, a division by zero).
	ErrBadSQL = errors.New("query: bad SQL")
	// ErrNotReadOnly: the SQL is not one read-only statement (SELECT, WITH …
	// SELECT, VALUES, DESCRIBE, SHOW, EXPLAIN), or it tries to reach files,
	// the network, extensions or settings.
	ErrNotReadOnly = errors.New("query: only one read-only statement over the organization's tables is allowed")
	// ErrTimeout: the query ran past its time limit and was stopped.
	ErrTimeout = errors.New("query: time limit reached")
	// ErrTooManyRows: the request asks for more rows than the engine allows.
	ErrTooManyRows = errors.New("query: row limit above the maximum")
	// ErrResources: the query needs more memory (or temporary disk) than its
	// limit.
	ErrResources = errors.New("query: memory limit reached")
	// ErrCanceled: the caller went away (its context was canceled). It also
	// matches context.Canceled.
	ErrCanceled = errors.New("query: canceled")
	// ErrUnreadable: a table the query names cannot be read: its metadata
	// names files outside the table (lake.ErrOutsideTable), a file is missing
	// or damaged, or the engine cannot read one of its column types. The
	// message says which table and why.
	ErrUnreadable = errors.New("query: a table cannot be read")
	// ErrUnavailable: the engine itself cannot run queries now (it could not
	// start a query worker process; Athena refused to start the query). The
	// caller can do nothing about it but retry or tell the operator; the
	// wrapped error, for the server log, says why.
	ErrUnavailable = errors.New("query: the query engine is not available")
)

// SQLError is an error the engine reported about the SQL itself. Message is
// the engine's own text, which for DuckDB points at the problem:
//
//	Catalog Error: Table with name nope does not exist!
//	LINE 1: select * from gh.nope
//	                      ^
type SQLError struct {
	// Kind is the engine's error class, e.g. "Parser", "Catalog", "Binder",
	// "Conversion", "Permission".
	Kind string
	// Message is the engine's message, positions included.
	Message string
	// Line and Column locate the error in the SQL (1-based) when the engine
	// says where; 0 when it does not.
	Line, Column int
	// Err is the sentinel this error is classified as: ErrBadSQL,
	// ErrNotReadOnly or ErrResources.
	Err error
}

func (e *SQLError) Error() string { return e.Message }

// Unwrap returns the classifying sentinel, so errors.Is(err, ErrBadSQL) works.
func (e *SQLError) Unwrap() error { return e.Err }

// IsClientError reports whether err is the query's own fault (an HTTP API
// answers 4xx): bad SQL, a forbidden statement, a limit, or a cancel.
func IsClientError(err error) bool {
	c := Code(err)
	return c != "internal" && c != "engine_unavailable"
}

// Code is a stable machine code for err, for API clients:
// bad_sql, not_read_only, timeout, too_many_rows, resources, canceled,
// table_unreadable, engine_unavailable, internal.
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotReadOnly):
		return "not_read_only"
	case errors.Is(err, ErrBadSQL):
		return "bad_sql"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrTooManyRows):
		return "too_many_rows"
	case errors.Is(err, ErrResources):
		return "resources"
	case errors.Is(err, ErrCanceled):
		return "canceled"
	case errors.Is(err, ErrUnreadable):
		return "table_unreadable"
	case errors.Is(err, ErrUnavailable):
		return "engine_unavailable"
	default:
		return "internal"
	}
}

// ContextError turns a done context into the package's sentinel: ErrTimeout
// for a deadline (also matching context.DeadlineExceeded), ErrCanceled for a
// cancel (also matching context.Canceled). It returns nil for a live context.
func ContextError(ctx context.Context) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	default:
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	}
}
