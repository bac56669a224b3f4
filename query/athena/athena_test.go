package athena_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/athena"
)

// fakeAthena speaks Athena's JSON 1.1 protocol: POST /, X-Amz-Target
// AmazonAthena.<Operation>, application/x-amz-json-1.1 bodies.
type fakeAthena struct {
	t  *testing.T
	mu sync.Mutex
	// calls are the operations received, in order, with their bodies.
	calls []call
	// states is what GetQueryExecution answers, one per poll; the last repeats.
	states []string
	// final is merged into the Status of the last state (reason, AthenaError).
	final         map[string]any
	statementType string
	// columns and rows are the result; the header row is added on page one.
	columns  [][2]string // name, type
	rows     [][]*string
	pageSize int
	// startError, when set, answers StartQueryExecution with this error.
	startError *apiErr
	// exec, when set, runs the query string StartQueryExecution receives and
	// gives the result (columns and rows).
	exec func(sql string) ([][2]string, [][]*string, error)
}

type call struct {
	op   string
	body map[string]any
	at   time.Time
}

type apiErr struct {
	status      int
	typ, reason string
}

func newFake(t *testing.T) (*fakeAthena, *athena.Engine) {
	f := &fakeAthena{t: t, states: []string{"SUCCEEDED"}, statementType: "DML", pageSize: 1000}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e, err := athena.New(athena.Config{
		Region:         "eu-west-1",
		WorkGroup:      "lakeport-wg",
		OutputLocation: "s3://results-bucket/athena/",
		Credentials:    credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Endpoint:       srv.URL,
		PollInitial:    2 * time.Millisecond,
		PollMax:        8 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, e
}

func (f *fakeAthena) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.t.Errorf("request %s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		f.t.Errorf("request not signed with the configured credentials: %q", r.Header.Get("Authorization"))
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonAthena.")
	if !ok {
		f.t.Errorf("X-Amz-Target %q", r.Header.Get("X-Amz-Target"))
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("%s: body %q: %v", op, raw, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{op: op, body: body, at: time.Now()})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "req-1")
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	fail := func(e apiErr) {
		w.WriteHeader(e.status)
		reply(map[string]any{"__type": e.typ, "Message": e.reason})
	}
	switch op {
	case "StartQueryExecution":
		if f.startError != nil {
			fail(*f.startError)
			return
		}
		if f.exec != nil {
			q, _ := body["QueryString"].(string)
			cols, rows, err := f.exec(q)
			if err != nil {
				fail(apiErr{400, "InvalidRequestException", err.Error()})
				return
			}
			f.columns, f.rows = cols, rows
		}
		reply(map[string]any{"QueryExecutionId": "qe-1"})
	case "GetQueryExecution":
		if body["QueryExecutionId"] != "qe-1" {
			fail(apiErr{400, "InvalidRequestException", "QueryExecution " + fmt.Sprint(body["QueryExecutionId"]) + " was not found"})
			return
		}
		n := len(f.ops("GetQueryExecution")) - 1
		state := f.states[min(n, len(f.states)-1)]
		status := map[string]any{"State": state, "SubmissionDateTime": 1.7e9}
		if n >= len(f.states)-1 {
			for k, v := range f.final {
				status[k] = v
			}
		}
		reply(map[string]any{"QueryExecution": map[string]any{
			"QueryExecutionId": "qe-1",
			"Query":            f.lastStart()["QueryString"],
			"StatementType":    f.statementType,
			"Status":           status,
		}})
	case "GetQueryResults":
		reply(f.page(body))
	case "StopQueryExecution":
		reply(map[string]any{})
	default:
		fail(apiErr{400, "InvalidRequestException", "unknown operation " + op})
	}
}

// page answers GetQueryResults: the header row first, then f.rows, pageSize
// rows per page, NextToken "p<n>".
func (f *fakeAthena) page(body map[string]any) map[string]any {
	all := [][]*string{}
	header := make([]*string, len(f.columns))
	for i, c := range f.columns {
		header[i] = &c[0]
	}
	all = append(all, header)
	all = append(all, f.rows...)
	start := 0
	if tok, ok := body["NextToken"].(string); ok {
		fmt.Sscanf(tok, "p%d", &start)
	}
	size := f.pageSize
	if m, ok := body["MaxResults"].(float64); ok && int(m) < size {
		size = int(m)
	}
	end := min(start+size, len(all))
	rows := []any{}
	for _, r := range all[start:end] {
		data := []any{}
		for _, v := range r {
			if v == nil {
				data = append(data, map[string]any{})
			} else {
				data = append(data, map[string]any{"VarCharValue": *v})
			}
		}
		rows = append(rows, map[string]any{"Data": data})
	}
	cols := []any{}
	for _, c := range f.columns {
		typ, prec, scale := c[1], 0, 0
		if strings.HasPrefix(typ, "decimal") {
			fmt.Sscanf(typ, "decimal(%d,%d)", &prec, &scale)
			typ = "decimal"
		}
		cols = append(cols, map[string]any{"CatalogName": "hive", "Name": c[0], "Label": c[0], "Type": typ,
			"Precision": prec, "Scale": scale, "Nullable": "UNKNOWN", "CaseSensitive": false})
	}
	out := map[string]any{"UpdateCount": 0, "ResultSet": map[string]any{"Rows": rows, "ResultSetMetadata": map[string]any{"ColumnInfo": cols}}}
	if end < len(all) {
		out["NextToken"] = fmt.Sprintf("p%d", end)
	}
	return out
}

func (f *fakeAthena) ops(op string) []call {
	var out []call
	for _, c := range f.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAthena) lastStart() map[string]any {
	s := f.ops("StartQueryExecution")
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1].body
}

func (f *fakeAthena) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func str(s string) *string { return &s }

// tables is organization org_a's list.
func tables() []query.Table {
	return []query.Table{
		{Schema: "shop", Name: "orders", ArrowSchema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "customer", Type: arrow.BinaryTypes.String},
		}, nil)},
		{Schema: "shop", Name: "customers", PrimaryKey: []string{"id"}, Cursor: "updated_at", ArrowSchema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String},
			{Name: "updated_at", Type: arrow.PrimitiveTypes.Int64},
			{Name: query.ExtractedAtColumn, Type: arrow.FixedWidthTypes.Timestamp_us},
		}, nil)},
		{Schema: "crm", Name: "contacts"},
	}
}

