// Package connector is what an organization does with its connectors: create one from a
// source and a config, discover its streams, sync it (as a queued job), read its run
// history, bind it again to the organization's current storage, and delete it with its
// data. The API and so the CLI call this package; nothing here speaks HTTP.
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/catalog"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/metrics"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/owner"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/syncer"
)

// Service runs connectors for every organization.
type Service struct {
	Store   store.Store
	Secrets *secrets.Box
	// Storage is where each organization's data lives (storage.Resolver).
	Storage Storage
	// Catalog keeps the tables (catalog/sql on the metadata store, catalog/glue or
	// catalog/rest); each organization is its own lake in it, named by its ID.
	Catalog catalog.Backend
	// Sources opens source references; nil means source.Default.
	Sources *source.Registry
	// Enqueue queues a sync job; the server sets it to its job queue.
	Enqueue func(context.Context, jobs.SyncArgs) error
	Logger  *slog.Logger
	// SyncOptions tune every sync (tests shrink batches).
	SyncOptions syncer.Options
	// Metrics, when set, counts finished runs.
	Metrics *metrics.Metrics
	// RunPolicy says how sync runs hold leases and share workers.
	RunPolicy RunPolicy
	// Maintenance tunes table maintenance runs (zero: maintain's defaults).
	Maintenance maintain.Options
	// MaxConnectors caps each organization's connectors (0: config.DefaultMaxConnectors);
	// MinScheduleInterval is the shortest schedule interval (0: config.DefaultMinScheduleInterval).
	MaxConnectors       int
	MinScheduleInterval time.Duration

	createMu sync.Map // org ID → *sync.Mutex: one create at a time per organization, for the cap

	specs specCache
}

// Storage is what the connectors need of the organization's storage.
type Storage interface {
	// Locate returns where the organization's data lives now, as the platform
	// reaches it (owner markers, queries, cleanup).
	Locate(ctx context.Context, org store.Org) (storage.Location, error)
	// LocateAs is Locate as who reaches it: syncs write as storage.Workers.
	LocateAs(ctx context.Context, org store.Org, who storage.Principal) (storage.Location, error)
	// Renew keeps a running sync's credentials fresh until ctx ends.
	Renew(ctx context.Context, org store.Org, loc storage.Location, apply func(storage.Location) error)
}

var _ Storage = (*storage.Resolver)(nil)

func (s *Service) sources() *source.Registry {
	if s.Sources != nil {
		return s.Sources
	}
	return source.Default
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// CheckName validates a connector name: it becomes the SQL schema of its tables and
// the folder of its data.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: use 1-63 lowercase letters, digits and underscores, starting with a letter (e.g. crm or stripe_prod); it names the SQL schema <name>.<stream> and the data folder", name)
	}
	return nil
}

// CreateRequest creates a connector.
type CreateRequest struct {
	Name   string          `json:"name"`
	Source string          `json:"source"`
	Config json.RawMessage `json:"config"`
	// Streams selects streams and modes ("events", "events:incremental:append");
	// empty selects every stream with lakeport's defaults.
	Streams []string `json:"streams,omitempty"`
	// Manifest is a declarative manifest (YAML or JSON) for Source
	// manifest:LABEL: the CLI reads it from the client's disk and sends it;
	// the server never reads a tenant's path. It is stored with the
	// connector.
	Manifest string `json:"manifest,omitempty"`
}

