package manifest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/source/manifest/dtfmt"
	"github.com/lakeport/lakeport/source/manifest/interp"
)

// authenticator adds credentials to a request. Its per-config state (a
// token and its expiry) lives in the run, so one built manifest serves many
// configs.
type authenticator interface {
	apply(ctx context.Context, rt *run, req *request) error
	invalidate(rt *run)
}

type noAuth struct{}

func (noAuth) apply(context.Context, *run, *request) error { return nil }
func (noAuth) invalidate(*run)                             {}

func (b *builder) authenticator(n node) authenticator {
	switch n.typ() {
	case "NoAuth":
		return noAuth{}
	case "ApiKeyAuthenticator":
		a := &apiKeyAuth{token: n.tmpl("api_token"), params: n.params()}
		if a.token == nil {
			a.token = n.tmpl("api_key")
		}
		if opt, ok := n.child("inject_into"); ok {
			a.where, a.field = opt.str("inject_into"), opt.tmpl("field_name")
		} else if n.has("header") {
			a.where, a.field = "header", n.tmpl("header") // deprecated form
		}
		if a.token == nil || a.field == nil {
			b.fail(n.path, "ApiKeyAuthenticator", "needs api_token and inject_into (or the deprecated header)")
			return nil
		}
		return a
	case "BearerAuthenticator":
		a := &apiKeyAuth{token: n.tmpl("api_token"), where: "header", prefix: "Bearer ", params: n.params()}
		a.field, _ = b.eng.Compile("Authorization")
		if a.token == nil {
			b.fail(n.path, "BearerAuthenticator", "needs api_token")
			return nil
		}
		return a
	case "BasicHttpAuthenticator":
		a := &basicAuth{user: n.tmpl("username"), pass: n.tmpl("password"), params: n.params()}
		if a.user == nil {
			b.fail(n.path, "BasicHttpAuthenticator", "needs username")
			return nil
		}
		return a
	case "OAuthAuthenticator":
		return b.oauth(n)
	case "SessionTokenAuthenticator":
		return b.session(n)
	case "SelectiveAuthenticator":
		a := &selectiveAuth{params: n.params(), auths: map[string]authenticator{}}
		for _, p := range toStrings(n.m["authenticator_selection_path"]) {
			a.selPath = append(a.selPath, p)
		}
		if len(a.selPath) == 0 {
			b.fail(n.path, "SelectiveAuthenticator", "needs authenticator_selection_path")
		}
		auths, _ := n.child("authenticators")
		for name := range auths.m {
			if c, ok := auths.child(name); ok {
				if x := b.authenticator(c); x != nil {
					a.auths[name] = x
				}
			}
		}
		return a
	case "":
		b.fail(n.path, "", "an authenticator needs a type")
		return nil
	}
	// Unsupported types were reported by the inventory already.
	return nil
}

type apiKeyAuth struct {
	token, field  *interp.Template
	where, prefix string
	params        map[string]any
}

func (a *apiKeyAuth) apply(_ context.Context, rt *run, req *request) error {
	vars := interp.Vars{"config": rt.config, "parameters": a.params}
	tok, err := a.token.Render(vars)
	if err != nil {
		return fmt.Errorf("authenticator api_token: %w", err)
	}
	field, err := a.field.Render(vars)
	if err != nil {
		return fmt.Errorf("authenticator field_name: %w", err)
	}
	return req.inject(a.where, field, a.prefix+tok)
}

func (a *apiKeyAuth) invalidate(*run) {}

type basicAuth struct {
	user, pass *interp.Template
	params     map[string]any
}

func (a *basicAuth) apply(_ context.Context, rt *run, req *request) error {
	vars := interp.Vars{"config": rt.config, "parameters": a.params}
	u, err := a.user.Render(vars)
	if err != nil {
		return err
	}
	p, err := renderOrEmpty(a.pass, vars)
	if err != nil {
		return err
	}
	req.headers.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	return nil
}

func (a *basicAuth) invalidate(*run) {}

type selectiveAuth struct {
	selPath []string
	auths   map[string]authenticator
	params  map[string]any
}

func (a *selectiveAuth) pick(rt *run) (authenticator, error) {
	var cur any = rt.config
	for _, p := range a.selPath {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("SelectiveAuthenticator: the config has no %s", strings.Join(a.selPath, "."))
		}
		cur = m[p]
	}
	name := interp.Str(cur)
	x, ok := a.auths[name]
	if !ok {
		return nil, fmt.Errorf("SelectiveAuthenticator: the config's %s is %q, which names none of the authenticators", strings.Join(a.selPath, "."), name)
	}
	return x, nil
}

