// Package api is lakeport's HTTP JSON API under /api/v1. Every request is authenticated
// by a bearer token and scoped to that token's organization.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/metrics"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// MaxBodyBytes bounds every request body but those that may carry a
// declarative manifest, which MaxManifestBodyBytes bounds.
const MaxBodyBytes = 1 << 20

// MaxManifestBodyBytes bounds a request that carries a manifest (a manifest
// is at most 8 MiB).
const MaxManifestBodyBytes = 9 << 20

// Server serves the API.
type Server struct {
	Store    store.Store
	Secrets  *secrets.Box
	Platform config.Platform
	Logger   *slog.Logger

	// Storage saves organizations' storage settings and says how Test connection
	// reaches a bucket (storage.Resolver, which the sync workers use too, so both
	// assume the role the same way); nil means a Resolver on Store and Secrets with
	// AWS's own STS.
	Storage     Storage
	StepTimeout time.Duration

	// Connectors runs connectors; nil in a server that only manages storage.
	Connectors *connector.Service
	// Migrations moves connectors' tables to the organization's new storage
	// (POST /storage/migrate); nil in a server that does not.
	Migrations *migration.Service
	// Metrics, when set, count requests. They are served on a listener of their own
	// (lakeport serve --metrics-addr), never by this handler.
	Metrics *metrics.Metrics
	// Ready reports whether the server can serve (/readyz); nil means always.
	Ready func(context.Context) error

	// Engine answers SQL; nil in a server without a query path.
	Engine query.Engine
	// HidePaths are the server's own folders (the data dir, the query workers'
	// folder): query errors name them as "[server folder]".
	HidePaths []string

	// Validate runs Test connection; nil means validation.Run. Tests replace it only to
	// count calls, never to fake results.
	Validate func(context.Context, storage.Setting, validation.Options) validation.Report
}

// Handler returns the API's router.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Validate == nil {
		s.Validate = validation.Run
	}
	if s.Storage == nil {
		s.Storage = &storage.Resolver{Store: s.Store, Secrets: s.Secrets}
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, s.logRequests)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil {
			if err := s.Ready(r.Context()); err != nil {
				writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API path: "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
	})
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/health", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/whoami", s.whoami)
			r.Post("/orgs", s.createOrg)
			r.Get("/orgs/{id}", s.getOrg)
			r.Get("/tokens", s.listTokens)
			r.With(adminOnly).Post("/tokens", s.createToken)
			r.Delete("/tokens/{id}", s.revokeToken)
			r.With(adminOnly).Post("/users", s.createUser)

			r.Get("/storage", s.showStorage)
			r.Get("/storage/policy", s.storagePolicy)
			r.Post("/storage/review", s.reviewStorage)
			r.With(adminOnly).Post("/storage/test", s.testStorage)
			r.With(adminOnly).Put("/storage", s.saveStorage)
			r.With(adminOnly).Post("/storage/use-managed", s.useManaged)
			r.With(adminOnly).Post("/storage/migrate", s.migrateStorage)

			r.Get("/sources", s.listSources)
			r.With(s.needConnectors).Post("/sources/discover", s.discoverSource)
			// Members list, show, query and start syncs of existing connectors;
			// creating, changing, scheduling, discovering and deleting is for admins.
			r.Route("/connectors", func(r chi.Router) {
				r.Use(s.needConnectors)
				r.Get("/", s.listConnectors)
				r.With(adminOnly).Post("/", s.createConnector)
				r.Get("/{name}", s.getConnector)
				r.With(adminOnly).Post("/{name}/discover", s.discoverConnector)
				r.Post("/{name}/sync", s.syncConnector)
				r.Post("/{name}/maintain", s.maintainConnector)
				r.Get("/{name}/runs", s.connectorRuns)
				r.With(adminOnly).Post("/{name}/setup", s.setupConnector)
				r.With(adminOnly).Put("/{name}/schedule", s.scheduleConnector)
				r.With(adminOnly).Delete("/{name}", s.deleteConnector)
			})
			r.With(s.needConnectors).Get("/runs/{id}", s.getRun)
			r.With(s.needConnectors).Get("/tables", s.listTables)
			r.With(s.needConnectors).Post("/query", s.runQuery)
		})
	})
	return r
}