// Create validates the request (name, source, config against the source's spec),
// discovers the streams, binds the connector to the organization's current storage
// (claiming its prefix with an owner marker) and stores it with the config sealed.
func (s *Service) Create(ctx context.Context, org store.Org, req CreateRequest) (View, error) {
	var fields []FieldError
	if err := CheckName(req.Name); err != nil {
		fields = append(fields, FieldError{Field: "name", Message: err.Error()})
	}
	if req.Source == "" {
		fields = append(fields, FieldError{Field: "source", Message: "required: sample, exec:/path/to/connector, image:REF or manifest:PATH (see lakeport sources)"})
	}
	if len(req.Config) == 0 {
		req.Config = json.RawMessage(`{}`)
	}
	if len(fields) > 0 {
		return View{}, &InvalidError{Fields: fields}
	}
	mu, _ := s.createMu.LoadOrStore(org.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if err := s.checkConnectorLimit(ctx, org); err != nil {
		return View{}, err
	}
	if _, err := s.Store.Connector(ctx, org.ID, req.Name); err == nil {
		return View{}, fmt.Errorf("%w: %s", ErrExists, req.Name)
	}
	src, err := s.open(req.Source, req.Manifest)
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) || errors.Is(err, source.ErrNotAllowed) {
			return View{}, err
		}
		return View{}, invalid("source", err.Error())
	}
	spec, err := src.Spec(ctx)
	if err != nil {
		return View{}, fmt.Errorf("connector: %s: spec: %w", req.Source, err)
	}
	if err := checkConfig(spec, req.Config); err != nil {
		return View{}, err
	}
	disc, err := src.Discover(ctx, req.Config)
	if err != nil {
		return View{}, fmt.Errorf("connector: %s: discover: %w", req.Source, err)
	}
	cat, err := syncer.Select(disc, req.Streams)
	if err != nil {
		return View{}, invalid("streams", err.Error())
	}
	catJSON, err := json.Marshal(cat)
	if err != nil {
		return View{}, err
	}
	now := time.Now().UTC()
	c := store.Connector{ID: auth.NewID("con_"), OrgID: org.ID, Name: req.Name, Source: req.Source, Manifest: req.Manifest, Catalog: catJSON, CreatedAt: now, UpdatedAt: now}
	if c.ConfigSealed, err = s.Secrets.Seal(string(req.Config), sealContext(c)); err != nil {
		return View{}, err
	}
	loc, err := s.bind(ctx, org, &c)
	if err != nil {
		return View{}, err
	}
	if err := s.Store.CreateConnector(ctx, c); err != nil {
		// Release the prefix this connector claimed, so the name stays usable.
		if _, cerr := owner.Cleanup(ctx, loc.Bucket, c.Name, org.ID, c.ID); cerr != nil {
			s.logger().Warn("could not remove the owner marker of a connector that was not created", "org", org.ID, "connector", c.Name, "err", cerr)
		}
		if errors.Is(err, store.ErrConflict) {
			return View{}, fmt.Errorf("%w: %s", ErrExists, req.Name)
		}
		return View{}, err
	}
	return s.view(ctx, org, c, spec)
}

// checkConnectorLimit refuses a new connector once the organization has MaxConnectors.
func (s *Service) checkConnectorLimit(ctx context.Context, org store.Org) error {
	max := s.MaxConnectors
	if max <= 0 {
		max = config.DefaultMaxConnectors
	}
	cs, err := s.Store.ListConnectors(ctx, org.ID)
	if err != nil {
		return err
	}
	if len(cs) >= max {
		return fmt.Errorf("%w: this organization has %d connectors, the most this install allows (the operator sets it: connectors.max_per_org); delete one first",
			ErrLimit, len(cs))
	}
	return nil
}

func (s *Service) minScheduleInterval() time.Duration {
	if s.MinScheduleInterval > 0 {
		return s.MinScheduleInterval
	}
	return config.DefaultMinScheduleInterval
}

func sealContext(c store.Connector) string { return c.OrgID + "/connector/" + c.ID + "/config" }

// bind points c at the organization's current storage and claims its prefix there.
func (s *Service) bind(ctx context.Context, org store.Org, c *store.Connector) (storage.Location, error) {
	loc, err := s.Storage.Locate(ctx, org)
	if err != nil {
		return loc, err
	}
	err = owner.Claim(ctx, loc.Bucket, c.Name, owner.Marker{OrgID: org.ID, ConnectorID: c.ID, ConnectorName: c.Name, CreatedAt: time.Now().UTC()})
	if err != nil {
		return loc, fmt.Errorf("connector: claim %s/: %w", loc.NamespaceRoot(c.Name), err)
	}
	c.Warehouse, c.StorageMode = loc.Root, string(loc.Mode)
	return loc, nil
}

