package interp

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/lakeport/lakeport/source/manifest/dtfmt"
)

// Datetime is a Python datetime (or date, when DateOnly) inside a template.
type Datetime struct {
	T        time.Time
	DateOnly bool
}

// String is Python's str(): "2024-01-02 03:04:05+00:00", microseconds when
// there are any; a date is "2024-01-02".
func (d Datetime) String() string {
	if d.DateOnly {
		return d.T.Format("2006-01-02")
	}
	if d.T.Nanosecond()/1000 != 0 {
		return d.T.Format("2006-01-02 15:04:05.000000-07:00")
	}
	return d.T.Format("2006-01-02 15:04:05-07:00")
}

// GetAttribute gives templates the datetime methods manifests call.
func (d Datetime) GetAttribute(name string) (*exec.Value, bool) {
	switch name {
	case "strftime":
		return exec.AsValue(func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("strftime() takes one format")
			}
			s, err := dtfmt.Format(d.T, args.Args[0].String())
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(s)
		}), true
	case "isoformat":
		return exec.AsValue(func(*exec.VarArgs) *exec.Value {
			if d.DateOnly {
				return exec.AsValue(d.T.Format("2006-01-02"))
			}
			if d.T.Nanosecond()/1000 != 0 {
				return exec.AsValue(d.T.Format("2006-01-02T15:04:05.000000-07:00"))
			}
			return exec.AsValue(d.T.Format("2006-01-02T15:04:05-07:00"))
		}), true
	case "timestamp":
		return exec.AsValue(func(*exec.VarArgs) *exec.Value {
			return exec.AsValue(float64(d.T.UnixNano()) / 1e9)
		}), true
	case "date":
		return exec.AsValue(func(*exec.VarArgs) *exec.Value {
			return exec.AsValue(Datetime{T: d.T.Truncate(24 * time.Hour), DateOnly: true})
		}), true
	case "astimezone", "replace":
		return exec.AsValue(func(*exec.VarArgs) *exec.Value { return exec.AsValue(d) }), true
	case "year":
		return exec.AsValue(d.T.Year()), true
	case "month":
		return exec.AsValue(int(d.T.Month())), true
	case "day":
		return exec.AsValue(d.T.Day()), true
	case "hour":
		return exec.AsValue(d.T.Hour()), true
	case "minute":
		return exec.AsValue(d.T.Minute()), true
	case "second":
		return exec.AsValue(d.T.Second()), true
	case "microsecond":
		return exec.AsValue(d.T.Nanosecond() / 1000), true
	}
	return nil, false
}

// Timedelta is a Python timedelta (or isodate Duration) inside a template.
type Timedelta struct{ D dtfmt.Duration }

func (t Timedelta) String() string { return t.D.String() }

// GetAttribute gives templates total_seconds(), days and seconds.
func (t Timedelta) GetAttribute(name string) (*exec.Value, bool) {
	switch name {
	case "total_seconds":
		return exec.AsValue(func(*exec.VarArgs) *exec.Value { return exec.AsValue(t.D.Approx().Seconds()) }), true
	case "days":
		return exec.AsValue(int(t.D.Approx() / (24 * time.Hour))), true
	case "seconds":
		return exec.AsValue(int((t.D.Approx() % (24 * time.Hour)) / time.Second)), true
	}
	return nil, false
}

// Normalize turns decoded JSON (json.Number, float64 holding integers,
// []any, map[string]any) and engine values into the values templates use:
// integers are int64, other numbers float64.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64, Datetime, Timedelta:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = Normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = Normalize(e)
		}
		return x
	case *exec.Value:
		return fromValue(x)
	case *exec.Dict:
		out := make(map[string]any, len(x.Pairs))
		for _, p := range x.Pairs {
			out[p.Key.String()] = fromValue(p.Value)
		}
		return out
	case error:
		return x.Error()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	case reflect.Float32:
		return rv.Float()
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			out[fmt.Sprint(k.Interface())] = Normalize(rv.MapIndex(k).Interface())
		}
		return out
	case reflect.Chan:
		return nil
	}
	return v
}

