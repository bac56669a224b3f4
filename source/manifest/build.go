package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/source/manifest/dtfmt"
	"github.com/lakeport/lakeport/source/manifest/interp"
)

// builder turns the resolved tree into runtime components, collecting every
// problem (with its JSON path) rather than stopping at the first.
type builder struct {
	eng      *interp.Engine
	opts     Options
	problems []Problem
	streams  map[string]*stream // by path, so a parent stream used twice is built once
}

// Problem is something in a manifest lakeport cannot run, at a JSON path.
type Problem struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	if p.Type != "" {
		return fmt.Sprintf("%s (%s): %s", p.Path, p.Type, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Msg)
}

func (b *builder) fail(path, typ, format string, args ...any) {
	b.problems = append(b.problems, Problem{Path: path, Type: typ, Msg: fmt.Sprintf(format, args...)})
}

// node is one mapping of the tree with its path.
type node struct {
	m    map[string]any
	path string
	b    *builder
}

func (n node) typ() string { s, _ := n.m["type"].(string); return s }

func (n node) has(key string) bool { v, ok := n.m[key]; return ok && v != nil }

func (n node) params() map[string]any {
	p, _ := n.m["$parameters"].(map[string]any)
	return p
}

func (n node) child(key string) (node, bool) {
	m, ok := n.m[key].(map[string]any)
	if !ok {
		return node{}, false
	}
	return node{m: m, path: document.Path(n.path, key), b: n.b}, true
}

func (n node) children(key string) []node {
	l, _ := n.m[key].([]any)
	var out []node
	for i, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, node{m: m, path: document.Path(document.Path(n.path, key), strconv.Itoa(i)), b: n.b})
		} else {
			n.b.fail(document.Path(document.Path(n.path, key), strconv.Itoa(i)), "", "must be a component (a mapping with a type)")
		}
	}
	return out
}

func (n node) str(key string) string {
	switch v := n.m[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return interp.Str(v)
	}
}

func (n node) boolean(key string, def bool) bool {
	switch v := n.m[key].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "True"
	}
	return def
}

func (n node) integer(key string, def int64) int64 {
	switch v := n.m[key].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return i
		}
	}
	return def
}

// tmpl compiles a string field as a template (nil when absent).
func (n node) tmpl(key string) *interp.Template {
	v, ok := n.m[key]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		s = interp.Str(v)
		if _, isList := v.([]any); isList {
			var b strings.Builder
			b.WriteString(reprJSON(v))
			s = b.String()
		}
	}
	return n.b.compile(s, document.Path(n.path, key))
}

func reprJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (b *builder) compile(s, path string) *interp.Template {
	t, err := b.eng.Compile(s)
	if err != nil {
		b.fail(path, "", "%v", err)
		return nil
	}
	return t
}

// value compiles every string inside v (a mapping, list or scalar) as a
// template, keeping the shape.
func (b *builder) value(v any, path string) any {
	switch x := v.(type) {
	case string:
		return b.compile(x, path)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = b.value(e, document.Path(path, k))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = b.value(e, document.Path(path, strconv.Itoa(i)))
		}
		return out
	}
	return v
}

