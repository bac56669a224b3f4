// Package web is lakeport's web console: server-rendered pages (html/template) with a
// little JavaScript, served by `lakeport serve` next to the API. It has no logic of its
// own: every action calls the same HTTP API the CLI calls, in process, with the signed-in
// person's API token, so authentication, roles and organization scoping are the API's.
// What it owns is signing in: sessions (kept in the metadata store, each an expiring API
// token), CSRF, sign-in throttling and where a sign-in may redirect.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console needs.
type Config struct {
	// API is the API handler (api.Server.Handler()); the console calls it in process.
	API http.Handler
	// Store mints each session's API token.
	Store store.Store
	// Users enables sign-in with a user name and password; nil offers API tokens only.
	Users store.Users
	// Sessions keeps console sessions and SignInFailures counts failed sign-ins, both in
	// the metadata store so that any `serve` process answers any request; nil means
	// Store's own (every lakeport store has them).
	Sessions       store.Sessions
	SignInFailures store.SignInFailures
	// Secrets seals what a session keeps that may be secret (a tested access key).
	Secrets *secrets.Box
	// SignIn limits password guessing (config.SignInLimits' defaults for zeros).
	SignIn config.SignInLimits
	// SecureCookies marks cookies Secure behind a TLS-terminating proxy; TrustedProxies
	// are the peers whose X-Forwarded-For and X-Forwarded-Proto are believed.
	SecureCookies  bool
	TrustedProxies []netip.Prefix
	// Logger gets sign-ins, sign-outs and failures; nil means slog.Default().
	Logger *slog.Logger
	// SessionLifetime is a session's absolute lifetime (DefaultSessionLifetime when 0);
	// IdleTimeout ends a session not used for that long (DefaultIdleTimeout when 0).
	SessionLifetime time.Duration
	IdleTimeout     time.Duration
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// SyncPoll is how often the live sync progress asks the API for the run (300ms when 0).
	SyncPoll time.Duration
}

type handler struct {
	cfg      Config
	log      *slog.Logger
	sessions store.Sessions
	throttle *throttle
	pages    map[string]*template.Template
}

type ctxKey struct{}

// New returns the console's handler. Mount it at "/" next to "/api/v1".
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncPoll <= 0 {
		cfg.SyncPoll = 300 * time.Millisecond
	}
	if cfg.Sessions == nil {
		cfg.Sessions, _ = cfg.Store.(store.Sessions)
	}
	if cfg.SignInFailures == nil {
		cfg.SignInFailures, _ = cfg.Store.(store.SignInFailures)
	}
	if cfg.Sessions == nil || cfg.SignInFailures == nil || cfg.Secrets == nil {
		panic("web: Config needs a store with sessions and sign-in failures, and a secrets box")
	}
	cfg.SignIn = cfg.SignIn.WithDefaults()
	h := &handler{cfg: cfg, log: cfg.Logger.With("component", "web"), sessions: cfg.Sessions,
		throttle: &throttle{failures: cfg.SignInFailures, limits: cfg.SignIn, now: cfg.Now}}
	h.pages = parsePages()
	dummyHash() // now, so that the first refused sign-in is not slower than the others

	r := chi.NewRouter()
	r.Use(middleware.Recoverer, securityHeaders)
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	r.Get("/signin", h.signinPage)
	r.Post("/signin", h.signin)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	r.Group(func(r chi.Router) {
		r.Use(h.requireSession, h.checkCSRF)
		r.Post("/signout", h.signout)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/connectors", http.StatusSeeOther) })

		r.Get("/settings/storage", h.storagePage)
		r.Get("/settings/storage/policy", h.storagePolicy)
		r.Post("/settings/storage/review", h.storageReview)
		r.Post("/settings/storage/test", h.storageTest)
		r.Post("/settings/storage/save", h.storageSave)
		r.Post("/settings/storage/use-managed", h.storageUseManaged)

		r.Get("/connectors", h.connectorsPage)
		r.Get("/connectors/new", h.newConnectorPage)
		r.Post("/connectors/new", h.createConnector)
		r.Get("/connectors/{name}", h.connectorPage)
		r.Post("/connectors/{name}/sync", h.syncConnector)
		r.Post("/connectors/{name}/setup", h.setupConnector)
		r.Get("/connectors/{name}/delete", h.deleteConnectorPage)
		r.Post("/connectors/{name}/delete", h.deleteConnector)
		r.Get("/runs/{id}", h.runPage)
		r.Get("/runs/{id}/events", h.runEvents)

		r.Get("/query", h.queryPage)
		r.Post("/query", h.queryForm)
		r.Post("/query/run", h.queryRun)
		r.Post("/query/csv", h.queryCSV)
	})
	return r
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		// Everything is served from here: no CDN, no inline script.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// requireSession finds the request's session; without one, pages go to the sign-in
// page and everything else answers 401.
func (h *handler) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.lookupSession(r)
		if err != nil {
			h.log.Error("console: read the session", "method", r.Method, "path", r.URL.Path, "err", err)
			h.renderError(w, r, nil, http.StatusInternalServerError, "lakeport failed to handle this request; the server log has the details.")
			return
		}
		if s == nil {
			if r.Method == http.MethodGet && !wantsJSON(r) && !strings.HasSuffix(r.URL.Path, "/events") {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWith(r, s)))
	})
}

// checkCSRF requires the session's CSRF token on every POST: the form field
// csrf_token, or the X-CSRF-Token header for fetch calls.
func (h *handler) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		s := sessionOf(r)
		tok := r.Header.Get("X-CSRF-Token")
		if tok == "" {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			tok = r.PostFormValue("csrf_token")
		}
		if !sameToken(tok, s.CSRF) {
			h.log.Warn("console request without a valid CSRF token", "method", r.Method, "path", r.URL.Path)
			h.renderError(w, r, s, http.StatusForbidden, "This form is out of date or did not come from this console (its CSRF token does not match). Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

const maxFormBytes = 1 << 20

func contextWith(r *http.Request, s *session) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, s)
}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(ctxKey{}).(*session)
	return s
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// apiFor returns the API client of the request's session.
func (h *handler) apiFor(r *http.Request) *client.Client { return h.apiClient(sessionOf(r).Token) }

// apiError answers an error from the API: its status (404 stays 404, 403 stays 403)
// and its message, which already says what happened and what to check.
func (h *handler) apiError(w http.ResponseWriter, r *http.Request, err error) {
	s := sessionOf(r)
	if e, ok := client.AsError(err); ok {
		if e.Status == http.StatusUnauthorized {
			// The token no longer works: the session is over.
			if s != nil {
				h.endSession(r.Context(), s.OrgID, s.ID)
			}
			h.renderError(w, r, nil, http.StatusUnauthorized, "lakeport no longer accepts this session's token. Sign in again.")
			return
		}
		if e.Status == http.StatusNotFound {
			h.renderError(w, r, s, http.StatusNotFound, "Not found: "+e.Body.Message)
			return
		}
		h.renderError(w, r, s, e.Status, e.Body.Message)
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return // the browser went away
	}
	h.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.renderError(w, r, s, http.StatusInternalServerError, "lakeport failed to handle this request; the server log has the details.")
}
