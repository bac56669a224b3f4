// Package bench measures lakeport against DuckDB on the same machine in the
// same run: syncing a protocol stream of sample events into a local Iceberg
// table (Sync) and querying the synced table (Query). The lakeport bench
// command and the Go benchmarks in this package call it.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

// Input is a recorded protocol stream of sample events and the same
// records' data objects alone, one per line (what DuckDB reads).
type Input struct {
	// Protocol is the file of protocol lines (RECORD, STATE, LOG, TRACE) the
	// sync reads.
	Protocol string `json:"protocol"`
	// Data holds each RECORD's data object, one per line.
	Data    string `json:"data"`
	Records int64  `json:"records"`
	// DataBytes is the JSON of the records' data objects, without newlines;
	// MB/s figures are of these bytes.
	DataBytes int64 `json:"data_bytes"`
	// ProtocolBytes is the size of the protocol file.
	ProtocolBytes int64                       `json:"protocol_bytes"`
	Catalog       *protocol.ConfiguredCatalog `json:"catalog"`
}

// DefaultStateEvery is how many records the sample source emits between
// STATE messages in the recorded stream.
const DefaultStateEvery = 10_000

// sampleConfig asks the sample source for n events and nothing else.
func sampleConfig(n, stateEvery int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"seed": 42, "events": %d, "customers": 0, "invoices": 0, "state_every": %d}`, n, stateEvery))
}

// Generate records the sample source's first incremental read of n events
// into dir: events.protocol.jsonl (the protocol stream) and
// events.data.jsonl (the data objects). The catalog selects only events,
// incremental append.
func Generate(ctx context.Context, dir string, n, stateEvery int) (*Input, error) {
	if stateEvery <= 0 {
		stateEvery = DefaultStateEvery
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	src, err := source.Open("sample")
	if err != nil {
		return nil, err
	}
	cfg := sampleConfig(n, stateEvery)
	disc, err := src.Discover(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: discover: %w", err)
	}
	cat, err := syncer.Select(disc, []string{"events:incremental:append"})
	if err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	in := &Input{Protocol: filepath.Join(dir, "events.protocol.jsonl"), Data: filepath.Join(dir, "events.data.jsonl"), Catalog: cat}
	msgs, err := src.Read(ctx, cfg, cat, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: read: %w", err)
	}
	defer msgs.Close()
	pf, err := os.Create(in.Protocol)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	defer pf.Close()
	df, err := os.Create(in.Data)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	defer df.Close()
	pw := protocol.NewWriter(pf)
	dw := bufio.NewWriterSize(df, 256<<10)
	for {
		m, err := msgs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bench: generate: read: %w", err)
		}
		if err := pw.Write(m); err != nil {
			return nil, fmt.Errorf("bench: generate: %w", err)
		}
		if m.Type == protocol.TypeRecord {
			in.Records++
			in.DataBytes += int64(len(m.Record.Data))
			dw.Write(m.Record.Data)
			dw.WriteByte('\n')
		}
	}
	if err := msgs.Close(); err != nil {
		return nil, fmt.Errorf("bench: generate: read: %w", err)
	}
	if err := pw.Flush(); err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	if err := dw.Flush(); err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	for _, f := range []*os.File{pf, df} {
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("bench: generate: %w", err)
		}
	}
	fi, err := os.Stat(in.Protocol)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	in.ProtocolBytes = fi.Size()
	return in, nil
}