// Str is Python's str() of a value: True/False/None, lists and dicts in
// their Python form.
func Str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return pyFloat(x)
	case fmt.Stringer:
		return x.String()
	}
	var b strings.Builder
	repr(&b, v)
	return b.String()
}

func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == math.Trunc(f) && math.Abs(f) < 1e16:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// repr writes Python's repr() of v.
func repr(b *strings.Builder, v any) {
	_ = nested(b, v, func(b *strings.Builder, v any) error {
		switch x := v.(type) {
		case nil:
			b.WriteString("None")
		case string:
			b.WriteString("'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", `\'`) + "'")
		default:
			b.WriteString(Str(v))
		}
		return nil
	})
}

// nested writes lists and mappings as Python prints them (", " and ": "
// between items, keys sorted), each scalar and key with scalar.
func nested(b *strings.Builder, v any, scalar func(*strings.Builder, any) error) error {
	switch x := v.(type) {
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := nested(b, e, scalar); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := scalar(b, k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := nested(b, x[k], scalar); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return scalar(b, v)
	}
	return nil
}

// Truthy is Python's bool().
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case int:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case Timedelta:
		return !x.D.IsZero()
	}
	return true
}

// Plain makes v encodable as JSON: datetimes become their string.
func Plain(v any) any {
	switch x := v.(type) {
	case Datetime, Timedelta:
		return Str(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Plain(e)
		}
		return out
	}
	return v
}

func twoArgs(args *exec.VarArgs) (any, any, error) {
	if len(args.Args) != 2 {
		return nil, nil, fmt.Errorf("an operator needs two operands")
	}
	return fromValue(args.Args[0]), fromValue(args.Args[1]), nil
}

func asNumber(v any) (float64, bool, bool) { // value, isInt, ok
	switch x := v.(type) {
	case int64:
		return float64(x), true, true
	case float64:
		return x, false, true
	case bool:
		if x {
			return 1, true, true
		}
		return 0, true, true
	}
	return 0, false, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case Datetime:
		return "datetime"
	case Timedelta:
		return "timedelta"
	}
	return fmt.Sprintf("%T", v)
}

func opAdd(args *exec.VarArgs) *exec.Value {
	a, b, err := twoArgs(args)
	if err != nil {
		return exec.AsValue(err)
	}
	switch x := a.(type) {
	case Datetime:
		if d, ok := b.(Timedelta); ok {
			return exec.AsValue(Datetime{T: d.D.AddTo(x.T, 1), DateOnly: x.DateOnly})
		}
	case Timedelta:
		if dt, ok := b.(Datetime); ok {
			return exec.AsValue(Datetime{T: x.D.AddTo(dt.T, 1), DateOnly: dt.DateOnly})
		}
		if d, ok := b.(Timedelta); ok {
			return exec.AsValue(Timedelta{D: dtfmt.Duration{Months: x.D.Months + d.D.Months, Days: x.D.Days + d.D.Days, Exact: x.D.Exact + d.D.Exact}})
		}
	case string:
		if y, ok := b.(string); ok {
			if len(x)+len(y) > MaxOutputBytes {
				return errValue("a string of more than %d bytes", MaxOutputBytes)
			}
			return exec.AsValue(x + y)
		}
	case []any:
		if y, ok := b.([]any); ok {
			out := make([]any, 0, len(x)+len(y))
			return exec.AsValue(append(append(out, x...), y...))
		}
	}
	if fa, ia, ok := asNumber(a); ok {
		if fb, ib, ok := asNumber(b); ok {
			if ia && ib {
				return exec.AsValue(int64(fa) + int64(fb))
			}
			return exec.AsValue(fa + fb)
		}
	}
	return errValue("unsupported operand types for +: '%s' and '%s'", typeName(a), typeName(b))
}

func opSub(args *exec.VarArgs) *exec.Value {
	a, b, err := twoArgs(args)
	if err != nil {
		return exec.AsValue(err)
	}
	if x, ok := a.(Datetime); ok {
		switch y := b.(type) {
		case Timedelta:
			return exec.AsValue(Datetime{T: y.D.AddTo(x.T, -1), DateOnly: x.DateOnly})
		case Datetime:
			return exec.AsValue(Timedelta{D: dtfmt.Duration{Exact: x.T.Sub(y.T)}})
		}
	}
	if fa, ia, ok := asNumber(a); ok {
		if fb, ib, ok := asNumber(b); ok {
			if ia && ib {
				return exec.AsValue(int64(fa) - int64(fb))
			}
			return exec.AsValue(fa - fb)
		}
	}
	return errValue("unsupported operand types for -: '%s' and '%s'", typeName(a), typeName(b))
}

