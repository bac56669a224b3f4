package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/secrets"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	key, err := secrets.LoadOrCreateKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	again, err := secrets.LoadOrCreateKey("", path)
	if err != nil || string(again) != string(key) {
		t.Fatal("second load returned another key")
	}
	box, _ := secrets.NewBox(key)
	sealed, err := box.Seal("wJalrXUtnFEMI/K7MDENG", "org_a/storage")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "wJalrXUtnFEMI") {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := box.Open(sealed, "org_a/storage"); err != nil || got != "wJalrXUtnFEMI/K7MDENG" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "org_b/storage"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("Open with another context: %v, want ErrDecrypt", err)
	}
	otherKey, _ := secrets.LoadOrCreateKey("", filepath.Join(t.TempDir(), "k"))
	other, _ := secrets.NewBox(otherKey)
	if _, err := other.Open(sealed, "org_a/storage"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("Open with another key: %v, want ErrDecrypt", err)
	}
}

func TestBadEnvKey(t *testing.T) {
	if _, err := secrets.LoadOrCreateKey("not-base64!", ""); err == nil || !strings.Contains(err.Error(), "LAKEPORT_SECRET_KEY") {
		t.Fatalf("bad env key: %v", err)
	}
}
