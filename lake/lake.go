// Package lake keeps lakeport's Iceberg tables: it opens a catalog (a
// [catalog.Backend]: the Iceberg SQL catalog on the metadata store by
// default, or AWS Glue, or an Iceberg REST catalog) over a warehouse (a local
// folder or an S3 prefix), creates and evolves tables, and commits record batches
// together with the sync state they cover in one atomic Iceberg commit.
//
// # State rides in the snapshot
//
// Every data commit writes one snapshot whose summary carries
//
//	lakeport.commit-id      unique id of the commit (given or generated)
//	lakeport.state          the source state the data covers (JSON text)
//	lakeport.sync-id        the sync run that wrote it
//	lakeport.generation-id  the stream generation
//	lakeport.record-count   records the caller counted into the commit
//
// The catalog swaps the table's metadata pointer atomically (one SQL
// transaction; Glue's UpdateTable conditional on the table's VersionId; a
// REST commit with requirements), so data and state land together or not at
// all. [Table.LastState] reads the
// current snapshot's summary, walking back through parents past snapshots
// without lakeport's keys (maintenance such as compaction).
//
// # Commit outcomes
//
// A conflict (another writer moved the table) is retried: first inside
// iceberg-go, which rebuilds the manifest list on the new head without
// rewriting data, then by lakeport, which reloads the table and writes the
// commit again. A commit whose outcome is unknown (an error after it was
// sent) is never blindly resent: lakeport reloads the table and looks for a
// snapshot with the commit's lakeport.commit-id; if it is there the commit
// landed. See [Table.Commit].
//
// # Layout
//
// A namespace's location defaults to <warehouse>/<namespace>, a table's to
// <namespace location>/<table>, matching docs/ARCHITECTURE.md.
package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/schema"

	// iceberg-go finds file systems by URL scheme: file:// is built in,
	// s3:// registers here.
	_ "github.com/apache/iceberg-go/io/gocloud/s3"

	lpcatalog "github.com/lakeport/lakeport/catalog"
	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
)

// S3 properties of the warehouse's file IO (iceberg-go's names).
const (
	PropS3Endpoint        = icebergio.S3EndpointURL
	PropS3AccessKeyID     = icebergio.S3AccessKeyID
	PropS3SecretAccessKey = icebergio.S3SecretAccessKey
	PropS3SessionToken    = icebergio.S3SessionToken
	PropS3Region          = icebergio.S3Region
	// PropS3ForceVirtualAddressing: "false" selects path-style requests,
	// which S3-compatible servers on an IP address need.
	PropS3ForceVirtualAddressing = icebergio.S3ForceVirtualAddressing
)

// Properties of the namespaces lakeport creates: the lake's catalog name
// (organization) and the lakeport namespace (connector), so that a Glue
// database or REST namespace says whose it is.
const (
	PropNamespaceOwner  = "lakeport.catalog-name"
	PropNamespaceSource = "lakeport.namespace"
)

// DefaultCommitRetries is how often a conflicting commit is retried when
// Config.CommitRetries is zero.
const DefaultCommitRetries = 8

