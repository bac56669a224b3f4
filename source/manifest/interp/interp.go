// Package interp evaluates the Jinja expressions of Airbyte declarative
// manifests as the Python CDK does: the template is rendered with Jinja
// (gonja, a Go Jinja engine, extended here with the CDK's macros, filters and
// Python value semantics) and the result is read back as a Python literal,
// so "{{ 3 }}" yields the number 3 and "{{ ['a'] }}" a list. A template that
// is one whole expression yields that expression's value with its type.
//
// Templates come from manifests a tenant wrote, so evaluation is bounded:
// only expressions and {% if %} blocks (no loops, macros, includes or
// imports: nothing reads a file), a template size limit, a cap on what
// repetition can build, and a panic in the engine becomes an error.
package interp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/logging"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Limits on what one template may be and build.
const (
	MaxTemplateBytes = 16 << 10
	MaxOutputBytes   = 4 << 20
	MaxRepeatBytes   = 1 << 20
)

// ErrTemplate is wrapped by every error about a template: one that does not
// parse, uses what lakeport does not support, or fails when evaluated.
var ErrTemplate = errors.New("interpolation")

// Error is a template that could not be compiled or evaluated.
type Error struct {
	Template string
	Msg      string
}

func (e *Error) Error() string {
	t := e.Template
	if len(t) > 200 {
		t = t[:200] + "…"
	}
	return fmt.Sprintf("template %q: %s", t, e.Msg)
}

func (e *Error) Unwrap() error { return ErrTemplate }

// Variables are the names a template may use besides the macros. The CDK
// aliases stream_interval and stream_partition to stream_slice.
var Variables = []string{
	"config", "parameters", "stream_slice", "stream_interval", "stream_partition", "stream_state",
	"next_page_token", "response", "headers", "last_record", "last_page_size", "record",
	"creation_response", "stream_name",
}

// Vars are the values of the variables for one evaluation. Values are what
// encoding/json decodes (numbers may be int64 or float64; see Normalize).
type Vars map[string]any

// Engine compiles templates. Its zero value is not usable; use New.
type Engine struct {
	env   *exec.Environment
	cfg   *config.Config
	known map[string]bool
	// Now is the clock of now_utc(), today_utc() and day_delta().
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]*Template
}

// New returns an engine with the CDK's macros and filters.
func New() *Engine {
	e := &Engine{cfg: config.New(), Now: time.Now, cache: map[string]*Template{}}
	e.cfg.StrictUndefined = false
	e.cfg.AutoEscape = false
	logging.SetEnabled(false)
	e.env = newEnvironment(e)
	e.known = map[string]bool{}
	for _, v := range Variables {
		e.known[v] = true
	}
	for name := range e.macros() {
		e.known[name] = true
	}
	for name := range operatorGlobals {
		e.known[name] = true
	}
	return e
}

// Template is a compiled template, safe for concurrent use.
type Template struct {
	src    string
	static bool
	tpl    *exec.Template
	root   *nodes.Template
	single *nodes.Output // the template is this one {{ expression }}
	engine *Engine
}

// IsTemplate reports whether s holds Jinja markup at all.
func IsTemplate(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "{%") }

// Compile parses src. A string without Jinja markup compiles to itself. The
// error names the construct lakeport refuses: an unknown variable, filter or
// statement, or a template over the size limit.
func (e *Engine) Compile(src string) (*Template, error) {
	e.mu.Lock()
	t, ok := e.cache[src]
	e.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := e.compile(src)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.cache) > 4096 {
		e.cache = map[string]*Template{}
	}
	e.cache[src] = t
	e.mu.Unlock()
	return t, nil
}

func (e *Engine) compile(src string) (t *Template, err error) {
	t = &Template{src: src, engine: e}
	if !IsTemplate(src) {
		t.static = true
		return t, nil
	}
	if len(src) > MaxTemplateBytes {
		return nil, &Error{Template: src, Msg: fmt.Sprintf("is %d bytes; templates are limited to %d", len(src), MaxTemplateBytes)}
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &Error{Template: src, Msg: fmt.Sprintf("cannot be parsed: %v", r)}
		}
	}()
	// Python keeps an unknown escape in a string literal ("\/" is a backslash and a
	// slash); the engine's lexer refuses it, so it gets the backslash doubled.
	code := pythonEscapes(src)
	ld := &loader{src: code}
	t.tpl, err = exec.NewTemplate("template", e.cfg, ld, e.env)
	if err != nil {
		return nil, &Error{Template: src, Msg: cleanParseError(err)}
	}
	// A second parse gives us a tree of our own to check and rewrite; the
	// engine's Template keeps its own private copy.
	t.root, err = parser.NewParser("template", tokens.LexAll(code, e.cfg), e.cfg, ld, e.env.ControlStructures).Parse()
	if err != nil {
		return nil, &Error{Template: src, Msg: cleanParseError(err)}
	}
	if err := e.check(t.root); err != nil {
		return nil, &Error{Template: src, Msg: err.Error()}
	}
	if len(t.root.Nodes) == 1 {
		if o, ok := t.root.Nodes[0].(*nodes.Output); ok {
			t.single = o
		}
	}
	return t, nil
}

func cleanParseError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "': "); i >= 0 && strings.HasPrefix(msg, "failed to parse template") {
		msg = msg[i+3:]
	}
	return "cannot be parsed: " + msg
}

// Source returns the template's text.
func (t *Template) Source() string { return t.src }

