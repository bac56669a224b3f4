// Package sourcetest builds the protocol test program (source/internal/testsource)
// for tests of the packages that run sources: once per test binary, in a folder of
// its own, so an allow-list can name exactly it or its folder.
package sourcetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  error
)

// Program returns the path of the built test program, building it on first use.
func Program(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, merr := os.MkdirTemp("", "lakeport-testsource-")
		if merr != nil {
			err = merr
			return
		}
		path = filepath.Join(dir, "bin", "source-test")
		if out, berr := exec.Command("go", "build", "-o", path, "github.com/lakeport/lakeport/source/internal/testsource").CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build the test source: %v: %s", berr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Remove deletes the built program; TestMain calls it after the tests.
func Remove() {
	if path != "" {
		os.RemoveAll(filepath.Dir(filepath.Dir(path)))
	}
}
