package pgtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuiteFailsWithoutPostgres: when scripts/postgres.sh fails or exports nothing,
// scripts/test.sh (what `make test` runs) fails before any test runs, instead of running
// the suite with the PostgreSQL tests skipped.
func TestSuiteFailsWithoutPostgres(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for name, fake := range map[string]string{
		"fails":         "#!/bin/sh\necho 'cannot install postgresql' >&2\nexit 1\n",
		"exports none":  "#!/bin/sh\nexit 0\n",
		"prints a note": "#!/bin/sh\necho '# no server'\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pg := filepath.Join(dir, "postgres.sh")
			marker := filepath.Join(dir, "go-test-ran")
			// A `go` on PATH that only records that it was called.
			goFake := "#!/bin/sh\ntouch " + marker + "\n"
			if err := os.WriteFile(pg, []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), []byte(goFake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "test.sh"))
			cmd.Env = append(os.Environ(), "LAKEPORT_POSTGRES_SH="+pg, "PATH="+dir+":"+os.Getenv("PATH"), "LAKEPORT_TEST_POSTGRES=")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("test.sh succeeded without PostgreSQL:\n%s", out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("test.sh ran go test without PostgreSQL:\n%s", out)
			}
			if !strings.Contains(string(out), "PostgreSQL") {
				t.Fatalf("test.sh failed without saying why:\n%s", out)
			}
		})
	}
}
