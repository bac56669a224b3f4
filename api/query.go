package api

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lakeport/lakeport/query"
)

// QueryRequest is the body of POST /api/v1/query.
type QueryRequest struct {
	SQL       string `json:"sql"`
	MaxRows   int    `json:"max_rows,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
	Format    string `json:"format,omitempty"` // json (default) or csv
}

// QueryResponse is the JSON answer of POST /api/v1/query. It is streamed: columns
// first, then rows as they are read, then the trailer fields.
type QueryResponse struct {
	Columns   []query.Column `json:"columns"`
	Rows      [][]any        `json:"rows"`
	Truncated bool           `json:"truncated"`
	RowCount  int            `json:"row_count"`
	ElapsedMS int64          `json:"elapsed_ms"`
	// Error is set when the query failed after rows were already sent.
	Error *Error `json:"error,omitempty"`
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) {
	out, err := s.Connectors.Tables(r.Context(), callerOf(r).Org)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	if out == nil {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) runQuery(w http.ResponseWriter, r *http.Request) {
	if s.Engine == nil {
		writeError(w, http.StatusNotImplemented, "not_available", "this lakeport server has no query engine")
		return
	}
	var req QueryRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.SQL == "":
		writeError(w, http.StatusBadRequest, "invalid_input", "sql: required: the SELECT to run, e.g. SELECT count(*) FROM sample.events")
		return
	case req.Format != "" && req.Format != "json" && req.Format != "csv":
		writeError(w, http.StatusBadRequest, "invalid_input", "format: must be json or csv")
		return
	case req.MaxRows < 0 || req.TimeoutMS < 0:
		writeError(w, http.StatusBadRequest, "invalid_input", "max_rows and timeout_ms must not be negative")
		return
	}
	start := time.Now()
	org := callerOf(r).Org
	// Only the caller's organization's tables exist for this query; a table of another
	// organization is "does not exist", exactly like one that does not exist at all.
	tables, err := s.Connectors.QueryTables(r.Context(), org)
	if err != nil {
		if query.IsClientError(err) {
			s.queryError(w, r, err)
			return
		}
		s.connectorError(w, r, err)
		return
	}
	// Engines that name per-organization resources (Athena's Glue databases) read the
	// organization from the context.
	ctx := query.WithOrg(r.Context(), org.ID)
	res, err := s.Engine.Query(ctx, tables, query.Request{SQL: req.SQL, MaxRows: req.MaxRows, Timeout: time.Duration(req.TimeoutMS) * time.Millisecond})
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	defer res.Close()
	// Read the first batch before answering, so an error that comes at once still gets
	// its own status.
	first, err := res.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		s.queryError(w, r, err)
		return
	}
	if req.Format == "csv" {
		s.streamCSV(w, res, first, err)
		return
	}
	s.streamJSON(w, res, first, err, start)
}

func (s *Server) queryError(w http.ResponseWriter, r *http.Request, err error) {
	if query.Code(err) == "engine_unavailable" {
		// Why is the operator's business (a worker that cannot start, the
		// engine's account settings): the log has it, the client a clear 503.
		s.Logger.Error("the query engine could not run a query", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "engine_unavailable",
			"the query engine could not run this query now (not a problem with the SQL): try again in a moment; if it persists, the operator finds why in the server log")
		return
	}
	if !query.IsClientError(err) {
		s.internal(w, r, err)
		return
	}
	status := http.StatusBadRequest
	switch query.Code(err) {
	case "timeout":
		status = http.StatusRequestTimeout
	case "canceled":
		status = 499
	case "resources", "table_unreadable":
		status = http.StatusUnprocessableEntity
	}
	writeError(w, status, query.Code(err), s.quiet(err.Error()))
}

// quiet keeps the server's own folders (Server.HidePaths: the data dir, the
// query workers' folder) out of a message for a client.
func (s *Server) quiet(msg string) string {
	for _, p := range s.HidePaths {
		if p != "" && p != "/" {
			msg = strings.ReplaceAll(msg, p, "[server folder]")
		}
	}
	return msg
}

// Trailers of a CSV query result: a query that fails after rows were sent ends
// its (then incomplete) CSV with these set, and a CSV that is complete has
// them empty.
const (
	TrailerErrorCode    = "Lakeport-Error-Code"
	TrailerErrorMessage = "Lakeport-Error-Message"
)

func (s *Server) streamJSON(w http.ResponseWriter, res query.Result, batch [][]any, err error, start time.Time) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	cols, _ := json.Marshal(res.Columns())
	fmt.Fprintf(w, "{\"columns\": %s,\n\"rows\": [", cols)
	n := 0
	var failed error
	for {
		for _, row := range batch {
			b, merr := json.Marshal(row)
			if merr != nil {
				b, _ = json.Marshal(fmt.Sprint(row))
			}
			if n > 0 {
				io.WriteString(w, ",")
			}
			io.WriteString(w, "\n")
			w.Write(b)
			n++
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				failed = err
			}
			break
		}
		if flusher != nil {
			flusher.Flush()
		}
		batch, err = res.Next()
	}
	trailer := map[string]any{"truncated": res.Truncated(), "row_count": n, "elapsed_ms": time.Since(start).Milliseconds()}
	if failed != nil {
		trailer["error"] = Error{Code: query.Code(failed), Message: s.quiet(failed.Error())}
	}
	tb, _ := json.Marshal(trailer)
	// splice the trailer's fields after the rows array
	fmt.Fprintf(w, "\n],\n%s\n", tb[1:])
}

func (s *Server) streamCSV(w http.ResponseWriter, res query.Result, batch [][]any, err error) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="query.csv"`)
	w.Header().Set("Trailer", TrailerErrorCode+", "+TrailerErrorMessage)
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	cw := csv.NewWriter(w)
	var header []string
	for _, c := range res.Columns() {
		header = append(header, c.Name)
	}
	cw.Write(header)
	for {
		for _, row := range batch {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = csvValue(v)
			}
			cw.Write(rec)
		}
		if err != nil {
			break
		}
		cw.Flush()
		if flusher != nil {
			flusher.Flush()
		}
		batch, err = res.Next()
	}
	cw.Flush()
	if err != nil && !errors.Is(err, io.EOF) {
		w.Header().Set(TrailerErrorCode, query.Code(err))
		w.Header().Set(TrailerErrorMessage, headerValue(s.quiet(err.Error())))
	}
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// headerValue makes msg fit an HTTP header (a trailer): one line of printable
// ASCII, at most 1000 bytes.
func headerValue(msg string) string {
	b := make([]byte, 0, min(len(msg), 1000))
	for _, r := range msg {
		if len(b) >= 1000 {
			break
		}
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b = append(b, ' ')
		case r < 0x20 || r >= 0x7f:
			b = append(b, '?')
		default:
			b = append(b, byte(r))
		}
	}
	return string(b)
}