// Config opens a [Lake].
type Config struct {
	// Catalog is the catalog backend (catalog/sql, catalog/glue,
	// catalog/rest). Nil means the Iceberg SQL catalog in DB.
	Catalog lpcatalog.Backend
	// DB is the metadata store holding the Iceberg SQL catalog's tables
	// (created when missing), used when Catalog is nil. With
	// modernc.org/sqlite use driver "sqlite" and a DSN with
	// _pragma=journal_mode(WAL)&_pragma=busy_timeout(10000).
	DB *sql.DB
	// CatalogName separates the lakes sharing one catalog (lakeport uses
	// the organization ID); default "lakeport". In the SQL catalog it is
	// the catalog's name; in Glue and REST catalogs it is part of every
	// namespace's name (see CatalogConfig.Namespace).
	CatalogName string
	// Warehouse is the root location: "file:///abs/path" (or an absolute
	// path) or "s3://bucket/prefix".
	Warehouse string
	// Props are the file IO properties (s3.* for an S3 warehouse). The SQL
	// catalog stores them with nothing else; Glue and REST catalogs pass
	// them to the file IO of the tables they load.
	Props iceberg.Properties
	// HTTPClient, when set, carries every request of the tables' S3 file IO:
	// the network guard's client for an S3-compatible endpoint an
	// organization chose (see package netguard). Nil: iceberg-go's default.
	HTTPClient *http.Client
	// S3APIOptions are S3 client API options every request of the tables' S3
	// file IO goes through: storage's SSE-KMS option for a bucket with a KMS key
	// (storage.Location.S3APIOptions).
	S3APIOptions []func(*middleware.Stack) error
	// Dialect is the SQL dialect of DB: "sqlite" (default) or "postgres".
	Dialect string
	// CommitRetries bounds retries of a conflicting commit, both inside
	// iceberg-go (the table property commit.retry.num-retries of tables
	// lakeport creates) and in lakeport's own loop. 0 means
	// DefaultCommitRetries; negative means none.
	CommitRetries int
}

// Lake is an opened catalog over one warehouse. It is safe for concurrent use.
type Lake struct {
	cat lpcatalog.Catalog
	// commitCat receives table commits (the catalog; tests inject faults).
	commitCat table.CatalogIO
	warehouse string
	retries   int
	name      string
	backend   lpcatalog.Backend
	fileIO    *aws.Config // the file IO's AWS configuration (see fileio.go); nil: iceberg-go's own

	// root is the warehouse; local is its folder, opened as an os.Root,
	// for a local warehouse (nil for S3).
	root  location
	local *localRoot

	mu    sync.RWMutex // guards cat, commitCat and props, replaced by SetProps
	props iceberg.Properties
}

// Open opens the configured catalog (for the SQL catalog, creating its
// tables in cfg.DB when missing). It does not touch the warehouse.
func Open(ctx context.Context, cfg Config) (*Lake, error) {
	wh := strings.TrimSuffix(cfg.Warehouse, "/")
	switch {
	case strings.HasPrefix(wh, "/"):
		wh = "file://" + wh
	case strings.HasPrefix(wh, "file://"), strings.HasPrefix(wh, "s3://"), strings.HasPrefix(wh, "s3a://"):
	default:
		return nil, fmt.Errorf("%w: warehouse %q must be file:///path, an absolute path or s3://bucket/prefix", ErrInvalidConfig, cfg.Warehouse)
	}
	name := cfg.CatalogName
	if name == "" {
		name = "lakeport"
	}
	retries := cfg.CommitRetries
	switch {
	case retries == 0:
		retries = DefaultCommitRetries
	case retries < 0:
		retries = 0
	}
	props := iceberg.Properties{}
	maps.Copy(props, cfg.Props)
	props["warehouse"] = wh
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	backend := cfg.Catalog
	if backend == nil {
		b, err := sqlcatalog.New(cfg.DB, cfg.Dialect)
		if err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		backend = b
	}
	var fileIO *aws.Config
	if cfg.HTTPClient != nil || len(cfg.S3APIOptions) > 0 {
		fileIO = &aws.Config{HTTPClient: cfg.HTTPClient, APIOptions: cfg.S3APIOptions}
		backend = withFileIO(backend, fileIO)
	}
	root, err := parseLocation(wh)
	if err != nil {
		return nil, fmt.Errorf("%w: warehouse %q: %v", ErrInvalidConfig, cfg.Warehouse, err)
	}
	var local *localRoot
	if root.scheme == "file" {
		local = &localRoot{at: root}
	}
	// Every table the catalog hands out reads and writes only under its own
	// location (see confinedCatalog).
	backend = &confinedBackend{Backend: backend, warehouse: root, local: local}
	cat, err := backend.Open(ctx, name, props)
	if err != nil {
		return nil, fmt.Errorf("lake: open %s catalog %s: %w", backend.Kind(), name, err)
	}
	return &Lake{cat: cat, commitCat: cat, warehouse: wh, retries: retries, name: name, backend: backend, props: props, fileIO: fileIO,
		root: root, local: local}, nil
}

