package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/lakeport/lakeport/protocol"
)

// ValidateConfig checks config against spec's connectionSpecification (a
// JSON schema, draft 7 unless it says otherwise). A config that fails is a
// *ConfigError naming each field and what is wrong with it; a schema that
// cannot be used wraps ErrInvalidSpec. Schemas may not load other documents
// ($ref to files or URLs fails).
func ValidateConfig(spec *protocol.ConnectorSpecification, config json.RawMessage) error {
	if spec == nil || len(spec.ConnectionSpecification) == 0 {
		return fmt.Errorf("%w: no connectionSpecification", ErrInvalidSpec)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec.ConnectionSpecification))
	if err != nil {
		return fmt.Errorf("%w: connectionSpecification: %v", ErrInvalidSpec, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no files, no network
	const loc = "lakeport:///connectionSpecification.json"
	if err := c.AddResource(loc, schemaDoc); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(config))
	if err != nil {
		return &ConfigError{Fields: []FieldError{{Message: "not valid JSON: " + err.Error()}}}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("source: validate config: %w", err)
	}
	p := message.NewPrinter(language.English)
	ce := &ConfigError{}
	seen := map[FieldError]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := e.InstanceLocation
		msg := e.ErrorKind.LocalizedString(p)
		if req, ok := e.ErrorKind.(*kind.Required); ok {
			// Name the missing field itself, not its parent.
			for _, missing := range req.Missing {
				fe := FieldError{Path: joinPath(append(append([]string(nil), path...), missing)), Message: "is required but missing"}
				if !seen[fe] {
					seen[fe] = true
					ce.Fields = append(ce.Fields, fe)
				}
			}
			return
		}
		fe := FieldError{Path: joinPath(path), Message: msg}
		if !seen[fe] {
			seen[fe] = true
			ce.Fields = append(ce.Fields, fe)
		}
	}
	walk(ve)
	sort.SliceStable(ce.Fields, func(i, j int) bool { return ce.Fields[i].Path < ce.Fields[j].Path })
	return ce
}

func joinPath(p []string) string { return strings.Join(p, ".") }

// Path is the location of a config field: its keys from the root; "*"
// stands for every element of an array.
type Path []string

func (p Path) String() string { return strings.Join(p, ".") }

// SecretPaths lists the config fields spec marks "airbyte_secret": true,
// looking through nested objects, arrays and oneOf/anyOf/allOf branches
// (where Airbyte specs put alternative credentials). The result is sorted
// and without duplicates.
func SecretPaths(spec *protocol.ConnectorSpecification) ([]Path, error) {
	if spec == nil || len(spec.ConnectionSpecification) == 0 {
		return nil, nil
	}
	var root any
	if err := json.Unmarshal(spec.ConnectionSpecification, &root); err != nil {
		return nil, fmt.Errorf("%w: connectionSpecification: %v", ErrInvalidSpec, err)
	}
	seen := map[string]Path{}
	var walk func(node any, at Path, depth int)
	walk = func(node any, at Path, depth int) {
		obj, ok := node.(map[string]any)
		if !ok || depth > 64 {
			return
		}
		if secret, _ := obj["airbyte_secret"].(bool); secret && len(at) > 0 {
			seen[at.String()] = append(Path(nil), at...)
		}
		if props, ok := obj["properties"].(map[string]any); ok {
			for k, v := range props {
				walk(v, append(at[:len(at):len(at)], k), depth+1)
			}
		}
		if items, ok := obj["items"]; ok {
			walk(items, append(at[:len(at):len(at)], "*"), depth+1)
		}
		for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
			if alts, ok := obj[kw].([]any); ok {
				for _, alt := range alts {
					walk(alt, at, depth+1)
				}
			}
		}
	}
	walk(root, nil, 0)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Path, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out, nil
}

// Redacted replaces secret values in configs shown to people.
const Redacted = "**********"

// Redact returns config with the value at every path replaced by Redacted
// (paths that are absent are left alone).
func Redact(config json.RawMessage, paths []Path) (json.RawMessage, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("source: redact config: %w", err)
	}
	for _, p := range paths {
		doc = redactAt(doc, p)
	}
	return json.Marshal(doc)
}

func redactAt(node any, p Path) any {
	if len(p) == 0 {
		if node == nil {
			return nil
		}
		return Redacted
	}
	switch n := node.(type) {
	case map[string]any:
		if v, ok := n[p[0]]; ok {
			n[p[0]] = redactAt(v, p[1:])
		}
	case []any:
		if p[0] == "*" {
			for i := range n {
				n[i] = redactAt(n[i], p[1:])
			}
		}
	}
	return node
}
