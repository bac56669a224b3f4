package auth_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/auth"
)

func TestTokenHash(t *testing.T) {
	tok, hash := auth.NewToken()
	if !strings.HasPrefix(tok, auth.TokenPrefix) || len(tok) < 40 {
		t.Fatalf("token %q: want lpt_ and at least 256 bits", tok)
	}
	if !bytes.Equal(hash, auth.HashToken(tok)) || !bytes.Equal(hash, auth.HashToken(tok+"\n")) {
		t.Fatal("HashToken must be stable and ignore surrounding whitespace")
	}
	if bytes.Contains(hash, []byte(tok)) {
		t.Fatal("hash contains the token")
	}
	other, _ := auth.NewToken()
	if other == tok {
		t.Fatal("two tokens are equal")
	}
}

func TestExternalID(t *testing.T) {
	stsChars := regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := auth.NewExternalID()
		if !stsChars.MatchString(id) {
			t.Fatalf("external ID %q has characters sts:AssumeRole refuses", id)
		}
		// 160 bits in base32 is 32 characters after the "lp-" prefix: at least 128 bits.
		if len(id)-len("lp-") < 26 {
			t.Fatalf("external ID %q carries fewer than 128 random bits", id)
		}
		if seen[id] {
			t.Fatalf("external ID %q generated twice", id)
		}
		seen[id] = true
	}
}
