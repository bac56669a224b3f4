package manifest

import (
	"fmt"
	"strings"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

// selector takes the records out of a response.
type selector struct {
	fieldPath []*interp.Template
	filter    *interp.Template
	params    map[string]any
}

func (b *builder) selector(n node) *selector {
	if n.typ() != "RecordSelector" {
		b.fail(n.path, n.typ(), "a record selector must be a RecordSelector")
		return nil
	}
	s := &selector{params: n.params()}
	if ex, ok := n.child("extractor"); ok {
		if ex.typ() != "DpathExtractor" {
			b.fail(ex.path, ex.typ(), "is not an extractor lakeport supports (DpathExtractor)")
		} else {
			switch fp := ex.m["field_path"].(type) {
			case []any:
				for i, e := range fp {
					s.fieldPath = append(s.fieldPath, b.compile(interp.Str(e), fmt.Sprintf("%s.field_path.%d", ex.path, i)))
				}
			case string:
				s.fieldPath = append(s.fieldPath, b.compile(fp, ex.path+".field_path"))
			}
		}
	}
	if f, ok := n.child("record_filter"); ok {
		if f.typ() != "RecordFilter" {
			b.fail(f.path, f.typ(), "is not a record filter lakeport supports (RecordFilter)")
		} else {
			s.filter = f.tmpl("condition")
		}
	}
	return s
}

// extract returns the records of a response body.
func (s *selector) extract(rt *run, body any) ([]map[string]any, error) {
	vars := interp.Vars{"config": rt.config, "parameters": s.params}
	cur := []any{body}
	for _, t := range s.fieldPath {
		if t == nil {
			continue
		}
		key, err := t.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("field_path: %w", err)
		}
		var next []any
		for _, c := range cur {
			switch x := c.(type) {
			case map[string]any:
				if key == "*" {
					for _, v := range x {
						next = append(next, v)
					}
				} else if v, ok := x[key]; ok {
					next = append(next, v)
				}
			case []any:
				if key == "*" {
					next = append(next, x...)
				} else {
					var i int
					if _, err := fmt.Sscan(key, &i); err == nil && i >= 0 && i < len(x) {
						next = append(next, x[i])
					}
				}
			}
		}
		cur = next
	}
	wildcard := false
	for _, t := range s.fieldPath {
		if t != nil && t.Source() == "*" {
			wildcard = true
		}
	}
	var out []map[string]any
	add := func(v any) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	for _, c := range cur {
		switch x := c.(type) {
		case []any:
			for _, e := range x {
				add(e)
			}
		case map[string]any:
			if len(x) > 0 || wildcard {
				add(x)
			}
		}
	}
	return out, nil
}

// keep applies the record filter.
func (s *selector) keep(rt *run, rec map[string]any, v reqVars) (bool, error) {
	if s.filter == nil {
		return true, nil
	}
	vars := v.interp(s.params)
	vars["record"] = rec
	ok, err := s.filter.EvalBool(vars)
	if err != nil {
		return false, fmt.Errorf("record_filter: %w", err)
	}
	return ok, nil
}

// transformation changes a record.
type transformation interface {
	apply(rt *run, rec map[string]any, v reqVars) error
}

type addedField struct {
	path  []string
	value *interp.Template
	typ   string
}

type addFields struct {
	fields []addedField
	params map[string]any
}

type removeFields struct{ pointers [][]string }

type keysToLower struct{}

func (b *builder) transformation(n node) transformation {
	switch n.typ() {
	case "AddFields":
		a := &addFields{params: n.params()}
		for _, f := range n.children("fields") {
			af := addedField{path: toStrings(f.m["path"]), value: f.tmpl("value"), typ: f.str("value_type")}
			if len(af.path) == 0 || !f.has("value") {
				b.fail(f.path, "AddedFieldDefinition", "needs path and value")
				continue
			}
			if af.value == nil {
				continue // its template was refused, with its place
			}
			a.fields = append(a.fields, af)
		}
		return a
	case "RemoveFields":
		r := &removeFields{}
		if l, ok := n.m["field_pointers"].([]any); ok {
			for _, p := range l {
				r.pointers = append(r.pointers, toStrings(p))
			}
		}
		return r
	case "KeysToLower":
		return keysToLower{}
	}
	return nil // reported by the inventory
}

func (a *addFields) apply(rt *run, rec map[string]any, v reqVars) error {
	vars := v.interp(a.params)
	vars["record"] = rec
	for _, f := range a.fields {
		val, err := f.value.Eval(vars)
		if err != nil {
			return fmt.Errorf("AddFields %s: %w", strings.Join(f.path, "."), err)
		}
		switch f.typ {
		case "string":
			val = interp.Str(val)
		case "integer":
			if s, ok := val.(string); ok {
				if n, ok := interp.LiteralEval(s).(int64); ok {
					val = n
				}
			}
		case "number":
			if n, ok := val.(int64); ok {
				val = float64(n)
			}
		}
		if d, ok := val.(interp.Datetime); ok {
			val = interp.Str(d)
		}
		cur := rec
		for _, p := range f.path[:len(f.path)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[f.path[len(f.path)-1]] = val
	}
	return nil
}

func (r *removeFields) apply(_ *run, rec map[string]any, _ reqVars) error {
	for _, p := range r.pointers {
		removePath(rec, p)
	}
	return nil
}

func removePath(m map[string]any, path []string) {
	if len(path) == 0 {
		return
	}
	keys := []string{path[0]}
	if path[0] == "*" || path[0] == "**" {
		keys = keys[:0]
		for k := range m {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if len(path) == 1 {
			delete(m, k)
			continue
		}
		switch x := m[k].(type) {
		case map[string]any:
			removePath(x, path[1:])
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					removePath(em, path[1:])
				}
			}
		}
	}
}

func (keysToLower) apply(_ *run, rec map[string]any, _ reqVars) error {
	for k, v := range rec {
		if l := strings.ToLower(k); l != k {
			delete(rec, k)
			rec[l] = v
		}
	}
	return nil
}
