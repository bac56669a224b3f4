package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/owner"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
)

// SourceView is one source a connector can use.
type SourceView struct {
	Name string                           `json:"name"`
	Kind string                           `json:"kind"` // builtin | manifest | exec | image
	Spec *protocol.ConnectorSpecification `json:"spec,omitempty"`
	Help string                           `json:"help,omitempty"`
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	out := []SourceView{}
	for _, name := range source.Default.Builtins() {
		v := SourceView{Name: name, Kind: "builtin"}
		if src, err := source.Default.Open(name); err == nil {
			v.Spec, _ = src.Spec(r.Context())
		}
		out = append(out, v)
	}
	for _, name := range source.Default.Manifests() {
		v := SourceView{Name: name, Kind: "manifest", Help: "a declarative manifest published by the operator, run in process"}
		src, err := source.Default.Open(name)
		if err != nil {
			v.Help = "a published manifest lakeport cannot run: " + err.Error()
		} else {
			v.Spec, _ = src.Spec(r.Context())
		}
		out = append(out, v)
	}
	out = append(out,
		SourceView{Name: "manifest:PATH", Kind: "manifest", Help: "an Airbyte declarative manifest (YAML), read by the CLI and sent with the connector; run in process, no Python or container"})
	out = append(out, programViews(source.Default.Allow)...)
	writeJSON(w, http.StatusOK, out)
}

// programViews lists the exec: and image: references this install allows (the
// operator's sources.allow), or says that it allows none.
func programViews(allow source.AllowList) []SourceView {
	var out []SourceView
	for _, e := range allow.Entries() {
		kind, _, _ := strings.Cut(e, ":")
		help := "a local program that speaks the Airbyte protocol, allowed by the operator (sources.allow); admins choose it"
		if kind == "image" {
			help = "an Airbyte connector image, run with docker or podman, allowed by the operator (sources.allow); admins choose it"
		}
		out = append(out, SourceView{Name: e, Kind: kind, Help: help})
	}
	if len(out) == 0 {
		out = append(out, SourceView{Name: "exec:, image:", Kind: "none",
			Help: "this install runs no local programs or container images: the operator allows them with " + source.AllowSetting})
	}
	return out
}

// connectorError answers a connector package error with its status and code.
func (s *Server) connectorError(w http.ResponseWriter, r *http.Request, err error) {
	var inv *connector.InvalidError
	var exit *source.ExitError
	switch {
	case errors.As(err, &inv):
		fields := make([]storage.FieldError, len(inv.Fields))
		for i, f := range inv.Fields {
			fields[i] = storage.FieldError{Field: f.Field, Message: f.Message}
		}
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: inv.Error(), Fields: fields})
	case errors.Is(err, connector.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, connector.ErrExists):
		writeError(w, http.StatusConflict, "connector_exists", "a connector with that name already exists in this organization: choose another name")
	case errors.Is(err, connector.ErrMaintaining):
		writeError(w, http.StatusConflict, "maintenance_in_progress", err.Error())
	case errors.Is(err, connector.ErrBusy):
		writeError(w, http.StatusConflict, "sync_in_progress", err.Error())
	case errors.Is(err, connector.ErrStoragePaused):
		writeError(w, http.StatusConflict, "storage_paused", err.Error())
	case errors.Is(err, connector.ErrNoSchedules):
		writeError(w, http.StatusNotImplemented, "not_available", err.Error())
	case errors.Is(err, connector.ErrStorageChanged):
		writeError(w, http.StatusConflict, "storage_changed", err.Error())
	case errors.Is(err, connector.ErrMigrating):
		writeError(w, http.StatusConflict, "migrating", err.Error())
	case errors.Is(err, owner.ErrOwnedByAnother), errors.Is(err, owner.ErrNotOwned):
		writeError(w, http.StatusConflict, "prefix_not_owned", err.Error())
	case errors.Is(err, connector.ErrLimit):
		writeError(w, http.StatusConflict, "limit_reached", err.Error())
	case errors.Is(err, source.ErrNotAllowed):
		writeError(w, http.StatusForbidden, "source_not_allowed", err.Error())
	case errors.Is(err, source.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, "source_timeout", err.Error())
	case errors.As(err, &exit), errors.Is(err, source.ErrNoContainerEngine):
		writeError(w, http.StatusBadGateway, "source_failed", err.Error())
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	var req connector.CreateRequest
	if !decodeLimit(w, r, &req, MaxManifestBodyBytes) {
		return
	}
	v, err := s.Connectors.Create(r.Context(), callerOf(r).Org, req)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.List(r.Context(), callerOf(r).Org)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.Get(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) discoverConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.Discover(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) syncConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.StartSync(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

// maintainConnector starts table maintenance of the connector (compaction, snapshot
// expiry, orphan files): a run of kind maintenance.
func (s *Server) maintainConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.StartMaintenance(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

func (s *Server) connectorRuns(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	v, err := s.Connectors.Runs(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"), limit)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.Run(r.Context(), callerOf(r).Org, chi.URLParam(r, "id"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) setupConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.Setup(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request) {
	v, err := s.Connectors.Delete(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ScheduleRequest is the body of PUT /api/v1/connectors/{name}/schedule.
type ScheduleRequest struct {
	Schedule string `json:"schedule"` // "every 6h", a cron expression, or "" for none
}

func (s *Server) scheduleConnector(w http.ResponseWriter, r *http.Request) {
	var req ScheduleRequest
	if !decode(w, r, &req) {
		return
	}
	v, err := s.Connectors.SetSchedule(r.Context(), callerOf(r).Org, chi.URLParam(r, "name"), req.Schedule)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// DiscoverSourceRequest is the body of POST /api/v1/sources/discover.
type DiscoverSourceRequest struct {
	Source string          `json:"source"`
	Config json.RawMessage `json:"config"`
	// Manifest is the declarative manifest of a manifest:LABEL source.
	Manifest string `json:"manifest,omitempty"`
}

func (s *Server) discoverSource(w http.ResponseWriter, r *http.Request) {
	var req DiscoverSourceRequest
	if !decodeLimit(w, r, &req, MaxManifestBodyBytes) {
		return
	}
	if source.IsProgram(req.Source) && callerOf(r).Token.Role != store.RoleAdmin {
		writeError(w, http.StatusForbidden, "admin_only", "only an organization admin may run a program (exec: or image:) to discover its streams; ask an admin of your organization")
		return
	}
	cat, err := s.Connectors.DiscoverSource(r.Context(), req.Source, req.Config, req.Manifest)
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cat)
}
