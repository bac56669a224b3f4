package athena

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/lakeport/lakeport/query"
)

// result pages through GetQueryResults, one page per Next.
type result struct {
	e         *Engine
	id        string
	ctx       context.Context
	cancel    context.CancelFunc
	dml       bool // a DML result's first row is the header
	cols      []query.Column
	pending   []types.Row
	next      *string
	maxRows   int
	read      int
	truncated bool
	eof       bool
	closed    bool
}

var _ query.Result = (*result)(nil)

// fetch reads one page; the first page also gives the columns.
func (r *result) fetch(first bool) error {
	in := &athena.GetQueryResultsInput{QueryExecutionId: aws.String(r.id), NextToken: r.next, MaxResults: aws.Int32(int32(r.e.cfg.PageSize))}
	out, err := r.e.client.GetQueryResults(r.ctx, in)
	if err != nil {
		if cerr := query.ContextError(r.ctx); cerr != nil {
			return cerr
		}
		return apiError("get query results "+r.id, err)
	}
	prev := aws.ToString(r.next)
	r.next = out.NextToken
	if aws.ToString(r.next) == "" {
		r.next = nil
	} else if !first && aws.ToString(r.next) == prev {
		return fmt.Errorf("athena: get query results %s: the same page token came back", r.id)
	}
	var rows []types.Row
	if out.ResultSet != nil {
		rows = out.ResultSet.Rows
	}
	if first {
		if out.ResultSet != nil && out.ResultSet.ResultSetMetadata != nil {
			for _, ci := range out.ResultSet.ResultSetMetadata.ColumnInfo {
				r.cols = append(r.cols, query.Column{Name: aws.ToString(ci.Name), Type: typeName(ci)})
			}
		}
		// Queries (DML) have a header row first; DDL and utility results
		// may not, so there it is dropped only when it is one.
		if len(rows) > 0 && (r.dml || isHeader(rows[0], r.cols)) {
			rows = rows[1:]
		}
	}
	r.pending = rows
	return nil
}

func isHeader(row types.Row, cols []query.Column) bool {
	if len(row.Data) != len(cols) {
		return false
	}
	for i, d := range row.Data {
		if aws.ToString(d.VarCharValue) != cols[i].Name {
			return false
		}
	}
	return true
}

// typeName is Athena's type, with precision and scale for decimals.
func typeName(ci types.ColumnInfo) string {
	t := strings.ToLower(aws.ToString(ci.Type))
	if t == "decimal" && ci.Precision > 0 {
		return fmt.Sprintf("decimal(%d,%d)", ci.Precision, ci.Scale)
	}
	return t
}

func (r *result) Columns() []query.Column { return r.cols }

func (r *result) Truncated() bool { return r.truncated }

func (r *result) Next() ([][]any, error) {
	if r.closed {
		return nil, fmt.Errorf("athena: result is closed")
	}
	if r.eof {
		return nil, io.EOF
	}
	if err := query.ContextError(r.ctx); err != nil {
		return nil, err
	}
	for len(r.pending) == 0 {
		if r.next == nil {
			r.eof = true
			return nil, io.EOF
		}
		if err := r.fetch(false); err != nil {
			return nil, err
		}
	}
	if r.read == r.maxRows {
		// A row past the limit: the result was cut.
		r.truncated, r.eof = true, true
		return nil, io.EOF
	}
	n := min(len(r.pending), r.maxRows-r.read)
	batch := make([][]any, n)
	for i, row := range r.pending[:n] {
		batch[i] = convertRow(row, r.cols)
	}
	r.pending = r.pending[n:]
	r.read += n
	return batch, nil
}

func (r *result) Close() error {
	if !r.closed {
		r.closed = true
		if r.cancel != nil {
			r.cancel()
		}
	}
	return nil
}

// convertRow turns Athena's text values into the plain values query.Result
// promises, by column type.
func convertRow(row types.Row, cols []query.Column) []any {
	out := make([]any, len(cols))
	for i := range cols {
		if i < len(row.Data) && row.Data[i].VarCharValue != nil {
			out[i] = convert(*row.Data[i].VarCharValue, cols[i].Type)
		}
	}
	return out
}

// convert parses one value; one it cannot parse stays a string.
func convert(v, typ string) any {
	base, _, _ := strings.Cut(typ, "(")
	switch base {
	case "tinyint", "smallint", "integer", "int", "bigint":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case "double", "float", "real":
		switch v {
		case "NaN", "Infinity", "-Infinity":
			return v
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) {
			return f
		}
	case "boolean":
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	case "decimal":
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return json.Number(v)
		}
	case "date":
		return v // 2006-01-02, as the duckdb engine gives dates
	case "timestamp", "timestamp with time zone":
		if t, ok := parseTimestamp(v); ok {
			return t
		}
	case "varbinary":
		if b, err := hex.DecodeString(strings.ReplaceAll(v, " ", "")); err == nil {
			return b
		}
	}
	// varchar, char, json, uuid, time, intervals, and arrays, maps and rows:
	// Athena gives those as text that is not JSON, so they stay text.
	return v
}

// parseTimestamp reads Athena's "2006-01-02 15:04:05.000" with an optional
// zone ("UTC", "Europe/Berlin" or "+01:00") after a space.
func parseTimestamp(v string) (time.Time, bool) {
	const layout = "2006-01-02 15:04:05.999999999"
	if t, err := time.Parse(layout, v); err == nil {
		return t, true
	}
	i := strings.LastIndexByte(v, ' ')
	if i < 0 {
		return time.Time{}, false
	}
	zone := v[i+1:]
	if loc, err := time.LoadLocation(zone); err == nil {
		if t, err := time.ParseInLocation(layout, v[:i], loc); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse(layout+" -07:00", v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// memResult is a result the engine answers itself (SHOW TABLES, …).
type memResult struct {
	cols      []query.Column
	rows      [][]any
	truncated bool
	done      bool
}

func newLocalResult(l *localResult, maxRows int) *memResult {
	rows := l.rows
	r := &memResult{cols: l.cols}
	if len(rows) > maxRows {
		rows, r.truncated = rows[:maxRows], true
	}
	r.rows = rows
	return r
}

func (r *memResult) Columns() []query.Column { return r.cols }
func (r *memResult) Truncated() bool         { return r.truncated }
func (r *memResult) Close() error            { return nil }
func (r *memResult) Next() ([][]any, error) {
	if r.done || len(r.rows) == 0 {
		r.done = true
		return nil, io.EOF
	}
	r.done = true
	out := make([][]any, len(r.rows))
	for i, row := range r.rows {
		out[i] = append([]any(nil), row...)
	}
	return out, nil
}
