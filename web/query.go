package web

import (
	"net/http"
	"strings"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/connector"
)

// QueryMaxRows bounds the rows the query page fetches (and pages through).
const QueryMaxRows = 10000

// queryPageRows is how many rows the page shows at once.
const queryPageRows = 50

type queryData struct {
	SQL         string
	Tables      []connector.TableInfo
	Unavailable string
	Result      *api.QueryResponse
	Shown       [][]any
	Error       string
	PageRows    int
}

func (h *handler) queryData(r *http.Request, sql string) *queryData {
	d := &queryData{SQL: sql, PageRows: queryPageRows}
	tables, err := h.apiFor(r).Tables(r.Context())
	if e, ok := client.AsError(err); ok {
		d.Unavailable = e.Body.Message
	}
	d.Tables = tables
	if d.SQL == "" {
		d.SQL = "SELECT 1 AS answer"
		for _, t := range tables {
			if t.Name == "sample.invoices" {
				d.SQL = "SELECT status, count(*) AS invoices\nFROM sample.invoices\nGROUP BY status\nORDER BY invoices DESC"
				break
			}
		}
		if d.SQL == "SELECT 1 AS answer" && len(tables) > 0 {
			d.SQL = "SELECT *\nFROM " + tables[0].Name + "\nLIMIT 100"
		}
	}
	return d
}

func (h *handler) queryPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "query", page{Title: "Query", Nav: "query", Data: h.queryData(r, r.URL.Query().Get("sql"))})
}

// queryForm runs the query for a page without script: the result's first rows are
// rendered on the server.
func (h *handler) queryForm(w http.ResponseWriter, r *http.Request) {
	sql := strings.TrimSpace(r.PostFormValue("sql"))
	d := h.queryData(r, sql)
	res, err := h.apiFor(r).Query(r.Context(), api.QueryRequest{SQL: sql, MaxRows: QueryMaxRows})
	status := http.StatusOK
	switch e, ok := client.AsError(err); {
	case ok && e.Status < 500:
		d.Error, status = e.Body.Message, e.Status
	case err != nil:
		h.apiError(w, r, err)
		return
	default:
		d.Result = &res
		d.Shown = res.Rows[:min(len(res.Rows), queryPageRows)]
		if res.Error != nil {
			d.Error = res.Error.Message
		}
	}
	h.render(w, r, status, "query", page{Title: "Query", Nav: "query", Data: d})
}

// queryRun answers the page's script with the API's JSON result.
func (h *handler) queryRun(w http.ResponseWriter, r *http.Request) {
	sql := strings.TrimSpace(r.PostFormValue("sql"))
	res, err := h.apiFor(r).Query(r.Context(), api.QueryRequest{SQL: sql, MaxRows: QueryMaxRows})
	if e, ok := client.AsError(err); ok {
		writeJSON(w, e.Status, map[string]string{"code": e.Body.Code, "message": e.Body.Message})
		return
	}
	if err != nil {
		h.log.Error("console query failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": "lakeport failed to run the query; the server log has the details"})
		return
	}
	if res.Rows == nil {
		res.Rows = [][]any{}
	}
	writeJSON(w, http.StatusOK, res)
}

// queryCSV downloads the result as CSV, straight from the API's CSV format.
func (h *handler) queryCSV(w http.ResponseWriter, r *http.Request) {
	sql := strings.TrimSpace(r.PostFormValue("sql"))
	lw := &lazyCSV{w: w}
	err := h.apiFor(r).QueryCSV(r.Context(), api.QueryRequest{SQL: sql, MaxRows: QueryMaxRows}, lw)
	if err != nil && !lw.started {
		if e, ok := client.AsError(err); ok {
			http.Error(w, e.Body.Message, e.Status)
			return
		}
		h.apiError(w, r, err)
	}
}

// lazyCSV sets the download headers on the first write, so an error before any data
// can still answer with its own status.
type lazyCSV struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyCSV) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		l.w.Header().Set("Content-Disposition", `attachment; filename="lakeport-query.csv"`)
		l.w.Header().Set("Cache-Control", "no-store")
	}
	return l.w.Write(p)
}
