// Package resttest is an httptest server implementing the Iceberg REST catalog
// endpoints iceberg-go's REST catalog calls, backed by an Iceberg SQL catalog on
// SQLite, so the real REST client runs end to end in tests.
package resttest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"

	"github.com/apache/iceberg-go/table"

	lpcatalog "github.com/lakeport/lakeport/catalog"
	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
)

// Server implements the Iceberg REST catalog endpoints iceberg-go's rest
// catalog calls for lake (config; namespaces: create, load, drop; tables:
// list, create, load, commit, drop), backed by an Iceberg SQL catalog on
// SQLite, which applies the updates. A commit whose requirements fail on the
// current metadata answers 409 CommitFailedException, as the REST spec says.
type Server struct {
	*httptest.Server
	cat lpcatalog.Catalog

	mu       sync.Mutex // one commit at a time, like a real catalog's lock
	requests []string   // "METHOD path"
	tokens   []string   // Authorization headers seen
}

// New starts a REST catalog whose tables are read and written with the file IO
// properties props; it stops when the test ends.
func New(t testing.TB, props iceberg.Properties) *Server {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "rest.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlcatalog.New(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := b.Open(context.Background(), "rest", props)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cat: cat}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

type restErr struct {
	code int
	typ  string
	err  error
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	s.tokens = append(s.tokens, r.Header.Get("Authorization"))
	s.mu.Unlock()
	out, rerr := s.route(r)
	w.Header().Set("Content-Type", "application/json")
	if rerr != nil {
		w.WriteHeader(rerr.code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": rerr.err.Error(), "type": rerr.typ, "code": rerr.code}})
		return
	}
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(out)
}

func classify(err error) *restErr {
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable):
		return &restErr{404, "NoSuchTableException", err}
	case errors.Is(err, catalog.ErrNoSuchNamespace):
		return &restErr{404, "NoSuchNamespaceException", err}
	case errors.Is(err, catalog.ErrTableAlreadyExists), errors.Is(err, catalog.ErrNamespaceAlreadyExists):
		return &restErr{409, "AlreadyExistsException", err}
	case errors.Is(err, catalog.ErrNamespaceNotEmpty):
		return &restErr{409, "NamespaceNotEmptyException", err}
	case errors.Is(err, table.ErrCommitFailed):
		return &restErr{409, "CommitFailedException", err}
	}
	return &restErr{500, "ServerError", err}
}

func loadResult(tbl *table.Table) map[string]any {
	return map[string]any{"metadata-location": tbl.MetadataLocation(), "metadata": tbl.Metadata(), "config": map[string]string{}}
}

func (s *Server) route(r *http.Request) (any, *restErr) {
	ctx := r.Context()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	bad := func(err error) *restErr { return &restErr{400, "BadRequestException", err} }
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "config":
		return map[string]any{"defaults": map[string]string{}, "overrides": map[string]string{}}, nil
	case len(parts) == 1 && parts[0] == "namespaces" && r.Method == http.MethodPost:
		var req struct {
			Namespace  []string           `json:"namespace"`
			Properties iceberg.Properties `json:"properties"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, bad(err)
		}
		if err := s.cat.CreateNamespace(ctx, req.Namespace, req.Properties); err != nil {
			return nil, classify(err)
		}
		return map[string]any{"namespace": req.Namespace, "properties": req.Properties}, nil
	case len(parts) < 2 || parts[0] != "namespaces":
		return nil, &restErr{404, "NotFound", errors.New("no route " + r.URL.Path)}
	}
	ns := table.Identifier(strings.Split(parts[1], "\x1f"))
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
		props, err := s.cat.LoadNamespaceProperties(ctx, ns)
		if err != nil {
			return nil, classify(err)
		}
		return map[string]any{"namespace": ns, "properties": props}, nil
	case len(parts) == 2 && r.Method == http.MethodDelete:
		if err := s.cat.DropNamespace(ctx, ns); err != nil {
			return nil, classify(err)
		}
		return nil, nil
	case len(parts) == 3 && parts[2] == "tables" && r.Method == http.MethodGet:
		ids := []map[string]any{}
		for id, err := range s.cat.ListTables(ctx, ns) {
			if err != nil {
				return nil, classify(err)
			}
			ids = append(ids, map[string]any{"namespace": id[:len(id)-1], "name": id[len(id)-1]})
		}
		return map[string]any{"identifiers": ids}, nil
	case len(parts) == 3 && parts[2] == "register" && r.Method == http.MethodPost:
		var req struct {
			Name             string `json:"name"`
			MetadataLocation string `json:"metadata-location"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, bad(err)
		}
		tbl, err := s.cat.RegisterTable(ctx, append(ns, req.Name), req.MetadataLocation)
		if err != nil {
			return nil, classify(err)
		}
		return loadResult(tbl), nil
	case len(parts) == 3 && parts[2] == "tables" && r.Method == http.MethodPost:
		var req struct {
			Name          string                 `json:"name"`
			Schema        *iceberg.Schema        `json:"schema"`
			Location      string                 `json:"location"`
			PartitionSpec *iceberg.PartitionSpec `json:"partition-spec"`
			Props         iceberg.Properties     `json:"properties"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, bad(err)
		}
		opts := []catalog.CreateTableOpt{catalog.WithProperties(req.Props)}
		if req.Location != "" {
			opts = append(opts, catalog.WithLocation(req.Location))
		}
		if req.PartitionSpec != nil {
			opts = append(opts, catalog.WithPartitionSpec(req.PartitionSpec))
		}
		tbl, err := s.cat.CreateTable(ctx, append(ns, req.Name), req.Schema, opts...)
		if err != nil {
			return nil, classify(err)
		}
		return loadResult(tbl), nil
	case len(parts) != 4 || parts[2] != "tables":
		return nil, &restErr{404, "NotFound", errors.New("no route " + r.URL.Path)}
	}
	id := append(ns, parts[3])
	switch r.Method {
	case http.MethodGet:
		tbl, err := s.cat.LoadTable(ctx, id)
		if err != nil {
			return nil, classify(err)
		}
		return loadResult(tbl), nil
	case http.MethodDelete:
		if err := s.cat.DropTable(ctx, id); err != nil {
			return nil, classify(err)
		}
		return nil, nil
	case http.MethodPost:
		var req struct {
			Requirements table.Requirements `json:"requirements"`
			Updates      table.Updates      `json:"updates"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, bad(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		current, err := s.cat.LoadTable(ctx, id)
		if err != nil {
			return nil, classify(err)
		}
		for _, req := range req.Requirements {
			if err := req.Validate(current.Metadata()); err != nil {
				return nil, &restErr{409, "CommitFailedException", err}
			}
		}
		meta, loc, err := s.cat.CommitTable(ctx, id, req.Requirements, req.Updates)
		if err != nil {
			return nil, classify(err)
		}
		return map[string]any{"metadata-location": loc, "metadata": meta}, nil
	}
	return nil, &restErr{405, "MethodNotAllowed", errors.New(r.Method)}
}

// Requests returns the requests received so far, as "METHOD path".
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Tokens returns the Authorization headers of the requests received so far.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}
