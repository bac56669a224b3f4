package web

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

func TestSafeNext(t *testing.T) {
	for _, next := range []string{
		"", "connectors", "/.//evil.example", "/./evil.example", "/connectors/../..//evil.example", "/connectors//x", "/%2e%2e/%2F", "//evil.example", "///evil.example", "//evil.example/connectors", `/\evil.example`, `\\evil.example`,
		`\/evil.example`, "/\\/evil.example", "/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "\t//evil.example",
		" //evil.example", "/ /evil.example", "/%09/evil.example", "/%0a/evil.example", "/%0D%0A/evil.example", "/%00/evil.example",
		"/%7f/evil.example", "/%2509/evil.example", "/%252509/evil.example", "/%2F/evil.example", "/%2f%2fevil.example",
		"%2F%2Fevil.example", "/%5Cevil.example", "/%5c%5cevil.example", "/%255C/evil.example", "https://evil.example",
		"http:evil.example", "http:/evil.example", "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x",
		"//user@evil.example", "/\u2028/evil.example", "/\u3000/evil.example", "/\uff0f\uff0fevil.example",
		"/signin", "/signin?next=/connectors", "/%zz", "/%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25%25",
		"/%2525252525252509/evil.example",
	} {
		if got := safeNext(next); got != home {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, home)
		}
	}
	for _, next := range []string{"/", "/connectors", "/connectors/crm", "/connectors/crm?tab=runs&x=a%20b&u=http://x", "/settings/storage", "/runs/run_x", "/query#top"} {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
	}
}

// countingStore counts the lookups a password sign-in makes.
type countingStore struct {
	*sqlite.Store
	calls *[]string
}

func (c countingStore) OrgByName(ctx context.Context, name string) (store.Org, error) {
	*c.calls = append(*c.calls, "OrgByName")
	return c.Store.OrgByName(ctx, name)
}

func (c countingStore) UserByName(ctx context.Context, orgID, name string) (store.User, error) {
	*c.calls = append(*c.calls, "UserByName")
	return c.Store.UserByName(ctx, orgID, name)
}

// Every refused password sign-in does the same work, whether the organization is
// unknown, the user is unknown or the password is wrong: two lookups and one bcrypt
// comparison (the work a right password costs). The time it takes therefore does not
// tell them apart; BenchmarkRefusedSignIn measures it.
func TestRefusalsDoTheSameWork(t *testing.T) {
	h, calls, compares := refusalHandler(t)
	var want []string
	for i, c := range refusals {
		*calls, *compares = nil, 0
		_, ok, err := h.checkPassword(context.Background(), c.org, c.user, c.password)
		if err != nil || ok {
			t.Fatalf("%s: ok=%v err=%v, want a refusal", c.name, ok, err)
		}
		if *compares != 1 {
			t.Errorf("%s: %d bcrypt comparisons, want 1", c.name, *compares)
		}
		if i == 0 {
			want = slices.Clone(*calls)
		} else if !slices.Equal(*calls, want) {
			t.Errorf("%s: store calls %v, want %v (as for %s)", c.name, *calls, want, refusals[0].name)
		}
	}
	if strings.Join(want, ",") != "OrgByName,UserByName" {
		t.Fatalf("store calls %v", want)
	}
	*compares = 0
	if _, ok, err := h.checkPassword(context.Background(), "acme", "ann", "acme's own password"); !ok || err != nil || *compares != 1 {
		t.Fatalf("the right password: ok=%v err=%v compares=%d", ok, err, *compares)
	}
}

var refusals = []struct{ name, org, user, password string }{
	{"wrong password", "acme", "ann", "not the password"},
	{"unknown user", "acme", "nobody", "not the password"},
	{"unknown organization", "no-such-org", "ann", "not the password"},
	{"another organization's user", "globex", "ann", "acme's own password"},
}

func refusalHandler(t testing.TB) (*handler, *[]string, *int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, name := range []string{"acme", "globex"} {
		if _, _, err := tenant.CreateOrg(ctx, st, name, false); err != nil {
			t.Fatal(err)
		}
	}
	acme, _ := st.OrgByName(ctx, "acme")
	if _, err := tenant.CreateUser(ctx, st, acme.ID, "ann", "acme's own password", store.RoleMember); err != nil {
		t.Fatal(err)
	}
	calls, compares := new([]string), new(int)
	real := compareHash
	compareHash = func(hash, pw []byte) error { *compares++; return real(hash, pw) }
	t.Cleanup(func() { compareHash = real })
	cs := countingStore{st, calls}
	return &handler{cfg: Config{Store: cs, Users: cs}}, calls, compares
}

// BenchmarkRefusedSignIn: the time of each kind of refusal (compare the ns/op).
func BenchmarkRefusedSignIn(b *testing.B) {
	h, _, _ := refusalHandler(b)
	for _, c := range refusals {
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				h.checkPassword(context.Background(), c.org, c.user, c.password)
			}
		})
	}
}
