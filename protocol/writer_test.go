package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

func TestWriterRecord(t *testing.T) {
	var buf bytes.Buffer
	w := protocol.NewWriter(&buf)
	data := json.RawMessage("{\n  \"a\": \"<x>\"\n}")
	if err := w.WriteRecord("we\"ird\n\x01é\xff", "ns", data, 42); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"RECORD","record":{"stream":"we\"ird\n\u0001é\ufffd","namespace":"ns","data":{"a":"<x>"},"emitted_at":42}}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	m, err := protocol.NewReader(&buf).Next()
	if err != nil {
		t.Fatal(err)
	}
	if m.Record.Stream != "we\"ird\n\x01é\uFFFD" || m.Record.EmittedAt != 42 {
		t.Errorf("read back %+v", m.Record)
	}
}

func TestWriterRejectsInvalid(t *testing.T) {
	w := protocol.NewWriter(&bytes.Buffer{})
	for _, m := range []*protocol.Message{
		{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Data: json.RawMessage(`{}`)}},
		{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: "s", Data: json.RawMessage(`[]`)}},
		{Type: protocol.TypeState},
		{Type: "NOPE"},
		{},
	} {
		if err := w.Write(m); err == nil {
			t.Errorf("Write(%+v) = nil, want an error", m)
		}
	}
	if err := w.WriteRecord("s", "", json.RawMessage(`{"a":`+"\n"), 0); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Errorf("WriteRecord(bad multi-line data) = %v", err)
	}
}

func TestStreamStates(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      bool
	}{
		{"empty", ``, map[string]string{}, false},
		{"null", `null`, map[string]string{}, false},
		{"array of stream states", `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}},{"type":"STREAM","stream":{"stream_descriptor":{"name":"b","namespace":"n"},"stream_state":{"c":2}}}]`,
			map[string]string{"a": `{"c":1}`, "n.b": `{"c":2}`}, false},
		{"single message", `{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}`, map[string]string{"a": `{"c":1}`}, false},
		{"global", `[{"type":"GLOBAL","global":{"shared_state":{},"stream_states":[{"stream_descriptor":{"name":"a"},"stream_state":{"c":3}}]}}]`, map[string]string{"a": `{"c":3}`}, false},
		{"legacy", `{"cursor":1}`, nil, true},
		{"garbage", `[1]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.StreamStates(json.RawMessage(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if tt.err {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v", got)
			}
			for d, s := range got {
				if tt.want[d.String()] != string(s) {
					t.Errorf("%s = %s, want %s", d, s, tt.want[d.String()])
				}
			}
		})
	}
	if _, err := protocol.StreamStates(json.RawMessage(`{"data":{}}`)); !errors.Is(err, protocol.ErrLegacyState) {
		t.Errorf("legacy: %v", err)
	}
}

func TestStateStatsDecimalPoint(t *testing.T) {
	b, err := json.Marshal(protocol.NewStreamStateMessage(protocol.StreamDescriptor{Name: "a"}, json.RawMessage(`{}`), 3))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"sourceStats":{"recordCount":3.0}`) {
		t.Errorf("got %s", b)
	}
}
