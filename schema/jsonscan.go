package schema

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// A small validating JSON scanner for the record hot path: it walks a record
// once, without allocating, and hands back the byte span of each top-level
// value. Values are decoded only when a column needs them.

// maxDepth bounds nesting so a hostile record cannot exhaust the stack.
const maxDepth = 512

// value kinds, as the first byte of the value says.
const (
	kindString = 's'
	kindNumber = 'n'
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'z'
	kindObject = '{'
	kindArray  = '['
)

type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str scans a string starting at its opening quote and reports whether it
// has escapes. On return s.i is just past the closing quote.
func (s *scanner) str() (escaped bool) {
	s.i++ // opening quote
	for {
		s.i = plainRun(s.b, s.i)
		if s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return escaped
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				s.bad = true
				return
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					s.bad = true
					return
				}
				s.i += 6
			default:
				s.bad = true
				return
			}
		default: // a control character
			s.bad = true
			return
		}
	}
}

// SWAR constants: every byte of a word set to one value.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	slashs = '\\' * ones
	spaces = 0x20 * ones
)

// plainRun returns the index of the first byte at or after i that ends a
// run of plain string bytes: a quote, a backslash or a control character
// (or len(b)). It tests eight bytes at a time: a word's lowest flagged byte
// is exact (the zero-byte test can only misflag bytes above a true one).
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q, e := w^quotes, w^slashs
		m := ((q - ones) &^ q) | ((e - ones) &^ e) | ((w - spaces) &^ w)
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
		i++
	}
	return i
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) number() {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		s.bad = true
		return
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		s.bad = true
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			s.bad = true
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			s.bad = true
		}
	}
}

func (s *scanner) literal(word string) {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		s.bad = true
		return
	}
	s.i += len(word)
}

// value scans one value (leading whitespace already skipped) and returns its
// kind; s.bad is set when the input is not valid JSON.
func (s *scanner) value(depth int) byte {
	if s.i >= len(s.b) {
		s.bad = true
		return 0
	}
	switch c := s.b[s.i]; c {
	case '"':
		s.str()
		return kindString
	case 't':
		s.literal("true")
		return kindTrue
	case 'f':
		s.literal("false")
		return kindFalse
	case 'n':
		s.literal("null")
		return kindNull
	case '{', '[':
		if depth >= maxDepth {
			s.bad = true
			return 0
		}
		s.container(c, depth+1)
		return c
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			s.number()
			return kindNumber
		}
		s.bad = true
		return 0
	}
}

func (s *scanner) container(open byte, depth int) {
	s.i++
	s.ws()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	if s.i < len(s.b) && s.b[s.i] == closer {
		s.i++
		return
	}
	for !s.bad {
		if open == '{' {
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				s.bad = true
				return
			}
			s.str()
			s.ws()
			if s.bad || s.i >= len(s.b) || s.b[s.i] != ':' {
				s.bad = true
				return
			}
			s.i++
			s.ws()
		}
		s.value(depth)
		s.ws()
		if s.bad || s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case closer:
			s.i++
			return
		default:
			s.bad = true
			return
		}
	}
}

// unescape appends the decoded content of a JSON string (without its quotes,
// already validated by the scanner) to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		e := raw[i+1]
		i += 2
		switch e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[i:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 = rune(hex4(raw[i+2:]))
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
