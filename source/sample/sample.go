// Package sample is the built-in `sample` source: realistic, deterministic
// SaaS data (customers, invoices, events) for demos, tests and benchmarks.
//
// Output is a pure function of the config's seed and the state: no wall
// clock is read. Each incremental read advances simulated time by one
// epoch (a week): the next read with the state of the previous one emits
// the customers and invoices updated since (newer updated_at, changed
// fields) and the new ones, and the new events. A full refresh emits the
// first epoch and ignores state.
package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/lakeport/lakeport/protocol"
)

// Config is the sample source's configuration.
type Config struct {
	Seed       int64 `json:"seed"`
	Customers  int64 `json:"customers"`   // customers in the first sync
	Invoices   int64 `json:"invoices"`    // invoices in the first sync
	Events     int64 `json:"events"`      // events per sync
	StateEvery int64 `json:"state_every"` // records between STATE messages
}

// Defaults for absent config fields.
const (
	DefaultSeed       = 42
	DefaultCustomers  = 100
	DefaultInvoices   = 300
	DefaultEvents     = 1000
	DefaultStateEvery = 1000
	maxRecords        = 100_000_000
)

const specSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Sample source",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "seed": {"type": "integer", "description": "Same seed, same data.", "default": 42},
    "customers": {"type": "integer", "minimum": 0, "maximum": 100000000, "description": "Customers in the first sync; each later sync updates about 10% and adds 5%.", "default": 100},
    "invoices": {"type": "integer", "minimum": 0, "maximum": 100000000, "description": "Invoices in the first sync; each later sync updates about 10% and adds 5%.", "default": 300},
    "events": {"type": "integer", "minimum": 0, "maximum": 100000000, "description": "Events per sync (append only).", "default": 1000},
    "state_every": {"type": "integer", "minimum": 1, "description": "Records between STATE messages.", "default": 1000}
  }
}`

// ParseConfig decodes config, fills defaults and checks ranges.
func ParseConfig(config json.RawMessage) (Config, error) {
	c := Config{Seed: DefaultSeed, Customers: DefaultCustomers, Invoices: DefaultInvoices, Events: DefaultEvents, StateEvery: DefaultStateEvery}
	if len(bytes.TrimSpace(config)) > 0 && string(bytes.TrimSpace(config)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("sample: config: %w", err)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"customers", c.Customers}, {"invoices", c.Invoices}, {"events", c.Events}} {
		if f.v < 0 || f.v > maxRecords {
			return c, fmt.Errorf("sample: config: %s is %d, want 0 to %d", f.name, f.v, maxRecords)
		}
	}
	if c.StateEvery < 1 {
		return c, fmt.Errorf("sample: config: state_every is %d, want at least 1", c.StateEvery)
	}
	return c, nil
}

// Source is the sample source. It implements source.InProcess.
type Source struct{}

// New returns the sample source.
func New() *Source { return &Source{} }

// Spec returns the sample source's specification.
func (*Source) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{
		DocumentationURL:              "https://github.com/lakeport/lakeport/tree/main/source/sample",
		ConnectionSpecification:       json.RawMessage(specSchema),
		SupportsIncremental:           true,
		SupportedDestinationSyncModes: []protocol.DestinationSyncMode{protocol.Overwrite, protocol.Append, protocol.AppendDedup},
		ProtocolVersion:               "0.5.2",
	}, nil
}

// Check validates the config.
func (*Source) Check(_ context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error) {
	if _, err := ParseConfig(config); err != nil {
		return &protocol.ConnectionStatus{Status: protocol.StatusFailed, Message: err.Error()}, nil
	}
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

// Stream names.
const (
	customers = "customers"
	invoices  = "invoices"
	events    = "events"
)

// Discover returns the three streams.
func (*Source) Discover(_ context.Context, config json.RawMessage) (*protocol.Catalog, error) {
	if _, err := ParseConfig(config); err != nil {
		return nil, err
	}
	both := []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}
	return &protocol.Catalog{Streams: []protocol.Stream{
		{Name: customers, JSONSchema: json.RawMessage(customersSchema), SupportedSyncModes: both, SourceDefinedCursor: true,
			DefaultCursorField: []string{"updated_at"}, SourceDefinedPrimaryKey: [][]string{{"id"}}, IsResumable: true},
		{Name: invoices, JSONSchema: json.RawMessage(invoicesSchema), SupportedSyncModes: both, SourceDefinedCursor: true,
			DefaultCursorField: []string{"updated_at"}, SourceDefinedPrimaryKey: [][]string{{"id"}}, IsResumable: true},
		{Name: events, JSONSchema: json.RawMessage(eventsSchema), SupportedSyncModes: both, SourceDefinedCursor: true,
			DefaultCursorField: []string{"created_at"}, SourceDefinedPrimaryKey: [][]string{{"id"}}, IsResumable: true},
	}}, nil
}

// streamState is the state of one stream.
type streamState struct {
	Cursor string `json:"cursor"` // the cursor value of the last record emitted
	Epoch  int64  `json:"epoch"`  // the simulated sync it belongs to
}

type generator struct {
	cfg       Config
	plans     map[string]*plan
	emittedAt int64
}

func newGenerator(cfg Config) *generator {
	t0 := timeBase(cfg.Seed)
	g := &generator{cfg: cfg, plans: map[string]*plan{
		customers: {seed: cfg.Seed, tag: 1, t0: t0, initial: cfg.Customers, updates: (cfg.Customers + 9) / 10, fresh: (cfg.Customers + 19) / 20},
		invoices:  {seed: cfg.Seed, tag: 2, t0: t0, initial: cfg.Invoices, updates: (cfg.Invoices + 9) / 10, fresh: (cfg.Invoices + 19) / 20},
		events:    {seed: cfg.Seed, tag: 3, t0: t0, initial: cfg.Events, fresh: cfg.Events},
	}}
	return g
}

// Run reads the configured streams, in catalog order.
func (*Source) Run(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	cfg, err := ParseConfig(config)
	if err != nil {
		return err
	}
	if catalog == nil {
		return fmt.Errorf("sample: read: no catalog")
	}
	g := newGenerator(cfg)
	for _, cs := range catalog.Streams {
		if g.plans[cs.Stream.Name] == nil || cs.Stream.Namespace != "" {
			return fmt.Errorf("sample: read: the catalog asks for stream %q, which the sample source does not have (it has customers, invoices, events)",
				cs.Stream.Descriptor().String())
		}
		if cs.SyncMode != protocol.FullRefresh && cs.SyncMode != protocol.Incremental {
			return fmt.Errorf("sample: read: stream %s: unknown sync mode %q", cs.Stream.Name, cs.SyncMode)
		}
	}
	states, err := protocol.StreamStates(state)
	if err != nil {
		return fmt.Errorf("sample: read: state: %w", err)
	}
	if err := emit(logMessage(fmt.Sprintf("sample: reading %d streams (seed %d)", len(catalog.Streams), cfg.Seed))); err != nil {
		return err
	}
	for _, cs := range catalog.Streams {
		var prev *streamState
		if cs.SyncMode == protocol.Incremental {
			if raw, ok := states[cs.Stream.Descriptor()]; ok && len(raw) > 0 && string(raw) != "null" {
				prev = new(streamState)
				if err := json.Unmarshal(raw, prev); err != nil {
					return fmt.Errorf("sample: read: state of %s: %w", cs.Stream.Name, err)
				}
			}
		}
		if err := g.readStream(ctx, cs, prev, emit); err != nil {
			return err
		}
	}
	return nil
}

func logMessage(s string) *protocol.Message {
	return &protocol.Message{Type: protocol.TypeLog, Log: &protocol.LogMessage{Level: protocol.LogInfo, Message: s}}
}

func statusMessage(name string, status protocol.StreamStatus, at int64) *protocol.Message {
	return &protocol.Message{Type: protocol.TypeTrace, Trace: &protocol.TraceMessage{Type: protocol.TraceStreamStatus, EmittedAt: float64(at),
		StreamStatus: &protocol.StreamStatusTrace{StreamDescriptor: protocol.StreamDescriptor{Name: name}, Status: status}}}
}

// recordAlloc puts a Message and its RecordMessage in one allocation.
type recordAlloc struct {
	msg protocol.Message
	rec protocol.RecordMessage
}

func (g *generator) readStream(ctx context.Context, cs protocol.ConfiguredStream, prev *streamState, emit func(*protocol.Message) error) error {
	name := cs.Stream.Name
	p := g.plans[name]
	incremental := cs.SyncMode == protocol.Incremental
	// Which epochs, and from which cursor.
	from, target, cursor := int64(0), int64(0), int64(-1<<62)
	if prev != nil {
		c, err := parseTime(prev.Cursor)
		if err != nil {
			return fmt.Errorf("sample: read: state of %s: cursor: %w", name, err)
		}
		if prev.Epoch < 0 || prev.Epoch >= maxEpoch {
			return fmt.Errorf("sample: read: state of %s: epoch %d out of range", name, prev.Epoch)
		}
		cursor, from, target = c, p.epochOf(c), prev.Epoch+1
		if from > target {
			target = from
		}
	}
	emittedAt := p.t0 + (target+1)*window // simulated sync time
	d := protocol.StreamDescriptor{Name: name}
	if err := emit(statusMessage(name, protocol.StreamStarted, emittedAt)); err != nil {
		return err
	}
	var (
		slab      []byte
		allocs    []recordAlloc
		since     int64 // records since the last state
		last      = cursor
		stateBuf  []byte
		sentState bool
	)
	emitState := func() error {
		stateBuf = append(stateBuf[:0], `{"cursor":"`...)
		c := last
		if c == -1<<62 {
			c = p.t0 - 1
		}
		stateBuf = appendTime(stateBuf, c)
		stateBuf = append(stateBuf, `","epoch":`...)
		stateBuf = fmt.Appendf(stateBuf, "%d}", target)
		m := protocol.NewStreamStateMessage(d, append(json.RawMessage(nil), stateBuf...), since)
		since = 0
		sentState = true
		return emit(m)
	}
	for e := from; e <= target; e++ {
		pos := int64(0)
		if cursor > -1<<62 {
			pos = p.firstAfter(e, cursor)
		}
		for n := p.length(e); pos < n; pos++ {
			id, ts, _ := p.at(e, pos)
			if len(slab) > cap(slab)-2048 {
				slab = make([]byte, 0, 256<<10)
			}
			start := len(slab)
			switch name {
			case customers:
				slab = g.customer(slab, id, e, ts)
			case invoices:
				slab = g.invoice(slab, id, e, ts)
			case events:
				slab = g.event(slab, id, e, ts)
			}
			if len(allocs) == 0 {
				allocs = make([]recordAlloc, 256)
			}
			a := &allocs[0]
			allocs = allocs[1:]
			a.rec = protocol.RecordMessage{Stream: name, Data: slab[start:len(slab):len(slab)], EmittedAt: emittedAt}
			a.msg = protocol.Message{Type: protocol.TypeRecord, Record: &a.rec}
			if err := emit(&a.msg); err != nil {
				return err
			}
			last = ts
			since++
			if incremental && since >= g.cfg.StateEvery {
				if err := emitState(); err != nil {
					return err
				}
			}
			if pos&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	if incremental && (since > 0 || !sentState) {
		if err := emitState(); err != nil {
			return err
		}
	}
	return emit(statusMessage(name, protocol.StreamComplete, emittedAt))
}

// parseTime parses the fixed-width form appendTime writes (and, more
// leniently, any RFC 3339 time).
func parseTime(s string) (int64, error) {
	t, err := timeParse(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}