// SetProps replaces the file IO properties that later table loads and commits use, for
// example temporary S3 credentials renewed before they expire during a long sync.
// It re-creates the catalog client with them (for a REST catalog that
// fetches its configuration again).
func (l *Lake) SetProps(props iceberg.Properties) error {
	l.mu.RLock()
	merged := iceberg.Properties{}
	maps.Copy(merged, l.props)
	l.mu.RUnlock()
	maps.Copy(merged, props)
	cat, err := l.backend.Open(context.Background(), l.name, merged)
	if err != nil {
		return fmt.Errorf("lake: reopen %s catalog %s: %w", l.backend.Kind(), l.name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.commitCat == table.CatalogIO(l.cat) {
		l.commitCat = cat
	}
	// The old client is not closed: a commit may still be using it.
	l.cat, l.props = cat, merged
	return nil
}

func (l *Lake) catalog() lpcatalog.Catalog {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cat
}

func (l *Lake) committerCatalog() table.CatalogIO {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.commitCat
}

// Close releases the catalog client and the local warehouse folder; the DB
// stays open (it is the caller's).
func (l *Lake) Close() error {
	err := l.local.close()
	if c, ok := l.catalog().(catalog.Closer); ok {
		return errors.Join(c.Close(), err)
	}
	return err
}

// Catalog is the underlying Iceberg catalog, for the query path. Its
// namespaces are catalog namespaces: see [Lake.CatalogNamespace].
func (l *Lake) Catalog() catalog.Catalog { return l.catalog() }

// CatalogKind is the catalog backend's kind: "sql", "glue" or "rest".
func (l *Lake) CatalogKind() string { return l.backend.Kind() }

// CatalogNamespace is the catalog namespace (for Glue, the database) holding
// lakeport namespace ns.
func (l *Lake) CatalogNamespace(ns string) (string, error) {
	if ns == "" {
		return "", fmt.Errorf("%w: empty namespace", ErrInvalidName)
	}
	cns, err := l.backend.Namespace(l.name, ns)
	if err != nil {
		return "", fmt.Errorf("lake: namespace %s: %w", ns, err)
	}
	return cns, nil
}

// ident is the catalog identifier of table ns.name. A table name is a
// segment of package names (syncer maps stream names with names.Segment): a
// REST catalog puts it in a URL path, and it names the table's folder.
func (l *Lake) ident(ns, name string) (table.Identifier, error) {
	if !names.IsSegment(name) {
		return nil, fmt.Errorf("%w: table name %q is not a safe path segment; map it with names.Segment", ErrInvalidName, name)
	}
	cns, err := l.CatalogNamespace(ns)
	if err != nil {
		return nil, err
	}
	return table.Identifier{cns, name}, nil
}

// Warehouse is the warehouse root, normalized (file:// or s3://, no
// trailing slash).
func (l *Lake) Warehouse() string { return l.warehouse }

// EnsureNamespace creates namespace ns when it does not exist. Its location
// is location, or <warehouse>/<ns> when empty. An existing namespace is left
// as it is.
func (l *Lake) EnsureNamespace(ctx context.Context, ns string, location string) error {
	if ns == "" {
		return fmt.Errorf("lake: ensure namespace: empty name")
	}
	cns, err := l.CatalogNamespace(ns)
	if err != nil {
		return err
	}
	exists, err := l.catalog().CheckNamespaceExists(ctx, table.Identifier{cns})
	if err != nil {
		return fmt.Errorf("lake: check namespace %s: %w", ns, err)
	}
	if exists {
		return nil
	}
	if location == "" {
		if location, err = names.Join(l.warehouse, ns); err != nil {
			return fmt.Errorf("lake: namespace %s: %w", ns, err)
		}
	}
	props := iceberg.Properties{
		"location":          strings.TrimSuffix(location, "/"),
		PropNamespaceOwner:  l.name,
		PropNamespaceSource: ns,
	}
	err = l.catalog().CreateNamespace(ctx, table.Identifier{cns}, props)
	if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fmt.Errorf("lake: create namespace %s: %w", ns, err)
	}
	return nil
}

// Iceberg's Parquet writer properties that tableProps sets.
const (
	propCompressionLevel = "write.parquet.compression-level"
	propDictColumn       = "write.parquet.dict-encoding-enabled.column"
	propPageSize         = "write.parquet.page-size-bytes"
	propRowGroupRows     = "write.parquet.row-group-limit"
)

// tableProps are the properties of tables lakeport creates.
func (l *Lake) tableProps() iceberg.Properties {
	return iceberg.Properties{
		table.PropertyFormatVersion: "2",
		table.CommitNumRetriesKey:   strconv.Itoa(l.retries),
		"commit.retry.min-wait-ms":  "20",
		"commit.retry.max-wait-ms":  "2000",
		// Copy-on-write keeps reads simple for every engine.
		table.WriteDeleteModeKey: table.WriteModeCopyOnWrite,
		// Parquet: zstd at its fastest level (klauspost's SpeedFastest)
		// costs about half the encoder's CPU of the default level for files
		// a few percent larger; the raw ids are unique, so a dictionary of
		// them is work thrown away.
		propCompressionLevel:                   "1",
		propDictColumn + "." + schema.ColRawID: "false",
		// Data pages of 256 KiB instead of 1 MiB: arrow-go's encoder
		// takes its page and level buffers from one pool and zeroes each
		// buffer's whole capacity when it gives it back, so smaller pages
		// cut that work (about a tenth of a sync's CPU at 1 MiB) and the
		// sync's heap by about a third, for files about 0.5% larger.
		propPageSize: strconv.Itoa(256 << 10),
		// Row groups of at most 122,880 rows, DuckDB's own: DuckDB reads a
		// file's row groups in parallel but one row group on one thread, so
		// a compacted file of a few hundred thousand rows in one row group
		// (iceberg-go's limit is 1,048,576 rows) was scanned on one core.
		propRowGroupRows: "122880",
	}
}

// EnsureTable returns table ns.name, creating it with schema sc when it does
// not exist (at location, or <warehouse>/<ns>/<name> built by names.Join when empty). An
// existing table is evolved towards sc: columns sc has and the table lacks
// are added (optional, read as null in older rows) and types Iceberg can
// promote are widened. Columns the table has and sc lacks stay; a type
// change Iceberg cannot follow leaves the column as it is (see
// schema.Evolve, which reports those). Field IDs in sc are not used for an
// existing table: columns match by name.
func (l *Lake) EnsureTable(ctx context.Context, ns, name string, sc *iceberg.Schema, location string) (*Table, error) {
	id, err := l.ident(ns, name)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		tbl, err := l.catalog().LoadTable(ctx, id)
		if errors.Is(err, catalog.ErrNoSuchTable) {
			if location == "" {
				if location, err = names.Join(l.warehouse, ns, name); err != nil {
					return nil, fmt.Errorf("lake: create table %s.%s: %w", ns, name, err)
				}
			}
			opts := []catalog.CreateTableOpt{catalog.WithProperties(l.tableProps()), catalog.WithLocation(location)}
			tbl, err = l.catalog().CreateTable(ctx, id, sc, opts...)
			if errors.Is(err, catalog.ErrTableAlreadyExists) && attempt < 3 {
				continue // created concurrently: evolve that one
			}
			if err != nil {
				return nil, fmt.Errorf("lake: create table %s.%s: %w", ns, name, err)
			}
			return l.newTable(ns, name, id, tbl), nil
		}
		if err != nil {
			return nil, fmt.Errorf("lake: load table %s.%s: %w", ns, name, err)
		}
		evolved, err := l.evolve(ctx, tbl, sc)
		if err == nil {
			return l.newTable(ns, name, id, evolved), nil
		}
		if !errors.Is(err, table.ErrCommitFailed) && !errors.Is(err, errRequirementFailed) || attempt >= l.retries {
			return nil, fmt.Errorf("lake: evolve table %s.%s: %w", ns, name, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// evolve adds sc's missing columns to tbl and promotes widened ones, in one
// commit. It returns tbl itself when nothing changes.
func (l *Lake) evolve(ctx context.Context, tbl *table.Table, sc *iceberg.Schema) (*table.Table, error) {
	current := tbl.Schema()
	tbl = l.wrap(tbl, "")
	txn := tbl.NewTransaction()
	upd := txn.UpdateSchema(true, false)
	changed := false
	for _, f := range sc.Fields() {
		have, ok := current.FindFieldByName(f.Name)
		switch {
		case !ok:
			upd.AddColumn([]string{f.Name}, f.Type, f.Doc, false, nil)
			changed = true
		case !have.Type.Equals(f.Type):
			if _, err := iceberg.PromoteType(have.Type, f.Type); err == nil {
				upd.UpdateColumn([]string{f.Name}, table.ColumnUpdate{
					FieldType: iceberg.Optional[iceberg.Type]{Valid: true, Val: f.Type},
				})
				changed = true
			}
		}
	}
	if !changed {
		return tbl, nil
	}
	if err := upd.Commit(); err != nil {
		return nil, err
	}
	return txn.Commit(ctx)
}

// LoadTable returns the existing table ns.name.
func (l *Lake) LoadTable(ctx context.Context, ns, name string) (*Table, error) {
	id, err := l.ident(ns, name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.catalog().LoadTable(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("lake: load table %s.%s: %w", ns, name, err)
	}
	return l.newTable(ns, name, id, tbl), nil
}

// DropTable removes table ns.name from the catalog. Its files stay in the
// warehouse: they are deleted with the namespace's prefix, after its owner
// marker is checked (see docs/ARCHITECTURE.md). A missing table is not an
// error.
func (l *Lake) DropTable(ctx context.Context, ns, name string) error {
	id, err := l.ident(ns, name)
	if err != nil {
		return err
	}
	err = l.catalog().DropTable(ctx, id)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("lake: drop table %s.%s: %w", ns, name, err)
	}
	return nil
}

// DropNamespace removes namespace ns and every table in it from the catalog
// (files stay, as with DropTable). A missing namespace is not an error.
func (l *Lake) DropNamespace(ctx context.Context, ns string) error {
	cns, err := l.CatalogNamespace(ns)
	if err != nil {
		return err
	}
	var names []string
	for id, err := range l.catalog().ListTables(ctx, table.Identifier{cns}) {
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lake: list tables of %s: %w", ns, err)
		}
		names = append(names, catalog.TableNameFromIdent(id))
	}
	for _, name := range names {
		if err := l.DropTable(ctx, ns, name); err != nil {
			return err
		}
	}
	err = l.catalog().DropNamespace(ctx, table.Identifier{cns})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("lake: drop namespace %s: %w", ns, err)
	}
	return nil
}

// ListTables lists the names of the tables in namespace ns.
func (l *Lake) ListTables(ctx context.Context, ns string) ([]string, error) {
	cns, err := l.CatalogNamespace(ns)
	if err != nil {
		return nil, err
	}
	var names []string
	for id, err := range l.catalog().ListTables(ctx, table.Identifier{cns}) {
		if err != nil {
			return nil, fmt.Errorf("lake: list tables of %s: %w", ns, err)
		}
		names = append(names, catalog.TableNameFromIdent(id))
	}
	return names, nil
}

func (l *Lake) newTable(ns, name string, cid table.Identifier, tbl *table.Table) *Table {
	return &Table{lake: l, id: table.Identifier{ns, name}, cid: cid, tbl: tbl}
}

// Table is one Iceberg table. Its methods are safe for concurrent use; each
// works on the table's latest metadata.
type Table struct {
	lake *Lake
	id   table.Identifier // lakeport's namespace and name
	cid  table.Identifier // the catalog's

	mu  sync.Mutex
	tbl *table.Table
}
