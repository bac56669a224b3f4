package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/lakeport/lakeport/protocol"
)

func TestReaderRecord(t *testing.T) {
	in := `{"type":"RECORD","record":{"stream":"users","namespace":"crm","data":{"id":1,"name":"Ada \"A\"","tags":["x"],"n":null},"emitted_at":1700000000000}}` + "\n"
	r := protocol.NewReader(strings.NewReader(in))
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != protocol.TypeRecord || m.Record == nil {
		t.Fatalf("got %+v", m)
	}
	rec := m.Record
	if rec.Stream != "users" || rec.Namespace != "crm" || rec.EmittedAt != 1700000000000 {
		t.Errorf("record = %+v", rec)
	}
	if want := `{"id":1,"name":"Ada \"A\"","tags":["x"],"n":null}`; string(rec.Data) != want {
		t.Errorf("data = %s, want %s", rec.Data, want)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("second Next: %v, want io.EOF", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF: %v, want io.EOF", err)
	}
}

func TestReaderMessages(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		check func(t *testing.T, m *protocol.Message)
	}{
		{"record with escapes in stream", `{"type":"RECORD","record":{"stream":"us\u0065rs","data":{},"emitted_at":1}}`, func(t *testing.T, m *protocol.Message) {
			if m.Record.Stream != "users" {
				t.Errorf("stream = %q", m.Record.Stream)
			}
		}},
		{"record with escaped key", `{"type":"RECORD","rec\u006frd":{"stream":"s","data":{"a":1}}}`, func(t *testing.T, m *protocol.Message) {
			if m.Record.Stream != "s" || string(m.Record.Data) != `{"a":1}` {
				t.Errorf("record = %+v", m.Record)
			}
		}},
		{"record with float emitted_at and meta", `{"type":"RECORD","record":{"stream":"s","data":{"a":1},"emitted_at":1.7e12,"meta":{"changes":[{"field":"a","change":"NULLED","reason":"SOURCE_FIELD_SIZE_LIMITATION"}]}}}`, func(t *testing.T, m *protocol.Message) {
			if m.Record.EmittedAt != 1700000000000 || len(m.Record.Meta.Changes) != 1 || m.Record.Meta.Changes[0].Change != "NULLED" {
				t.Errorf("record = %+v", m.Record)
			}
		}},
		{"record with unknown fields and CRLF", "{\"extra\":[1,{\"x\":true}],\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{},\"more\":1}}\r", func(t *testing.T, m *protocol.Message) {
			if string(m.Record.Data) != `{}` {
				t.Errorf("data = %s", m.Record.Data)
			}
		}},
		{"stream state", `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"crm"},"stream_state":{"cursor":"2024-01-01"}},"sourceStats":{"recordCount":10.0}}}`, func(t *testing.T, m *protocol.Message) {
			s := m.State
			if s.Type != protocol.StateStream || s.Stream.StreamDescriptor != (protocol.StreamDescriptor{Name: "users", Namespace: "crm"}) ||
				string(s.Stream.StreamState) != `{"cursor":"2024-01-01"}` || s.SourceStats.RecordCount != 10 {
				t.Errorf("state = %+v", s)
			}
		}},
		{"global state", `{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"lsn":5},"stream_states":[{"stream_descriptor":{"name":"a"},"stream_state":{"x":1}}]}}}`, func(t *testing.T, m *protocol.Message) {
			g := m.State.Global
			if string(g.SharedState) != `{"lsn":5}` || len(g.StreamStates) != 1 || g.StreamStates[0].StreamDescriptor.Name != "a" {
				t.Errorf("global = %+v", g)
			}
		}},
		{"legacy state", `{"type":"STATE","state":{"data":{"users":{"cursor":1}}}}`, func(t *testing.T, m *protocol.Message) {
			if m.State.Type != "" || string(m.State.Data) != `{"users":{"cursor":1}}` {
				t.Errorf("state = %+v", m.State)
			}
		}},
		{"log", `{"type":"LOG","log":{"level":"INFO","message":"hello"}}`, func(t *testing.T, m *protocol.Message) {
			if m.Log.Level != protocol.LogInfo || m.Log.Message != "hello" {
				t.Errorf("log = %+v", m.Log)
			}
		}},
		{"trace error", `{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.5,"error":{"message":"bad key","failure_type":"config_error","stream_descriptor":{"name":"a"}}}}`, func(t *testing.T, m *protocol.Message) {
			e := m.Trace.Error
			if e.Message != "bad key" || e.FailureType != protocol.FailureConfig || e.StreamDescriptor.Name != "a" || m.Trace.EmittedAt != 1.5 {
				t.Errorf("trace = %+v", m.Trace)
			}
		}},
		{"trace stream status", `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"a"},"status":"RUNNING","reasons":[{"type":"RATE_LIMITED","rate_limited":{"quota_reset":9}}]}}}`, func(t *testing.T, m *protocol.Message) {
			s := m.Trace.StreamStatus
			if s.Status != protocol.StreamRunning || s.Reasons[0].RateLimited.QuotaReset != 9 {
				t.Errorf("status = %+v", s)
			}
		}},
		{"spec", `{"type":"SPEC","spec":{"documentationUrl":"https://x","connectionSpecification":{"type":"object"},"supportsIncremental":true,"supported_destination_sync_modes":["append","overwrite","append_dedup"]}}`, func(t *testing.T, m *protocol.Message) {
			s := m.Spec
			if !s.SupportsIncremental || len(s.SupportedDestinationSyncModes) != 3 || string(s.ConnectionSpecification) != `{"type":"object"}` {
				t.Errorf("spec = %+v", s)
			}
		}},
		{"catalog", `{"type":"CATALOG","catalog":{"streams":[{"name":"a","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"default_cursor_field":["updated_at"],"source_defined_primary_key":[["id"]]}]}}`, func(t *testing.T, m *protocol.Message) {
			s := m.Catalog.Streams[0]
			if !s.Supports(protocol.Incremental) || s.DefaultCursorField[0] != "updated_at" || s.SourceDefinedPrimaryKey[0][0] != "id" {
				t.Errorf("stream = %+v", s)
			}
		}},
		{"connection status", `{"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"denied"}}`, func(t *testing.T, m *protocol.Message) {
			if m.ConnectionStatus.Status != protocol.StatusFailed || m.ConnectionStatus.Message != "denied" {
				t.Errorf("status = %+v", m.ConnectionStatus)
			}
		}},
		{"control", `{"type":"CONTROL","control":{"type":"CONNECTOR_CONFIG","emitted_at":1,"connectorConfig":{"config":{"token":"new"}}}}`, func(t *testing.T, m *protocol.Message) {
			if string(m.Control.ConnectorConfig.Config) != `{"token":"new"}` {
				t.Errorf("control = %+v", m.Control)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := protocol.NewReader(strings.NewReader(tt.line)).Next()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			tt.check(t, m)
		})
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		kind error
		want string // in the message
	}{
		{"plain text", `Starting connector v1.2`, protocol.ErrNotJSON, `"Starting connector v1.2"`},
		{"array", `[1,2]`, protocol.ErrNotJSON, ""},
		{"truncated", `{"type":"RECORD","record":{"stream":"s","data":{"a":`, protocol.ErrMalformed, "unexpected end of line"},
		{"bad literal", `{"type":"LOG","log":tru}`, protocol.ErrMalformed, "literal"},
		{"trailing garbage", `{"type":"LOG","log":{"level":"INFO","message":"x"}} x`, protocol.ErrMalformed, "after the message"},
		{"control char", "{\"type\":\"RE\x01CORD\"}", protocol.ErrMalformed, "control character"},
		{"bad number", `{"type":"RECORD","record":{"stream":"s","data":{"a":01}}}`, protocol.ErrMalformed, ""},
		{"missing type", `{"record":{"stream":"s","data":{}}}`, protocol.ErrMissingType, ""},
		{"null type", `{"type":null}`, protocol.ErrMissingType, ""},
		{"unknown type", `{"type":"HELLO"}`, protocol.ErrUnknownType, `"HELLO"`},
		{"record without stream", `{"type":"RECORD","record":{"data":{}}}`, protocol.ErrInvalidMessage, "RECORD without stream"},
		{"record with empty stream", `{"type":"RECORD","record":{"stream":"","data":{}}}`, protocol.ErrInvalidMessage, "RECORD without stream"},
		{"record without data", `{"type":"RECORD","record":{"stream":"s"}}`, protocol.ErrInvalidMessage, "RECORD without data"},
		{"record with null data", `{"type":"RECORD","record":{"stream":"s","data":null}}`, protocol.ErrInvalidMessage, "RECORD without data"},
		{"record with array data", `{"type":"RECORD","record":{"stream":"s","data":[1]}}`, protocol.ErrInvalidMessage, "not a JSON object"},
		{"record without record", `{"type":"RECORD"}`, protocol.ErrInvalidMessage, "RECORD without record"},
		{"record is a string", `{"type":"RECORD","record":"x"}`, protocol.ErrInvalidMessage, "not an object"},
		{"record with string emitted_at", `{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":"x"}}`, protocol.ErrInvalidMessage, "emitted_at"},
		{"state without state", `{"type":"STATE"}`, protocol.ErrInvalidMessage, "STATE without state"},
		{"stream state without descriptor", `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_state":{}}}}`, protocol.ErrInvalidMessage, "stream_descriptor"},
		{"state of wrong shape", `{"type":"STATE","state":[1]}`, protocol.ErrInvalidMessage, "cannot unmarshal"},
		{"log without level", `{"type":"LOG","log":{"message":"x"}}`, protocol.ErrInvalidMessage, "LOG without level"},
		{"spec without connectionSpecification", `{"type":"SPEC","spec":{}}`, protocol.ErrInvalidMessage, "connectionSpecification"},
		{"bad connection status", `{"type":"CONNECTION_STATUS","connectionStatus":{"status":"MAYBE"}}`, protocol.ErrInvalidMessage, "MAYBE"},
		{"trace without error", `{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1}}`, protocol.ErrInvalidMessage, "ERROR trace without error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "\n" + tt.line + "\n" // the bad line is line 2
			_, err := protocol.NewReader(strings.NewReader(in)).Next()
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			var le *protocol.LineError
			if !errors.As(err, &le) || le.Line != 2 {
				t.Fatalf("err = %#v, want a LineError on line 2", err)
			}
			if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to name line 2 and contain %q", err, tt.want)
			}
			if protocol.IsNotJSON(err) != (tt.kind == protocol.ErrNotJSON) {
				t.Errorf("IsNotJSON = %v", protocol.IsNotJSON(err))
			}
		})
	}
}

