package sample_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

// BenchmarkEvents1M reads one million events through source.Open("sample").
func BenchmarkEvents1M(b *testing.B) {
	src := open(b)
	config := `{"events":1000000,"state_every":10000}`
	cat := configured(b, src, config, protocol.Incremental, "events")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st, err := src.Read(context.Background(), json.RawMessage(config), cat, nil)
		if err != nil {
			b.Fatal(err)
		}
		n, bytes := 0, 0
		for {
			m, err := st.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if m.Type == protocol.TypeRecord {
				n++
				bytes += len(m.Record.Data)
			}
		}
		st.Close()
		if n != 1000000 {
			b.Fatalf("%d events", n)
		}
		b.SetBytes(int64(bytes))
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkEvents1MWire adds encoding to JSON lines and parsing them back,
// as an exec: source would cost.
func BenchmarkEvents1MWire(b *testing.B) {
	src := open(b)
	config := `{"events":1000000,"state_every":10000}`
	cat := configured(b, src, config, protocol.Incremental, "events")
	for i := 0; i < b.N; i++ {
		st, err := src.Read(context.Background(), json.RawMessage(config), cat, nil)
		if err != nil {
			b.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() {
			w := protocol.NewWriter(pw)
			for {
				m, err := st.Next()
				if err != nil {
					break
				}
				if err := w.Write(m); err != nil {
					break
				}
			}
			w.Flush()
			pw.Close()
		}()
		r := protocol.NewReader(pr)
		n := 0
		for {
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if m.Type == protocol.TypeRecord {
				n++
			}
		}
		st.Close()
		if n != 1000000 {
			b.Fatalf("%d events", n)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "records/s")
}
