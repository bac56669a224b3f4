// Package dtfmt formats and parses datetimes the way Airbyte's declarative
// manifests spell them: Python strftime/strptime codes, plus the CDK's own
// whole-format codes %s (epoch seconds), %ms (epoch milliseconds) and
// %s_as_float (epoch seconds with a fraction), and %_ms (milliseconds, three
// digits) inside a format.
//
// Parsing accepts what Python's strptime accepts for these codes (for %z:
// "Z", "+HHMM" and "+HH:MM"; for %f: one to six digits); a value without a
// zone is UTC. Formatting always writes UTC offsets as Python does (%z is
// "+0000").
package dtfmt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrFormat is wrapped by every error about a format or a value that does not
// match it.
var ErrFormat = errors.New("dtfmt")

var (
	shortDays   = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// Format writes t in the given format.
func Format(t time.Time, format string) (string, error) {
	switch format {
	case "%s":
		return strconv.FormatInt(t.Unix(), 10), nil
	case "%ms":
		return strconv.FormatInt(t.UnixMilli(), 10), nil
	case "%s_as_float":
		return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64), nil
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if strings.HasPrefix(format[i:], "%_ms") {
			fmt.Fprintf(&b, "%03d", t.Nanosecond()/1e6)
			i += 3
			continue
		}
		if i+1 >= len(format) {
			return "", fmt.Errorf("%w: format %q ends with a lone %%", ErrFormat, format)
		}
		i++
		d := format[i]
		if d == '-' && i+1 < len(format) { // glibc's no-padding flag: %-d, %-m
			i++
			s, err := directive(t, format[i], format)
			if err != nil {
				return "", err
			}
			trimmed := strings.TrimLeft(s, "0")
			if trimmed == "" {
				trimmed = "0"
			}
			b.WriteString(trimmed)
			continue
		}
		s, err := directive(t, d, format)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func directive(t time.Time, d byte, format string) (string, error) {
	switch d {
	case 'Y':
		return fmt.Sprintf("%04d", t.Year()), nil
	case 'y':
		return fmt.Sprintf("%02d", t.Year()%100), nil
	case 'm':
		return fmt.Sprintf("%02d", int(t.Month())), nil
	case 'd':
		return fmt.Sprintf("%02d", t.Day()), nil
	case 'e':
		return fmt.Sprintf("%2d", t.Day()), nil
	case 'H':
		return fmt.Sprintf("%02d", t.Hour()), nil
	case 'I':
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		return fmt.Sprintf("%02d", h), nil
	case 'p':
		if t.Hour() < 12 {
			return "AM", nil
		}
		return "PM", nil
	case 'M':
		return fmt.Sprintf("%02d", t.Minute()), nil
	case 'S':
		return fmt.Sprintf("%02d", t.Second()), nil
	case 'f':
		return fmt.Sprintf("%06d", t.Nanosecond()/1e3), nil
	case 'z':
		_, off := t.Zone()
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60), nil
	case 'Z':
		name, _ := t.Zone()
		return name, nil
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay()), nil
	case 'a':
		return shortDays[t.Weekday()], nil
	case 'A':
		return longDays[t.Weekday()], nil
	case 'w':
		return strconv.Itoa(int(t.Weekday())), nil
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.Itoa(wd), nil
	case 'b', 'h':
		return shortMonths[t.Month()-1], nil
	case 'B':
		return longMonths[t.Month()-1], nil
	case 'F':
		return fmt.Sprintf("%04d-%02d-%02d", t.Year(), int(t.Month()), t.Day()), nil
	case 'T':
		return fmt.Sprintf("%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second()), nil
	case 'D':
		return fmt.Sprintf("%02d/%02d/%02d", int(t.Month()), t.Day(), t.Year()%100), nil
	case 's':
		return strconv.FormatInt(t.Unix(), 10), nil
	case '%':
		return "%", nil
	}
	return "", fmt.Errorf("%w: format %q: %%%c is not a supported code", ErrFormat, format, d)
}

// Parse reads value in the given format. A value without a zone is UTC.
func Parse(value, format string) (time.Time, error) {
	switch format {
	case "%s":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			// The CDK accepts a float for %s too.
			f, ferr := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if ferr != nil {
				return time.Time{}, mismatch(value, format)
			}
			return fromFloatSeconds(f)
		}
		return time.Unix(n, 0).UTC(), nil
	case "%ms":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return time.Time{}, mismatch(value, format)
		}
		return time.UnixMilli(n).UTC(), nil
	case "%s_as_float":
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return time.Time{}, mismatch(value, format)
		}
		return fromFloatSeconds(f)
	}
	p := parser{value: value, format: format, year: 1900, month: 1, day: 1, loc: time.UTC}
	if err := p.run(); err != nil {
		return time.Time{}, err
	}
	hour := p.hour
	if p.pm && hour < 12 {
		hour += 12
	} else if p.am && hour == 12 {
		hour = 0
	}
	t := time.Date(p.year, time.Month(p.month), p.day, hour, p.minute, p.second, p.nanos, p.loc)
	if t.Month() != time.Month(p.month) || t.Day() != p.day {
		return time.Time{}, fmt.Errorf("%w: %q is not a real date (format %q)", ErrFormat, value, format)
	}
	if p.epoch != nil {
		t = *p.epoch
	}
	return t.UTC(), nil
}

