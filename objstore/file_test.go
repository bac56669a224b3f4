package objstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/objstore/objtest"
)

func TestFileStaysInsideRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if data, err := b.Get(t.Context(), "link/secret"); err == nil {
		t.Errorf("read %q through a symlink out of the root", data)
	}
	if err := b.Put(t.Context(), "link/new", []byte("x")); err == nil {
		t.Error("wrote through a symlink out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a file appeared outside the root")
	}
	_ = b.Delete(t.Context(), "link/secret") // an error or nothing, but never the file outside
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("the file outside the root: %v", err)
	}
	if got := objtest.Keys(t, b, ""); len(got) != 0 {
		t.Errorf("listed %q; a symlink is not an object", got)
	}
	for _, k := range []string{"../outside/secret", "/etc/passwd"} {
		if _, err := b.Get(t.Context(), k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("get %s: %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestFileLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "wh")
	b, err := objstore.NewFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Location(), "file://"+root; got != want {
		t.Errorf("location %q, want %q", got, want)
	}
	objtest.MustPut(t, b, "x", "crm/t/data/1.parquet", "crm2/keep")
	for p, want := range map[string]os.FileMode{root: 0o700, filepath.Join(root, "crm", "t"): 0o700, filepath.Join(root, "crm", "t", "data", "1.parquet"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if err := b.Delete(t.Context(), "crm/t/data/1.parquet"); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"crm2"}) {
		t.Errorf("root holds %q after the delete, want the emptied folders gone", names)
	}
}

func TestNewFileRejectsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewFile(f); err == nil {
		t.Error("NewFile on a file succeeded")
	}
	if _, err := objstore.NewFile(""); err == nil {
		t.Error("NewFile with no folder succeeded")
	}
}
