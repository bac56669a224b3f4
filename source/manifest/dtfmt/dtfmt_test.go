package dtfmt_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lakeport/lakeport/source/manifest/dtfmt"
)

var ts = time.Date(2024, 3, 5, 7, 8, 9, 123456000, time.UTC)

func TestFormat(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{"%Y-%m-%dT%H:%M:%SZ", "2024-03-05T07:08:09Z"},
		{"%Y-%m-%dT%H:%M:%S.%fZ", "2024-03-05T07:08:09.123456Z"},
		{"%Y-%m-%dT%H:%M:%S.%_msZ", "2024-03-05T07:08:09.123Z"},
		{"%Y-%m-%dT%H:%M:%S%z", "2024-03-05T07:08:09+0000"},
		{"%Y-%m-%d", "2024-03-05"},
		{"%s", "1709622489"},
		{"%ms", "1709622489123"},
		{"%s_as_float", "1709622489.123456"},
		{"%d/%m/%y %I:%M %p", "05/03/24 07:08 AM"},
		{"%a %b %d %j", "Tue Mar 05 065"},
		{"%-d/%-m", "5/3"},
		{"100%%", "100%"},
	} {
		got, err := dtfmt.Format(ts, c.format)
		if err != nil || got != c.want {
			t.Errorf("Format(%q) = %q, %v; want %q", c.format, got, err, c.want)
		}
	}
	if _, err := dtfmt.Format(ts, "%Q"); !errors.Is(err, dtfmt.ErrFormat) {
		t.Errorf("%%Q: %v, want ErrFormat", err)
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		value, format string
		want          time.Time
	}{
		{"2024-03-05T07:08:09Z", "%Y-%m-%dT%H:%M:%SZ", ts.Truncate(time.Second)},
		{"2024-03-05T07:08:09.123456Z", "%Y-%m-%dT%H:%M:%S.%fZ", ts},
		{"2024-03-05T07:08:09.1Z", "%Y-%m-%dT%H:%M:%S.%fZ", time.Date(2024, 3, 5, 7, 8, 9, 100000000, time.UTC)},
		{"2024-03-05T07:08:09.123Z", "%Y-%m-%dT%H:%M:%S.%_msZ", ts.Truncate(time.Millisecond)},
		{"2024-03-05T09:08:09+02:00", "%Y-%m-%dT%H:%M:%S%z", ts.Truncate(time.Second)},
		{"2024-03-05T09:08:09+0200", "%Y-%m-%dT%H:%M:%S%z", ts.Truncate(time.Second)},
		{"2024-03-05T07:08:09Z", "%Y-%m-%dT%H:%M:%S%z", ts.Truncate(time.Second)},
		{"2024-03-05", "%Y-%m-%d", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"1709622489", "%s", ts.Truncate(time.Second)},
		{"1709622489123", "%ms", ts.Truncate(time.Millisecond)},
		{"1709622489.123456", "%s_as_float", ts},
		{"05/Mar/2024 07:08 AM", "%d/%b/%Y %I:%M %p", time.Date(2024, 3, 5, 7, 8, 0, 0, time.UTC)},
	} {
		got, err := dtfmt.Parse(c.value, c.format)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Parse(%q, %q) = %v, %v; want %v", c.value, c.format, got, err, c.want)
		}
	}
	for _, c := range []struct{ value, format string }{
		{"2024-03-05", "%Y-%m-%dT%H:%M:%SZ"},
		{"2024-02-30", "%Y-%m-%d"},
		{"2024-03-05T07:08:09Zjunk", "%Y-%m-%dT%H:%M:%SZ"},
		{"abc", "%s"},
	} {
		if _, err := dtfmt.Parse(c.value, c.format); !errors.Is(err, dtfmt.ErrFormat) {
			t.Errorf("Parse(%q, %q): %v, want ErrFormat", c.value, c.format, err)
		}
	}
}

func TestParseAny(t *testing.T) {
	for _, v := range []string{"2024-03-05T07:08:09Z", "2024-03-05T07:08:09", "2024-03-05 07:08:09+00:00", "2024-03-05T09:08:09+02:00"} {
		got, err := dtfmt.ParseAny(v)
		if err != nil || !got.Equal(ts.Truncate(time.Second)) {
			t.Errorf("ParseAny(%q) = %v, %v", v, got, err)
		}
	}
	if got, err := dtfmt.ParseAny("2024-03-05"); err != nil || !got.Equal(time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date: %v %v", got, err)
	}
}

func TestDuration(t *testing.T) {
	base := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"P1D", base.AddDate(0, 0, 1)},
		{"PT1H", base.Add(time.Hour)},
		{"P1M", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)}, // clamped, as isodate does
		{"P13M", time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)},
		{"P1Y", base.AddDate(1, 0, 0)},
		{"P1W", base.AddDate(0, 0, 7)},
		{"PT0.000001S", base.Add(time.Microsecond)},
		{"P1DT12H30M", base.Add(36*time.Hour + 30*time.Minute)},
		{"-P1D", base.AddDate(0, 0, -1)},
		{"-P2M", time.Date(2023, 11, 30, 0, 0, 0, 0, time.UTC)},
	} {
		d, err := dtfmt.ParseDuration(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := d.AddTo(base, 1); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "P", "1D", "PT", "P1H", "PXD", "P1.5M"} {
		if _, err := dtfmt.ParseDuration(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2024-03-05T07:08:09.123Z", "%Y-%m-%dT%H:%M:%S.%fZ")
	f.Add("1709622489", "%s")
	f.Fuzz(func(t *testing.T, value, format string) {
		tm, err := dtfmt.Parse(value, format)
		if err != nil {
			return
		}
		if _, err := dtfmt.Format(tm, format); err != nil && !errors.Is(err, dtfmt.ErrFormat) {
			t.Fatal(err)
		}
	})
}