func fromFloatSeconds(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return time.Time{}, fmt.Errorf("%w: %v is not a usable epoch time", ErrFormat, f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
}

func mismatch(value, format string) error {
	return fmt.Errorf("%w: %q does not match the format %q", ErrFormat, value, format)
}

type parser struct {
	value, format string
	pos           int

	year, month, day, hour, minute, second, nanos int
	am, pm                                        bool
	loc                                           *time.Location
	epoch                                         *time.Time
}

func (p *parser) run() error {
	f := p.format
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			if c == ' ' { // strptime: whitespace in the format matches any run of it
				for p.pos < len(p.value) && p.value[p.pos] == ' ' {
					p.pos++
				}
				continue
			}
			if p.pos >= len(p.value) || p.value[p.pos] != c {
				return mismatch(p.value, p.format)
			}
			p.pos++
			continue
		}
		if strings.HasPrefix(f[i:], "%_ms") {
			n, digits, err := p.number(1, 3)
			if err != nil {
				return err
			}
			for ; digits < 9; digits++ {
				n *= 10
			}
			p.nanos = n
			i += 3
			continue
		}
		if i+1 >= len(f) {
			return fmt.Errorf("%w: format %q ends with a lone %%", ErrFormat, f)
		}
		i++
		d := f[i]
		if d == '-' && i+1 < len(f) {
			i++
			d = f[i]
		}
		if err := p.directive(d); err != nil {
			return err
		}
	}
	if p.pos != len(p.value) {
		return fmt.Errorf("%w: %q has unconverted data %q after the format %q", ErrFormat, p.value, p.value[p.pos:], p.format)
	}
	return nil
}

func (p *parser) number(minDigits, maxDigits int) (int, int, error) {
	start := p.pos
	for p.pos < len(p.value) && p.pos-start < maxDigits && p.value[p.pos] >= '0' && p.value[p.pos] <= '9' {
		p.pos++
	}
	if p.pos-start < minDigits {
		return 0, 0, mismatch(p.value, p.format)
	}
	n, _ := strconv.Atoi(p.value[start:p.pos])
	return n, p.pos - start, nil
}

func (p *parser) word(words []string) (int, error) {
	for i, w := range words {
		if len(p.value)-p.pos >= len(w) && strings.EqualFold(p.value[p.pos:p.pos+len(w)], w) {
			p.pos += len(w)
			return i, nil
		}
	}
	return 0, mismatch(p.value, p.format)
}