var orgCtx = athena.WithOrg(context.Background(), "org_a")

func run(t *testing.T, e *athena.Engine, sql string, maxRows int) ([]query.Column, [][]any, query.Result, error) {
	t.Helper()
	res, err := e.Query(orgCtx, tables(), query.Request{SQL: sql, MaxRows: maxRows, Timeout: 10 * time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	cols := res.Columns()
	rows, err := query.Collect(res)
	return cols, rows, res, err
}

func TestStartRequestCarriesWorkgroupOutputAndOrgDatabases(t *testing.T) {
	f, e := newFake(t)
	f.columns = [][2]string{{"id", "bigint"}}
	f.rows = [][]*string{{str("1")}}
	sql := "SELECT o.id, c.name\nFROM shop.orders o JOIN shop.customers c ON o.customer = c.name\nJOIN crm.contacts ON true WHERE shop.orders.id > 0"
	if _, _, _, err := run(t, e, sql, 0); err != nil {
		t.Fatal(err)
	}
	start := f.lastStart()
	if start["WorkGroup"] != "lakeport-wg" {
		t.Errorf("WorkGroup %v", start["WorkGroup"])
	}
	if rc, _ := start["ResultConfiguration"].(map[string]any); rc["OutputLocation"] != "s3://results-bucket/athena/" {
		t.Errorf("ResultConfiguration %v", start["ResultConfiguration"])
	}
	qc, _ := start["QueryExecutionContext"].(map[string]any)
	if qc["Database"] != "lakeport_org_a__shop" || qc["Catalog"] != "AwsDataCatalog" {
		t.Errorf("QueryExecutionContext %v", qc)
	}
	q, _ := start["QueryString"].(string)
	for _, want := range []string{
		`FROM "lakeport_org_a__shop"."orders" o`,
		`FROM "lakeport_org_a__shop"."customers") WHERE "_lakeport_rn" = 1) c ON`,
		`PARTITION BY "id" ORDER BY "updated_at" DESC NULLS LAST, "_lakeport_extracted_at" DESC NULLS LAST`,
		`JOIN "lakeport_org_a__crm"."contacts" ON true`,
		`WHERE "lakeport_org_a__shop"."orders".id > 0`,
	} {
		if !strings.Contains(q, want) {
			t.Errorf("query sent:\n%s\nlacks %s", q, want)
		}
	}
	if strings.Count(q, "\n") != strings.Count(sql, "\n") {
		t.Errorf("the rewrite changed the line count:\n%s", q)
	}
	if strings.Contains(q, "shop.orders") || strings.Contains(q, "crm.contacts") {
		t.Errorf("a connector.stream name was sent as is:\n%s", q)
	}
}

func TestPollingBacksOffAndStopsOnSucceeded(t *testing.T) {
	f, e := newFake(t)
	f.states = []string{"QUEUED", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"}
	f.columns = [][2]string{{"n", "integer"}}
	f.rows = [][]*string{{str("1")}}
	_, rows, _, err := run(t, e, "SELECT 1 AS n", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != int64(1) {
		t.Fatalf("rows %v", rows)
	}
	calls := f.snapshot()
	polls := f.ops("GetQueryExecution")
	if len(polls) != 6 {
		t.Fatalf("%d status polls, want 6 (stop at SUCCEEDED)", len(polls))
	}
	// Waits double from PollInitial (2ms) up to PollMax (8ms). Only lower
	// bounds are checked: a timer never fires early.
	want := []time.Duration{2, 4, 8, 8, 8}
	for i, w := range want {
		if gap := polls[i+1].at.Sub(polls[i].at); gap < w*time.Millisecond {
			t.Errorf("wait %d was %s, want at least %dms", i, gap, w)
		}
	}
	if calls[len(calls)-1].op != "GetQueryResults" {
		t.Errorf("calls after SUCCEEDED: %v", calls[len(calls)-1].op)
	}
	if got := len(f.ops("StopQueryExecution")); got != 0 {
		t.Errorf("a finished query was stopped %d times", got)
	}
}

func TestFailedUserErrorIsBadSQL(t *testing.T) {
	f, e := newFake(t)
	sql := "SELECT id\nFROM shop.orders WHERE nope = 1"
	f.states = []string{"RUNNING", "FAILED"}
	// Athena reports the position in the SQL it ran; compute it there.
	f.final = map[string]any{
		"StateChangeReason": "COLUMN_NOT_FOUND: line 2:44: Column 'nope' cannot be resolved or requester is not authorized to access requested resources",
		"AthenaError":       map[string]any{"ErrorCategory": 2, "ErrorType": 1006, "Retryable": false, "ErrorMessage": "Column 'nope' cannot be resolved"},
	}
	_, _, _, err := run(t, e, sql, 0)
	var se *query.SQLError
	if !errors.Is(err, query.ErrBadSQL) || !errors.As(err, &se) || !query.IsClientError(err) || query.Code(err) != "bad_sql" {
		t.Fatalf("err %v (%T), want a *query.SQLError wrapping ErrBadSQL", err, err)
	}
	sent := f.lastStart()["QueryString"].(string)
	line2 := strings.Split(sent, "\n")[1]
	if col := strings.Index(line2, "nope") + 1; col != 44 {
		t.Fatalf("test setup: nope is at column %d of the SQL sent, not 44: %s", col, line2)
	}
	if se.Line != 2 || se.Column != 24 || se.Kind != "COLUMN_NOT_FOUND" {
		t.Errorf("line %d column %d kind %q, want line 2 column 24 (the caller's SQL) and COLUMN_NOT_FOUND", se.Line, se.Column, se.Kind)
	}
	if !strings.Contains(se.Message, "line 2:24: Column 'nope' cannot be resolved") {
		t.Errorf("message %q", se.Message)
	}

	f2, e2 := newFake(t)
	f2.states = []string{"FAILED"}
	f2.final = map[string]any{
		"StateChangeReason": "Query exhausted resources at this scale factor",
		"AthenaError":       map[string]any{"ErrorCategory": 2, "ErrorType": 3, "Retryable": true},
	}
	if _, _, _, err := run(t, e2, "SELECT count(*) FROM shop.orders", 0); !errors.Is(err, query.ErrResources) {
		t.Errorf("resources: err %v, want ErrResources", err)
	}

	f3, e3 := newFake(t)
	f3.states = []string{"FAILED"}
	f3.final = map[string]any{
		"StateChangeReason": "Internal error in lakeport_org_a__shop",
		"AthenaError":       map[string]any{"ErrorCategory": 1, "ErrorType": 100, "Retryable": true},
	}
	_, _, _, err = run(t, e3, "SELECT count(*) FROM shop.orders", 0)
	if err == nil || query.IsClientError(err) || !strings.Contains(err.Error(), "Internal error in shop") {
		t.Errorf("system error: err %v, want an internal error naming the connector, not the Glue database", err)
	}
}

func TestStartErrorIsEngineUnavailable(t *testing.T) {
	f, e := newFake(t)
	f.startError = &apiErr{400, "InvalidRequestException", "WorkGroup lakeport-wg is not found"}
	_, _, _, err := run(t, e, "SELECT 1", 0)
	if query.Code(err) != "engine_unavailable" || query.IsClientError(err) || !strings.Contains(err.Error(), "InvalidRequestException") || !strings.Contains(err.Error(), "WorkGroup lakeport-wg is not found") {
		t.Fatalf("err %v, want engine_unavailable with Athena's code and message (for the server log)", err)
	}
}

func TestPagingYieldsEveryRowOnceWithoutHeader(t *testing.T) {
	f, e := newFake(t)
	f.pageSize = 3
	f.columns = [][2]string{{"id", "bigint"}, {"name", "varchar"}, {"amount", "double"}, {"ok", "boolean"},
		{"day", "date"}, {"at", "timestamp"}, {"price", "decimal(10,2)"}, {"small", "integer"}, {"atz", "timestamp with time zone"}}
	for i := 1; i <= 7; i++ {
		f.rows = append(f.rows, []*string{str(fmt.Sprint(i)), str(fmt.Sprintf("n%d", i)), str("1.5"), str("true"),
			str("2024-01-02"), str("2024-01-02 03:04:05.123"), str("12.30"), nil, str("2024-01-02 03:04:05.000 UTC")})
	}
	cols, rows, res, err := run(t, e, "SELECT * FROM shop.orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 || res.Truncated() {
		t.Fatalf("%d rows (truncated %v), want 7: %v", len(rows), res.Truncated(), rows)
	}
	for i, r := range rows {
		if r[0] != int64(i+1) {
			t.Errorf("row %d id %v (%T), want %d once each", i, r[0], r[0], i+1)
		}
	}
	if cols[6].Type != "decimal(10,2)" || cols[1].Name != "name" || cols[0].Type != "bigint" {
		t.Errorf("columns %+v", cols)
	}
	want := []any{int64(1), "n1", 1.5, true, "2024-01-02", time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC), json.Number("12.30"), nil,
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i, w := range want {
		got := rows[0][i]
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(w.(time.Time)) {
				t.Errorf("column %s = %v, want %v", cols[i].Name, got, w)
			}
			continue
		}
		if got != w {
			t.Errorf("column %s = %v (%T), want %v (%T)", cols[i].Name, got, got, w, w)
		}
	}
	pages := f.ops("GetQueryResults")
	if len(pages) != 3 {
		t.Errorf("%d result pages read, want 3 (8 rows with the header, 3 per page)", len(pages))
	}
	for i, p := range pages {
		tok, _ := p.body["NextToken"].(string)
		if want := []string{"", "p3", "p6"}[i]; tok != want {
			t.Errorf("page %d NextToken %q, want %q", i, tok, want)
		}
	}
}

func TestMaxRowsTruncates(t *testing.T) {
	f, e := newFake(t)
	f.pageSize = 3
	f.columns = [][2]string{{"id", "bigint"}}
	for i := 1; i <= 7; i++ {
		f.rows = append(f.rows, []*string{str(fmt.Sprint(i))})
	}
	_, rows, res, err := run(t, e, "SELECT id FROM shop.orders ORDER BY id", 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || !res.Truncated() || rows[3][0] != int64(4) {
		t.Fatalf("rows %v truncated %v, want ids 1-4 and truncated", rows, res.Truncated())
	}
	if n := len(f.ops("GetQueryResults")); n != 2 {
		t.Errorf("%d pages read for 4 rows, want 2 (no reading past the limit)", n)
	}
	_, rows, res, err = run(t, e, "SELECT id FROM shop.orders", 7)
	if err != nil || len(rows) != 7 || res.Truncated() {
		t.Fatalf("exactly MaxRows rows: %d rows, truncated %v, err %v", len(rows), res.Truncated(), err)
	}
	if _, err := e.Query(orgCtx, tables(), query.Request{SQL: "SELECT 1", MaxRows: 2_000_000}); !errors.Is(err, query.ErrTooManyRows) {
		t.Errorf("MaxRows above the maximum: err %v", err)
	}
}

func TestCancelAndTimeoutStopTheQuery(t *testing.T) {
	f, e := newFake(t)
	f.states = []string{"RUNNING"}
	ctx, cancel := context.WithCancel(orgCtx)
	time.AfterFunc(30*time.Millisecond, cancel)
	_, err := e.Query(ctx, tables(), query.Request{SQL: "SELECT count(*) FROM shop.orders"})
	if !errors.Is(err, query.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want ErrCanceled", err)
	}
	stops := f.ops("StopQueryExecution")
	if len(stops) != 1 || stops[0].body["QueryExecutionId"] != "qe-1" {
		t.Fatalf("StopQueryExecution calls %v, want one for qe-1", stops)
	}

	f2, e2 := newFake(t)
	f2.states = []string{"RUNNING"}
	_, err = e2.Query(orgCtx, tables(), query.Request{SQL: "SELECT count(*) FROM shop.orders", Timeout: 30 * time.Millisecond})
	if !errors.Is(err, query.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if stops := f2.ops("StopQueryExecution"); len(stops) != 1 {
		t.Fatalf("%d StopQueryExecution calls after the time limit, want 1", len(stops))
	}
}

func TestOtherTablesNeverReachAthena(t *testing.T) {
	f, e := newFake(t)
	for _, sql := range []string{
		`SELECT * FROM other.secret`,
		`SELECT * FROM lakeport_org_b__shop.orders`,
		`SELECT * FROM "lakeport_org_b__shop"."orders"`,
		`SELECT * FROM awsdatacatalog.lakeport_org_a__shop.orders`,
		`SELECT * FROM AwsDataCatalog.shop.orders`,
		`SELECT * FROM information_schema.tables`,
		`SELECT * FROM information_schema.columns WHERE table_schema = 'lakeport_org_b__shop'`,
		`SELECT * FROM orders`,
		`SELECT * FROM shop.orders, other.secret`,
		`SELECT * FROM shop.orders, (other.secret)`,
		`SELECT * FROM (shop.orders CROSS JOIN other.secret)`,
		`SELECT * FROM shop.orders o JOIN other.secret s ON true`,
		`SELECT * FROM shop.orders LEFT OUTER JOIN other.secret USING (id)`,
		`SELECT (SELECT max(password) FROM other.secret)`,
		`SELECT * FROM shop.orders WHERE id IN (SELECT 1 FROM other.secret)`,
		`SELECT * FROM shop.orders WHERE EXISTS (SELECT * FROM other.secret)`,
		`SELECT extract(year FROM (SELECT max(t) FROM other.secret))`,
		`SELECT substring((SELECT password FROM other.secret) FROM 1)`,
		`SELECT * FROM shop.orders UNION ALL SELECT * FROM other.secret`,
		`WITH x AS (SELECT 1) SELECT * FROM x, other.secret`,
		`WITH other AS (SELECT 1 AS secret) SELECT * FROM other.secret`,
		`SELECT * FROM shop.orders limit, other.secret`,
		`TABLE other.secret`,
		`SELECT * FROM TABLE(system.query(query => 'SELECT 1'))`,
		`SELECT * FROM shop.orders CROSS JOIN LATERAL (SELECT * FROM other.secret)`,
		`SELECT * FROM other/**/./**/secret`,
		"SELECT * FROM other -- c\n . secret",
		`SELECT * FROM "OTHER"."SECRET"`,
		`SELECT * FROM ` + "`other`.`secret`",
		`SELECT * FROM shop.orders /* FROM other.secret`,
		`SELECT 'it''s' FROM other.secret`,
		`EXPLAIN SELECT * FROM other.secret`,
		`EXPLAIN ANALYZE SELECT * FROM other.secret`,
		`DESCRIBE other.secret`,
		`DESCRIBE lakeport_org_b__shop.orders`,
		`SHOW COLUMNS FROM other.secret`,
		`SHOW TABLES IN lakeport_org_b__shop LIKE '%'`,
		`SHOW DATABASES LIKE 'lakeport%'`,
		`SHOW CREATE TABLE shop.orders`,
	} {
		_, _, _, err := run(t, e, sql, 0)
		if !errors.Is(err, query.ErrBadSQL) && !errors.Is(err, query.ErrNotReadOnly) {
			t.Errorf("%s: err %v, want ErrBadSQL or ErrNotReadOnly", sql, err)
		}
	}
	if calls := f.snapshot(); len(calls) != 0 {
		t.Fatalf("%d calls reached Athena, first %s %v", len(calls), calls[0].op, calls[0].body)
	}

	_, _, _, errOther := run(t, e, "SELECT *\nFROM other.secret", 0)
	_, _, _, errNone := run(t, e, "SELECT *\nFROM other.nothing", 0)
	var se *query.SQLError
	if !errors.As(errOther, &se) || se.Line != 2 || se.Column != 6 || !strings.Contains(se.Message, "does not exist") {
		t.Errorf("err %v, want a SQLError at line 2 column 6 saying the table does not exist", errOther)
	}
	if a, b := strings.ReplaceAll(errOther.Error(), "secret", "X"), strings.ReplaceAll(errNone.Error(), "nothing", "X"); a != b {
		t.Errorf("another organization's table answers differently from a missing one:\n%s\n%s", a, b)
	}
}

func TestNotReadOnlyNeverReachesAthena(t *testing.T) {
	f, e := newFake(t)
	for _, sql := range []string{
		`CREATE TABLE t AS SELECT 1`,
		`INSERT INTO shop.orders VALUES (1)`,
		`DELETE FROM shop.orders`,
		`UPDATE shop.orders SET id = 1`,
		`MERGE INTO shop.orders USING shop.orders s ON true WHEN MATCHED THEN DELETE`,
		`DROP TABLE shop.orders`,
		`ALTER TABLE shop.orders ADD COLUMNS (x int)`,
		`UNLOAD (SELECT * FROM shop.orders) TO 's3://elsewhere/' WITH (format = 'PARQUET')`,
		`MSCK REPAIR TABLE shop.orders`,
		`OPTIMIZE shop.orders REWRITE DATA USING BIN_PACK`,
		`VACUUM shop.orders`,
		`USE lakeport_org_b__shop`,
		`SET SESSION x = 1`,
		`PREPARE p FROM SELECT 1`,
		`EXECUTE p`,
		`SELECT 1; SELECT 2`,
		`SELECT 1; DROP TABLE shop.orders`,
		`EXPLAIN ANALYZE INSERT INTO shop.orders VALUES (1)`,
		`EXPLAIN CREATE TABLE t AS SELECT 1`,
		`CALL system.flush_metadata_cache()`,
	} {
		_, _, _, err := run(t, e, sql, 0)
		if !errors.Is(err, query.ErrNotReadOnly) {
			t.Errorf("%s: err %v, want ErrNotReadOnly", sql, err)
		}
	}
	if calls := f.snapshot(); len(calls) != 0 {
		t.Fatalf("%d calls reached Athena, first %s %v", len(calls), calls[0].op, calls[0].body)
	}
}

func TestShowIsAnsweredFromTheList(t *testing.T) {
	f, e := newFake(t)
	_, rows, _, err := run(t, e, "SHOW TABLES", 0)
	if err != nil || len(rows) != 3 || rows[0][0] != "shop.orders" {
		t.Fatalf("SHOW TABLES: rows %v err %v", rows, err)
	}
	_, rows, _, err = run(t, e, "show tables in crm", 0)
	if err != nil || len(rows) != 1 || rows[0][0] != "contacts" {
		t.Fatalf("SHOW TABLES IN crm: rows %v err %v", rows, err)
	}
	_, rows, _, err = run(t, e, "SHOW SCHEMAS;", 0)
	if err != nil || len(rows) != 2 {
		t.Fatalf("SHOW SCHEMAS: rows %v err %v", rows, err)
	}
	if calls := f.snapshot(); len(calls) != 0 {
		t.Fatalf("SHOW reached Athena: %v", calls)
	}

	f.statementType = "DML"
	f.columns = [][2]string{{"column_name", "varchar"}, {"column_type", "varchar"}, {"null", "varchar"}}
	f.rows = [][]*string{{str("id"), str("bigint"), str("YES")}}
	_, rows, _, err = run(t, e, "DESCRIBE shop.orders", 0)
	if err != nil || len(rows) != 1 || rows[0][0] != "id" {
		t.Fatalf("DESCRIBE: rows %v err %v", rows, err)
	}
	q := f.lastStart()["QueryString"].(string)
	if !strings.Contains(q, "FROM information_schema.columns WHERE table_schema = 'lakeport_org_a__shop' AND table_name = 'orders'") {
		t.Errorf("DESCRIBE sent %s", q)
	}
}

func TestNeedsTheOrganization(t *testing.T) {
	f, e := newFake(t)
	if _, err := e.Query(context.Background(), tables(), query.Request{SQL: "SELECT * FROM shop.orders"}); err == nil {
		t.Fatal("a query without an organization in its context ran")
	}
	ctx := athena.WithOrg(context.Background(), "org__b")
	if _, err := e.Query(ctx, tables(), query.Request{SQL: "SELECT * FROM shop.orders"}); err == nil {
		t.Fatal("an organization ID that the default names cannot keep apart was accepted")
	}
	if calls := f.snapshot(); len(calls) != 0 {
		t.Fatalf("calls reached Athena: %v", calls)
	}
}

func TestDefaultDatabase(t *testing.T) {
	for _, c := range []struct {
		org, conn, want string
	}{
		{"org_k3j2", "stripe", "lakeport_org_k3j2__stripe"},
		{"org_k3j2", "stripe_prod", "lakeport_org_k3j2__stripe_prod"},
		{"org_k3j2_", "x", ""},
		{"org__a", "x", ""},
		{"Org_A", "x", ""},
		{"org_a", "_x", ""},
		{"org_a", "x-y", ""},
		{"", "x", ""},
	} {
		got, err := athena.DefaultDatabase("lakeport_", c.org, c.conn)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("DefaultDatabase(%q, %q) = %q, %v; want %q", c.org, c.conn, got, err, c.want)
		}
	}
}

func TestRegistered(t *testing.T) {
	e, err := query.Open("athena", map[string]string{
		"region": "us-east-1", "workgroup": "wg", "output_location": "s3://b/p/", "endpoint": "http://127.0.0.1:1",
		"poll_initial": "50ms", "poll_max": "1s", "max_rows": "100", "default_max_rows": "10",
	})
	if err != nil || e == nil {
		t.Fatalf("open athena: %v", err)
	}
	if _, err := query.Open("athena", map[string]string{"region": "us-east-1", "wrokgroup": "wg"}); err == nil {
		t.Fatal("a misspelt setting was accepted")
	}
	if _, err := athena.New(athena.Config{Region: "us-east-1", WorkGroup: "wg", OutputLocation: "/tmp/x"}); err == nil {
		t.Fatal("an output location that is not s3:// was accepted")
	}
}