// build checks that every component is one lakeport runs, then builds the
// streams.
func (b *builder) build(doc *document.Document) (*runtime, error) {
	for _, c := range doc.Components {
		if why, ok := unsupported(c.Type); ok {
			b.fail(c.Path, c.Type, "%s", why)
		}
	}
	rt := &runtime{}
	root := node{m: doc.Root, b: b}
	for _, s := range root.children("streams") {
		if st := b.stream(s); st != nil {
			rt.streams = append(rt.streams, st)
		}
	}
	seen := map[string]bool{}
	for _, s := range rt.streams {
		if seen[s.name] {
			b.fail("streams", "", "two streams are named %q", s.name)
		}
		seen[s.name] = true
	}
	if c, ok := root.child("check"); ok {
		for _, n := range toStrings(c.m["stream_names"]) {
			if !seen[n] {
				b.fail(document.Path(c.path, "stream_names"), c.typ(), "names %q, which is not one of the streams", n)
			}
			rt.check = append(rt.check, n)
		}
	}
	if len(rt.check) == 0 && len(rt.streams) > 0 {
		rt.check = []string{rt.streams[0].name}
	}
	if s, ok := root.child("spec"); ok {
		cs, ok := s.m["connection_specification"].(map[string]any)
		if !ok {
			b.fail(document.Path(s.path, "connection_specification"), "Spec", "is missing: the spec names the config fields")
		} else {
			raw, _ := json.Marshal(cs)
			rt.spec = raw
			rt.docURL = s.str("documentation_url")
		}
	} else {
		rt.spec = json.RawMessage(`{"type":"object","properties":{},"additionalProperties":true}`)
	}
	if bud, ok := root.child("api_budget"); ok {
		rt.rate = budgetRate(bud)
	}
	if len(b.problems) > 0 {
		return nil, &UnsupportedError{Problems: b.problems}
	}
	return rt, nil
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		out = append(out, interp.Str(e))
	}
	return out
}

// budgetRate reads the simplest api_budget policies (a rate of calls per
// interval) as requests per second.
func budgetRate(n node) float64 {
	best := 0.0
	for _, p := range n.children("policies") {
		for _, r := range p.children("rates") {
			limit := float64(r.integer("limit", 0))
			d, err := dtfmt.ParseDuration(r.str("interval"))
			if limit > 0 && err == nil && d.Approx() > 0 {
				rate := limit / d.Approx().Seconds()
				if best == 0 || rate < best {
					best = rate
				}
			}
		}
	}
	return best
}

func (b *builder) stream(n node) *stream {
	if b.streams == nil {
		b.streams = map[string]*stream{}
	}
	if n.typ() != "DeclarativeStream" {
		b.fail(n.path, n.typ(), "a stream must be a DeclarativeStream")
		return nil
	}
	st := &stream{name: n.str("name"), path: n.path, params: n.params()}
	if st.name == "" {
		b.fail(n.path, "DeclarativeStream", "has no name")
	}
	switch pk := n.m["primary_key"].(type) {
	case string:
		if pk != "" {
			st.primaryKey = [][]string{{pk}}
		}
	case []any:
		for _, e := range pk {
			switch x := e.(type) {
			case []any:
				st.primaryKey = append(st.primaryKey, toStrings(x))
			default:
				st.primaryKey = append(st.primaryKey, []string{interp.Str(x)})
			}
		}
	}
	st.schema = b.schema(n, st.name)
	r, ok := n.child("retriever")
	if !ok {
		b.fail(n.path, "DeclarativeStream", "has no retriever")
		return st
	}
	st.retriever = b.retriever(r)
	if inc, ok := n.child("incremental_sync"); ok {
		st.cursor = b.cursor(inc)
	}
	for _, t := range n.children("transformations") {
		if tr := b.transformation(t); tr != nil {
			st.transformations = append(st.transformations, tr)
		}
	}
	return st
}

// permissive is the schema of a stream whose manifest gives none: any
// object; the sync adds columns as fields appear.
var permissive = json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":true,"properties":{}}`)

