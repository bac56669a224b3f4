package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

// validScanner is a DataScanner that reads any well-formed JSON object with
// encoding/json, and remembers what it was handed.
type validScanner struct {
	calls  int
	stream string
}

func (s *validScanner) ScanData(stream, namespace string, b []byte) (int, bool) {
	s.calls++
	s.stream = stream
	d := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := d.Decode(&v); err != nil || len(v) == 0 || v[0] != '{' {
		return 0, false
	}
	return int(d.InputOffset()), true
}

// parsed is one line's outcome, the same whichever way it was read.
type parsed struct {
	Msg  string // the message, as the Writer writes it
	Rec  *protocol.RecordMessage
	Err  string
	Line int64
}

func viaReader(t *testing.T, in []byte, max int) []parsed {
	r := protocol.NewReader(bytes.NewReader(in), protocol.WithMaxLineSize(max))
	var out []parsed
	for range 10_000 {
		m, err := r.Next()
		if err == io.EOF {
			return out
		}
		out = append(out, outcome(t, m, err))
		if err != nil && !protocol.IsLineError(err) {
			return out
		}
	}
	t.Fatal("no end")
	return nil
}

func outcome(t *testing.T, m *protocol.Message, err error) parsed {
	if err != nil {
		var le *protocol.LineError
		p := parsed{Err: err.Error()}
		if errors.As(err, &le) {
			p.Line = le.Line
		}
		return p
	}
	if m.Type == protocol.TypeRecord {
		rec := *m.Record
		return parsed{Rec: &rec}
	}
	var buf bytes.Buffer
	w := protocol.NewWriter(&buf)
	if err := w.Write(m); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return parsed{Msg: buf.String()}
}

// viaChunks reads in with NextChunk (chunks of size bytes) and parses each
// line with a LineParser given scan.
func viaChunks(t *testing.T, in []byte, max, size int, scan protocol.DataScanner) []parsed {
	r := protocol.NewReader(bytes.NewReader(in), protocol.WithMaxLineSize(max))
	p := protocol.NewLineParser()
	var out []parsed
	var buf []byte
	for range 10_000 {
		c, err := r.NextChunk(buf, size)
		if err == io.EOF {
			return out
		}
		if err != nil {
			out = append(out, outcome(t, nil, err))
			if !protocol.IsLineError(err) {
				return out
			}
			continue
		}
		if len(c.Lines) == 0 || c.Lines[len(c.Lines)-1] != '\n' {
			t.Fatalf("chunk %q does not end a line", c.Lines)
		}
		n := c.First
		for line := range bytes.Lines(c.Lines) {
			rec, m, err := p.Parse(line, n, scan)
			n++
			switch {
			case err != nil:
				out = append(out, outcome(t, nil, err))
			case rec != nil:
				out = append(out, parsed{Rec: &protocol.RecordMessage{Namespace: rec.Namespace, Stream: rec.Stream,
					Data: bytes.Clone(rec.Data), EmittedAt: rec.EmittedAt, Meta: rec.Meta}})
				if scan != nil && rec.Scanned && !json.Valid(rec.Data) {
					t.Fatalf("scanned data %q is not JSON", rec.Data)
				}
			case m != nil:
				out = append(out, outcome(t, m, nil))
			}
		}
		buf = c.Lines
	}
	t.Fatal("no end")
	return nil
}

func checkSame(t *testing.T, in []byte, max int) {
	t.Helper()
	want := viaReader(t, in, max)
	for _, size := range []int{1, 100, 1 << 20} {
		for _, scan := range []protocol.DataScanner{nil, &validScanner{}} {
			got := viaChunks(t, in, max, size, scan)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("chunks of %d (scanner %v) differ from Reader.Next on %q:\n got %+v\nwant %+v", size, scan != nil, in, got, want)
			}
		}
	}
}

// NextChunk + LineParser return what Reader.Next returns, line for line and
// error for error, on every golden stream.
func TestLineParserMatchesReader(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.jsonl")
	if len(files) == 0 {
		t.Fatal("no golden streams")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, b, 1<<20)
	}
	checkSame(t, []byte(strings.Repeat("x", 300)+"\n"+`{"type":"LOG","log":{"level":"INFO","message":"after"}}`), 100)
}

// The scanner reads a RECORD's data only when the stream came first, and
// its reading counts only for the stream and data the line ends up with.
func TestLineParserScanner(t *testing.T) {
	for _, tt := range []struct {
		line    string
		calls   int
		scanned bool
	}{
		{`{"type":"RECORD","record":{"stream":"a","data":{"x":1},"emitted_at":1}}`, 1, true},
		{`{"type":"RECORD","record":{"namespace":"n","stream":"a","data":{"x":1}}}`, 1, true},
		{`{"type":"RECORD","record":{"data":{"x":1},"stream":"a"}}`, 0, false},
		{`{"record":{"stream":"a","data":{"x":1}},"type":"RECORD"}`, 0, false},
		{`{"type":"RECORD","record":{"stream":"a","data":{"x":1},"stream":"b"}}`, 1, false},
		{`{"type":"RECORD","record":{"stream":"a","data":{"x":1},"namespace":"n"}}`, 1, false},
		{`{"type":"RECORD","record":{"stream":"a","data":{"x":1},"data":{"y":2}}}`, 2, true},
		{`{"type":"RECORD","record":{"stream":"a","data":{"x":}}}`, 1, false},
		{`{"type":"RECORD","record":{"stream":"a","data":[1]}}`, 1, false},
	} {
		s := &validScanner{}
		rec, _, err := protocol.NewLineParser().Parse([]byte(tt.line), 1, s)
		if s.calls != tt.calls {
			t.Errorf("%s: %d calls, want %d", tt.line, s.calls, tt.calls)
		}
		if rec == nil {
			if tt.scanned || err == nil {
				t.Errorf("%s: no record (%v)", tt.line, err)
			}
			continue
		}
		if rec.Scanned != tt.scanned {
			t.Errorf("%s: scanned = %v, want %v", tt.line, rec.Scanned, tt.scanned)
		}
	}
}

// FuzzLineParser: NextChunk + LineParser (with and without a scanner) agree
// with Reader.Next on any input.
func FuzzLineParser(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jsonl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"type":"RECORD","record":{"stream":"s","data":{"a":[1,2.5e3,-0,"\u00e9\n",true,null,{}]},"emitted_at":-12}}`))
	f.Add([]byte(`{"type":"RECORD","record":{"stream":"s","data":{"a":1},"stream":"t","data":{"b":2}}}` + "\n \n{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSame(t, in, 512)
	})
}