type ctxKey struct{}

// caller is who made the request.
type caller struct {
	Token store.Token
	Org   store.Org
}

func callerOf(r *http.Request) caller { return r.Context().Value(ctxKey{}).(caller) }

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			writeError(w, http.StatusUnauthorized, "unauthenticated",
				"this request has no API token: send it as \"Authorization: Bearer <token>\" (the first admin's token is in the data dir's admin.token)")
			return
		}
		t, err := s.Store.TokenByHash(r.Context(), auth.HashToken(tok))
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "invalid_token", "the API token is not known to this lakeport server (or was revoked): check LAKEPORT_TOKEN / --token and --url")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		now := time.Now()
		if !t.ExpiresAt.IsZero() && now.After(t.ExpiresAt) {
			writeError(w, http.StatusUnauthorized, "token_expired", "the API token expired at "+t.ExpiresAt.Format(time.RFC3339)+": sign in again, or ask an admin for a new token")
			return
		}
		// Last use, to the minute: token list shows it, and a write per request is not needed.
		if now.Sub(t.LastUsedAt) >= time.Minute {
			if err := s.Store.TouchToken(r.Context(), t.ID, now); err != nil {
				s.Logger.Warn("could not record a token's last use", "token", t.ID, "err", err)
			}
			t.LastUsedAt = now
		}
		o, err := s.Store.Org(r.Context(), t.OrgID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, caller{Token: t, Org: o})))
	})
}

func (s *Server) needConnectors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Connectors == nil {
			writeError(w, http.StatusNotImplemented, "not_available", "this lakeport server does not run connectors")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if callerOf(r).Token.Role != store.RoleAdmin {
			writeError(w, http.StatusForbidden, "admin_only", "only an organization admin may do this; ask an admin of your organization, or use an admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		// Only method, path and status: bodies carry secrets and are never logged.
		s.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"duration_ms", time.Since(start).Milliseconds(), "request_id", middleware.GetReqID(r.Context()))
		if s.Metrics != nil {
			s.Metrics.Requests.WithLabelValues(r.Method, strconv.Itoa(ww.Status())).Inc()
		}
	})
}

// Error is the body of every error response.
type Error struct {
	Code    string               `json:"code"`
	Message string               `json:"message"`
	Fields  []storage.FieldError `json:"fields,omitempty"`
	Report  *validation.Report   `json:"report,omitempty"`
	// Migration is the report of a storage migration that did not finish.
	Migration *migration.Report `json:"migration,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "lakeport failed to handle this request; the server log has the details")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body into v: at most MaxBodyBytes, no unknown fields, one value.
// It writes the error response itself and returns false on bad input.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, MaxBodyBytes)
}

// decodeLimit is decode with another size limit.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("the body holds more than one JSON value")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body is over %d MiB; send only the documented fields", limit>>20))
	case errors.As(err, &syntax):
		writeError(w, http.StatusBadRequest, "malformed_json", "the request body is not valid JSON: "+err.Error())
	case errors.As(err, &typ):
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: "field " + typ.Field + " must be a JSON " + typ.Type.String(),
			Fields: []storage.FieldError{{Field: typ.Field, Message: "must be a JSON " + typ.Type.String()}}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg := "unknown field: remove it (see the API docs for the accepted fields)"
		if field == "external_id" {
			msg = "lakeport generates each organization's external ID and never takes one from a request; remove the field"
		}
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: field + ": " + msg, Fields: []storage.FieldError{{Field: field, Message: msg}}})
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, "malformed_json", "the request body is empty or cut short: send a JSON object")
	default:
		writeError(w, http.StatusBadRequest, "malformed_json", "the request body could not be read as JSON: "+err.Error())
	}
	return false
}
