// Package secrets encrypts values kept at rest (access keys, source credentials) with
// AES-256-GCM. The key lives outside the metadata store: in LAKEPORT_SECRET_KEY or in a
// 0600 file in the data dir.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrDecrypt means a sealed value could not be opened: the key changed or the value was
// altered.
var ErrDecrypt = errors.New("secrets: cannot decrypt: the secret key differs from the one the value was sealed with, or the value was altered")

const version = "v1:"

// Box seals and opens values with one key.
type Box struct{ aead cipher.AEAD }

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// LoadOrCreateKey returns the key from env (base64 of 32 bytes) when set, otherwise from
// path, creating the file with a new random key (mode 0600) on first use.
func LoadOrCreateKey(env, path string) ([]byte, error) {
	if env != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if err != nil || len(key) != 32 {
			return nil, errors.New("secrets: LAKEPORT_SECRET_KEY must be the base64 of 32 random bytes (make one with: head -c32 /dev/urandom | base64)")
		}
		return key, nil
	}
	if b, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("secrets: %s does not hold a base64 32-byte key; restore it from backup (values sealed with it cannot be read without it)", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secrets: read key %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secrets: create key %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("secrets: write key %s: %w", path, err)
	}
	return key, f.Sync()
}

// Seal encrypts plaintext. context binds the value to where it is stored (for example
// "org_x/storage/secret_access_key") so a sealed value copied elsewhere does not open.
func (b *Box) Seal(plaintext, context string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return version + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(sealed, version)
	if !ok {
		return "", ErrDecrypt
	}
	data, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", ErrDecrypt
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(context))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}
