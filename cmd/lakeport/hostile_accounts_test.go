package main

// Hostile-tenant tests of accounts, tokens, console sessions and what the server shows
// to the network, each against a real `lakeport serve` (issue 9 items 7 and 8, 14.7).

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/tenant"
	"github.com/lakeport/lakeport/web"
)

// console is a browser for the console: cookies, no redirects followed, the sign-in
// form's CSRF token picked up from each page.
type console struct {
	t      *testing.T
	base   string
	c      *http.Client
	csrf   string
	header http.Header // sent with every request
}

func newConsole(t *testing.T, base string) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, base: base, header: http.Header{},
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *console) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		if _, ok := form["csrf_token"]; !ok {
			form.Set("csrf_token", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(data)
}

func (b *console) get(path string) (*http.Response, string) { return b.do(http.MethodGet, path, nil) }

func (b *console) post(path string, form url.Values) (*http.Response, string) {
	return b.do(http.MethodPost, path, form)
}

// signIn signs in with form (token, or org + username + password) and fails the test
// unless it worked.
func (b *console) signIn(form url.Values) {
	b.t.Helper()
	b.get("/signin")
	resp, body := b.post("/signin", form)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d\n%s", resp.StatusCode, body)
	}
	b.get("/connectors")
}

// sessionCookie is the browser's session cookie value.
func (b *console) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == web.SessionCookie {
			return c.Value
		}
	}
	return ""
}

func adminToken(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, tenant.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

func createUser(t *testing.T, url, dir, token, name, password, role string) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, url, dir, "--token", token, "user", "create", name, "--role", role, "--password-file", pw); code != 0 {
		t.Fatalf("user create %s: exit %d\n%s", name, code, out)
	}
}

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Every way of writing an off-site (or not quite local) address in `next` ends on this
// console, whether the browser is already signed in (GET /signin) or signs in (POST).
func TestHostileOpenRedirect(t *testing.T) {
	u, dir := startServer(t)
	admin := adminToken(t, dir)
	signedIn := newConsole(t, u)
	signedIn.signIn(url.Values{"token": {admin}})

	hostile := []string{
		"/\t/evil.example", "/%09/evil.example", "/%2509/evil.example", "//evil.example", "///evil.example",
		`/\evil.example`, `\\evil.example`, `\/evil.example`, "/%5Cevil.example", "/%5C%5Cevil.example",
		"%2F%2Fevil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/\r\n/evil.example", "/%0d%0a/evil.example",
		"/\x00/evil.example", "/\x7f/evil.example", " //evil.example", "\t//evil.example", "https://evil.example/",
		"http:evil.example", "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,hi", "evil.example",
		"/signin?next=//evil.example", "/\u3000/evil.example", "/\uff0f\uff0fevil.example", "",
	}
	for _, next := range hostile {
		// Already signed in: GET /signin redirects at once.
		resp, _ := signedIn.get("/signin?next=" + url.QueryEscape(next))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/connectors" {
			t.Errorf("GET /signin?next=%q (signed in): %d Location %q, want /connectors", next, resp.StatusCode, loc)
		}
		// Signing in.
		b := newConsole(t, u)
		b.get("/signin?next=" + url.QueryEscape(next))
		resp, _ = b.post("/signin", url.Values{"token": {admin}, "next": {next}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/connectors" {
			t.Errorf("POST /signin next=%q: %d Location %q, want /connectors", next, resp.StatusCode, loc)
		}
	}
	// The issue's own example, exactly as sent.
	resp, _ := signedIn.get("/signin?next=/%09/evil.example")
	if loc := resp.Header.Get("Location"); loc != "/connectors" {
		t.Errorf("GET /signin?next=/%%09/evil.example: Location %q", loc)
	}
	// Local pages still work as next.
	for _, next := range []string{"/settings/storage", "/connectors/sample?tab=runs", "/query"} {
		resp, _ := signedIn.get("/signin?next=" + url.QueryEscape(next))
		if loc := resp.Header.Get("Location"); loc != next {
			t.Errorf("GET /signin?next=%q: Location %q, want it kept", next, loc)
		}
	}
}

