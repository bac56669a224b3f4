package connector

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store"
)

// StreamView is one configured stream.
type StreamView struct {
	Name                string   `json:"name"`
	SyncMode            string   `json:"sync_mode"`
	DestinationSyncMode string   `json:"destination_sync_mode"`
	PrimaryKey          []string `json:"primary_key,omitempty"`
	CursorField         []string `json:"cursor_field,omitempty"`
}

// View is a connector as the API shows it. Config has its secrets redacted.
type View struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Source      string          `json:"source"`
	Config      json.RawMessage `json:"config,omitempty"`
	Streams     []StreamView    `json:"streams"`
	Warehouse   string          `json:"warehouse"`
	StorageMode string          `json:"storage_mode"`
	CreatedAt   time.Time       `json:"created_at"`
	LastRun     *RunView        `json:"last_run,omitempty"`
	Schedule    string          `json:"schedule,omitempty"`
	NextRunAt   *time.Time      `json:"next_run_at,omitempty"`
}

// RunView is a run as the API shows it: a sync, or table maintenance.
type RunView struct {
	ID        string `json:"id"`
	Connector string `json:"connector"`
	// Kind is "sync" or "maintenance".
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Records    int64           `json:"records"`
	Bytes      int64           `json:"bytes"`
	Streams    json.RawMessage `json:"streams,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	DurationMS int64           `json:"duration_ms"`
	// Attempts counts the processes that took the run on: more than one when a
	// process died (or stopped) and the run was resumed from its committed state.
	Attempts int `json:"attempts"`
	// Joined: a sync was asked for while this run was being resumed, and joined it.
	Joined bool `json:"joined,omitempty"`
	// Tables is a maintenance run's report, one maintain.Report per table.
	Tables json.RawMessage `json:"tables,omitempty"`
}

func runView(r store.Run, connector string) RunView {
	v := RunView{ID: r.ID, Connector: connector, Kind: kindOf(r), Status: r.Status, Records: r.Records, Bytes: r.Bytes, Error: r.Error, CreatedAt: r.CreatedAt, Attempts: r.Attempts}
	switch {
	case len(r.Streams) == 0:
	case r.IsMaintenance():
		v.Tables = json.RawMessage(r.Streams)
	default:
		v.Streams = json.RawMessage(r.Streams)
	}
	if !r.StartedAt.IsZero() {
		t := r.StartedAt
		v.StartedAt = &t
		end := time.Now()
		if !r.FinishedAt.IsZero() {
			end = r.FinishedAt
		}
		v.DurationMS = end.Sub(t).Milliseconds()
	}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		v.FinishedAt = &t
	}
	return v
}

func streamViews(cat *protocol.ConfiguredCatalog) []StreamView {
	out := []StreamView{}
	for _, cs := range cat.Streams {
		v := StreamView{Name: cs.Stream.Name, SyncMode: string(cs.SyncMode), DestinationSyncMode: string(cs.DestinationSyncMode), CursorField: cs.CursorField}
		for _, p := range cs.PrimaryKey {
			if len(p) > 0 {
				v.PrimaryKey = append(v.PrimaryKey, p[0])
			}
		}
		out = append(out, v)
	}
	return out
}

// view builds c's view; spec (nil: asked from the source) finds the secrets to redact.
func (s *Service) view(ctx context.Context, org store.Org, c store.Connector, spec *protocol.ConnectorSpecification) (View, error) {
	cat, err := catalogOf(c)
	if err != nil {
		return View{}, err
	}
	v := View{ID: c.ID, Name: c.Name, Source: c.Source, Streams: streamViews(cat), Warehouse: c.Warehouse, StorageMode: c.StorageMode, CreatedAt: c.CreatedAt}
	if cfg, err := s.config(c); err == nil {
		v.Config = s.redact(ctx, c, spec, cfg)
	}
	if scheds, ok := s.Store.(store.Schedules); ok {
		if sc, err := scheds.Schedule(ctx, org.ID, c.ID); err == nil {
			v.Schedule = sc.Spec
			next := sc.NextRunAt
			v.NextRunAt = &next
		}
	}
	if runs, err := s.Store.Runs(ctx, org.ID, c.ID, 1); err == nil && len(runs) > 0 {
		rv := runView(runs[0], c.Name)
		v.LastRun = &rv
	}
	return v, nil
}

// redact hides the config's secret fields; when the spec cannot be read it hides the
// whole config rather than risk showing a secret.
func (s *Service) redact(ctx context.Context, c store.Connector, spec *protocol.ConnectorSpecification, cfg json.RawMessage) json.RawMessage {
	if spec == nil {
		var err error
		if spec, err = s.spec(ctx, c); err != nil {
			return nil
		}
	}
	paths, err := source.SecretPaths(spec)
	if err != nil {
		return nil
	}
	out, err := source.Redact(cfg, paths)
	if err != nil {
		return nil
	}
	return out
}

// Get returns one connector.
func (s *Service) Get(ctx context.Context, org store.Org, name string) (View, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, org, c, nil)
}

// List returns the organization's connectors.
func (s *Service) List(ctx context.Context, org store.Org) ([]View, error) {
	cs, err := s.Store.ListConnectors(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	out := []View{}
	for _, c := range cs {
		v, err := s.view(ctx, org, c, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// spec returns a source's specification, asked once per source reference: listing
// connectors must not start every exec: or image: source again.
func (s *Service) spec(ctx context.Context, c store.Connector) (*protocol.ConnectorSpecification, error) {
	return s.specs.get(ctx, specKey(c.Source, c.Manifest), func() (source.Source, error) { return s.openSource(c) })
}

// specCache keeps the specifications of source references.
type specCache struct {
	mu sync.Mutex
	m  map[string]*protocol.ConnectorSpecification // by source reference
}

func (c *specCache) get(ctx context.Context, key string, open func() (source.Source, error)) (*protocol.ConnectorSpecification, error) {
	c.mu.Lock()
	spec, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return spec, nil
	}
	src, err := open()
	if err != nil {
		return nil, err
	}
	if spec, err = src.Spec(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*protocol.ConnectorSpecification{}
	}
	c.m[key] = spec
	c.mu.Unlock()
	return spec, nil
}
