// Package objstore is the small object store lakeport uses outside Iceberg's
// own file IO: owner markers, cleanup of a connector's prefix, validation
// objects. A [Bucket] is a flat space of slash-separated keys; two backends
// implement it: [FileBucket] (a folder, for the managed warehouse) and
// [S3Bucket] (an S3 bucket and optional prefix, for a customer bucket or an
// S3-compatible server).
//
// Keys are relative slash paths like "crm/.lakeport-owner.json". Every
// backend rejects the same keys (see [CheckKey]) so code tested on one
// behaves the same on the other.
package objstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bucket is a flat space of objects addressed by key.
type Bucket interface {
	// Put writes data at key, replacing any object there.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads the object at key; IsNotFound(err) when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// List calls fn with every key that starts with prefix (a plain string
	// prefix: "crm" matches "crm/x", "crm2/x" and "crm.json"; end it with
	// "/" for one folder), at any depth, in lexical byte order. An error
	// from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(key string) error) error
	// Delete removes the objects at keys. Keys that do not exist are fine.
	Delete(ctx context.Context, keys ...string) error
	// Location is the bucket's root as a URL: file:///abs/root or
	// s3://bucket/prefix (s3://bucket without a prefix).
	Location() string
}

var (
	_ Bucket = (*FileBucket)(nil)
	_ Bucket = (*S3Bucket)(nil)
)

// CheckKey reports whether key is one every backend accepts: not empty, at
// most 1024 bytes, relative (no leading "/"), no empty, "." or ".." path
// segments, no trailing "/", no backslash, no control characters, valid UTF-8.
func CheckKey(key string) error {
	if err := checkPath(key); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, clip(key), err)
	}
	return nil
}

// checkPrefix accepts "" (everything) and any prefix of a valid key, so a
// prefix may end with "/" but not climb out with "..".
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkPath(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, clip(prefix), err)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return errText("is empty")
	case len(p) > 1024:
		return errText("is longer than 1024 bytes")
	case strings.HasPrefix(p, "/"):
		return errText("is absolute; keys are relative to the bucket's root")
	case strings.HasSuffix(p, "/"):
		return errText("ends with a slash")
	case strings.Contains(p, "\\"):
		return errText("has a backslash; use / between path segments")
	case !utf8.ValidString(p):
		return errText("is not valid UTF-8")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return errText("has a control character")
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return errText("has an empty path segment (//)")
		case ".", "..":
			return errText("has a . or .. path segment")
		}
	}
	return nil
}

type errText string

func (e errText) Error() string { return string(e) }

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
