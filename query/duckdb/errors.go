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

// classify is the package's classify, except that an error about one of the
// files the session's views read (a descriptor /dev/fd/N, a copy in its
// directory) is the table's: ErrUnreadable, naming the table, never the file.
// Such a file is lakeport's choice, not the caller's SQL: a DuckDB
// "Permission Error" about it is no refusal of the SQL.
func (s *session) classify(err error) error {
	var de *duck.Error
	if errors.As(err, &de) {
		for f, table := range s.owner {
			if !mentions(de.Msg, f) {
				continue
			}
			msg := de.Msg
			for g, t := range s.owner {
				msg = replaceFile(msg, g, "a data file of "+t)
			}
			return fmt.Errorf("%w: table %s: one of its data files could not be read; sync the connector again if this persists (%s)",
				query.ErrUnreadable, table, msg)
		}
	}
	return classify(err)
}

// mentions reports whether msg names file f, not merely a longer name that
// starts with it (/dev/fd/1 is not /dev/fd/12).
func mentions(msg, f string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], f)
		if j < 0 {
			return false
		}
		end := i + j + len(f)
		if end == len(msg) || !isNameByte(msg[end]) {
			return true
		}
		i = end
	}
}

// replaceFile replaces each mention of file f in msg (see mentions) by with.
func replaceFile(msg, f, with string) string {
	var b strings.Builder
	for {
		j := strings.Index(msg, f)
		if j < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := j + len(f)
		b.WriteString(msg[:j])
		if end == len(msg) || !isNameByte(msg[end]) {
			b.WriteString(with)
		} else {
			b.WriteString(msg[j:end])
		}
		msg = msg[end:]
	}
}

func isNameByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-' || c == '/'
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
