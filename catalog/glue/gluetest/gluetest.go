// Package gluetest is an httptest server speaking AWS Glue's JSON protocol for the
// operations iceberg-go's Glue catalog uses, over an in-memory Data Catalog, so that
// the real AWS SDK code runs end to end in tests (no Glue can run here).
package gluetest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server speaks AWS Glue's JSON 1.1 protocol (POST /, X-Amz-Target:
// AWSGlue.<Operation>, application/x-amz-json-1.1) for the operations
// iceberg-go's Glue catalog uses, over an in-memory Data Catalog. Errors are
// Glue's: HTTP 400 with {"__type": "...Exception", "Message": "..."}.
// Tables carry a VersionId ("1", "2", …); UpdateTable with a VersionId other
// than the current one fails with ConcurrentModificationException, as Glue's
// optimistic locking does.
type Server struct {
	t testing.TB
	// Region is the region the server expects in signatures.
	Region string
	*httptest.Server

	// BeforeUpdate, when set, runs before an UpdateTable is applied,
	// outside the server's lock (a test can commit meanwhile).
	BeforeUpdate func(db, table string)

	mu       sync.Mutex
	dbs      map[string]*glueDB
	requests []Request
}

type glueDB struct {
	database map[string]any
	tables   map[string]*glueTable
}

type glueTable struct {
	version int
	table   map[string]any
}

// Request is one request as received.
type Request struct {
	Op   string
	Body map[string]any
	// Error is the __type of the error answered, "" for success.
	Error string
}

