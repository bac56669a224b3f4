package interp

import (
	"math"
	"strconv"
	"strings"
)

// LiteralEval reads s as Python's ast.literal_eval does for the literals a
// rendered template can hold: integers, floats, True, False, None, quoted
// strings, and lists, tuples and dicts of these. Anything else (including
// text with trailing garbage) is returned as the string itself, as the CDK
// does.
func LiteralEval(s string) any {
	p := litParser{s: s}
	p.space()
	v, ok := p.value(0)
	if !ok {
		return s
	}
	p.space()
	if p.i != len(p.s) {
		return s
	}
	return v
}

const maxLiteralDepth = 64

type litParser struct {
	s string
	i int
}

func (p *litParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *litParser) value(depth int) (any, bool) {
	if depth > maxLiteralDepth || p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '[':
		return p.seq(']', depth)
	case c == '(':
		return p.seq(')', depth)
	case c == '{':
		return p.dict(depth)
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, w := range []struct {
		word string
		val  any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			end := p.i + len(w.word)
			if end < len(p.s) && isIdent(p.s[end]) {
				return nil, false
			}
			p.i = end
			return w.val, true
		}
	}
	return nil, false
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *litParser) seq(end byte, depth int) (any, bool) {
	p.i++
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return out, true
		}
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return out, true
		}
		return nil, false
	}
}

func (p *litParser) dict(depth int) (any, bool) {
	p.i++
	out := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, true
		}
		k, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		out[Str(k)] = v
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, true
		}
		return nil, false
	}
}

func (p *litParser) str() (any, bool) {
	q := p.s[p.i]
	triple := strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))
	if triple {
		p.i += 3
		end := strings.Index(p.s[p.i:], strings.Repeat(string(q), 3))
		if end < 0 {
			return nil, false
		}
		v := p.s[p.i : p.i+end]
		p.i += end + 3
		return v, true
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), true
		case c == '\n':
			return nil, false
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, false
}

func (p *litParser) number() (any, bool) {
	start := p.i
	if p.s[p.i] == '-' || p.s[p.i] == '+' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '_' || p.s[p.i] == '.' ||
		p.s[p.i] == 'e' || p.s[p.i] == 'E' || ((p.s[p.i] == '-' || p.s[p.i] == '+') && (p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E'))) {
		p.i++
	}
	text := strings.ReplaceAll(p.s[start:p.i], "_", "")
	if p.i == digits || strings.HasPrefix(p.s[digits:p.i], "_") || strings.HasSuffix(p.s[digits:p.i], "_") {
		return nil, false
	}
	if !strings.ContainsAny(text, ".eE") {
		// Python ints have no leading zeros (except 0 itself).
		body := strings.TrimLeft(text, "+-")
		if len(body) > 1 && body[0] == '0' {
			return nil, false
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			// Beyond int64: keep it a float, as JSON would.
			f, ferr := strconv.ParseFloat(text, 64)
			if ferr != nil {
				return nil, false
			}
			return f, true
		}
		return n, true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}