func (p *parser) directive(d byte) error {
	var err error
	switch d {
	case 'Y':
		p.year, _, err = p.number(4, 4)
	case 'y':
		var y int
		y, _, err = p.number(2, 2)
		if y < 69 {
			p.year = 2000 + y
		} else {
			p.year = 1900 + y
		}
	case 'm':
		p.month, _, err = p.number(1, 2)
	case 'd', 'e':
		for d == 'e' && p.pos < len(p.value) && p.value[p.pos] == ' ' {
			p.pos++
		}
		p.day, _, err = p.number(1, 2)
	case 'H', 'I':
		p.hour, _, err = p.number(1, 2)
	case 'M':
		p.minute, _, err = p.number(1, 2)
	case 'S':
		p.second, _, err = p.number(1, 2)
	case 'f':
		var n, digits int
		n, digits, err = p.number(1, 6)
		for ; digits < 9; digits++ {
			n *= 10
		}
		p.nanos = n
	case 'j':
		var yd int
		yd, _, err = p.number(1, 3)
		p.month, p.day = 1, yd // normalised by time.Date; checked against month below
		if err == nil {
			t := time.Date(p.year, 1, yd, 0, 0, 0, 0, time.UTC)
			p.month, p.day = int(t.Month()), t.Day()
		}
	case 'p':
		var i int
		i, err = p.word([]string{"AM", "PM"})
		p.am, p.pm = i == 0, i == 1
	case 'a':
		if _, err = p.word(longDays); err != nil {
			_, err = p.word(shortDays)
		}
	case 'A':
		_, err = p.word(longDays)
	case 'b', 'h', 'B':
		var m int
		if m, err = p.word(longMonths); err != nil {
			m, err = p.word(shortMonths)
		}
		p.month = m + 1
	case 'z':
		err = p.zone()
	case 'Z':
		_, err = p.word([]string{"UTC", "GMT", "Z"})
	case 'T':
		if err = p.directive('H'); err == nil && p.literal(':') {
			if err = p.directive('M'); err == nil && p.literal(':') {
				err = p.directive('S')
			} else if err == nil {
				err = mismatch(p.value, p.format)
			}
		} else if err == nil {
			err = mismatch(p.value, p.format)
		}
	case 'F':
		if err = p.directive('Y'); err == nil && p.literal('-') {
			if err = p.directive('m'); err == nil && p.literal('-') {
				err = p.directive('d')
			} else if err == nil {
				err = mismatch(p.value, p.format)
			}
		} else if err == nil {
			err = mismatch(p.value, p.format)
		}
	case 's':
		start := p.pos
		if p.pos < len(p.value) && p.value[p.pos] == '-' {
			p.pos++
		}
		if _, _, err = p.number(1, 12); err == nil {
			n, _ := strconv.ParseInt(p.value[start:p.pos], 10, 64)
			t := time.Unix(n, 0).UTC()
			p.epoch = &t
		}
	case '%':
		if !p.literal('%') {
			err = mismatch(p.value, p.format)
		}
	default:
		return fmt.Errorf("%w: format %q: %%%c is not a supported code", ErrFormat, p.format, d)
	}
	return err
}

func (p *parser) literal(c byte) bool {
	if p.pos < len(p.value) && p.value[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) zone() error {
	if p.literal('Z') || p.literal('z') {
		p.loc = time.UTC
		return nil
	}
	if p.pos >= len(p.value) || (p.value[p.pos] != '+' && p.value[p.pos] != '-') {
		return mismatch(p.value, p.format)
	}
	sign := 1
	if p.value[p.pos] == '-' {
		sign = -1
	}
	p.pos++
	h, _, err := p.number(2, 2)
	if err != nil {
		return err
	}
	p.literal(':')
	m, _, err := p.number(2, 2)
	if err != nil {
		return err
	}
	off := sign * (h*3600 + m*60)
	p.loc = time.FixedZone("", off)
	if off == 0 {
		p.loc = time.UTC
	}
	return nil
}

// ParseAny parses the datetime spellings the CDK's str_to_datetime accepts
// without a format: RFC 3339 / ISO 8601 with or without a zone, a fraction or
// a "T", a date alone, and epoch seconds. A value without a zone is UTC.
func ParseAny(value string) (time.Time, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return time.Time{}, fmt.Errorf("%w: an empty string is not a datetime", ErrFormat)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && len(v) > 8 {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range anyLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a datetime lakeport can read (use ISO 8601, e.g. 2024-01-31T12:00:00Z)", ErrFormat, value)
}

var anyLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006/01/02",
	"20060102",
	time.RFC1123Z,
	time.RFC1123,
}
