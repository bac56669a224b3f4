package schema

import "time"

// Timestamp, date and time parsing for the record hot path. Accepted forms:
//
//	timestamp  YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]]][Z|z|±HH[:MM|MM]]
//	date       YYYY-MM-DD, or a timestamp (its written date)
//	time       HH:MM[:SS[.fraction]][Z|±HH[:MM]] (an offset is ignored)
//
// A timestamp without an offset is UTC. Timestamps are microseconds since
// the Unix epoch: for a timestamptz column the instant, for a timestamp
// (without zone) column the wall clock as written, offset ignored.

func num(s []byte, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for _, c := range s[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// clock parses HH:MM[:SS[.fraction]] at the start of s and returns
// microseconds since midnight and the rest of s.
func clock(s []byte) (us int64, rest []byte, ok bool) {
	h, ok1 := num(s, 2)
	if !ok1 || len(s) < 5 || s[2] != ':' {
		return 0, nil, false
	}
	m, ok2 := num(s[3:], 2)
	if !ok2 || h > 23 || m > 59 {
		return 0, nil, false
	}
	s = s[5:]
	sec := 0
	if len(s) > 0 && s[0] == ':' {
		v, ok3 := num(s[1:], 2)
		if !ok3 || v > 60 {
			return 0, nil, false
		}
		sec = v
		s = s[3:]
	}
	frac := int64(0)
	if len(s) > 0 && (s[0] == '.' || s[0] == ',') {
		s = s[1:]
		digits := 0
		for len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			if digits < 6 {
				frac = frac*10 + int64(s[0]-'0')
			}
			digits++
			s = s[1:]
		}
		if digits == 0 {
			return 0, nil, false
		}
		for ; digits < 6; digits++ {
			frac *= 10
		}
	}
	return (int64(h)*3600+int64(m)*60+int64(sec))*1e6 + frac, s, true
}

// offset parses what follows a clock: nothing, Z, or ±HH[:MM|MM]; it returns
// the offset east of UTC in seconds.
func offset(s []byte) (int64, bool) {
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	switch {
	case len(s) == 0:
		return 0, true
	case len(s) == 1 && (s[0] == 'Z' || s[0] == 'z'):
		return 0, true
	case s[0] != '+' && s[0] != '-':
		if string(s) == "UTC" || string(s) == "GMT" {
			return 0, true
		}
		return 0, false
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	h, ok := num(s, 2)
	if !ok || h > 23 {
		return 0, false
	}
	s = s[2:]
	m := 0
	if len(s) > 0 && s[0] == ':' {
		s = s[1:]
	}
	if len(s) > 0 {
		if m, ok = num(s, 2); !ok || len(s) != 2 || m > 59 {
			return 0, false
		}
	}
	return sign * int64(h*3600+m*60), true
}

// civilDays is the number of days from 1970-01-01 to y-m-d (proleptic
// Gregorian), after checking the date exists.
func civilDays(y, m, d int) (int64, bool) {
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	// Howard Hinnant's days_from_civil.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468), true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// date parses YYYY-MM-DD at the start of s.
func date(s []byte) (days int64, rest []byte, ok bool) {
	y, ok1 := num(s, 4)
	if !ok1 || len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, nil, false
	}
	m, ok2 := num(s[5:], 2)
	d, ok3 := num(s[8:], 2)
	if !ok2 || !ok3 {
		return 0, nil, false
	}
	days, ok = civilDays(y, m, d)
	return days, s[10:], ok
}

// wallAndOffset parses a timestamp into its wall clock (microseconds since
// the epoch, as if UTC) and its offset in seconds.
func wallAndOffset(s []byte) (wall, off int64, ok bool) {
	days, rest, ok := date(s)
	if !ok {
		return parseTimestampSlow(s)
	}
	var us int64
	if len(rest) > 0 {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
			return parseTimestampSlow(s)
		}
		us, rest, ok = clock(rest[1:])
		if !ok {
			return parseTimestampSlow(s)
		}
		off, ok = offset(rest)
		if !ok {
			return parseTimestampSlow(s)
		}
	}
	return days*86400e6 + us, off, true
}

// slowLayouts are other forms sources are known to send.
var slowLayouts = []string{time.RFC3339Nano, time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC, "2006-01-02T15:04:05.999999999Z0700", "2006/01/02 15:04:05"}

func parseTimestampSlow(s []byte) (wall, off int64, ok bool) {
	for _, layout := range slowLayouts {
		if t, err := time.Parse(layout, string(s)); err == nil {
			_, o := t.Zone()
			w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			return w.UnixMicro(), int64(o), true
		}
	}
	return 0, 0, false
}

// parseTimestamp returns the instant s names, in microseconds since the epoch.
func parseTimestamp(s []byte) (int64, bool) {
	wall, off, ok := wallAndOffset(s)
	return wall - off*1e6, ok
}

// parseWallTimestamp returns the wall clock s names, offset ignored.
func parseWallTimestamp(s []byte) (int64, bool) {
	wall, _, ok := wallAndOffset(s)
	return wall, ok
}

func parseDate(s []byte) (int32, bool) {
	days, rest, ok := date(s)
	if ok && len(rest) == 0 {
		return int32(days), days >= -1<<31 && days < 1<<31
	}
	wall, ok := parseWallTimestamp(s)
	if !ok {
		return 0, false
	}
	d := wall / 86400e6
	if wall < 0 && wall%86400e6 != 0 {
		d--
	}
	return int32(d), true
}

func parseTime(s []byte) (int64, bool) {
	us, rest, ok := clock(s)
	if !ok || us >= 86400e6 {
		return 0, false
	}
	if _, ok := offset(rest); !ok {
		return 0, false
	}
	return us, true
}
