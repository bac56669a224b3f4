// Package manifest runs Airbyte declarative (manifest) sources in process:
// the YAML a connector's manifest.yaml holds (the format of the Python CDK's
// declarative_component_schema.yaml) becomes a source that speaks the
// Airbyte protocol, with no Python and no container.
//
// New reads and checks a manifest once: every component lakeport does not
// run (every Custom* component, which calls Python code) is refused there,
// with its JSON path, and so is every template that uses something lakeport
// does not have, so nothing unsupported is found halfway through a sync.
// Read streams records as pages arrive and emits a stream's STATE after
// each completed time slice.
//
// A manifest is tenant input. It reads no file (except schemas next to a
// manifest the operator published, see Options.ManifestDir), reaches the
// network only through the one client given by Options (where the
// operator's outbound address rules apply), never sends credentials to a
// host other than the API's, and its templates are bounded (package interp).
package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/source/manifest/interp"
)

// ErrUnsupported is wrapped by the error of a manifest that uses what
// lakeport does not run.
var ErrUnsupported = errors.New("manifest: unsupported")

// Source is a manifest source. It implements source.InProcess.
type Source struct {
	doc  *document.Document
	rt   *runtime
	eng  *interp.Engine
	opts Options
}

// New reads, resolves and checks a manifest.
func New(data []byte, opts Options) (*Source, error) {
	doc, err := document.Parse(data)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	eng := interp.New()
	eng.Now = opts.Now
	b := &builder{eng: eng, opts: opts}
	rt, err := b.build(doc)
	if err != nil {
		return nil, err
	}
	return &Source{doc: doc, rt: rt, eng: eng, opts: opts}, nil
}

// Streams returns the names of the manifest's streams.
func (s *Source) Streams() []string {
	var out []string
	for _, st := range s.rt.streams {
		out = append(out, st.name)
	}
	return out
}

func (s *Source) newRun(config json.RawMessage) (*run, error) {
	cfg := map[string]any{}
	if len(config) > 0 {
		v, err := decodeJSON(config)
		if err != nil {
			return nil, fmt.Errorf("manifest: the config is not JSON: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, fmt.Errorf("manifest: the config must be a JSON object")
		}
		if m != nil {
			cfg = m
		}
	}
	rate := s.rt.rate
	if rate <= 0 {
		rate = s.opts.RequestsPerSecond
	}
	return &run{config: cfg, client: newClient(s.opts, rate), eng: s.eng}, nil
}

// Spec returns the manifest's spec.
func (s *Source) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{
		DocumentationURL:              s.rt.docURL,
		ConnectionSpecification:       s.rt.spec,
		SupportsIncremental:           true,
		SupportedDestinationSyncModes: []protocol.DestinationSyncMode{protocol.Overwrite, protocol.Append, protocol.AppendDedup},
	}, nil
}

// Check reads the first page of each of the check's streams.
func (s *Source) Check(ctx context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error) {
	rt, err := s.newRun(config)
	if err != nil {
		return &protocol.ConnectionStatus{Status: protocol.StatusFailed, Message: err.Error()}, nil
	}
	rt.checkOnly = true
	for _, name := range s.rt.check {
		st := s.rt.stream(name)
		if st == nil {
			continue
		}
		_, err := rt.readStream(ctx, st, nil, false, func(map[string]any, map[string]any) error { return errEnough }, nil)
		if err != nil && !errors.Is(err, errEnough) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return &protocol.ConnectionStatus{Status: protocol.StatusFailed, Message: err.Error()}, nil
		}
	}
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

// Discover lists the streams with their schemas; it sends no request.
func (s *Source) Discover(_ context.Context, config json.RawMessage) (*protocol.Catalog, error) {
	rt, err := s.newRun(config)
	if err != nil {
		return nil, err
	}
	cat := &protocol.Catalog{}
	for _, st := range s.rt.streams {
		ps := protocol.Stream{Name: st.name, JSONSchema: st.schema, SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh},
			SourceDefinedPrimaryKey: st.primaryKey, IsResumable: true}
		if st.cursor != nil {
			ps.SupportedSyncModes = append(ps.SupportedSyncModes, protocol.Incremental)
			ps.SourceDefinedCursor = true
			ps.DefaultCursorField = []string{st.cursor.fieldName(rt)}
		}
		cat.Streams = append(cat.Streams, ps)
	}
	return cat, nil
}

// Run reads the configured streams, in the catalog's order.
func (s *Source) Run(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error {
	rt, err := s.newRun(config)
	if err != nil {
		return err
	}
	states := map[protocol.StreamDescriptor]json.RawMessage{}
	if len(state) > 0 && string(state) != "null" {
		if states, err = protocol.StreamStates(state); err != nil {
			return fmt.Errorf("manifest: state: %w", err)
		}
	}
	if catalog == nil {
		return errors.New("manifest: read needs a configured catalog")
	}
	for _, cs := range catalog.Streams {
		st := s.rt.stream(cs.Stream.Name)
		if st == nil {
			return fmt.Errorf("manifest: the catalog names stream %q, which the manifest does not have (streams: %s)", cs.Stream.Name, strings.Join(s.Streams(), ", "))
		}
		desc := protocol.StreamDescriptor{Name: st.name, Namespace: cs.Stream.Namespace}
		incremental := cs.SyncMode == protocol.Incremental && st.cursor != nil
		var prior map[string]any
		if raw, ok := states[desc]; ok && incremental {
			v, err := decodeJSON(raw)
			if err != nil {
				return fmt.Errorf("manifest: stream %s: state: %w", st.name, err)
			}
			prior, _ = v.(map[string]any)
		}
		var count int64
		onRecord := func(rec, _ map[string]any) error {
			data, err := json.Marshal(interp.Plain(rec))
			if err != nil {
				return fmt.Errorf("stream %s: record: %w", st.name, err)
			}
			count++
			return emit(&protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{
				Namespace: cs.Stream.Namespace, Stream: st.name, Data: data, EmittedAt: time.Now().UnixMilli()}})
		}
		var onState func(map[string]any) error
		if incremental {
			onState = func(sm map[string]any) error {
				raw, err := json.Marshal(interp.Plain(sm))
				if err != nil {
					return err
				}
				n := count
				count = 0
				return emit(protocol.NewStreamStateMessage(desc, raw, n))
			}
		}
		if _, err := rt.readStream(ctx, st, prior, incremental, onRecord, onState); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	return nil
}

// Requests returns how many HTTP requests a run sent; for tests and the
// benchmark.
func (rt *run) Requests() int64 { return rt.requests.Load() }
