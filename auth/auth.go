// Package auth makes and checks lakeport's API tokens and generates the random
// identifiers an organization gets once: its ID and its external ID.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

// TokenPrefix marks lakeport API tokens so they are recognisable in logs and secret
// scanners.
const TokenPrefix = "lpt_"

// NewToken returns a new API token (256 random bits) and the hash to store.
func NewToken() (token string, hash []byte) {
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(random(32))
	return token, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return h[:]
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewExternalID returns an organization's external ID: 160 random bits, in characters
// that sts:AssumeRole's ExternalId accepts ([\w+=,.@:/-]).
func NewExternalID() string { return "lp-" + lowerBase32.EncodeToString(random(20)) }

// NewID returns a random identifier with the given prefix, such as "org_" or "tok_".
func NewID(prefix string) string { return prefix + lowerBase32.EncodeToString(random(10)) }

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return b
}