func (a *selectiveAuth) apply(ctx context.Context, rt *run, req *request) error {
	x, err := a.pick(rt)
	if err != nil {
		return err
	}
	return x.apply(ctx, rt, req)
}

func (a *selectiveAuth) invalidate(rt *run) {
	for _, x := range a.auths {
		x.invalidate(rt)
	}
}

// oauth is the refresh-token (or client-credentials) grant: a token is
// fetched when there is none or it has expired, and again after a 401 the
// error handler marks REFRESH_TOKEN_THEN_RETRY.
type oauth struct {
	path                                           string
	endpoint, clientID, clientSecret, refreshToken *interp.Template
	accessTokenValue, expiryDate                   *interp.Template
	grantType                                      string
	scopes                                         []string
	extraBody                                      any
	tokenName, expiresName, expiryFormat           string
	params                                         map[string]any
}

type tokenState struct {
	token  string
	expiry time.Time
}

func (b *builder) oauth(n node) authenticator {
	a := &oauth{
		path: n.path, endpoint: n.tmpl("token_refresh_endpoint"), clientID: n.tmpl("client_id"),
		clientSecret: n.tmpl("client_secret"), refreshToken: n.tmpl("refresh_token"),
		accessTokenValue: n.tmpl("access_token_value"), expiryDate: n.tmpl("token_expiry_date"),
		grantType: n.str("grant_type"), scopes: toStrings(n.m["scopes"]),
		tokenName: n.str("access_token_name"), expiresName: n.str("expires_in_name"),
		expiryFormat: n.str("token_expiry_date_format"), params: n.params(),
	}
	if v, ok := n.m["refresh_request_body"]; ok && v != nil {
		a.extraBody = b.value(v, document.Path(n.path, "refresh_request_body"))
	}
	if a.grantType == "" {
		a.grantType = "refresh_token"
	}
	if a.tokenName == "" {
		a.tokenName = "access_token"
	}
	if a.expiresName == "" {
		a.expiresName = "expires_in"
	}
	if n.has("refresh_token_updater") {
		b.fail(document.Path(n.path, "refresh_token_updater"), "OAuthAuthenticator", "rotating refresh tokens are not supported: lakeport does not write back to a connector's config")
	}
	if a.endpoint == nil && a.accessTokenValue == nil {
		b.fail(n.path, "OAuthAuthenticator", "needs token_refresh_endpoint")
		return nil
	}
	return a
}

func (a *oauth) vars(rt *run) interp.Vars {
	return interp.Vars{"config": rt.config, "parameters": a.params}
}

func (a *oauth) apply(ctx context.Context, rt *run, req *request) error {
	st, fresh := rt.tokenState(a)
	if fresh {
		// A token given in the config is used until it expires.
		if a.accessTokenValue != nil {
			if tok, err := a.accessTokenValue.Render(a.vars(rt)); err == nil && tok != "" {
				st.token = tok
				st.expiry = rt.client.opts.Now().Add(time.Hour)
				if a.expiryDate != nil {
					if s, err := a.expiryDate.Render(a.vars(rt)); err == nil && s != "" {
						if t, err := dtfmt.ParseAny(s); err == nil {
							st.expiry = t
						}
					}
				}
			}
		}
	}
	if st.token == "" || !rt.client.opts.Now().Before(st.expiry.Add(-10*time.Second)) {
		if err := a.refresh(ctx, rt, st); err != nil {
			return err
		}
	}
	req.headers.Set("Authorization", "Bearer "+st.token)
	return nil
}

func (a *oauth) invalidate(rt *run) {
	st, _ := rt.tokenState(a)
	st.token = ""
}

