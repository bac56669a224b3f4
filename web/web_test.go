package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
	"github.com/lakeport/lakeport/web"
)

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends a form; the CSRF token of the last page is added unless form has one.
func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) signInToken(token string) {
	b.t.Helper()
	b.get("/signin")
	code, body, hdr := b.post("/signin", url.Values{"token": {token}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/connectors" {
		b.t.Fatalf("sign in with token: %d %s\n%s", code, hdr.Get("Location"), body)
	}
	b.get("/connectors") // picks up the session's CSRF token
}

func TestSignInSessionCookieAndSignOut(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t, s.URL)

	code, _, hdr := b.get("/settings/storage")
	if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/signin?next=") {
		t.Fatalf("signed-out page: %d %s, want a redirect to sign in", code, hdr.Get("Location"))
	}
	code, body, _ := b.get("/signin")
	if code != 200 || !strings.Contains(body, `<label for="token">API token</label>`) || !strings.Contains(body, `<label for="username">User name</label>`) {
		t.Fatalf("sign-in page: %d\n%s", code, body)
	}
	code, body, _ = b.post("/signin", url.Values{"token": {"lpt_wrong"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "does not know this API token") {
		t.Fatalf("wrong token: %d\n%s", code, body)
	}

	b.get("/signin")
	code, _, hdr = b.post("/signin", url.Values{"token": {s.AdminToken}, "next": {"/settings/storage"}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/settings/storage" {
		t.Fatalf("sign in: %d %s", code, hdr.Get("Location"))
	}
	var cookie string
	for _, c := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(c, web.SessionCookie+"=") {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || strings.Contains(cookie, "Secure") {
		t.Fatalf("session cookie over plain HTTP = %q; want HttpOnly, SameSite=Lax and no Secure", cookie)
	}
	if id := strings.TrimPrefix(strings.Split(cookie, ";")[0], web.SessionCookie+"="); len(id) < 43 {
		t.Fatalf("session ID %q is shorter than 256 bits", id)
	}
	code, body, hdr = b.get("/settings/storage")
	if code != 200 || !strings.Contains(body, "Data Storage") || !strings.Contains(body, s.Org.ExternalID) || strings.Contains(body, s.AdminToken) {
		t.Fatalf("storage page: %d\n%s", code, body)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	// An open redirect after sign-in is refused.
	b2 := newBrowser(t, s.URL)
	b2.get("/signin")
	if _, _, hdr := b2.post("/signin", url.Values{"token": {s.AdminToken}, "next": {"//evil.example/"}}); hdr.Get("Location") != "/connectors" {
		t.Fatalf("next=//evil.example/ redirected to %q", hdr.Get("Location"))
	}

	code, _, hdr = b.post("/signout", nil)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/signin" {
		t.Fatalf("sign out: %d %s", code, hdr.Get("Location"))
	}
	if code, _, _ := b.get("/connectors"); code != http.StatusSeeOther {
		t.Fatalf("after sign-out /connectors answered %d, want a redirect to sign in", code)
	}
}

func TestPasswordSignIn(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	if _, err := web.CreateUser(ctx, s.Store, s.Org.ID, "ann", "short", store.RoleAdmin); err == nil {
		t.Fatal("CreateUser took a 5-character password")
	}
	u, err := web.CreateUser(ctx, s.Store, s.Org.ID, "ann", "correct horse battery", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(u.PasswordHash), "horse") || !strings.HasPrefix(string(u.PasswordHash), "$2") {
		t.Fatalf("the stored password is not a bcrypt hash: %q", u.PasswordHash)
	}
	b := newBrowser(t, s.URL)
	for _, bad := range []url.Values{
		{"org": {"default"}, "username": {"ann"}, "password": {"wrong password!"}},
		{"org": {"default"}, "username": {"nobody"}, "password": {"correct horse battery"}},
		{"org": {"globex"}, "username": {"ann"}, "password": {"correct horse battery"}},
		{"username": {"ann"}, "password": {"correct horse battery"}},
	} {
		b.get("/signin")
		if code, body, _ := b.post("/signin", bad); code != http.StatusUnauthorized || !strings.Contains(body, "organization, user name or password is wrong") {
			t.Fatalf("bad password sign-in %v: %d\n%s", bad, code, body)
		}
	}
	b.get("/signin")
	if code, _, _ := b.post("/signin", url.Values{"org": {"default"}, "username": {"ann"}, "password": {"correct horse battery"}}); code != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", code)
	}
	code, body, _ := b.get("/connectors")
	if code != 200 || !strings.Contains(body, `<span class="user">ann</span>`) || !strings.Contains(body, "role-member") {
		t.Fatalf("after password sign-in: %d\n%s", code, body)
	}
}

func TestCSRF(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t, s.URL)
	// The sign-in form needs its double-submit token too.
	if code, _, _ := b.post("/signin", url.Values{"token": {s.AdminToken}, "csrf_token": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("sign-in without the form's CSRF token: %d, want 403", code)
	}
	b.signInToken(s.AdminToken)
	good := b.csrf
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/settings/storage/use-managed", url.Values{"csrf_token": {""}}},
		{"/settings/storage/use-managed", url.Values{"csrf_token": {"not-the-token"}}},
		{"/signout", url.Values{"csrf_token": {good + "x"}}},
		{"/query/run", url.Values{"sql": {"SELECT 1"}, "csrf_token": {""}}},
	} {
		code, body, _ := b.post(tc.path, tc.form)
		if code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("POST %s with csrf %q: %d, want 403\n%s", tc.path, tc.form.Get("csrf_token"), code, body)
		}
	}
	// Still signed in: the forged sign-out did nothing.
	if code, _, _ := b.get("/connectors"); code != 200 {
		t.Fatalf("after forged requests /connectors answered %d", code)
	}
	// fetch calls send the token in a header.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/query/run", strings.NewReader("sql=SELECT+42+AS+answer"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", good)
	code, body, _ := b.do(req)
	var res struct {
		Rows [][]any `json:"rows"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Rows) != 1 || res.Rows[0][0] != float64(42) {
		t.Fatalf("query with the CSRF header: %d\n%s", code, body)
	}
}

func TestSessionExpiry(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t, s.URL)
	b.signInToken(s.AdminToken)
	// Idle expiry.
	s.clock.advance(web.DefaultIdleTimeout + time.Minute)
	if code, _, hdr := b.get("/connectors"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/signin") {
		t.Fatalf("after %v idle: %d %s, want a redirect to sign in", web.DefaultIdleTimeout, code, hdr.Get("Location"))
	}
	if code, _, _ := b.post("/query/run", url.Values{"sql": {"SELECT 1"}}); code != http.StatusUnauthorized {
		t.Fatalf("POST after idle expiry: %d, want 401", code)
	}
	// Absolute expiry, even when used all the time.
	b.signInToken(s.AdminToken)
	for used := time.Duration(0); used < web.DefaultSessionLifetime-time.Hour; used += 30 * time.Minute {
		s.clock.advance(30 * time.Minute)
		if code, _, _ := b.get("/connectors"); code != 200 {
			t.Fatalf("active session ended after %v", used)
		}
	}
	s.clock.advance(90 * time.Minute)
	if code, _, _ := b.get("/connectors"); code != http.StatusSeeOther {
		t.Fatalf("after %v the session still works (%d)", web.DefaultSessionLifetime, code)
	}
}

func TestMemberCannotUseAdminForms(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	member, err := tenant.CreateToken(ctx, s.Store, s.Org.ID, store.RoleMember, false)
	if err != nil {
		t.Fatal(err)
	}
	// An admin makes a connector the member then tries to delete.
	admin := client.New(s.URL, s.AdminToken)
	if _, err := admin.CreateConnector(ctx, connector.CreateRequest{Name: "crm", Source: "sample", Config: json.RawMessage(`{"customers":3,"invoices":3,"events":3}`)}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.URL)
	b.signInToken(member)
	code, body, _ := b.get("/settings/storage")
	if code != 200 || !strings.Contains(body, "read-only") || strings.Contains(body, `id="save-btn"`) || strings.Contains(body, `id="test-btn"`) {
		t.Fatalf("member's storage page: %d\n%s", code, body)
	}
	if _, body, _ := b.get("/connectors/crm"); strings.Contains(body, "/connectors/crm/delete") {
		t.Fatal("a member is offered Delete")
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/settings/storage/test", url.Values{"mode": {"customer_hosted"}, "bucket": {"acme-lake"}, "region": {"us-east-1"}, "role_arn": {"arn:aws:iam::123456789012:role/x"}}},
		{"/settings/storage/save", url.Values{"mode": {"customer_hosted"}, "bucket": {"acme-lake"}, "region": {"us-east-1"}, "role_arn": {"arn:aws:iam::123456789012:role/x"}}},
		{"/settings/storage/use-managed", nil},
		{"/connectors/crm/delete", url.Values{"confirm": {"crm"}}},
	} {
		code, body, _ := b.post(tc.path, tc.form)
		if code != http.StatusForbidden || !strings.Contains(body, "only an organization admin") {
			t.Errorf("member POST %s: %d, want 403 from the API\n%s", tc.path, code, body)
		}
	}
	if _, err := admin.Connector(ctx, "crm"); err != nil {
		t.Fatalf("the member's delete removed the connector: %v", err)
	}
}

func TestAnotherOrganizationsIDsAre404(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	_, tokB, err := tenant.CreateOrg(ctx, s.Store, "globex", false)
	if err != nil {
		t.Fatal(err)
	}
	cb := client.New(s.URL, tokB)
	if _, err := cb.CreateConnector(ctx, connector.CreateRequest{Name: "secret_crm", Source: "sample", Config: json.RawMessage(`{"customers":3,"invoices":3,"events":3}`)}); err != nil {
		t.Fatal(err)
	}
	run, err := cb.StartSync(ctx, "secret_crm")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.URL) // org default's admin
	b.signInToken(s.AdminToken)
	for _, path := range []string{"/connectors/secret_crm", "/connectors/secret_crm/delete", "/runs/" + run.ID, "/runs/" + run.ID + "/events"} {
		if code, body, _ := b.get(path); code != http.StatusNotFound || strings.Contains(body, "globex") {
			t.Errorf("GET %s of another organization: %d, want 404\n%s", path, code, body)
		}
	}
	for _, path := range []string{"/connectors/secret_crm/sync", "/connectors/secret_crm/setup", "/connectors/secret_crm/delete"} {
		if code, _, _ := b.post(path, url.Values{"confirm": {"secret_crm"}}); code != http.StatusNotFound {
			t.Errorf("POST %s of another organization: %d, want 404", path, code)
		}
	}
	if _, err := cb.Connector(ctx, "secret_crm"); err != nil {
		t.Fatalf("org globex lost its connector: %v", err)
	}
	if _, body, _ := b.get("/connectors"); strings.Contains(body, "secret_crm") {
		t.Fatal("org default's connector list shows globex's connector")
	}
}

func TestDeleteConnectorNeedsItsName(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	admin := client.New(s.URL, s.AdminToken)
	if _, err := admin.CreateConnector(ctx, connector.CreateRequest{Name: "crm", Source: "sample", Config: json.RawMessage(`{"customers":3,"invoices":3,"events":3}`)}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.URL)
	b.signInToken(s.AdminToken)
	code, body, _ := b.get("/connectors/crm/delete")
	if code != 200 || !strings.Contains(body, "Type <strong>crm</strong> to confirm") || !strings.Contains(body, "/crm/</code>") {
		t.Fatalf("delete confirmation: %d\n%s", code, body)
	}
	if code, body, _ := b.post("/connectors/crm/delete", url.Values{"confirm": {"crn"}}); code != http.StatusBadRequest || !strings.Contains(body, "Type the connector&#39;s name") {
		t.Fatalf("delete with the wrong name: %d\n%s", code, body)
	}
	if _, err := admin.Connector(ctx, "crm"); err != nil {
		t.Fatalf("a wrongly confirmed delete removed the connector: %v", err)
	}
	if code, body, _ := b.post("/connectors/crm/delete", url.Values{"confirm": {"crm"}}); code != 200 || !strings.Contains(body, "Deleted crm") {
		t.Fatalf("delete: %d\n%s", code, body)
	}
	if _, err := admin.Connector(ctx, "crm"); err == nil {
		t.Fatal("the connector is still there after delete")
	}
}

// A session's token expires an idle timeout after the session was last used (each use
// moves it on, never past the session's lifetime), so a copied session cookie is no
// better at the API than in the console.
func TestSessionTokenExpiresWhenIdle(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t, s.URL)
	t0 := s.clock.now()
	b.signInToken(s.AdminToken)
	u, _ := url.Parse(s.URL)
	var cookie string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == web.SessionCookie {
			cookie = c.Value
		}
	}
	expiry := func() time.Time {
		t.Helper()
		tok, err := s.Store.TokenByHash(context.Background(), auth.HashToken(cookie))
		if err != nil {
			t.Fatal(err)
		}
		return tok.ExpiresAt
	}
	if d := expiry().Sub(s.clock.now()); d > web.DefaultIdleTimeout || d < web.DefaultIdleTimeout-time.Minute {
		t.Fatalf("a new session's token expires in %v, want the idle timeout (%v)", d, web.DefaultIdleTimeout)
	}
	s.clock.advance(30 * time.Minute)
	if code, _, _ := b.get("/connectors"); code != 200 {
		t.Fatalf("after 30 minutes: %d", code)
	}
	if d := expiry().Sub(s.clock.now()); d > web.DefaultIdleTimeout || d < web.DefaultIdleTimeout-time.Minute {
		t.Fatalf("after a use the token expires in %v, want the idle timeout from then", d)
	}
	// Used every half hour, the token follows the session but stops at its lifetime.
	for s.clock.now().Before(t0.Add(web.DefaultSessionLifetime - 40*time.Minute)) {
		s.clock.advance(30 * time.Minute)
		if code, _, _ := b.get("/connectors"); code != 200 {
			t.Fatalf("an active session ended after %v", s.clock.now().Sub(t0))
		}
	}
	if end := expiry(); end.After(t0.Add(web.DefaultSessionLifetime+time.Second)) || !end.After(s.clock.now()) {
		t.Fatalf("near the session's end its token expires at %v; want after now and by %v", end, t0.Add(web.DefaultSessionLifetime))
	}
}