// locate returns the location c is bound to, as who reaches it; it must still be the
// organization's current storage.
func (s *Service) locate(ctx context.Context, org store.Org, c store.Connector, who storage.Principal) (storage.Location, error) {
	loc, err := s.Storage.LocateAs(ctx, org, who)
	if err != nil {
		return loc, err
	}
	if loc.Root != c.Warehouse {
		return loc, fmt.Errorf("%w: connector %s writes to %s but the organization's storage is now %s; run `lakeport storage migrate` to move its tables there "+
			"(no re-sync: the next sync goes on from its state), or `lakeport connector setup %s` to start it afresh there",
			ErrStorageChanged, c.Name, c.Warehouse, loc.Root, c.Name)
	}
	return loc, nil
}

func (s *Service) openLake(ctx context.Context, org store.Org, loc storage.Location) (*lake.Lake, error) {
	if s.Catalog == nil {
		return nil, errors.New("connector: no catalog configured")
	}
	return lake.Open(ctx, lake.Config{Catalog: s.Catalog, CatalogName: org.ID, Warehouse: loc.Root, Props: loc.Props,
		HTTPClient: loc.HTTPClient, S3APIOptions: loc.S3APIOptions})
}

func (s *Service) connector(ctx context.Context, org store.Org, name string) (store.Connector, error) {
	c, err := s.Store.Connector(ctx, org.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: no connector named %q in this organization (lakeport connector list shows them)", ErrNotFound, name)
	}
	return c, err
}

func (s *Service) config(c store.Connector) (json.RawMessage, error) {
	raw, err := s.Secrets.Open(c.ConfigSealed, sealContext(c))
	return json.RawMessage(raw), err
}

func catalogOf(c store.Connector) (*protocol.ConfiguredCatalog, error) {
	var cat protocol.ConfiguredCatalog
	if err := json.Unmarshal(c.Catalog, &cat); err != nil {
		return nil, fmt.Errorf("connector %s: stored catalog: %w", c.Name, err)
	}
	return &cat, nil
}

// DiscoverSource checks a config against a source's spec and asks the source which
// streams it offers with it: what the console shows before a connector exists.
func (s *Service) DiscoverSource(ctx context.Context, ref string, config json.RawMessage, manifest string) (*protocol.Catalog, error) {
	if ref == "" {
		return nil, invalid("source", "required: sample, exec:/path/to/connector, image:REF or manifest:LABEL with a manifest")
	}
	src, err := s.open(ref, manifest)
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) || errors.Is(err, source.ErrNotAllowed) {
			return nil, err
		}
		return nil, invalid("source", err.Error())
	}
	if len(config) == 0 {
		config = json.RawMessage(`{}`)
	}
	spec, err := src.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("connector: %s: spec: %w", ref, err)
	}
	if err := checkConfig(spec, config); err != nil {
		return nil, err
	}
	return src.Discover(ctx, config)
}

func checkConfig(spec *protocol.ConnectorSpecification, config json.RawMessage) error {
	err := source.ValidateConfig(spec, config)
	if err == nil {
		return nil
	}
	var ce *source.ConfigError
	if errors.As(err, &ce) {
		ie := &InvalidError{}
		for _, f := range ce.Fields {
			ie.Fields = append(ie.Fields, FieldError{Field: "config." + f.Path, Message: f.Message})
		}
		return ie
	}
	return invalid("config", err.Error())
}

// Discover asks the connector's source which streams it offers now.
func (s *Service) Discover(ctx context.Context, org store.Org, name string) (*protocol.Catalog, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return nil, err
	}
	src, err := s.openSource(c)
	if err != nil {
		return nil, err
	}
	cfg, err := s.config(c)
	if err != nil {
		return nil, err
	}
	return src.Discover(ctx, cfg)
}

// Setup runs the connector's setup again: it reads its streams' schemas from the source
// once more (a column the source added reaches the table at the next sync, which
// reports it) and binds the connector to the organization's current storage, as the
// setup guide asks after a storage change. Its data in a previous storage stays there.
// When the source cannot be asked, nothing changes.
func (s *Service) Setup(ctx context.Context, org store.Org, name string) (View, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return View{}, err
	}
	if err := s.refreshSchemas(ctx, &c); err != nil {
		return View{}, err
	}
	if _, err := s.bind(ctx, org, &c); err != nil {
		return View{}, err
	}
	c.UpdatedAt = time.Now().UTC()
	if err := s.Store.UpdateConnector(ctx, c); err != nil {
		return View{}, err
	}
	return s.view(ctx, org, c, nil)
}