func (b *builder) schema(n node, name string) json.RawMessage {
	sl, ok := n.child("schema_loader")
	if !ok {
		return permissive
	}
	switch sl.typ() {
	case "InlineSchemaLoader":
		s, ok := sl.m["schema"].(map[string]any)
		if !ok {
			return permissive
		}
		raw, err := json.Marshal(s)
		if err != nil {
			b.fail(sl.path, "InlineSchemaLoader", "schema: %v", err)
		}
		return raw
	case "JsonFileSchemaLoader":
		file := sl.str("file_path")
		if b.opts.ManifestDir == "" {
			if file == "" {
				// The CDK's default path points into a Python package that
				// does not exist here: infer the schema from records.
				return permissive
			}
			b.fail(sl.path, "JsonFileSchemaLoader", "reads %s, but a manifest sent with a connector cannot read files: put the schema inline (InlineSchemaLoader), or ask the operator to publish the manifest with its schemas (serve --manifests-dir)", file)
			return nil
		}
		if file == "" {
			file = filepath.Join("schemas", name+".json")
		}
		t := b.compile(file, document.Path(sl.path, "file_path"))
		if t == nil {
			return nil
		}
		rel, err := t.Render(interp.Vars{"parameters": sl.params()})
		if err != nil {
			b.fail(sl.path, "JsonFileSchemaLoader", "%v", err)
			return nil
		}
		raw, err := readBeside(b.opts.ManifestDir, rel)
		if err != nil {
			b.fail(sl.path, "JsonFileSchemaLoader", "%v", err)
			return nil
		}
		return raw
	}
	b.fail(sl.path, sl.typ(), "is not a schema loader lakeport supports (InlineSchemaLoader, JsonFileSchemaLoader)")
	return nil
}

// readBeside reads a JSON file under dir, refusing any path that leaves it
// (.., absolute paths, symbolic links out).
func readBeside(dir, rel string) (json.RawMessage, error) {
	rel = strings.TrimPrefix(rel, "./")
	// The CDK's paths start with the Python package name: source_x/schemas/…
	if i := strings.Index(rel, "schemas/"); i > 0 && !strings.Contains(rel[:i], "..") {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			rel = rel[i:]
		}
	}
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s is outside the manifest's folder", rel)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("schema file: %w", err)
	}
	defer f.Close()
	var v map[string]any
	if err := json.NewDecoder(f).Decode(&v); err != nil {
		return nil, fmt.Errorf("schema file %s: %w", rel, err)
	}
	raw, _ := json.Marshal(v)
	return raw, nil
}

// unsupportedTypes are component types lakeport refuses, with why.
func unsupported(t string) (string, bool) {
	if strings.HasPrefix(t, "Custom") {
		return "runs Python code from the connector's package, which lakeport does not run; only declarative components are supported", true
	}
	if supported[t] {
		return "", false
	}
	return "is not a component lakeport runs (lakeport sources check-manifest lists what it supports)", true
}

var supported = map[string]bool{}

func init() {
	for _, t := range []string{
		"DeclarativeSource", "DeclarativeStream", "SimpleRetriever", "HttpRequester", "RecordSelector",
		"DpathExtractor", "RecordFilter", "InlineSchemaLoader", "JsonFileSchemaLoader", "CheckStream", "Spec",
		"NoAuth", "ApiKeyAuthenticator", "BearerAuthenticator", "BasicHttpAuthenticator", "OAuthAuthenticator",
		"SessionTokenAuthenticator", "SelectiveAuthenticator", "ApiKey", "Bearer",
		"DefaultPaginator", "NoPagination", "CursorPagination", "OffsetIncrement", "PageIncrement",
		"RequestOption", "RequestPath", "DatetimeBasedCursor", "MinMaxDatetime",
		"ListPartitionRouter", "SubstreamPartitionRouter", "ParentStreamConfig",
		"DefaultErrorHandler", "CompositeErrorHandler", "HttpResponseFilter",
		"ConstantBackoffStrategy", "ExponentialBackoffStrategy", "WaitTimeFromHeader", "WaitUntilTimeFromHeader",
		"AddFields", "AddedFieldDefinition", "RemoveFields", "KeysToLower", "JsonDecoder", "JsonlDecoder",
	} {
		supported[t] = true
	}
}

// SupportedTypes lists the component types lakeport runs.
func SupportedTypes() []string {
	out := make([]string, 0, len(supported))
	for t := range supported {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// UnsupportedError lists what in a manifest lakeport cannot run.
type UnsupportedError struct{ Problems []Problem }

func (e *UnsupportedError) Error() string {
	var b strings.Builder
	b.WriteString("manifest: lakeport cannot run this manifest:")
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-20)
			break
		}
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