func (a *oauth) refresh(ctx context.Context, rt *run, st *tokenState) error {
	if a.endpoint == nil {
		return fmt.Errorf("%s: the access token expired and the manifest has no token_refresh_endpoint", a.path)
	}
	vars := a.vars(rt)
	endpoint, err := a.endpoint.Render(vars)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {a.grantType}}
	for name, t := range map[string]*interp.Template{"client_id": a.clientID, "client_secret": a.clientSecret, "refresh_token": a.refreshToken} {
		if t == nil || (name == "refresh_token" && a.grantType != "refresh_token") {
			continue
		}
		s, err := t.Render(vars)
		if err != nil {
			return err
		}
		if s != "" {
			form.Set(name, s)
		}
	}
	if len(a.scopes) > 0 {
		form.Set("scope", strings.Join(a.scopes, " "))
	}
	if a.extraBody != nil {
		ev, err := evalTree(a.extraBody, vars)
		if err != nil {
			return err
		}
		if m, ok := ev.(map[string]any); ok {
			for k, v := range m {
				form.Set(k, optionString(v))
			}
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s: token_refresh_endpoint %q is not an http(s) URL", a.path, endpoint)
	}
	hr, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", "application/json")
	rt.requests.Add(1)
	resp, body, err := rt.client.do(ctx, hr)
	if err != nil {
		return fmt.Errorf("OAuth token refresh at %s: %w", redactURL(u), err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("OAuth token refresh at %s answered HTTP %d: %s (check the client ID, client secret and refresh token in the config)", redactURL(u), resp.StatusCode, snippet(body))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("OAuth token refresh at %s: the answer is not JSON: %v", redactURL(u), err)
	}
	tok, _ := m[a.tokenName].(string)
	if tok == "" {
		return fmt.Errorf("OAuth token refresh at %s: the answer has no %q", redactURL(u), a.tokenName)
	}
	st.token = tok
	st.expiry = rt.client.opts.Now().Add(time.Hour)
	switch e := m[a.expiresName].(type) {
	case float64:
		st.expiry = rt.client.opts.Now().Add(time.Duration(e) * time.Second)
	case string:
		if a.expiryFormat != "" {
			if t, err := dtfmt.Parse(e, a.expiryFormat); err == nil {
				st.expiry = t
			}
		} else if t, err := dtfmt.ParseAny(e); err == nil {
			st.expiry = t
		}
	}
	return nil
}

// session logs in with a login request, takes a token from its answer and
// sends it as an API key or a bearer token until it expires.
type session struct {
	path      string
	login     *requester
	tokenPath []string
	expires   dtfmt.Duration
	where     string
	field     *interp.Template
	bearer    bool
}

func (b *builder) session(n node) authenticator {
	a := &session{path: n.path, tokenPath: toStrings(n.m["session_token_path"])}
	lr, ok := n.child("login_requester")
	if !ok {
		b.fail(n.path, "SessionTokenAuthenticator", "needs login_requester")
		return nil
	}
	a.login = b.requester(lr)
	if e := n.str("expiration_duration"); e != "" {
		d, err := dtfmt.ParseDuration(e)
		if err != nil {
			b.fail(document.Path(n.path, "expiration_duration"), "SessionTokenAuthenticator", "%v", err)
		}
		a.expires = d
	}
	ra, ok := n.child("request_authentication")
	if !ok {
		b.fail(n.path, "SessionTokenAuthenticator", "needs request_authentication (ApiKey or Bearer)")
		return nil
	}
	switch ra.typ() {
	case "Bearer":
		a.bearer = true
	case "ApiKey":
		opt, ok := ra.child("inject_into")
		if !ok {
			b.fail(ra.path, "ApiKey", "needs inject_into")
			return nil
		}
		a.where, a.field = opt.str("inject_into"), opt.tmpl("field_name")
	default:
		b.fail(ra.path, ra.typ(), "request_authentication must be ApiKey or Bearer")
		return nil
	}
	return a
}

func (a *session) apply(ctx context.Context, rt *run, req *request) error {
	st, _ := rt.tokenState(a)
	now := rt.client.opts.Now()
	if st.token == "" || (!a.expires.IsZero() && !now.Before(st.expiry)) {
		pg, err := a.login.send(ctx, rt, reqVars{config: rt.config}, "", nil)
		if err != nil {
			return fmt.Errorf("session login: %w", err)
		}
		var cur any = pg.body
		for _, p := range a.tokenPath {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		if cur == nil {
			return fmt.Errorf("session login: the answer has no %s", strings.Join(a.tokenPath, "."))
		}
		st.token = interp.Str(cur)
		st.expiry = a.expires.AddTo(now, 1)
	}
	if a.bearer {
		req.headers.Set("Authorization", "Bearer "+st.token)
		return nil
	}
	field, err := a.field.Render(interp.Vars{"config": rt.config})
	if err != nil {
		return err
	}
	return req.inject(a.where, field, st.token)
}

func (a *session) invalidate(rt *run) {
	st, _ := rt.tokenState(a)
	st.token = ""
}
