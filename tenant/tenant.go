// Package tenant creates organizations and their tokens: the one place that decides an
// organization's ID, its external ID and its first admin.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/store"
)

// DefaultOrg is the organization a new install starts with.
const DefaultOrg = "default"

// TokenFile is the name of the bootstrap admin's token file in the data dir.
const TokenFile = "admin.token"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$`)

// ErrInvalidName is returned for organization names outside [a-z0-9-].
var ErrInvalidName = errors.New("name must be 1-63 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit (for example acme-data)")

// CheckName validates an organization name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("organization name %q: %w", name, ErrInvalidName)
	}
	return nil
}

// CreateOrg creates an organization with a new external ID and its first admin token.
// operator marks that token as the install's operator (only the bootstrap admin is).
func CreateOrg(ctx context.Context, s store.Store, name string, operator bool) (store.Org, string, error) {
	if err := CheckName(name); err != nil {
		return store.Org{}, "", err
	}
	o := store.Org{ID: auth.NewID("org_"), Name: name, ExternalID: auth.NewExternalID(), CreatedAt: time.Now().UTC()}
	if err := s.CreateOrg(ctx, o); err != nil {
		return store.Org{}, "", err
	}
	tok, err := CreateToken(ctx, s, o.ID, store.RoleAdmin, operator)
	if err != nil {
		return store.Org{}, "", err
	}
	return o, tok, nil
}

// CreateToken makes a new token for org with role; the secret is returned once and only
// its hash is stored.
func CreateToken(ctx context.Context, s store.Store, orgID string, role store.Role, operator bool) (string, error) {
	return CreateTokenUntil(ctx, s, orgID, role, operator, time.Time{})
}

// CreateTokenUntil is CreateToken for a token that stops working at expires (zero: never).
func CreateTokenUntil(ctx context.Context, s store.Store, orgID string, role store.Role, operator bool, expires time.Time) (string, error) {
	tok, _, err := MintToken(ctx, s, store.Token{OrgID: orgID, Role: role, Operator: operator, ExpiresAt: expires})
	return tok, err
}

// MintToken creates the token t describes (its OrgID, Role, Name, ExpiresAt, and for a
// console session ParentID or UserID) with a new ID and secret. The secret is returned
// once; only its hash is stored.
func MintToken(ctx context.Context, s store.Store, t store.Token) (string, store.Token, error) {
	if !t.Role.Valid() {
		return "", store.Token{}, fmt.Errorf("role %q: must be admin or member", t.Role)
	}
	tok, hash := auth.NewToken()
	t.ID, t.Hash, t.CreatedAt = auth.NewID("tok_"), hash, time.Now().UTC()
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.ExpiresAt.UTC()
	}
	if err := s.CreateToken(ctx, t); err != nil {
		return "", store.Token{}, err
	}
	return tok, t, nil
}

// Bootstrap runs on a server's start: when the store has no organization yet it creates
// DefaultOrg with the operator's admin token and writes that token to dataDir/admin.token
// (mode 0600). It returns the token file's path when it wrote one, "" otherwise.
func Bootstrap(ctx context.Context, s store.Store, dataDir string) (string, error) {
	n, err := s.CountOrgs(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	path := filepath.Join(dataDir, TokenFile)
	// Prove the file can be written before the org exists, so a start that cannot write
	// it fails without leaving an organization whose admin token nobody has.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("bootstrap: cannot write the admin token file %s: %w", path, err)
	}
	defer f.Close()
	_, tok, err := CreateOrg(ctx, s, DefaultOrg, true)
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		return "", fmt.Errorf("bootstrap: write the admin token to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("bootstrap: write the admin token to %s: %w", path, err)
	}
	return path, nil
}
