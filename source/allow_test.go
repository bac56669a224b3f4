package source_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/source"
)

// TestAllowListDecidesWhatRuns: only programs the operator lists open; a
// path that climbs out of an allowed folder, or a link in it that points
// elsewhere, does not.
func TestAllowListDecidesWhatRuns(t *testing.T) {
	ts := testSourcePath(t)
	bin := t.TempDir()
	prog := filepath.Join(bin, "source-test")
	raw, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin/id", filepath.Join(bin, "source-link")); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(bin, "sub")
	os.Mkdir(inside, 0o755)

	reg := source.NewRegistry()
	refused := func(ref string) {
		t.Helper()
		_, err := reg.Open(ref)
		if !errors.Is(err, source.ErrNotAllowed) {
			t.Errorf("Open(%s) = %v, want ErrNotAllowed", ref, err)
			return
		}
		if !strings.Contains(err.Error(), "sources.allow") {
			t.Errorf("the refusal does not name the setting: %v", err)
		}
	}
	// Nothing is listed: no program runs, built-ins do not need listing.
	refused("exec:" + prog)
	refused("exec:/usr/bin/id")
	refused("image:airbyte/source-faker:6.2.0")

	reg.Allow = source.MustAllowList("exec:"+bin+"/*", "image:airbyte/source-*")
	if _, err := reg.Open("exec:" + prog); err != nil {
		t.Fatalf("an allowed program: %v", err)
	}
	refused("exec:" + bin + "/../../../usr/bin/id")
	refused("exec:" + bin + "/source-link") // in the folder, but it is /usr/bin/id
	refused("exec:" + bin + "/sub/../../" + filepath.Base(bin) + "x/p")
	refused("exec:source-test") // relative: resolved against nothing the operator chose
	refused("exec:/usr/bin/id")
	refused("image:evil/source-x")
	refused("image:airbyte/destination-s3")
	if _, err := reg.Open("image:airbyte/source-faker:6.2.0"); errors.Is(err, source.ErrNotAllowed) {
		t.Errorf("an allowed image was refused: %v", err)
	}

	reg.Allow = source.MustAllowList("exec:*")
	if _, err := reg.Open("exec:/usr/bin/id"); err != nil {
		t.Errorf("exec:* must trust every local program: %v", err)
	}
	refused("image:airbyte/source-faker")
}

func TestParseAllowList(t *testing.T) {
	for _, bad := range []string{"sample", "ftp:/x", "exec:", "exec:relative/path", "exec:/opt/../usr/bin/*", "image:[", "exec:/opt/[a"} {
		if _, err := source.ParseAllowList([]string{bad}); !errors.Is(err, source.ErrInvalidAllowList) {
			t.Errorf("ParseAllowList(%q) = %v, want ErrInvalidAllowList", bad, err)
		}
	}
	a, err := source.ParseAllowList([]string{" exec:/opt/airbyte/bin/* ", "", "image:airbyte/source-*", "exec:*"})
	if err != nil || len(a.Entries()) != 3 {
		t.Fatalf("%v %v", a.Entries(), err)
	}
}