func opMul(args *exec.VarArgs) *exec.Value {
	a, b, err := twoArgs(args)
	if err != nil {
		return exec.AsValue(err)
	}
	repeat := func(unit int, n int64) error {
		if n > 0 && int64(unit)*n > MaxRepeatBytes {
			return fmt.Errorf("repetition would build more than %d bytes", MaxRepeatBytes)
		}
		return nil
	}
	if _, ok := a.(int64); ok {
		if _, ok := b.(string); ok {
			a, b = b, a
		} else if _, ok := b.([]any); ok {
			a, b = b, a
		}
	}
	switch x := a.(type) {
	case string:
		if n, ok := b.(int64); ok {
			if err := repeat(len(x), n); err != nil {
				return exec.AsValue(err)
			}
			if n < 0 {
				n = 0
			}
			return exec.AsValue(strings.Repeat(x, int(n)))
		}
	case []any:
		if n, ok := b.(int64); ok {
			if err := repeat(len(x)*16, n); err != nil {
				return exec.AsValue(err)
			}
			out := []any{}
			for i := int64(0); i < n; i++ {
				out = append(out, x...)
			}
			return exec.AsValue(out)
		}
	}
	if fa, ia, ok := asNumber(a); ok {
		if fb, ib, ok := asNumber(b); ok {
			if ia && ib {
				return exec.AsValue(int64(fa) * int64(fb))
			}
			return exec.AsValue(fa * fb)
		}
	}
	return errValue("unsupported operand types for *: '%s' and '%s'", typeName(a), typeName(b))
}

func newDict(args *exec.VarArgs) *exec.Value {
	m := make(map[string]any, len(args.Args)/2)
	for i := 0; i+1 < len(args.Args); i += 2 {
		m[Str(fromValue(args.Args[i]))] = fromValue(args.Args[i+1])
	}
	return exec.AsValue(m)
}

func comparison(ok func(int) bool) func(*exec.VarArgs) *exec.Value {
	return func(args *exec.VarArgs) *exec.Value {
		a, b, err := twoArgs(args)
		if err != nil {
			return exec.AsValue(err)
		}
		c, err := compare(a, b)
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(ok(c))
	}
}

// pyJSON writes v as Python's json.dumps does (", " and ": " separators).
func pyJSON(b *strings.Builder, v any) error {
	return nested(b, v, func(b *strings.Builder, v any) error {
		eb, err := json.Marshal(Plain(v))
		if err != nil {
			return err
		}
		b.Write(eb)
		return nil
	})
}

// dictMethod runs get, keys, values or items on a mapping without copying it.
func dictMethod(args *exec.VarArgs) *exec.Value {
	if len(args.Args) < 2 {
		return errValue("a method needs its receiver")
	}
	name := args.Args[1].String()
	var m map[string]any
	switch x := args.Args[0].Interface().(type) {
	case map[string]any:
		m = x
	case *exec.Dict:
		m, _ = fromValue(args.Args[0]).(map[string]any)
	case nil:
		return errValue("'NoneType' object has no attribute '%s'", name)
	default:
		return errValue("'%s' object has no attribute '%s'", typeName(Normalize(x)), name)
	}
	rest := args.Args[2:]
	switch name {
	case "get":
		if len(rest) < 1 || len(rest) > 2 {
			return errValue("get() takes a key and an optional default")
		}
		if v, ok := m[Str(fromValue(rest[0]))]; ok {
			return exec.AsValue(v)
		}
		if len(rest) == 2 {
			return rest[1]
		}
		return exec.AsValue(nil)
	case "keys", "values", "items":
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			switch name {
			case "keys":
				out[i] = k
			case "values":
				out[i] = m[k]
			default:
				out[i] = []any{k, m[k]}
			}
		}
		return exec.AsValue(out)
	}
	return errValue("unknown method %s", name)
}
