package protocol_test

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden reads each testdata/*.jsonl stream, writes every message back
// with the Writer (and every error as a line), and compares with the
// matching .golden file. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out bytes.Buffer
			w := protocol.NewWriter(&out)
			r := protocol.NewReader(f)
			for {
				m, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					if !protocol.IsLineError(err) {
						t.Fatal(err)
					}
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
					out.WriteString("error: " + err.Error() + "\n")
					continue
				}
				if err := w.Write(m); err != nil {
					t.Fatalf("write back line %d: %v", r.Line(), err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".jsonl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, out.Bytes(), want)
			}
			// What the Writer wrote reads back to the same thing.
			if !strings.Contains(in, "mixed") {
				var again bytes.Buffer
				w2 := protocol.NewWriter(&again)
				r2 := protocol.NewReader(bytes.NewReader(out.Bytes()))
				for {
					m, err := r2.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("re-read: %v", err)
					}
					if err := w2.Write(m); err != nil {
						t.Fatal(err)
					}
				}
				if err := w2.Flush(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Bytes(), out.Bytes()) {
					t.Errorf("round trip is not stable:\n%s\nvs\n%s", again.Bytes(), out.Bytes())
				}
			}
		})
	}
}
