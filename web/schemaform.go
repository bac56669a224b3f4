package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// field is one input of a config form generated from a source's JSON schema.
type field struct {
	Path        string // dotted path under the config: "seed", "auth.api_key"
	Input       string // form field name: "config." + Path
	Title       string
	Description string
	Type        string // string | integer | number | boolean | array | object
	Enum        []string
	Secret      bool
	Required    bool
	Default     string
	Value       string
	Checked     bool
	Error       string
	Children    []field // for objects
}

// schemaFields turns a JSON schema's object properties into form fields, in the
// schema's "order" when it gives one, else required first, then by name.
func schemaFields(schema json.RawMessage) ([]field, error) {
	if len(schema) == 0 {
		return nil, nil
	}
	var root map[string]any
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("the source's config schema is not JSON: %w", err)
	}
	return objectFields(root, "", 0), nil
}

func objectFields(obj map[string]any, prefix string, depth int) []field {
	props, _ := obj["properties"].(map[string]any)
	if depth > 4 {
		return nil
	}
	required := map[string]bool{}
	if req, ok := obj["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	var out []field
	for name, raw := range props {
		p, _ := raw.(map[string]any)
		if p == nil {
			continue
		}
		f := field{Path: prefix + name, Title: str(p["title"]), Description: str(p["description"]), Type: typeOf(p), Required: required[name]}
		f.Input = "config." + f.Path
		if f.Title == "" {
			f.Title = humanName(name)
		}
		f.Secret, _ = p["airbyte_secret"].(bool)
		if d, ok := p["default"]; ok && d != nil {
			f.Default = scalar(d)
		}
		if enum, ok := p["enum"].([]any); ok {
			for _, e := range enum {
				f.Enum = append(f.Enum, scalar(e))
			}
		}
		if f.Type == "object" {
			f.Children = objectFields(p, f.Path+".", depth+1)
		}
		out = append(out, f)
	}
	order := func(f field) float64 {
		if p, ok := props[strings.TrimPrefix(f.Path, prefix)].(map[string]any); ok {
			if o, ok := p["order"].(float64); ok {
				return o
			}
		}
		return 1e9
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, oj := order(out[i]), order(out[j])
		if oi != oj {
			return oi < oj
		}
		if out[i].Required != out[j].Required {
			return out[i].Required
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func typeOf(p map[string]any) string {
	switch t := p["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && s != "null" {
				return s
			}
		}
	}
	if _, ok := p["properties"]; ok {
		return "object"
	}
	return "string"
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func humanName(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fill sets each field's value from a posted form (or, on first show, its default).
func fill(fields []field, form url.Values, posted bool) {
	for i := range fields {
		f := &fields[i]
		if f.Type == "object" {
			fill(f.Children, form, posted)
			continue
		}
		if !posted {
			f.Value = f.Default
			f.Checked = f.Default == "true"
			continue
		}
		f.Value = form.Get(f.Input)
		f.Checked = f.Value == "on" || f.Value == "true"
	}
}

// configJSON builds the config object from the fields' values. Values are converted
// to the schema's types where they parse; a value that does not parse is sent as typed,
// so the API's validation names the field.
func configJSON(fields []field) json.RawMessage {
	b, _ := json.Marshal(configObject(fields))
	return b
}

func configObject(fields []field) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		name := f.Path[strings.LastIndex(f.Path, ".")+1:]
		switch f.Type {
		case "object":
			if child := configObject(f.Children); len(child) > 0 || f.Required {
				out[name] = child
			}
			continue
		case "boolean":
			out[name] = f.Checked
			continue
		}
		v := strings.TrimSpace(f.Value)
		if f.Secret {
			v = f.Value // secrets are taken exactly as typed
		}
		if v == "" {
			continue
		}
		switch f.Type {
		case "integer":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[name] = n
				continue
			}
		case "number":
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				out[name] = n
				continue
			}
		case "array":
			var items []string
			for _, it := range strings.Split(v, ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			out[name] = items
			continue
		}
		out[name] = v
	}
	return out
}

// markErrors puts the API's field errors ("config.seed") next to their inputs and
// returns the ones no input shows.
func markErrors(fields []field, errs map[string]string) {
	for i := range fields {
		if msg, ok := errs[fields[i].Input]; ok {
			fields[i].Error = msg
			delete(errs, fields[i].Input)
		}
		markErrors(fields[i].Children, errs)
	}
}
