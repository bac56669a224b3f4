package duckdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// classify turns a DuckDB error into the query package's errors: the
// caller's fault becomes a *query.SQLError (ErrBadSQL, ErrNotReadOnly,
// ErrResources); a fault of the engine or the data stays a plain error.
func classify(err error) error {
	var de *duck.Error
	if !errors.As(err, &de) {
		return fmt.Errorf("duckdb: %w", err)
	}
	var class error
	switch de.Type {
	case duck.ErrorTypePermission, duck.ErrorTypeMissingExtension, duck.ErrorTypeAutoLoad,
		duck.ErrorTypeHTTP, duck.ErrorTypeNetwork, duck.ErrorTypeSettings:
		class = query.ErrNotReadOnly
	case duck.ErrorTypeOutOfMemory:
		class = query.ErrResources
	case duck.ErrorTypeIO, duck.ErrorTypeInternal, duck.ErrorTypeFatal, duck.ErrorTypeConnection,
		duck.ErrorTypeInterrupt, duck.ErrorTypeSerialization, duck.ErrorTypeTransaction:
		return fmt.Errorf("duckdb: %w", err)
	default:
		class = query.ErrBadSQL
	}
	kind, _, _ := strings.Cut(de.Msg, " Error: ")
	if len(kind) > 40 || strings.ContainsAny(kind, "\n:") {
		kind = ""
	}
	line, col := position(de.Msg)
	return &query.SQLError{Kind: kind, Message: de.Msg, Line: line, Column: col, Err: class}
}

// position reads DuckDB's "LINE n: <text>" line and the caret under it.
func position(msg string) (line, col int) {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "LINE ")
		if !ok {
			continue
		}
		num, text, ok := strings.Cut(rest, ": ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		line = n
		if i+1 < len(lines) && !strings.HasPrefix(text, "...") {
			prefix := len(l) - len(text)
			if c := strings.IndexByte(lines[i+1], '^'); c >= prefix {
				col = c - prefix + 1
			}
		}
		return line, col
	}
	return 0, 0
}