// New starts a Glue server expecting signatures for region; it stops when the test ends.
func New(t testing.TB, region string) *Server {
	s := &Server{t: t, Region: region, dbs: map[string]*glueDB{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

type glueError struct {
	typ, msg string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSGlue.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		s.t.Errorf("glue: unexpected request %s %s target %q", r.Method, r.URL.Path, target)
		http.Error(w, "not glue", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		s.t.Errorf("glue %s: Content-Type %q", op, ct)
	}
	// SigV4 for service glue in the configured region.
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") ||
		!strings.Contains(auth, "/"+s.Region+"/glue/aws4_request") {
		s.t.Errorf("glue %s: Authorization %q is not SigV4 for glue in %s", op, auth, s.Region)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("glue %s: read body: %v", op, err)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Errorf("glue %s: body %q: %v", op, raw, err)
		return
	}
	if op == "UpdateTable" && s.BeforeUpdate != nil {
		s.BeforeUpdate(Str(body, "DatabaseName"), Str(Obj(body, "TableInput"), "Name"))
	}
	s.mu.Lock()
	out, gerr := s.do(op, body)
	req := Request{Op: op, Body: body}
	if gerr != nil {
		req.Error = gerr.typ
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("req-%d", time.Now().UnixNano()))
	if gerr != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": gerr.typ, "Message": gerr.msg})
		return
	}
	if out == nil {
		out = map[string]any{}
	}
	json.NewEncoder(w).Encode(out)
}

// Str is m[k] as a string ("" when it is not one).
func Str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// Obj is m[k] as an object (nil when it is not one).
func Obj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

func notFound(format string, a ...any) *glueError {
	return &glueError{"EntityNotFoundException", fmt.Sprintf(format, a...)}
}

func now() float64 { return float64(time.Now().UnixMilli()) / 1000 }

// do runs one operation with s.mu held.
func (s *Server) do(op string, in map[string]any) (map[string]any, *glueError) {
	catalogID := Str(in, "CatalogId")
	switch op {
	case "CreateDatabase":
		dbIn := Obj(in, "DatabaseInput")
		name := Str(dbIn, "Name")
		if name == "" {
			return nil, &glueError{"InvalidInputException", "DatabaseInput.Name is required"}
		}
		if _, ok := s.dbs[name]; ok {
			return nil, &glueError{"AlreadyExistsException", "Database already exists."}
		}
		db := maps.Clone(dbIn)
		db["CatalogId"], db["CreateTime"] = catalogID, now()
		s.dbs[name] = &glueDB{database: db, tables: map[string]*glueTable{}}
		return nil, nil
	case "GetDatabase":
		db, ok := s.dbs[Str(in, "Name")]
		if !ok {
			return nil, notFound("Database %s not found.", Str(in, "Name"))
		}
		return map[string]any{"Database": db.database}, nil
	case "GetDatabases":
		var list []any
		for _, name := range slices.Sorted(maps.Keys(s.dbs)) {
			list = append(list, s.dbs[name].database)
		}
		return map[string]any{"DatabaseList": list}, nil
	case "DeleteDatabase":
		if _, ok := s.dbs[Str(in, "Name")]; !ok {
			return nil, notFound("Database %s not found.", Str(in, "Name"))
		}
		delete(s.dbs, Str(in, "Name")) // with its tables, as Glue does
		return nil, nil
	}

	dbName := Str(in, "DatabaseName")
	db, ok := s.dbs[dbName]
	if !ok {
		return nil, notFound("Database %s not found.", dbName)
	}
	switch op {
	case "CreateTable":
		tin := Obj(in, "TableInput")
		name := Str(tin, "Name")
		if _, ok := db.tables[name]; ok {
			return nil, &glueError{"AlreadyExistsException", "Table already exists."}
		}
		tbl := &glueTable{version: 1, table: maps.Clone(tin)}
		db.tables[name] = tbl
		s.stamp(tbl, dbName, catalogID)
		tbl.table["CreateTime"] = tbl.table["UpdateTime"]
		return nil, nil
	case "GetTable":
		tbl, ok := db.tables[Str(in, "Name")]
		if !ok {
			return nil, notFound("Table %s not found.", Str(in, "Name"))
		}
		return map[string]any{"Table": tbl.table}, nil
	case "GetTables":
		names := slices.Sorted(maps.Keys(db.tables))
		start, _ := strconv.Atoi(Str(in, "NextToken"))
		limit := 100
		if n, ok := in["MaxResults"].(float64); ok && n > 0 {
			limit = int(n)
		}
		end := min(start+limit, len(names))
		list := []any{}
		for _, n := range names[start:end] {
			list = append(list, db.tables[n].table)
		}
		out := map[string]any{"TableList": list}
		if end < len(names) {
			out["NextToken"] = strconv.Itoa(end)
		}
		return out, nil
	case "UpdateTable":
		tin := Obj(in, "TableInput")
		tbl, ok := db.tables[Str(tin, "Name")]
		if !ok {
			return nil, notFound("Table %s not found.", Str(tin, "Name"))
		}
		if v, ok := in["VersionId"]; ok && v != strconv.Itoa(tbl.version) {
			return nil, &glueError{"ConcurrentModificationException",
				fmt.Sprintf("Update table failed due to concurrent modifications: version %v is not the latest, %d is.", v, tbl.version)}
		}
		created := tbl.table["CreateTime"]
		tbl.version++
		tbl.table = maps.Clone(tin)
		s.stamp(tbl, dbName, catalogID)
		tbl.table["CreateTime"] = created
		return nil, nil
	case "DeleteTable":
		if _, ok := db.tables[Str(in, "Name")]; !ok {
			return nil, notFound("Table %s not found.", Str(in, "Name"))
		}
		delete(db.tables, Str(in, "Name"))
		return nil, nil
	}
	s.t.Errorf("glue: operation %s not implemented by the fake", op)
	return nil, &glueError{"InvalidInputException", "unsupported operation " + op}
}

func (s *Server) stamp(tbl *glueTable, db, catalogID string) {
	tbl.table["DatabaseName"] = db
	tbl.table["CatalogId"] = catalogID
	tbl.table["VersionId"] = strconv.Itoa(tbl.version)
	tbl.table["UpdateTime"] = now()
	tbl.table["IsRegisteredWithLakeFormation"] = false
}

// Calls returns the requests of operation op (all when op is "").
func (s *Server) Calls(op string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if op == "" || r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// Databases lists the catalog's database names.
func (s *Server) Databases() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.dbs))
}

// Table returns a copy of table db.name, or nil.
func (s *Server) Table(db, name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dbs[db]
	if !ok || d.tables[name] == nil {
		return nil
	}
	return maps.Clone(d.tables[name].table)
}
