// Package names turns the names of connectors, namespaces and streams into
// object keys and folder names. It is the one door: every table location and
// every key under a connector's prefix is built with [Segment] or [Join].
//
// Stream names come from sources, which are untrusted, and the places they
// end up parse them again: iceberg-go reads a table location as a URL (so
// "%2e%2e%2f" becomes "../"), S3 keys and file names are compared after
// Unicode normalization by some tools (so a fullwidth solidus U+FF0F can
// become "/"), and DuckDB treats "*", "?" and "[" in a path as a glob. A
// segment therefore holds only ASCII letters, digits, '_', '-' and '.' (never
// leading, never two in a row): nothing in it decodes, normalizes or expands
// into anything else, whatever reads it.
//
// A name that is already such a segment is used as it is, so connector
// "crm" with stream "invoices" lives at crm/invoices/. Any other name is
// encoded: a readable ASCII rendering of it, '~', and 16 hex digits of its
// SHA-256 ("Line Items" becomes "Line_Items~8c1f…"). Plain segments never
// hold '~', so two different names never share a segment.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by the errors of names that cannot become a segment,
// and, from Check, of names that are not one already.
var ErrInvalid = errors.New("names: invalid name")

const (
	// MaxPlain is the longest name used as it is.
	MaxPlain = 128
	// slugMax bounds the readable part of an encoded segment, which stays
	// under 100 bytes (file systems allow 255).
	slugMax = 64
	// hashHex is how many hex digits of the SHA-256 an encoded segment carries.
	hashHex = 16
	// MaxName bounds what a source may call a stream (bytes).
	MaxName = 4096
)

// Plain reports whether name is used as its own segment: 1 to MaxPlain ASCII
// letters, digits, '_', '-' and '.', starting with a letter, digit or '_',
// with no "..".
func Plain(name string) bool {
	if name == "" || len(name) > MaxPlain || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Segment returns the one path segment name becomes under its parent: name
// itself when it is [Plain], else its encoding (see the package doc). It
// refuses only an empty name and one longer than MaxName bytes.
func Segment(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: the name is empty", ErrInvalid)
	case len(name) > MaxName:
		return "", fmt.Errorf("%w: the name is %d bytes long, at most %d are allowed", ErrInvalid, len(name), MaxName)
	case Plain(name):
		return name, nil
	}
	sum := sha256.Sum256([]byte(name))
	return slug(name) + "~" + hex.EncodeToString(sum[:])[:hashHex], nil
}

// slug is a readable ASCII rendering of name: letters, digits, '_' and '-'
// (not leading) kept, every other run of bytes one '_', at most slugMax bytes.
func slug(name string) string {
	var b strings.Builder
	under := false
	for i := 0; i < len(name) && b.Len() < slugMax; i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' && b.Len() > 0 {
			b.WriteByte(c)
			under = c == '_'
			continue
		}
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return b.String()
}

// IsSegment reports whether s is a segment [Segment] can return: a [Plain]
// name, or an encoded one. Catalogs use it to refuse a table name that did
// not come through Segment.
func IsSegment(s string) bool {
	if Plain(s) {
		return true
	}
	i := strings.LastIndexByte(s, '~')
	if i < 0 || i > slugMax || len(s)-i-1 != hashHex {
		return false
	}
	for j := 0; j < len(s); j++ {
		c := s[j]
		switch {
		case j > i && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
		case j < i && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' && j > 0):
		case j == i:
		default:
			return false
		}
	}
	return true
}

// Check refuses a name that is not [Plain]: for names lakeport keeps exactly
// as they are (a connector's prefix, which its owner marker names).
func Check(name string) error {
	if Plain(name) {
		return nil
	}
	return fmt.Errorf("%w %q: use 1 to %d ASCII letters, digits, '_', '-' and '.', starting with a letter, digit or '_', without \"..\"",
		ErrInvalid, clip(name), MaxPlain)
}

// Join returns parent followed by the segment of each name, separated by
// "/": the location or key of a connector's namespace, a stream's table, an
// object under them. parent is the caller's (a warehouse root such as
// "s3://bucket/prefix" or "file:///data/warehouse/org"); a trailing "/" on
// it is dropped. An empty parent gives a relative key.
func Join(parent string, names ...string) (string, error) {
	parts := make([]string, 0, len(names)+1)
	if p := strings.TrimSuffix(parent, "/"); p != "" {
		parts = append(parts, p)
	}
	for _, n := range names {
		seg, err := Segment(n)
		if err != nil {
			return "", err
		}
		parts = append(parts, seg)
	}
	return strings.Join(parts, "/"), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
