package schema_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkBatchBuilderAppend measures the record hot path: small records of
// ten fields, one batch every 10k records.
func BenchmarkBatchBuilderAppend(b *testing.B) {
	bb := newBuilder(b, memory.DefaultAllocator, testJSONSchema)
	defer bb.Release()
	records := make([][]byte, 1000)
	size := 0
	for i := range records {
		records[i] = fmt.Appendf(nil, `{"id":%d,"name":"customer number %d","score":%d.25,"active":%t,`+
			`"created_at":"2024-01-%02dT03:04:05.123Z","local_at":"2024-01-02T03:04:05","day":"2024-02-%02d",`+
			`"clock":"12:34:56","address":{"city":"Oslo","zip":"0150"},"tags":["a","b"]}`,
			i, i, i, i%2 == 0, i%28+1, i%28+1)
		size += len(records[i])
	}
	now := time.Now()
	b.SetBytes(int64(size / len(records)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bb.Append(records[i%len(records)], now, 1); err != nil {
			b.Fatal(err)
		}
		if bb.Len() == 10000 {
			bb.NewRecord().Release()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