// refreshSchemas replaces the JSON schema of each of c's configured streams with the
// one the source discovers now; modes, cursor and key stay as configured. A stream the
// source no longer offers keeps its schema (its sync reports what the source says).
func (s *Service) refreshSchemas(ctx context.Context, c *store.Connector) error {
	src, err := s.openSource(*c)
	if err != nil {
		return err
	}
	cfg, err := s.config(*c)
	if err != nil {
		return err
	}
	found, err := src.Discover(ctx, cfg)
	if err != nil {
		return fmt.Errorf("setup asks the source for its streams' schemas, and it could not answer (nothing was changed): %w", err)
	}
	cat, err := catalogOf(*c)
	if err != nil {
		return err
	}
	for _, st := range found.Streams {
		if cs := cat.Find(st.Name, st.Namespace); cs != nil && len(st.JSONSchema) > 0 {
			cs.Stream.JSONSchema = st.JSONSchema
		}
	}
	raw, err := json.Marshal(cat)
	if err != nil {
		return err
	}
	c.Catalog = raw
	return nil
}

// DeleteReport says what Delete removed.
type DeleteReport struct {
	Connector      string   `json:"connector"`
	Tables         []string `json:"tables"`
	Location       string   `json:"location"`
	ObjectsDeleted int      `json:"objects_deleted"`
}

// Delete drops the connector's tables from the catalog and deletes its objects: only
// under its own prefix, and only after reading its owner marker there.
func (s *Service) Delete(ctx context.Context, org store.Org, name string) (DeleteReport, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return DeleteReport{}, err
	}
	if err := s.idle(ctx, c); err != nil {
		return DeleteReport{}, err
	}
	prefix, err := names.Join(c.Warehouse, c.Name)
	if err != nil {
		return DeleteReport{}, err
	}
	rep := DeleteReport{Connector: c.Name, Location: prefix + "/"}
	loc, err := s.locate(ctx, org, c, storage.Platform)
	if errors.Is(err, ErrStorageChanged) {
		return rep, fmt.Errorf("%w: its data is in %s, which lakeport no longer reaches; switch the storage back or run setup first", ErrStorageChanged, c.Warehouse)
	}
	if err != nil {
		return rep, err
	}
	l, err := s.openLake(ctx, org, loc)
	if err != nil {
		return rep, err
	}
	defer l.Close()
	tables, err := l.ListTables(ctx, c.Name)
	if err != nil && !lake.IsNotFound(err) {
		return rep, err
	}
	for _, t := range tables {
		if err := l.DropTable(ctx, c.Name, t); err != nil && !lake.IsNotFound(err) {
			return rep, err
		}
		rep.Tables = append(rep.Tables, c.Name+"."+t)
	}
	if err := l.DropNamespace(ctx, c.Name); err != nil && !lake.IsNotFound(err) {
		return rep, err
	}
	if rep.ObjectsDeleted, err = owner.Cleanup(ctx, loc.Bucket, c.Name, org.ID, c.ID); err != nil {
		return rep, err
	}
	if err := s.Store.DeleteConnector(ctx, org.ID, c.ID); err != nil {
		return rep, err
	}
	s.logger().Info("connector deleted", "org", org.ID, "connector", c.Name, "tables", len(rep.Tables), "objects", rep.ObjectsDeleted)
	return rep, nil
}

// idle fails with ErrBusy while a run of c (a sync, or maintenance) is queued or running.
func (s *Service) idle(ctx context.Context, c store.Connector) error {
	runs, err := s.Store.Runs(ctx, c.OrgID, c.ID, 1)
	if err != nil {
		return err
	}
	if len(runs) > 0 && (runs[0].Status == store.RunQueued || runs[0].Status == store.RunRunning) {
		return busy(runs[0], c)
	}
	return nil
}

// Lake opens the catalog and warehouse of the organization's connector name, for
// reading its tables; the caller closes it.
func (s *Service) Lake(ctx context.Context, org store.Org, name string) (*lake.Lake, error) {
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return nil, err
	}
	loc, err := s.locate(ctx, org, c, storage.Platform)
	if err != nil {
		return nil, err
	}
	return s.openLake(ctx, org, loc)
}
