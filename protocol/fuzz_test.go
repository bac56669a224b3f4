package protocol_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

// FuzzReader: the Reader never panics, every accepted RECORD has a stream
// and data that is a valid JSON object, and every accepted message passes
// Validate and survives a Writer round trip.
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jsonl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"type":"RECORD","record":{"stream":"s","data":{"a":[1,2.5e3,-0,"\u00e9\n",true,null,{}]},"emitted_at":-12}}`))
	f.Add([]byte("{\"type\":\"RECORD\",\"record\":{\"stream\":\"\\ud800\",\"data\":{}}}\n\n{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := protocol.NewReader(bytes.NewReader(in), protocol.WithMaxLineSize(4096))
		for range 1000 {
			m, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !protocol.IsLineError(err) {
					t.Fatalf("non-line error from a bytes.Reader: %v", err)
				}
				continue
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("accepted an invalid message: %v", err)
			}
			if m.Type == protocol.TypeRecord {
				if m.Record == nil || m.Record.Stream == "" || len(m.Record.Data) == 0 {
					t.Fatalf("accepted RECORD without stream or data: %+v", m.Record)
				}
				if m.Record.Data[0] != '{' || !json.Valid(m.Record.Data) {
					t.Fatalf("accepted RECORD data that is not a JSON object: %q", m.Record.Data)
				}
			}
			var buf bytes.Buffer
			w := protocol.NewWriter(&buf)
			if err := w.Write(m); err != nil {
				t.Fatalf("write back: %v", err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			m2, err := protocol.NewReader(&buf).Next()
			if err != nil {
				t.Fatalf("re-read %q: %v", buf.Bytes(), err)
			}
			if m2.Type != m.Type {
				t.Fatalf("round trip changed type %s → %s", m.Type, m2.Type)
			}
		}
	})
}
