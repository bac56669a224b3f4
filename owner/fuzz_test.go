package owner_test

import (
	"strings"
	"testing"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/owner"
)

// FuzzCheckNamespace: an accepted namespace is one path segment whose
// marker is a valid key, so Cleanup's prefix "<ns>/" is exactly one folder.
func FuzzCheckNamespace(f *testing.F) {
	for _, ns := range []string{"crm", "a/b", "..", ".lakeport", "a..b", "", "x\x00"} {
		f.Add(ns)
	}
	f.Fuzz(func(t *testing.T, ns string) {
		if owner.CheckNamespace(ns) != nil {
			return
		}
		if strings.ContainsAny(ns, `/\`) || strings.HasPrefix(ns, ".") {
			t.Errorf("CheckNamespace accepted %q", ns)
		}
		if err := objstore.CheckKey(owner.MarkerKey(ns)); err != nil {
			t.Errorf("namespace %q accepted but its marker key is not: %v", ns, err)
		}
	})
}
