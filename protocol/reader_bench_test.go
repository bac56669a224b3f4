package protocol_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/lakeport/lakeport/protocol"
)

// benchInput returns n small RECORD lines (~200 bytes each, like a SaaS row).
func benchInput(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"type":"RECORD","record":{"stream":"events","data":{"id":%d,"type":"page_view","customer_id":%d,"created_at":"2024-01-01T00:00:%02d.000Z","properties":{"path":"/pricing","browser":"firefox","duration_ms":%d,"is_mobile":false}},"emitted_at":1704067200000}}`+"\n", i, i%977, i%60, i%5000)
	}
	return b.Bytes()
}

func BenchmarkReaderSmallRecords(b *testing.B) {
	const n = 10000
	in := benchInput(n)
	b.SetBytes(int64(len(in) / n))
	b.ReportAllocs()
	rd := bytes.NewReader(in)
	r := protocol.NewReader(rd)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := r.Next()
		if err == io.EOF {
			b.StopTimer()
			rd.Reset(in)
			r = protocol.NewReader(rd)
			b.StartTimer()
			m, err = r.Next()
		}
		if err != nil || m.Record == nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkWriterRecords(b *testing.B) {
	data := []byte(`{"id":1,"type":"page_view","customer_id":5,"created_at":"2024-01-01T00:00:01.000Z","properties":{"path":"/pricing","browser":"firefox","duration_ms":10,"is_mobile":false}}`)
	w := protocol.NewWriter(io.Discard)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := w.WriteRecord("events", "", data, 1704067200000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
