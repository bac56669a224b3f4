package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseExpires(t *testing.T) {
	now := time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90d":                  now.AddDate(0, 0, 90),
		"2w":                   now.AddDate(0, 0, 14),
		"12h":                  now.Add(12 * time.Hour),
		"1h30m":                now.Add(90 * time.Minute),
		"2030-02-01T00:00:00Z": time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseExpires(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpires(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseExpires("2030-03-01", now); err != nil || got.Before(now) {
		t.Errorf("parseExpires(a date) = %v, %v", got, err)
	}
	for _, in := range []string{"yesterday", "d", "0d", "-3d", "3x", "2020-01-01", "-1h", "0s", "1.5d"} {
		if _, err := parseExpires(in, now); err == nil || !strings.Contains(err.Error(), "--expires") {
			t.Errorf("parseExpires(%q): %v, want an error naming --expires", in, err)
		}
	}
}
