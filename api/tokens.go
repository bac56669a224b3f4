package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Role store.Role `json:"role"`
	// Name says what the token is for ("ci", "ann's laptop"); shown by token list.
	Name string `json:"name,omitempty"`
	// ExpiresAt, when set, is when the token stops working; it must be in the future.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CreateTokenResponse carries the new token, shown once.
type CreateTokenResponse struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	Name      string     `json:"name,omitempty"`
	Role      store.Role `json:"role"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Org       OrgView    `json:"org"`
}

// TokenView is a token as token list shows it: never its secret or its hash.
type TokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       store.Role `json:"role"`
	Operator   bool       `json:"operator,omitempty"`
	Kind       string     `json:"kind"` // "api", or "console" for a console session's token
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Current    bool       `json:"current"` // the token of this request
}

// RevokeTokenResponse answers DELETE /api/v1/tokens/{id}.
type RevokeTokenResponse struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

const maxTokenName = 100

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req CreateTokenRequest
	if !decode(w, r, &req) {
		return
	}
	if !req.Role.Valid() {
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: "role: must be admin or member",
			Fields: fieldErr("role", errors.New("must be admin or member"))})
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if len(req.Name) > maxTokenName || strings.IndexFunc(req.Name, unicode.IsControl) >= 0 {
		err := fmt.Errorf("at most %d characters, without control characters", maxTokenName)
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: "name: " + err.Error(), Fields: fieldErr("name", err)})
		return
	}
	t := store.Token{OrgID: callerOf(r).Org.ID, Role: req.Role, Name: req.Name}
	if req.ExpiresAt != nil {
		if !req.ExpiresAt.After(time.Now()) {
			err := errors.New("must be in the future (an RFC 3339 time such as 2030-01-31T00:00:00Z)")
			writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: "expires_at: " + err.Error(), Fields: fieldErr("expires_at", err)})
			return
		}
		t.ExpiresAt = *req.ExpiresAt
	}
	c := callerOf(r)
	tok, made, err := tenant.MintToken(r.Context(), s.Store, t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.Logger.Info("token created", "org", c.Org.ID, "token", made.ID, "role", made.Role, "by", c.Token.ID)
	writeJSON(w, http.StatusCreated, CreateTokenResponse{Token: tok, ID: made.ID, Name: made.Name, Role: made.Role,
		ExpiresAt: timePtr(made.ExpiresAt), Org: OrgView{ID: c.Org.ID, Name: c.Org.Name}})
}

// visibleTokens is what the caller may see and revoke: every token of the organization
// for an admin; for a member, the tokens they hold (Token.Owner).
func (s *Server) visibleTokens(r *http.Request) ([]store.Token, error) {
	c := callerOf(r)
	all, err := s.Store.ListTokens(r.Context(), c.Org.ID)
	if err != nil || c.Token.Role == store.RoleAdmin {
		return all, err
	}
	var own []store.Token
	for _, t := range all {
		if t.Owner() == c.Token.Owner() {
			own = append(own, t)
		}
	}
	return own, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := s.visibleTokens(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	me := callerOf(r).Token.ID
	out := make([]TokenView, 0, len(tokens))
	for _, t := range tokens {
		kind := "api"
		if t.ParentID != "" || t.UserID != "" {
			kind = "console"
		}
		out = append(out, TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Operator: t.Operator, Kind: kind, CreatedAt: t.CreatedAt,
			LastUsedAt: timePtr(t.LastUsedAt), ExpiresAt: timePtr(t.ExpiresAt), Current: t.ID == me})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	id := chi.URLParam(r, "id")
	tokens, err := s.visibleTokens(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var target *store.Token
	for i := range tokens {
		if tokens[i].ID == id {
			target = &tokens[i]
		}
	}
	// Another organization's token, and (for a member) another person's, answer exactly
	// as a missing one does.
	if target == nil {
		writeError(w, http.StatusNotFound, "not_found", "no token "+id+" that you may revoke: lakeport token list shows yours")
		return
	}
	if target.Operator && !c.Token.Operator {
		writeError(w, http.StatusForbidden, "operator_only", "token "+id+" is the install operator's: only the operator may revoke it")
		return
	}
	if err := s.Store.RevokeToken(r.Context(), c.Org.ID, id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no token "+id+" that you may revoke: lakeport token list shows yours")
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.Logger.Info("token revoked", "org", c.Org.ID, "token", id, "by", c.Token.ID)
	writeJSON(w, http.StatusOK, RevokeTokenResponse{ID: id, Revoked: true})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