// The reader goes on after a line error, and line numbers stay right.
func TestReaderContinuesAfterLineErrors(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"RECORD","record":{"stream":"a","data":{"n":1}}}`,
		`plain text`,
		`{"type":"RECORD","record":{"stream":"a","data":{"n":`,
		``,
		`{"type":"LOG","log":{"level":"INFO","message":"hi"}}`,
		`{"type":"RECORD","record":{"stream":"b","data":{"n":2}}}`,
	}, "\n")
	r := protocol.NewReader(strings.NewReader(in))
	var got []string
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		var le *protocol.LineError
		switch {
		case errors.As(err, &le):
			got = append(got, le.Kind.Error()+"@"+itoa(le.Line))
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, string(m.Type)+"@"+itoa(r.Line()))
		}
	}
	want := "RECORD@1 not a JSON message@2 malformed JSON@3 LOG@5 RECORD@6"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestReaderMaxLineSize(t *testing.T) {
	small := `{"type":"RECORD","record":{"stream":"s","data":{"n":1}}}`
	big := `{"type":"RECORD","record":{"stream":"s","data":{"pad":"` + strings.Repeat("x", 300_000) + `"}}}`
	for _, tc := range []struct {
		name string
		max  int
	}{
		{"max below buffer", 1000},
		{"max above buffer", 200_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := small + "\n" + big + "\n" + small + "\n" + big // last one without newline
			r := protocol.NewReader(strings.NewReader(in), protocol.WithMaxLineSize(tc.max))
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			_, err := r.Next()
			if !protocol.IsLineTooLong(err) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), itoa(int64(tc.max))) {
				t.Fatalf("err = %v, want line too long naming line 2 and the limit", err)
			}
			if m, err := r.Next(); err != nil || m.Record.Stream != "s" || r.Line() != 3 {
				t.Fatalf("after a long line: %v %v line %d", m, err, r.Line())
			}
			if _, err := r.Next(); !protocol.IsLineTooLong(err) {
				t.Fatalf("err = %v, want line too long", err)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("err = %v, want EOF", err)
			}
		})
	}
	// A line right at the limit passes.
	r := protocol.NewReader(strings.NewReader(small+"\n"), protocol.WithMaxLineSize(len(small)))
	if _, err := r.Next(); err != nil {
		t.Fatalf("line at the limit: %v", err)
	}
	r = protocol.NewReader(strings.NewReader(small), protocol.WithMaxLineSize(len(small)-1))
	if _, err := r.Next(); !protocol.IsLineTooLong(err) {
		t.Fatalf("line over the limit at EOF: %v", err)
	}
}

func TestReaderLongLineAccepted(t *testing.T) {
	pad := strings.Repeat("y", 1<<20)
	in := `{"type":"RECORD","record":{"stream":"s","data":{"pad":"` + pad + `"}}}` + "\n"
	m, err := protocol.NewReader(iotest.HalfReader(strings.NewReader(in))).Next()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Record.Data) != len(pad)+10 {
		t.Errorf("data length %d", len(m.Record.Data))
	}
}

func TestReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	r := protocol.NewReader(io.MultiReader(strings.NewReader(`{"type":"LOG","log":{"level":"INFO","message":"x"}}`+"\n"), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) || protocol.IsLineError(err) {
			t.Fatalf("err = %v, want the I/O error", err)
		}
	}
}

// Data returned by Next must not change when the reader goes on.
func TestReaderDataIsOwned(t *testing.T) {
	var in bytes.Buffer
	for i := range 5000 {
		in.WriteString(`{"type":"RECORD","record":{"stream":"s","data":{"i":` + itoa(int64(i)) + `}}}` + "\n")
	}
	r := protocol.NewReader(&in)
	var msgs []*protocol.Message
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	for i, m := range msgs {
		if want := `{"i":` + itoa(int64(i)) + `}`; string(m.Record.Data) != want {
			t.Fatalf("record %d data = %s, want %s", i, m.Record.Data, want)
		}
		// Appending to one record's data must not clobber the next one's.
		_ = append(m.Record.Data, "garbage"...)
	}
	if string(msgs[1].Record.Data) != `{"i":1}` {
		t.Fatalf("append clobbered the next record: %s", msgs[1].Record.Data)
	}
}
