package client

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	type ev struct{ name, data string }
	for _, tc := range []struct {
		name, in string
		want     []ev
	}{
		{"two events", "event: step\ndata: {\"a\":1}\n\nevent: report\ndata: {}\n\n", []ev{{"step", `{"a":1}`}, {"report", "{}"}}},
		{"comments and CRLF", ": hi\r\nevent: step\r\ndata: x\r\n\r\n", []ev{{"step", "x"}}},
		{"no name, lines joined", "data: a\ndata: b\n\n", []ev{{"message", "a\nb"}}},
		{"no space after the colon", "event:step\ndata:x\n\n", []ev{{"step", "x"}}},
		{"cut before the blank line", "event: step\ndata: x\n", nil},
		{"event without data", "event: step\n\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []ev
			if err := readEvents(strings.NewReader(tc.in), func(name string, data []byte) error {
				got = append(got, ev{name, string(data)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	stop := errors.New("stop")
	if err := readEvents(strings.NewReader("data: a\n\ndata: b\n\n"), func(string, []byte) error { return stop }); err != stop {
		t.Fatalf("an error from fn: got %v", err)
	}
}

func FuzzReadEvents(f *testing.F) {
	f.Add("event: step\ndata: {\"name\":\"check_inputs\"}\n\nevent: report\ndata: {}\n\n")
	f.Add(": c\r\ndata:\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		_ = readEvents(strings.NewReader(in), func(name string, data []byte) error {
			if name == "" {
				t.Fatal("an event without a name")
			}
			return nil
		})
	})
}
