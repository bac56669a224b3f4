package interp

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// loader serves the template itself and nothing else: a template cannot
// include, import or extend another one, so it reads no file.
type loader struct{ src string }

func (l *loader) Read(path string) (io.Reader, error) {
	if path == "template" {
		return strings.NewReader(l.src), nil
	}
	return nil, fmt.Errorf("templates cannot load other templates (%q)", path)
}

func (l *loader) Resolve(path string) (string, error) { return path, nil }

func (l *loader) Inherit(string) (loaders.Loader, error) { return l, nil }

// operatorGlobals are the functions operators and dict literals are
// rewritten to, so that they follow Python: datetime arithmetic and
// comparison, bounded repetition, dicts that are plain values.
var operatorGlobals = map[string]bool{
	"__lakeport_add": true, "__lakeport_sub": true, "__lakeport_mul": true, "__lakeport_dict": true,
	"__lakeport_lt": true, "__lakeport_le": true, "__lakeport_gt": true, "__lakeport_ge": true,
	"__lakeport_dictmethod": true,
}

// dictMethods are the mapping methods templates call most (response.get(…)
// on every page): they run directly on the value, where the engine would
// first copy and print the whole mapping.
var dictMethods = map[string]bool{"get": true, "keys": true, "values": true, "items": true}

// rewrite returns the call that replaces n, or nil to keep it.
func rewrite(n any) nodes.Expression {
	call := func(at *tokens.Token, fn string, args ...nodes.Expression) *nodes.Call {
		name := &tokens.Token{Type: tokens.Name, Val: fn}
		if at != nil {
			name.Line, name.Col = at.Line, at.Col
		}
		return &nodes.Call{Location: at, Func: &nodes.Name{Name: name}, Args: args, Kwargs: map[string]nodes.Expression{}}
	}
	switch x := n.(type) {
	case *nodes.BinaryExpression:
		if fn := operatorFunc(x.Operator.Token.Type); fn != "" {
			return call(x.Operator.Token, fn, x.Left, x.Right)
		}
	case *nodes.Call:
		if ga, ok := x.Func.(*nodes.GetAttribute); ok && dictMethods[ga.Attribute] && len(x.Kwargs) == 0 {
			if recv, ok := ga.Node.(nodes.Expression); ok {
				args := append([]nodes.Expression{recv, &nodes.String{Location: ga.Location, Val: ga.Attribute}}, x.Args...)
				return call(x.Location, "__lakeport_dictmethod", args...)
			}
		}
	case *nodes.Dict:
		var args []nodes.Expression
		for _, p := range x.Pairs {
			args = append(args, p.Key, p.Value)
		}
		return call(x.Token, "__lakeport_dict", args...)
	}
	return nil
}

var nodeType = reflect.TypeFor[nodes.Node]()
var exprType = reflect.TypeFor[nodes.Expression]()

// check walks the tree: every name must be a known variable or macro and
// every filter one lakeport has; +, - and * become calls of operator
// functions.
func (e *Engine) check(root *nodes.Template) error {
	var unknownNames, unknownFilters []string
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	visitNode := func(n reflect.Value) {
		switch x := n.Interface().(type) {
		case *nodes.Name:
			if name := x.Name.Val; !e.known[name] {
				unknownNames = append(unknownNames, name)
			}
		case *nodes.FilterCall:
			if _, ok := e.env.Filters.Get(x.Name); !ok {
				unknownFilters = append(unknownFilters, x.Name)
			}
		}
	}
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			if v.CanSet() && (v.Type() == exprType || v.Type() == nodeType) {
				if r := rewrite(v.Interface()); r != nil {
					v.Set(reflect.ValueOf(r))
				}
			}
			walk(v.Elem())
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if v.Type().Implements(nodeType) || v.Type() == reflect.TypeFor[*nodes.FilterCall]() {
				visitNode(v)
			}
			walk(v.Elem())
		case reflect.Struct:
			t := v.Type()
			if t == reflect.TypeFor[tokens.Token]() {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() || f.Name == "Parent" {
					continue
				}
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			if v.Type().Elem() != exprType && !v.Type().Elem().Implements(nodeType) && v.Type().Elem() != nodeType {
				return
			}
			for _, k := range v.MapKeys() {
				el := v.MapIndex(k)
				if r := rewrite(el.Interface()); r != nil && v.Type().Elem() == exprType {
					v.SetMapIndex(k, reflect.ValueOf(r))
					el = v.MapIndex(k)
				}
				walk(el)
			}
		}
	}
	walk(reflect.ValueOf(root.Nodes))
	var problems []string
	if len(unknownNames) > 0 {
		problems = append(problems, fmt.Sprintf("uses %s, which %s not a variable or macro lakeport knows (variables: %s; macros: %s)",
			quoteList(unknownNames), isAre(unknownNames), strings.Join(Variables, ", "), strings.Join(macroNames(), ", ")))
	}
	if len(unknownFilters) > 0 {
		problems = append(problems, fmt.Sprintf("uses the filter %s, which lakeport does not support (filters: %s)",
			quoteList(unknownFilters), strings.Join(FilterNames(), ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func operatorFunc(t tokens.Type) string {
	switch t {
	case tokens.Addition:
		return "__lakeport_add"
	case tokens.Subtraction:
		return "__lakeport_sub"
	case tokens.Multiply:
		return "__lakeport_mul"
	case tokens.LowerThan:
		return "__lakeport_lt"
	case tokens.LowerThanOrEqual:
		return "__lakeport_le"
	case tokens.GreaterThan:
		return "__lakeport_gt"
	case tokens.GreaterThanOrEqual:
		return "__lakeport_ge"
	}
	return ""
}

func quoteList(names []string) string {
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	q := make([]string, len(out))
	for i, n := range out {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}