// Password guessing is throttled per user (from any address) and per client address
// (for any user), with 429 and Retry-After; a correct password does not get through a
// throttle. X-Forwarded-For is believed only from a trusted proxy.
func TestHostileSignInThrottle(t *testing.T) {
	u, dir := startServerConfig(t, func(c *config.Config) {
		c.Console.SignIn = config.SignInLimits{PerUser: 3, PerAddress: 5, Window: time.Hour}
	})
	createUser(t, u, dir, adminToken(t, dir), "ann", "correct horse battery", "member")
	signin := func(b *console, user, password string) *http.Response {
		b.get("/signin")
		resp, _ := b.post("/signin", url.Values{"org": {"default"}, "username": {user}, "password": {password}})
		return resp
	}
	b := newConsole(t, u)
	for i := range 3 {
		if resp := signin(b, "ann", "wrong password "+strconv.Itoa(i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password #%d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := signin(b, "ann", "correct horse battery")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password after 3 failures: %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s <= 0 || s > 3600 {
		t.Fatalf("Retry-After = %q, want seconds within the window", resp.Header.Get("Retry-After"))
	}
	// Spoofed X-Forwarded-For from an untrusted peer changes nothing: the address is
	// the connection's, and ann is throttled whatever it claims.
	spoof := newConsole(t, u)
	spoof.header.Set("X-Forwarded-For", "203.0.113.7")
	if resp := signin(spoof, "ann", "correct horse battery"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("ann from a claimed other address: %d, want 429", resp.StatusCode)
	}
	// The address's budget: 5 failures over any user names, then everyone from it waits.
	for i := range 2 {
		spoof.header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		if resp := signin(spoof, "nobody"+strconv.Itoa(i), "guess guess guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, resp.StatusCode)
		}
	}
	createUser(t, u, dir, adminToken(t, dir), "bob", "another good password", "member")
	if resp := signin(newConsole(t, u), "bob", "another good password"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("bob from an address with 5 failures: %d, want 429", resp.StatusCode)
	}
	// API-token sign-ins are not a way around it.
	b.get("/signin")
	if resp, _ := b.post("/signin", url.Values{"token": {adminToken(t, dir)}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("token sign-in from a throttled address: %d, want 429", resp.StatusCode)
	}

	// Behind a trusted proxy the client address comes from X-Forwarded-For.
	u2, dir2 := startServerConfig(t, func(c *config.Config) {
		c.Console.SignIn = config.SignInLimits{PerUser: 3, PerAddress: 2, Window: time.Hour}
		c.Console.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	createUser(t, u2, dir2, adminToken(t, dir2), "ann", "correct horse battery", "member")
	p := newConsole(t, u2)
	p.header.Set("X-Forwarded-For", "203.0.113.1")
	for i := range 2 {
		if resp := signin(p, "guess"+strconv.Itoa(i), "guess guess guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d via the proxy: %d", i, resp.StatusCode)
		}
	}
	if resp := signin(p, "ann", "correct horse battery"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("client 203.0.113.1 after 2 failures: %d, want 429", resp.StatusCode)
	}
	other := newConsole(t, u2)
	other.header.Set("X-Forwarded-For", "203.0.113.1, 198.51.100.9") // what the client sent, then what the proxy saw
	if resp := signin(other, "ann", "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy: %d, want a sign-in", resp.StatusCode)
	}
}

// Signing out revokes the session's API token; the token the person signed in with
// stays theirs.
func TestHostileSignOutRevokesToken(t *testing.T) {
	u, dir := startServer(t)
	admin := adminToken(t, dir)
	createUser(t, u, dir, admin, "ann", "correct horse battery", "member")
	ctx := context.Background()
	for name, form := range map[string]url.Values{
		"token":    {"token": {admin}},
		"password": {"org": {"default"}, "username": {"ann"}, "password": {"correct horse battery"}},
	} {
		b := newConsole(t, u)
		b.signIn(form)
		session := b.sessionCookie()
		if session == "" || session == admin {
			t.Fatalf("%s sign-in: session cookie %q, want a token of its own", name, session)
		}
		if _, err := client.New(u, session).WhoAmI(ctx); err != nil {
			t.Fatalf("%s sign-in: the session's token before sign-out: %v", name, err)
		}
		if resp, _ := b.post("/signout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s sign-out: %d", name, resp.StatusCode)
		}
		_, err := client.New(u, session).WhoAmI(ctx)
		if e, ok := client.AsError(err); !ok || e.Status != http.StatusUnauthorized {
			t.Fatalf("%s sign-in: the session's token after sign-out: %v, want 401", name, err)
		}
		// The old cookie, replayed, is no session either.
		replay := newConsole(t, u)
		replay.header.Set("Cookie", web.SessionCookie+"="+session)
		if resp, _ := replay.get("/connectors"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s sign-in: replayed cookie after sign-out: %d, want a redirect to sign in", name, resp.StatusCode)
		}
	}
	if _, err := client.New(u, admin).WhoAmI(ctx); err != nil {
		t.Fatalf("signing out of a token sign-in revoked the token itself: %v", err)
	}
}

type tokenRow struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Current   bool       `json:"current"`
}

// Tokens can be listed and revoked: a member sees and revokes only their own, an admin
// the organization's, nobody another organization's (404); no secret is ever listed.
func TestHostileTokenListAndRevoke(t *testing.T) {
	u, dir := startServer(t)
	admin := adminToken(t, dir)
	create := func(token string, args ...string) (string, string) {
		t.Helper()
		out, code := run(t, u, dir, append([]string{"--token", token, "token", "create", "--json"}, args...)...)
		var v struct{ ID, Token string }
		if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || !strings.HasPrefix(v.Token, "lpt_") || !strings.HasPrefix(v.ID, "tok_") {
			t.Fatalf("token create %v: exit %d %v\n%s", args, code, err, out)
		}
		return v.ID, v.Token
	}
	list := func(token string) []tokenRow {
		t.Helper()
		out, code := run(t, u, dir, "--token", token, "token", "list", "--json")
		if code != 0 {
			t.Fatalf("token list: exit %d\n%s", code, out)
		}
		if strings.Contains(out, "lpt_") {
			t.Fatalf("token list shows a secret:\n%s", out)
		}
		var rows []tokenRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("token list --json: %v\n%s", err, out)
		}
		return rows
	}
	ids := func(rows []tokenRow) map[string]bool {
		m := map[string]bool{}
		for _, r := range rows {
			m[r.ID] = true
		}
		return m
	}
	m1ID, m1 := create(admin, "--role", "member", "--name", "ann laptop", "--expires", "30d")
	m2ID, m2 := create(admin, "--role", "member", "--name", "ci")
	// A member's console session is theirs too.
	b := newConsole(t, u)
	b.signIn(url.Values{"token": {m1}})

	rows := list(m1)
	got := ids(rows)
	if !got[m1ID] || got[m2ID] || len(rows) != 2 {
		t.Fatalf("member m1 lists %v; want its own token and its console session only", rows)
	}
	for _, r := range rows {
		if r.ID == m1ID && (r.Name != "ann laptop" || r.Role != "member" || r.ExpiresAt == nil || !r.Current ||
			r.ExpiresAt.Before(time.Now().Add(29*24*time.Hour)) || r.LastUsed == nil) {
			t.Fatalf("m1's own row = %+v; want name, role, ~30 days to expiry, current, last used", r)
		}
	}
	all := ids(list(admin))
	if !all[m1ID] || !all[m2ID] || len(all) < 4 {
		t.Fatalf("the admin lists %v; want every token of the organization", all)
	}

	// A member cannot revoke another member's token: it does not exist for them.
	if out, code := run(t, u, dir, "--token", m1, "token", "revoke", m2ID); code == 0 || !strings.Contains(out, "no token") {
		t.Fatalf("member revoking another's token: exit %d\n%s", code, out)
	}
	if _, err := client.New(u, m2).WhoAmI(context.Background()); err != nil {
		t.Fatalf("m2 after m1's revoke attempt: %v", err)
	}
	// Another organization's admin: 404, and nothing listed.
	out, code := run(t, u, dir, "--token", admin, "org", "create", "globex", "--json")
	var g struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &g); code != 0 {
		t.Fatalf("org create: exit %d\n%s", code, out)
	}
	if rows := list(g.AdminToken); len(rows) != 1 {
		t.Fatalf("globex's admin lists %v; want only its own token", rows)
	}
	if out, code := run(t, u, dir, "--token", g.AdminToken, "token", "revoke", m1ID); code == 0 || !strings.Contains(out, "no token") {
		t.Fatalf("another org's admin revoking: exit %d\n%s", code, out)
	}
	resp, err := http.DefaultClient.Do(mustRequest(t, http.MethodDelete, u+"/api/v1/tokens/"+m1ID, g.AdminToken))
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE another org's token: %v %v, want 404", resp.StatusCode, err)
	}
	resp.Body.Close()

	// A member revokes their own token: it and its console session stop working.
	if out, code := run(t, u, dir, "--token", m1, "token", "revoke", m1ID); code != 0 {
		t.Fatalf("member revoking their own token: exit %d\n%s", code, out)
	}
	if _, err := client.New(u, m1).WhoAmI(context.Background()); err == nil {
		t.Fatal("m1 works after it was revoked")
	}
	if resp, _ := b.get("/connectors"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the console session of a revoked token: %d, want a redirect to sign in", resp.StatusCode)
	}
	// An admin revokes any token of the organization.
	if out, code := run(t, u, dir, "--token", admin, "token", "revoke", m2ID); code != 0 {
		t.Fatalf("admin revoke: exit %d\n%s", code, out)
	}
	if _, err := client.New(u, m2).WhoAmI(context.Background()); err == nil {
		t.Fatal("m2 works after the admin revoked it")
	}
	// Bad --expires names the flag.
	if out, code := run(t, u, dir, "--token", admin, "token", "create", "--expires", "yesterday"); code == 0 || !strings.Contains(out, "--expires") {
		t.Fatalf("token create --expires yesterday: exit %d\n%s", code, out)
	}
}

