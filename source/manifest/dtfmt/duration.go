package dtfmt

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is an ISO 8601 duration (P1Y2M10DT2H30M, PT0.000001S, P1W).
// Years and months are calendar units, added to a date as such; the rest is
// exact.
type Duration struct {
	Months int
	Days   int
	Exact  time.Duration
}

// IsZero reports whether d adds nothing.
func (d Duration) IsZero() bool { return d.Months == 0 && d.Days == 0 && d.Exact == 0 }

// AddTo returns t + d (or t - d when sign is -1). Months are added as
// Python's isodate does: the day is kept, or clamped to the month's last
// (January 31 + P1M is February 29 in 2024, not March 2).
func (d Duration) AddTo(t time.Time, sign int) time.Time {
	if d.Months != 0 {
		y, m, day := t.Date()
		months := int(m) - 1 + sign*d.Months
		y += months / 12
		months %= 12
		if months < 0 {
			months += 12
			y--
		}
		last := time.Date(y, time.Month(months+2), 0, 0, 0, 0, 0, time.UTC).Day()
		if day > last {
			day = last
		}
		hh, mm, ss := t.Clock()
		t = time.Date(y, time.Month(months+1), day, hh, mm, ss, t.Nanosecond(), t.Location())
	}
	return t.AddDate(0, 0, sign*d.Days).Add(time.Duration(sign) * d.Exact)
}

// Approx returns d as a time.Duration, a month counted as 30 days.
func (d Duration) Approx() time.Duration {
	return time.Duration(d.Months)*30*24*time.Hour + time.Duration(d.Days)*24*time.Hour + d.Exact
}

// String writes d in ISO 8601.
func (d Duration) String() string {
	var b strings.Builder
	b.WriteString("P")
	if d.Months/12 != 0 {
		fmt.Fprintf(&b, "%dY", d.Months/12)
	}
	if d.Months%12 != 0 {
		fmt.Fprintf(&b, "%dM", d.Months%12)
	}
	if d.Days != 0 {
		fmt.Fprintf(&b, "%dD", d.Days)
	}
	if d.Exact != 0 {
		b.WriteString("T")
		rest := d.Exact
		if h := rest / time.Hour; h != 0 {
			fmt.Fprintf(&b, "%dH", h)
			rest -= h * time.Hour
		}
		if m := rest / time.Minute; m != 0 {
			fmt.Fprintf(&b, "%dM", m)
			rest -= m * time.Minute
		}
		if rest != 0 {
			b.WriteString(strconv.FormatFloat(rest.Seconds(), 'f', -1, 64) + "S")
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

// ParseDuration reads an ISO 8601 duration such as P1D, PT1H, P1M, P1W or
// PT0.000001S. A leading "-" negates it.
func ParseDuration(s string) (Duration, error) {
	orig := s
	bad := func() (Duration, error) {
		return Duration{}, fmt.Errorf("%w: %q is not an ISO 8601 duration (for example P1D, PT1H, P1M, PT0.000001S)", ErrFormat, orig)
	}
	s = strings.TrimSpace(s)
	sign := 1
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return bad()
	}
	s = s[1:]
	var d Duration
	inTime := false
	seen := false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return bad()
			}
			inTime, s = true, s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ',') {
			i++
		}
		if i == 0 || i == len(s) {
			return bad()
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(s[:i], ",", "."), 64)
		if err != nil || f > 1e9 {
			return bad()
		}
		unit := s[i]
		s = s[i+1:]
		seen = true
		whole := f == math.Trunc(f)
		switch {
		case !inTime && unit == 'Y' && whole:
			d.Months += int(f) * 12
		case !inTime && unit == 'M' && whole:
			d.Months += int(f)
		case !inTime && unit == 'W':
			d.Exact += time.Duration(f * float64(7*24*time.Hour))
		case !inTime && unit == 'D' && whole:
			d.Days += int(f)
		case !inTime && unit == 'D':
			d.Exact += time.Duration(f * float64(24*time.Hour))
		case inTime && unit == 'H':
			d.Exact += time.Duration(f * float64(time.Hour))
		case inTime && unit == 'M':
			d.Exact += time.Duration(f * float64(time.Minute))
		case inTime && unit == 'S':
			d.Exact += time.Duration(math.Round(f * float64(time.Second)))
		default:
			return bad()
		}
	}
	if !seen {
		return bad()
	}
	d.Months *= sign
	d.Days *= sign
	d.Exact *= time.Duration(sign)
	return d, nil
}
