package bench_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/lakeport/lakeport/bench"
)

// Split cuts a recorded stream into the streams of consecutive incremental
// reads: every record once, in order, each part ending with the STATE after
// its records.
func TestSplit(t *testing.T) {
	in, err := bench.Generate(t.Context(), t.TempDir(), 1000, 250)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := bench.Split(in, t.TempDir(), 250)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 4 {
		t.Fatalf("%d parts, want 4", len(parts))
	}
	var whole []byte
	var records, size int64
	for i, p := range parts {
		raw, err := os.ReadFile(p.Protocol)
		if err != nil {
			t.Fatal(err)
		}
		if p.Records != 250 || p.ProtocolBytes != int64(len(raw)) || p.Catalog != in.Catalog {
			t.Errorf("part %d: %+v (%d bytes)", i, p, len(raw))
		}
		lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
		last := lines[len(lines)-1]
		if i < len(parts)-1 && !bytes.Contains(last, []byte(`"type":"STATE"`)) {
			t.Errorf("part %d ends with %s, want its STATE", i, last)
		}
		whole = append(whole, raw...)
		records += p.Records
		size += p.DataBytes
	}
	orig, err := os.ReadFile(in.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole, orig) || records != in.Records || size != in.DataBytes {
		t.Errorf("the parts together are not the input: %d records, %d bytes of data (want %d, %d)", records, size, in.Records, in.DataBytes)
	}
}
