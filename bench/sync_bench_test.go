package bench_test

import (
	"context"
	"flag"
	"testing"

	"github.com/lakeport/lakeport/bench"
)

var benchRecords = flag.Int("bench.records", 1_000_000, "events in BenchmarkSyncEvents' stream")

// BenchmarkSyncEvents syncs a recorded protocol stream of sample events
// (-bench.records, default 1,000,000) into a new local Iceberg table per
// iteration, read through an exec: source (a pipe from cat) and through
// protocol.Reader in process.
func BenchmarkSyncEvents(b *testing.B) {
	ctx := context.Background()
	in, err := bench.Generate(ctx, b.TempDir(), *benchRecords, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, src := range []string{bench.SourceExec, bench.SourceReader} {
		b.Run("source="+src, func(b *testing.B) {
			b.SetBytes(in.DataBytes)
			var records int64
			for b.Loop() {
				run, err := bench.RunSync(ctx, bench.SyncSpec{Input: in, LakeDir: b.TempDir(), Source: src})
				if err != nil {
					b.Fatal(err)
				}
				records += run.Records
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
