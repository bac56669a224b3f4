// Package document reads an Airbyte declarative manifest (YAML or JSON) into
// one resolved tree, as the CDK's manifest preprocessing does: $ref
// pointers replaced by what they point to (siblings of a $ref override what
// it brings), $parameters handed down to every component below, and the
// component type filled in where the schema implies it. It also inventories
// the components used, with their JSON paths, and says which ones lakeport
// does not run.
//
// A manifest is tenant input: its size, the depth of $ref chains and the
// size of the resolved tree are bounded, and a $ref can point only inside
// the manifest.
package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Limits on a manifest.
const (
	MaxBytes      = 8 << 20
	MaxRefDepth   = 64
	MaxNodes      = 500_000
	MaxValueDepth = 200
)

// ErrInvalid is wrapped by every error about a manifest that cannot be read.
var ErrInvalid = errors.New("manifest")

// Error is a problem at a place in the manifest.
type Error struct {
	Path string // a JSON path, e.g. definitions.streams.users.retriever
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "manifest: " + e.Msg
	}
	return fmt.Sprintf("manifest: at %s: %s", e.Path, e.Msg)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Document is a resolved manifest.
type Document struct {
	// Root is the resolved manifest: maps, lists and scalars (integers are
	// int64, other numbers float64).
	Root map[string]any
	// Components are the components in the resolved streams, check and
	// spec, in document order.
	Components []Component
	// Deprecated lists fields the CDK still accepts but has deprecated.
	Deprecated []Component
}

// Component is one component of the resolved tree.
type Component struct {
	Type string
	Path string
	Note string
}

// Parse reads and resolves a manifest.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxBytes {
		return nil, &Error{Msg: fmt.Sprintf("is %d bytes; manifests are limited to %d", len(data), MaxBytes)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "is empty"}
	}
	var raw any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, &Error{Msg: "is not valid YAML or JSON: " + err.Error()}
	}
	root, err := normalize(raw, 0)
	if err != nil {
		return nil, err
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, &Error{Msg: "must be a mapping with type: DeclarativeSource"}
	}
	r := &resolver{root: top}
	resolved, err := r.resolve(top, "", 0)
	if err != nil {
		return nil, err
	}
	doc := &Document{Root: resolved.(map[string]any)}
	if t, _ := doc.Root["type"].(string); t != "DeclarativeSource" && t != "" {
		return nil, &Error{Path: "type", Msg: fmt.Sprintf("is %q; lakeport runs manifests of type DeclarativeSource", t)}
	}
	if _, ok := doc.Root["streams"]; !ok {
		if _, dyn := doc.Root["dynamic_streams"]; dyn {
			return nil, &Error{Path: "dynamic_streams", Msg: "dynamic streams are not supported by lakeport; list the streams under streams"}
		}
		return nil, &Error{Path: "streams", Msg: "is missing: a manifest lists its streams"}
	}
	for _, key := range []string{"streams", "check", "spec"} {
		if v, ok := doc.Root[key]; ok {
			doc.Root[key] = propagate(v, key, defaultType("", key), nil)
		}
	}
	doc.inventory()
	return doc, nil
}

// normalize turns YAML values into JSON-like ones with string keys.
func normalize(v any, depth int) (any, error) {
	if depth > MaxValueDepth {
		return nil, &Error{Msg: fmt.Sprintf("nests deeper than %d levels", MaxValueDepth)}
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case int:
		return int64(x), nil
	case time.Time:
		// An unquoted date or datetime in YAML: keep it the text it was.
		if x.Equal(x.Truncate(24*time.Hour)) && x.Location() == time.UTC {
			return x.Format("2006-01-02"), nil
		}
		return x.Format(time.RFC3339Nano), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, _ := x.Float64()
		return f, nil
	}
	return v, nil
}

type resolver struct {
	root  map[string]any
	nodes int
}

// resolve returns a deep copy of v with every $ref replaced.
func (r *resolver) resolve(v any, path string, refDepth int) (any, error) {
	r.nodes++
	if r.nodes > MaxNodes {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("resolving $ref pointers builds more than %d values; the manifest refers to itself too often", MaxNodes)}
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		if ref, ok := x["$ref"]; ok {
			s, ok := ref.(string)
			if !ok {
				return nil, &Error{Path: join(path, "$ref"), Msg: "must be a string such as #/definitions/name"}
			}
			if refDepth >= MaxRefDepth {
				return nil, &Error{Path: join(path, "$ref"), Msg: fmt.Sprintf("$ref chain deeper than %d (a loop?): %s", MaxRefDepth, s)}
			}
			target, err := r.lookup(s, path)
			if err != nil {
				return nil, err
			}
			resolved, err := r.resolve(target, path, refDepth+1)
			if err != nil {
				return nil, err
			}
			m, ok := resolved.(map[string]any)
			if !ok {
				if len(x) == 1 {
					return resolved, nil
				}
				return nil, &Error{Path: join(path, "$ref"), Msg: fmt.Sprintf("%s is not a mapping, so it cannot take sibling keys", s)}
			}
			for k, e := range m {
				out[k] = e
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			if k != "$ref" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			e, err := r.resolve(x[k], join(path, k), refDepth)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := r.resolve(e, join(path, strconv.Itoa(i)), refDepth)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

// lookup follows a JSON pointer (#/definitions/a/b) or the CDK's older
// dotted form (definitions.a.b) inside the manifest.
func (r *resolver) lookup(ref, at string) (any, error) {
	var parts []string
	switch {
	case strings.HasPrefix(ref, "#/"):
		for _, p := range strings.Split(ref[2:], "/") {
			p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
			parts = append(parts, p)
		}
	case ref == "#":
		return nil, &Error{Path: join(at, "$ref"), Msg: "#: a component cannot include the whole manifest"}
	case strings.Contains(ref, "://") || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".json"):
		return nil, &Error{Path: join(at, "$ref"), Msg: fmt.Sprintf("%s: a $ref may point only inside the manifest (#/definitions/…)", ref)}
	default:
		parts = strings.Split(strings.TrimPrefix(ref, "#"), ".")
	}
	var cur any = r.root
	for _, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[p]
			if !ok {
				return nil, &Error{Path: join(at, "$ref"), Msg: fmt.Sprintf("%s points at nothing (no %q)", ref, p)}
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, &Error{Path: join(at, "$ref"), Msg: fmt.Sprintf("%s points at nothing (no item %q)", ref, p)}
			}
			cur = c[i]
		default:
			return nil, &Error{Path: join(at, "$ref"), Msg: fmt.Sprintf("%s points inside a value that is not a mapping or a list", ref)}
		}
	}
	return cur, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Path returns the JSON path of a child.
func Path(parent, key string) string { return join(parent, key) }
