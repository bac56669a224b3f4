package bench_test

import (
	"os"
	"testing"

	"github.com/lakeport/lakeport/source/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main() // the exec: source of the sync bench goes through this binary's shim
	os.Exit(m.Run())
}