func mustRequest(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// User names are unique per organization: two organizations may each have an ann, each
// signs in to their own, and no answer tells one organization about another's users.
func TestHostileUserNamesPerOrganization(t *testing.T) {
	u, dir := startServer(t)
	admin := adminToken(t, dir)
	out, code := run(t, u, dir, "org", "create", "acme", "--json")
	var acme struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &acme); code != 0 {
		t.Fatalf("org create: exit %d\n%s", code, out)
	}
	createUser(t, u, dir, admin, "ann", "default's ann password", "admin")
	// acme learns nothing: its own ann is created as if default had none.
	createUser(t, u, dir, acme.AdminToken, "ann", "acme's ann password!", "member")
	if out, code := run(t, u, dir, "--token", acme.AdminToken, "user", "create", "ann", "--password-file", writeTemp(t, "another password 123")); code == 0 ||
		!strings.Contains(out, "already exists") || strings.Contains(out, "install") {
		t.Fatalf("a second ann in acme: exit %d\n%s", code, out)
	}

	b := newConsole(t, u)
	b.signIn(url.Values{"org": {"acme"}, "username": {"ann"}, "password": {"acme's ann password!"}})
	if _, body := b.get("/connectors"); !strings.Contains(body, "acme") || !strings.Contains(body, "role-member") {
		t.Fatalf("acme's ann signed in to the wrong place:\n%.3000s", body)
	}

	// Wrong organization, unknown organization, unknown user, wrong password: one answer.
	refusal := func(org, user, password string) (int, string) {
		c := newConsole(t, u)
		c.get("/signin")
		resp, body := c.post("/signin", url.Values{"org": {org}, "username": {user}, "password": {password}})
		body = csrfField.ReplaceAllString(body, "")
		body = strings.ReplaceAll(body, `value="`+org+`"`, `value="ORG"`)
		return resp.StatusCode, body
	}
	code0, want := refusal("default", "ann", "acme's ann password!") // a real user, another org's password
	if code0 != http.StatusUnauthorized {
		t.Fatalf("default/ann with acme's password: %d, want 401", code0)
	}
	for _, c := range [][3]string{
		{"no-such-org", "ann", "acme's ann password!"},
		{"acme", "nobody", "acme's ann password!"},
		{"acme", "ann", "default's ann password"},
		{"globex", "ann", "whatever password"},
	} {
		code, body := refusal(c[0], c[1], c[2])
		body = strings.ReplaceAll(body, `value="`+c[1]+`"`, `value="ann"`)
		if code != code0 || body != want {
			t.Errorf("sign-in %v answered %d, differently from a wrong password (%d):\n%s\n---\n%s", c, code, code0, body, want)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Behind a TLS-terminating proxy the session cookie is Secure: always with
// console.secure_cookies, or when a trusted proxy says X-Forwarded-Proto: https.
func TestHostileSecureCookieBehindProxy(t *testing.T) {
	secureFlag := func(u, dir string, proto string) bool {
		b := newConsole(t, u)
		if proto != "" {
			b.header.Set("X-Forwarded-Proto", proto)
		}
		b.get("/signin")
		resp, body := b.post("/signin", url.Values{"token": {adminToken(t, dir)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d\n%s", resp.StatusCode, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == web.SessionCookie {
				return c.Secure
			}
		}
		t.Fatal("no session cookie")
		return false
	}
	u, dir := startServer(t)
	if secureFlag(u, dir, "") || secureFlag(u, dir, "https") {
		t.Fatal("Secure set over plain HTTP from an untrusted peer (X-Forwarded-Proto must not be believed)")
	}
	u, dir = startServerConfig(t, func(c *config.Config) { c.Console.SecureCookies = true })
	if !secureFlag(u, dir, "") {
		t.Fatal("console.secure_cookies: the session cookie is not Secure")
	}
	u, dir = startServerConfig(t, func(c *config.Config) {
		c.Console.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	if !secureFlag(u, dir, "https") || secureFlag(u, dir, "") {
		t.Fatal("a trusted proxy's X-Forwarded-Proto decides the Secure flag")
	}
}

// /metrics is served on its own listener; the API's listener has none, and no metric
// names an organization.
func TestHostileMetricsListener(t *testing.T) {
	maddr := freeAddr(t)
	u, dir := startServerConfig(t, func(c *config.Config) { c.MetricsAddr = maddr })
	run(t, u, dir, "storage", "test", "--bucket", "Bad_Bucket", "--region", "us-east-1", "--role-arn", "arn:aws:iam::123456789012:role/x")
	resp, err := http.Get(u + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API listener: %d, want 404", resp.StatusCode)
	}
	resp, err = http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatalf("the metrics listener: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `lakeport_storage_validations_total{cause="invalid_input",result="failed"} 1`) {
		t.Fatalf("GET /metrics on the metrics listener: %d\n%.2000s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "org_") {
		t.Fatalf("metrics name an organization:\n%s", body)
	}
}

// Every file lakeport creates in its data dir is 0600 and every directory 0700: the
// metadata database and its WAL, the secrets key, the admin token, the warehouse's
// Iceberg metadata and Parquet files.
func TestHostileDataDirModes(t *testing.T) {
	u, dir := startServerConfig(t, func(c *config.Config) {
		c.Sample = true
		c.DataDir = filepath.Join(c.DataDir, "lakeport-data") // lakeport makes it
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := run(t, u, dir, "connector", "runs", "sample", "--json")
		if strings.Contains(out, `"succeeded"`) {
			break
		}
		if strings.Contains(out, `"failed"`) || time.Now().After(deadline) {
			t.Fatalf("the sample's first sync:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		seen[filepath.Ext(p)] = true
		seen[filepath.Base(p)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lakeport.db", "lakeport.db-wal", "lakeport.db-shm", "secret.key", "admin.token", ".parquet", ".json"} {
		if !seen[f] {
			t.Errorf("no %s in the data dir: the test did not see what it checks", f)
		}
	}
}

// Console sessions live in the metadata store: with two `serve` processes on one
// PostgreSQL, a session signed in on one is served by the other, and a sign-out on
// either ends it on both.
func TestHostileSessionsAcrossServersOnPostgres(t *testing.T) {
	db := pgtest.URL(t)
	key := "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // both processes share the secrets key
	start := func() (string, string) {
		dir := t.TempDir()
		cfg := config.Config{DataDir: dir, Addr: "127.0.0.1:0", Database: db, SecretKey: key, StepTimeout: 5 * time.Second,
			STSRegion: "us-east-1", QueryEngine: "duckdb", HealthInterval: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan string, 1), make(chan error, 1)
		go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
		select {
		case addr := <-ready:
			t.Cleanup(func() { cancel(); <-done })
			return "http://" + addr, dir
		case err := <-done:
			cancel()
			t.Fatalf("serve: %v", err)
		}
		return "", ""
	}
	a, dirA := start()
	b, _ := start()
	admin := adminToken(t, dirA)
	createUser(t, a, dirA, admin, "ann", "correct horse battery", "admin")

	onA := newConsole(t, a)
	onA.signIn(url.Values{"org": {"default"}, "username": {"ann"}, "password": {"correct horse battery"}})
	cookie := onA.sessionCookie()
	onB := newConsole(t, b)
	onB.header.Set("Cookie", web.SessionCookie+"="+cookie)
	resp, body := onB.get("/connectors")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<span class="user">ann</span>`) {
		t.Fatalf("the session of server A on server B: %d\n%.2000s", resp.StatusCode, body)
	}
	// A flash set by a form on B shows on A's next page: session state is shared too.
	if resp, body := onB.post("/settings/storage/use-managed", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("use managed storage on B: %d\n%.2000s", resp.StatusCode, body)
	}
	if _, body := onA.get("/settings/storage"); !strings.Contains(body, "Saved: new syncs write to the managed warehouse") {
		t.Fatalf("B's flash is not on A's next page:\n%.3000s", body)
	}
	if resp, _ := onB.post("/signout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on B: %d", resp.StatusCode)
	}
	if resp, _ := onA.get("/connectors"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("A after sign-out on B: %d, want a redirect to sign in", resp.StatusCode)
	}
}
