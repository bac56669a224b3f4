package objstore_test

import (
	"path"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/objstore"
)

// FuzzCheckKey: every key CheckKey accepts is a clean, local slash path, so
// a FileBucket cannot be led out of its folder by a key.
func FuzzCheckKey(f *testing.F) {
	for _, k := range []string{"a", "crm/.lakeport-owner.json", "../x", "/abs", "a//b", "a/./b", "a\\..\\b", "..", "a/", "é/x"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if objstore.CheckKey(key) != nil {
			return
		}
		if path.Clean(key) != key || !filepath.IsLocal(filepath.FromSlash(key)) {
			t.Errorf("CheckKey accepted %q, which is not a clean local path", key)
		}
	})
}
