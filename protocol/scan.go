package protocol

import (
	"errors"
	"fmt"
)

// A minimal, allocation-free JSON syntax checker used by the Reader to find
// the spans of a message's top-level fields without decoding record data.

const maxDepth = 1000

var errDepth = errors.New("nesting deeper than 1000 levels")

// strSafe[c] is true for bytes that can appear in a JSON string unescaped
// and need no special handling.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func syntaxErr(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("unexpected end of line, %s", what)
	}
	return fmt.Errorf("unexpected %q at column %d, %s", b[i], i+1, what)
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString checks the string starting at b[i] == '"'. It returns the index
// after the closing quote and whether the string has escapes.
func scanString(b []byte, i int) (int, bool, error) {
	i++ // opening quote
	escaped := false
	for {
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, false, syntaxErr(b, i, "in a string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, false, syntaxErr(b, i+1, "in an escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false, syntaxErr(b, len(b), "in a \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, false, fmt.Errorf("bad \\u escape at column %d", i+1)
					}
				}
				i += 6
			default:
				return i, false, fmt.Errorf("bad escape %q at column %d", b[i+1], i+1)
			}
		default:
			return i, false, fmt.Errorf("control character %#x in a string at column %d", c, i+1)
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber checks the number starting at b[i]; it returns the index after
// it and whether it is an integer (no fraction, no exponent).
func scanNumber(b []byte, i int) (int, bool, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false, syntaxErr(b, i, "in a number")
	}
	integer := true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false, syntaxErr(b, i, "after a decimal point")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false, syntaxErr(b, i, "in an exponent")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, integer, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxErr(b, i, "in a literal")
	}
	return i + len(lit), nil
}

// skipValue checks the JSON value starting at b[i] (no leading whitespace)
// and returns the index after it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, syntaxErr(b, i, "expecting a value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '-' || isDigit(c):
		end, _, err := scanNumber(b, i)
		return end, err
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, syntaxErr(b, i, "expecting a value")
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxErr(b, i, "expecting a key")
		}
		var err error
		if i, _, err = scanString(b, i); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxErr(b, i, "expecting ':'")
		}
		i = skipWS(b, i+1)
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "expecting ',' or '}'")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expecting ',' or '}'")
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "expecting ',' or ']'")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expecting ',' or ']'")
		}
	}
}

// objectFields walks the object starting at b[i] == '{' and calls f with
// each key (raw, without quotes; escaped reports escapes in it) and the
// index of its value; f walks the value (see walkValue) and returns the
// index after it. Values inside the object are at nesting depth depth+1.
// objectFields returns the index after the object.
func objectFields(b []byte, i, depth int, f func(key []byte, escaped bool, vs, depth int) (int, error)) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxErr(b, i, "expecting a key")
		}
		ks := i
		ke, escaped, err := scanString(b, i)
		if err != nil {
			return ke, err
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxErr(b, i, "expecting ':'")
		}
		i = skipWS(b, i+1)
		if i, err = f(b[ks+1:ke-1], escaped, i, depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, syntaxErr(b, i, "expecting ',' or '}'")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(b, i, "expecting ',' or '}'")
		}
	}
}

// walkValue checks the value starting at b[i], inside an object at nesting
// depth depth, and returns the index after it and whether it is an integer
// number.
func walkValue(b []byte, i, depth int) (int, bool, error) {
	if i < len(b) && (b[i] == '-' || isDigit(b[i])) {
		return scanNumber(b, i)
	}
	end, err := skipValue(b, i, depth)
	return end, false, err
}