// Static reports whether the template has no Jinja markup.
func (t *Template) Static() bool { return t.static }

// Render returns the rendered text, with no literal evaluation.
func (t *Template) Render(vars Vars) (string, error) {
	if t.static {
		return t.src, nil
	}
	if t.single != nil {
		v, err := t.evalSingle(vars)
		if err != nil {
			return "", err
		}
		return Str(v), nil
	}
	var buf limitedBuffer
	if err := t.run(vars, func(r *exec.Renderer) error {
		r.Output = &buf
		return r.Execute()
	}); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Eval returns the template's value as the CDK's interpolation does: the
// rendered text read as a Python literal when it is one (a number, True,
// None, a list…), otherwise the text. A template that is one expression
// yields its value directly. An empty result is nil.
func (t *Template) Eval(vars Vars) (any, error) {
	if t.static {
		return LiteralEval(t.src), nil
	}
	if t.single != nil {
		v, err := t.evalSingle(vars)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			if x == "" {
				return nil, nil
			}
			return LiteralEval(x), nil
		}
		return v, nil
	}
	s, err := t.Render(vars)
	if err != nil || s == "" {
		return nil, err
	}
	return LiteralEval(s), nil
}

// EvalBool evaluates a condition as the CDK's InterpolatedBoolean does:
// false for False, 0, empty strings and empty collections (also when they
// are rendered as text: "False", "0", "[]"…), true for anything else.
func (t *Template) EvalBool(vars Vars) (bool, error) {
	v, err := t.Eval(vars)
	if err != nil {
		return false, err
	}
	switch x := v.(type) {
	case string:
		switch strings.TrimSpace(x) {
		case "False", "false", "{}", "[]", "()", "", "0", "0.0":
			return false, nil
		}
		return true, nil
	}
	return Truthy(v), nil
}

func (t *Template) evalSingle(vars Vars) (v any, err error) {
	err = t.run(vars, func(r *exec.Renderer) error {
		o := t.single
		expr := o.Expression
		if o.Condition != nil {
			c := r.Eval(o.Condition)
			if c.IsError() {
				return c
			}
			if c.IsNil() || !c.IsTrue() {
				if o.Alternative == nil {
					v = nil
					return nil
				}
				expr = o.Alternative
			}
		}
		val := r.Eval(expr)
		if val.IsError() {
			return val
		}
		v = fromValue(val)
		return nil
	})
	return v, err
}

func (t *Template) run(vars Vars, f func(*exec.Renderer) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Template: t.src, Msg: fmt.Sprintf("failed: %v", r)}
		}
	}()
	ctx := exec.NewContext(t.engine.contextFor(vars))
	r := &exec.Renderer{
		Config: t.engine.cfg.Inherit(),
		Environment: &exec.Environment{
			Context:           t.engine.env.Context.Inherit().Update(ctx),
			Filters:           t.engine.env.Filters,
			Tests:             t.engine.env.Tests,
			ControlStructures: t.engine.env.ControlStructures,
			Methods:           t.engine.env.Methods,
		},
		Loader:   &loader{src: pythonEscapes(t.src)},
		Template: t.tpl,
		RootNode: t.root,
	}
	if err := f(r); err != nil {
		return &Error{Template: t.src, Msg: "failed: " + cleanRuntimeError(err)}
	}
	return nil
}

func cleanRuntimeError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "unable to execute template: ")
	return msg
}

func (e *Engine) contextFor(vars Vars) map[string]any {
	m := make(map[string]any, len(vars)+4)
	for k, v := range vars {
		m[k] = v
	}
	if s, ok := m["stream_slice"]; ok {
		if _, ok := m["stream_interval"]; !ok {
			m["stream_interval"] = s
		}
		if _, ok := m["stream_partition"]; !ok {
			m["stream_partition"] = s
		}
	}
	for _, name := range Variables {
		if _, ok := m[name]; !ok {
			m[name] = nil
		}
	}
	return m
}

// limitedBuffer refuses to grow past MaxOutputBytes.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxOutputBytes {
		return 0, fmt.Errorf("the rendered text would exceed %d bytes", MaxOutputBytes)
	}
	return b.Buffer.Write(p)
}

// fromValue turns an engine value into a plain Go value.
func fromValue(v *exec.Value) any {
	if v == nil || v.IsNil() {
		return nil
	}
	return Normalize(v.Interface())
}

// pythonEscapes doubles the backslash of every escape Python does not know
// inside the string literals of a template's markup ({{ }} and {% %}), which
// Python keeps as they are: "\/" stays a backslash and a slash.
func pythonEscapes(src string) string {
	if !strings.Contains(src, "\\") {
		return src
	}
	var b strings.Builder
	inMarkup := false
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case !inMarkup:
			if c == '{' && i+1 < len(src) && (src[i+1] == '{' || src[i+1] == '%') {
				inMarkup = true
			}
		case quote == 0:
			if c == '\'' || c == '"' {
				quote = c
			} else if (c == '}' || c == '%') && i+1 < len(src) && src[i+1] == '}' {
				inMarkup = false
			}
		case c == '\\' && i+1 < len(src):
			if !strings.ContainsRune("\\'\"abfnrtvxuUN01234567", rune(src[i+1])) {
				b.WriteString("\\\\")
				continue
			}
			b.WriteByte(c)
			i++
			c = src[i]
		case c == quote:
			quote = 0
		}
		b.WriteByte(c)
	}
	return b.String()
}
