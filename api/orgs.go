package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// OrgView is an organization as the API shows it.
type OrgView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// WhoAmI is the caller's identity.
type WhoAmI struct {
	Org      OrgView    `json:"org"`
	Role     store.Role `json:"role"`
	Operator bool       `json:"operator"`
	TokenID  string     `json:"token_id"` // the ID of the token making the request (lakeport token list)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	writeJSON(w, http.StatusOK, WhoAmI{Org: OrgView{ID: c.Org.ID, Name: c.Org.Name}, Role: c.Token.Role, Operator: c.Token.Operator, TokenID: c.Token.ID})
}

// CreateOrgRequest is the body of POST /api/v1/orgs.
type CreateOrgRequest struct {
	Name string `json:"name"`
}

// CreateOrgResponse carries the new organization's first admin token, shown once.
type CreateOrgResponse struct {
	Org        OrgView `json:"org"`
	AdminToken string  `json:"admin_token"`
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) {
	if !callerOf(r).Token.Operator {
		writeError(w, http.StatusForbidden, "operator_only", "only the install's operator (the bootstrap admin whose token is in the data dir's admin.token) may create organizations")
		return
	}
	var req CreateOrgRequest
	if !decode(w, r, &req) {
		return
	}
	o, tok, err := tenant.CreateOrg(r.Context(), s.Store, req.Name, false)
	switch {
	case errors.Is(err, tenant.ErrInvalidName):
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: "name: " + err.Error(), Fields: fieldErr("name", err)})
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "org_exists", "an organization named "+req.Name+" already exists: choose another name")
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, CreateOrgResponse{Org: OrgView{ID: o.ID, Name: o.Name}, AdminToken: tok})
	}
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	// Another organization's ID answers exactly as a missing one does.
	if chi.URLParam(r, "id") != c.Org.ID {
		writeError(w, http.StatusNotFound, "not_found", "no organization with that ID")
		return
	}
	writeJSON(w, http.StatusOK, OrgView{ID: c.Org.ID, Name: c.Org.Name})
}

// CreateUserRequest is the body of POST /api/v1/users: a console user of the caller's
// organization.
type CreateUserRequest struct {
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Role     store.Role `json:"role"`
}

// UserView is a console user as the API shows it (never the password or its hash).
type UserView struct {
	ID   string     `json:"id"`
	Name string     `json:"name"`
	Role store.Role `json:"role"`
	Org  OrgView    `json:"org"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	users, ok := s.Store.(store.Users)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_available", "this metadata store does not keep console users; sign in to the console with an API token")
		return
	}
	var req CreateUserRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Role == "" {
		req.Role = store.RoleMember
	}
	c := callerOf(r)
	u, err := tenant.CreateUser(r.Context(), users, c.Org.ID, req.Name, req.Password, req.Role)
	switch {
	case errors.Is(err, tenant.ErrWeakPassword):
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: err.Error(), Fields: fieldErr("password", err)})
	case errors.Is(err, tenant.ErrInvalidUser):
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "user_exists", "a user named "+req.Name+" already exists in your organization: choose another name")
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, UserView{ID: u.ID, Name: u.Name, Role: u.Role, Org: OrgView{ID: c.Org.ID, Name: c.Org.Name}})
	}
}
