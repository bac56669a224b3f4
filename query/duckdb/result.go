package duckdb

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// batchRows is how many rows one Next returns at most.
const batchRows = 1024

// result streams one query's rows. DuckDB holds the (row-limited) result;
// rows are converted to plain Go values one batch at a time.
type result struct {
	stmt      *duck.Stmt
	rows      driver.Rows
	cols      []query.Column
	maxRows   int
	read      int
	truncated bool
	eof       bool
	ctx       context.Context        // the query's context: its deadline bounds reading too
	done      func(clean bool) error // releases the database and the context
	failed    bool                   // Next returned an error
	classify  func(error) error      // turns a DuckDB error into the query package's
	closed    bool
}

var _ query.Result = (*result)(nil)

func newResult(stmt *duck.Stmt, rows driver.Rows, maxRows int) *result {
	names := rows.Columns()
	cols := make([]query.Column, len(names))
	typed, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	for i, n := range names {
		cols[i].Name = n
		if typed != nil {
			cols[i].Type = typed.ColumnTypeDatabaseTypeName(i)
		}
	}
	return &result{stmt: stmt, rows: rows, cols: cols, maxRows: maxRows, classify: classify}
}

func (r *result) Columns() []query.Column { return r.cols }

func (r *result) Truncated() bool { return r.truncated }

func (r *result) Next() ([][]any, error) {
	if r.closed {
		return nil, fmt.Errorf("duckdb: result is closed")
	}
	if r.eof {
		return nil, io.EOF
	}
	if r.ctx != nil {
		if err := query.ContextError(r.ctx); err != nil {
			r.failed = true
			return nil, err
		}
	}
	dst := make([]driver.Value, len(r.cols))
	var batch [][]any
	for len(batch) < batchRows {
		if err := r.rows.Next(dst); err != nil {
			if err == io.EOF {
				r.eof = true
				break
			}
			r.failed = true
			return nil, r.classify(err)
		}
		if r.read == r.maxRows {
			// One row past the limit: the result was cut.
			r.truncated = true
			r.eof = true
			break
		}
		r.read++
		row := make([]any, len(dst))
		for i, v := range dst {
			row[i] = normalize(v, r.cols[i].Type)
		}
		batch = append(batch, row)
	}
	if len(batch) == 0 && r.eof {
		return nil, io.EOF
	}
	return batch, nil
}

func (r *result) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.rows.Close()
	if cerr := r.stmt.Close(); err == nil {
		err = cerr
	}
	if r.done != nil {
		if derr := r.done(!r.failed && err == nil); err == nil {
			err = derr
		}
	}
	return err
}

// normalize turns a driver value into the plain values query.Result promises.
func normalize(v any, dbType string) any {
	switch v := v.(type) {
	case nil, bool, string, int64, uint64, time.Time:
		if t, ok := v.(time.Time); ok {
			switch dbType {
			case "DATE":
				return t.Format(time.DateOnly)
			case "TIME":
				return t.Format("15:04:05.999999")
			}
		}
		return v
	case []byte:
		if dbType == "UUID" && len(v) == 16 {
			return uuidString(v)
		}
		return v
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		return finite(f)
	case float64:
		return finite(v)
	case duck.Decimal:
		return json.Number(v.String())
	case *big.Int:
		return json.Number(v.String())
	case duck.UUID:
		return uuidString(v[:])
	case *duck.UUID:
		return uuidString(v[:])
	case duck.Interval:
		return map[string]any{"months": int64(v.Months), "days": int64(v.Days), "micros": v.Micros}
	case duck.Union:
		return normalize(v.Value, "")
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e, "")
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e, "")
		}
		return out
	case duck.OrderedMap:
		out := make(map[string]any, v.Len())
		vals := v.Values()
		for i, k := range v.Keys() {
			out[fmt.Sprint(normalize(k, ""))] = normalize(vals[i], "")
		}
		return out
	case duck.Map:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(normalize(k, ""))] = normalize(e, "")
		}
		return out
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// finite keeps JSON encodable: NaN and ±Inf become strings.
func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
