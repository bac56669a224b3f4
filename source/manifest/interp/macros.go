package interp

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/lakeport/lakeport/source/manifest/dtfmt"
)

type macro = func(*exec.VarArgs) *exec.Value

// macros are the CDK's global functions.
func (e *Engine) macros() map[string]macro {
	now := func() time.Time {
		if e.Now == nil {
			return time.Now().UTC()
		}
		return e.Now().UTC()
	}
	return map[string]macro{
		"now_utc": func(*exec.VarArgs) *exec.Value { return exec.AsValue(Datetime{T: now()}) },
		"today_utc": func(*exec.VarArgs) *exec.Value {
			return exec.AsValue(Datetime{T: now().Truncate(24 * time.Hour), DateOnly: true})
		},
		"today_with_timezone": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("today_with_timezone() takes one IANA zone name")
			}
			loc, err := time.LoadLocation(args.Args[0].String())
			if err != nil {
				return errValue("today_with_timezone(%q): %v", args.Args[0].String(), err)
			}
			t := now().In(loc)
			return exec.AsValue(Datetime{T: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), DateOnly: true})
		},
		"timestamp": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("timestamp() takes one value")
			}
			switch x := fromValue(args.Args[0]).(type) {
			case int64:
				return exec.AsValue(x)
			case float64:
				return exec.AsValue(int64(x))
			case Datetime:
				return exec.AsValue(x.T.Unix())
			case string:
				t, err := dtfmt.ParseAny(x)
				if err != nil {
					return exec.AsValue(err)
				}
				return exec.AsValue(t.Unix())
			default:
				return errValue("timestamp() cannot read a %s", typeName(x))
			}
		},
		"str_to_datetime": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("str_to_datetime() takes one string")
			}
			t, err := dtfmt.ParseAny(args.Args[0].String())
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(Datetime{T: t})
		},
		"max": func(args *exec.VarArgs) *exec.Value { return extreme(args, 1) },
		"min": func(args *exec.VarArgs) *exec.Value { return extreme(args, -1) },
		"day_delta": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) < 1 || len(args.Args) > 2 {
				return errValue("day_delta() takes a number of days and an optional format")
			}
			days, ok := fromValue(args.Args[0]).(int64)
			if !ok {
				return errValue("day_delta(): the number of days must be an integer")
			}
			format := "%Y-%m-%dT%H:%M:%S.%f%z"
			if f, ok := args.KwArgs["format"]; ok {
				format = f.String()
			} else if len(args.Args) == 2 {
				format = args.Args[1].String()
			}
			s, err := dtfmt.Format(now().AddDate(0, 0, int(days)), format)
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(s)
		},
		"duration": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("duration() takes one ISO 8601 duration")
			}
			d, err := dtfmt.ParseDuration(args.Args[0].String())
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(Timedelta{D: d})
		},
		"format_datetime": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) < 2 || len(args.Args) > 3 {
				return errValue("format_datetime() takes a datetime, a format and an optional input format")
			}
			format := args.Args[1].String()
			var t time.Time
			switch x := fromValue(args.Args[0]).(type) {
			case Datetime:
				t = x.T
			case int64:
				t = time.Unix(x, 0).UTC()
			case float64:
				t = time.Unix(0, int64(x*1e9)).UTC()
			case string:
				var err error
				if len(args.Args) == 3 && !args.Args[2].IsNil() {
					t, err = dtfmt.Parse(x, args.Args[2].String())
				} else {
					t, err = dtfmt.ParseAny(x)
				}
				if err != nil {
					return exec.AsValue(err)
				}
			default:
				return errValue("format_datetime() cannot read a %s", typeName(x))
			}
			s, err := dtfmt.Format(t, format)
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(s)
		},
		"generate_uuid": func(*exec.VarArgs) *exec.Value {
			var b [16]byte
			_, _ = rand.Read(b[:])
			b[6] = b[6]&0x0f | 0x40
			b[8] = b[8]&0x3f | 0x80
			return exec.AsValue(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
		},
		"sanitize_url": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("sanitize_url() takes one URL")
			}
			return exec.AsValue(strings.TrimRight(args.Args[0].String(), "/"))
		},
		"camel_case_to_snake_case": func(args *exec.VarArgs) *exec.Value {
			if len(args.Args) != 1 {
				return errValue("camel_case_to_snake_case() takes one string")
			}
			var b strings.Builder
			for i, r := range args.Args[0].String() {
				if r >= 'A' && r <= 'Z' {
					if i > 0 {
						b.WriteByte('_')
					}
					r += 'a' - 'A'
				}
				b.WriteRune(r)
			}
			return exec.AsValue(b.String())
		},
	}
}

func macroNames() []string {
	var names []string
	for n := range (&Engine{}).macros() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// extreme is Python's max (sign 1) or min (-1): of its arguments, or of the
// one list it is given.
func extreme(args *exec.VarArgs, sign int) *exec.Value {
	var items []any
	if len(args.Args) == 1 {
		l, ok := fromValue(args.Args[0]).([]any)
		if !ok {
			return errValue("max()/min() of one argument needs a list")
		}
		items = l
	} else {
		for _, a := range args.Args {
			items = append(items, fromValue(a))
		}
	}
	if len(items) == 0 {
		return errValue("max()/min() of nothing")
	}
	best := items[0]
	for _, it := range items[1:] {
		c, err := compare(it, best)
		if err != nil {
			return exec.AsValue(err)
		}
		if c*sign > 0 {
			best = it
		}
	}
	return exec.AsValue(best)
}

// compare orders two values as Python does for numbers, strings and
// datetimes.
func compare(a, b any) (int, error) {
	if fa, _, ok := asNumber(a); ok {
		if fb, _, ok := asNumber(b); ok {
			switch {
			case fa < fb:
				return -1, nil
			case fa > fb:
				return 1, nil
			}
			return 0, nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case Datetime:
		if y, ok := b.(Datetime); ok {
			return x.T.Compare(y.T), nil
		}
	}
	return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}
