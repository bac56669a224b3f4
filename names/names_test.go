package names_test

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/lakeport/lakeport/names"
)

// hostile are stream names a source may send to climb out of its connector's
// prefix, directly or after decoding or normalization.
var hostile = []string{
	"..", ".", "../x", "../../org_B/billing/x", "a/../../b", "/etc/passwd", `..\..\x`, `a\b`,
	"%2e%2e%2f%2e%2e%2forg_B%2fbilling%2fx", "%2e%2e", "%2E%2E%2F", "..%2f", "%2f", "%5c", "%00",
	"%252e%252e%252f",          // double-encoded
	"%25252e%25252e%25252f",    // triple
	"\uff0e\uff0e\uff0fx",      // fullwidth full stops and solidus
	"\u2025\u2215x",            // two-dot leader, division slash
	"\ufe52\ufe52\u2044x",      // small full stop, fraction slash
	"\u2024\u2024/x",           // one-dot leaders
	"\xc0\xae\xc0\xae\xc0\xaf", // overlong UTF-8 "../"
	"\xe0\x80\xae\xe0\x80\xaf", // 3-byte overlong
	"e\u0301/../x",             // combining marks (NFC/NFD differ)
	"a\x00b", "a\nb", "a\rb", "\x7f", "tab\there",
	"*", "events[0]", "a?b", "~", "x~0123456789abcdef",
	"-rf", ".hidden", ".lakeport", "a..b", "CON", "",
	strings.Repeat("a", 300), strings.Repeat("/..", 50),
}

func TestSegmentNeverLeavesItsParent(t *testing.T) {
	seen := map[string]string{}
	for _, name := range hostile {
		seg, err := names.Segment(name)
		if name == "" {
			if !errors.Is(err, names.ErrInvalid) {
				t.Errorf("Segment(\"\") = %q, %v; want ErrInvalid", seg, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Segment(%q): %v", name, err)
			continue
		}
		assertSafe(t, name, seg)
		if !names.IsSegment(seg) {
			t.Errorf("IsSegment(Segment(%q) = %q) is false", name, seg)
		}
		if other, ok := seen[seg]; ok {
			t.Errorf("%q and %q share the segment %q", name, other, seg)
		}
		seen[seg] = name
	}
}

// assertSafe checks that seg, the segment of name, is one segment under any
// parent, whatever reads it.
func assertSafe(t *testing.T, name, seg string) {
	t.Helper()
	assertSafeText(t, name, seg)
	const parent = "s3://bucket/org/crm"
	loc, err := names.Join(parent, name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil || path.Clean(u.Path) != "/org/crm/"+seg || u.Host != "bucket" || u.RawQuery != "" || u.Fragment != "" {
		t.Fatalf("Join(%q, %q) = %q parses to %+v (%v)", parent, name, loc, u, err)
	}
	local, err := names.Join("file:///data/warehouse/org", "crm", name)
	if err != nil {
		t.Fatal(err)
	}
	if lu, err := url.Parse(local); err != nil || path.Dir(path.Clean(lu.Path)) != "/data/warehouse/org/crm" {
		t.Fatalf("Join(file, crm, %q) = %q leaves crm/", name, local)
	}
}

// assertSafeText checks seg's characters: nothing that decodes, normalizes or
// expands into anything else.
func assertSafeText(t *testing.T, name, seg string) {
	t.Helper()
	if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "-") || strings.Contains(seg, "..") {
		t.Fatalf("Segment(%q) = %q: a dot segment", name, seg)
	}
	if len(seg) > 200 {
		t.Fatalf("Segment(%q) is %d bytes long", name, len(seg))
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '~') {
			t.Fatalf("Segment(%q) = %q holds %q", name, seg, c)
		}
	}
	if u, err := url.PathUnescape(seg); err != nil || u != seg {
		t.Fatalf("Segment(%q) = %q decodes to %q", name, seg, u)
	}
	if u, err := url.QueryUnescape(seg); err != nil || u != seg {
		t.Fatalf("Segment(%q) = %q query-decodes to %q", name, seg, u)
	}
	for _, f := range []norm.Form{norm.NFC, norm.NFD, norm.NFKC, norm.NFKD} {
		if f.String(seg) != seg {
			t.Fatalf("Segment(%q) = %q changes under Unicode normalization", name, seg)
		}
	}
}

func TestPlainNamesStayAsTheyAre(t *testing.T) {
	for _, name := range []string{"crm", "invoices", "line_items", "Sales-2024", "a.b", "x", "_raw", "v1.2"} {
		if seg, err := names.Segment(name); err != nil || seg != name {
			t.Errorf("Segment(%q) = %q, %v; want it unchanged", name, seg, err)
		}
		if err := names.Check(name); err != nil {
			t.Errorf("Check(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "a/b", "..", ".x", "a..b", "a b", "caf\u00e9", "%41", "-x", "x~1"} {
		if err := names.Check(name); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ErrInvalid", name, err)
		}
	}
	if seg, _ := names.Segment("Line Items"); !strings.HasPrefix(seg, "Line_Items~") {
		t.Errorf("Segment(\"Line Items\") = %q, want a readable encoding", seg)
	}
	for _, s := range []string{"..", "a/b~0123456789abcdef", "x~0123456789ABCDEF", "x~0123", "~0123456789abcdef0", "-x~0123456789abcdef", "%2e~0123456789abcdef"} {
		if names.IsSegment(s) {
			t.Errorf("IsSegment(%q) = true", s)
		}
	}
	if loc, err := names.Join("s3://b/p/", "crm", "events"); err != nil || loc != "s3://b/p/crm/events" {
		t.Errorf("Join = %q, %v", loc, err)
	}
	if _, err := names.Join("s3://b", "crm", ""); !errors.Is(err, names.ErrInvalid) {
		t.Errorf("Join with an empty name: %v", err)
	}
}

// FuzzSegment: for any name, its segment is safe under any parent, and two
// names that differ have segments that differ.
func FuzzSegment(f *testing.F) {
	for _, n := range hostile {
		f.Add(n, "events")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, errA := names.Segment(a)
		sb, errB := names.Segment(b)
		if errA == nil {
			assertSafe(t, a, sa)
			if !names.IsSegment(sa) {
				t.Fatalf("IsSegment(Segment(%q) = %q) is false", a, sa)
			}
		}
		if names.IsSegment(a) {
			assertSafeText(t, a, a)
		}
		if errA == nil && errB == nil && a != b && sa == sb {
			t.Fatalf("%q and %q share the segment %q", a, b, sa)
		}
	})
}
