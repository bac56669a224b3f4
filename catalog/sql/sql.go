// Package sql is the Iceberg SQL catalog on lakeport's metadata store (SQLite or
// PostgreSQL): the embedded default. Each organization is its own catalog (named by its
// ID) in the same tables, so namespaces are connector names as they are.
//
// Registered as "sql"; it reads no settings besides the metadata store.
package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	icecatalog "github.com/apache/iceberg-go/catalog"
	icesql "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/catalog"
)

// Kind is the name the backend registers under.
const Kind = "sql"

func init() {
	catalog.Register(Kind, func(_ context.Context, s catalog.Settings) (catalog.Backend, error) {
		return New(s.DB, s.Dialect)
	})
}

// Backend is the SQL catalog on one database.
type Backend struct {
	db      *dbsql.DB
	dialect icesql.SupportedDialect
	// mu serialises opening: iceberg-go creates the catalog's tables on
	// open, which two opens at once on a fresh database would race.
	mu sync.Mutex
}

var _ catalog.Backend = (*Backend)(nil)

// New returns the SQL catalog in db, whose dialect is "sqlite" (also "") or "postgres".
func New(db *dbsql.DB, dialect string) (*Backend, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: no database for the SQL catalog", catalog.ErrInvalidConfig)
	}
	b := &Backend{db: db, dialect: icesql.SQLite}
	switch dialect {
	case "", "sqlite":
	case "postgres":
		b.dialect = icesql.Postgres
	default:
		return nil, fmt.Errorf("%w: dialect %q: use sqlite or postgres", catalog.ErrInvalidConfig, dialect)
	}
	return b, nil
}

// Kind is "sql".
func (b *Backend) Kind() string { return Kind }

// Open returns the catalog named name.
func (b *Backend) Open(_ context.Context, name string, props iceberg.Properties) (catalog.Catalog, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := icesql.NewCatalog(name, b.db, b.dialect, props)
	if err != nil {
		return nil, err
	}
	return &sqlCatalog{Catalog: c, name: name, db: b.db, dialect: b.dialect}, nil
}

// sqlCatalog is iceberg-go's SQL catalog with its failed commit requirements
// classified: v0.7.0 returns a requirement that no longer holds (the table moved:
// the everyday conflict) as a plain error (CommitTable → UpdateAndStageTable →
// Requirement.Validate), and only the narrower race on its final UPDATE as
// table.ErrCommitFailed. Every backend must answer a conflict with
// table.ErrCommitFailed, so on another error CommitTable reloads the table and, when
// one of the requirements fails on it, says so.
type sqlCatalog struct {
	*icesql.Catalog
	name    string
	db      *dbsql.DB
	dialect icesql.SupportedDialect
}

// RegisterTable adds the row iceberg-go's SQL catalog keeps for a table (v0.7.0 has
// no RegisterTable of its own), after checking that the metadata file loads.
func (c *sqlCatalog) RegisterTable(ctx context.Context, id table.Identifier, metadataLocation string) (*table.Table, error) {
	if len(id) < 2 {
		return nil, fmt.Errorf("%w: table identifier %v has no namespace", catalog.ErrInvalidName, id)
	}
	ns := icecatalog.NamespaceFromIdent(id)
	name := icecatalog.TableNameFromIdent(id)
	exists, err := c.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w: %s", icecatalog.ErrNoSuchNamespace, strings.Join(ns, "."))
	}
	if ok, err := c.CheckTableExists(ctx, id); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("%w: %s", icecatalog.ErrTableAlreadyExists, strings.Join(id, "."))
	}
	q := `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type) VALUES (?, ?, ?, ?, ?)`
	if c.dialect == icesql.Postgres {
		q = `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type) VALUES ($1, $2, $3, $4, $5)`
	}
	if _, err := c.db.ExecContext(ctx, q, c.name, strings.Join(ns, "."), name, metadataLocation, icesql.TableType); err != nil {
		return nil, fmt.Errorf("sql catalog: register %s at %s: %w", strings.Join(id, "."), metadataLocation, err)
	}
	tbl, err := c.LoadTable(ctx, id)
	if err != nil {
		// The metadata does not load: take the row back rather than leave a broken table.
		_ = c.Catalog.DropTable(context.WithoutCancel(ctx), id)
		return nil, fmt.Errorf("sql catalog: register %s: %w", strings.Join(id, "."), err)
	}
	return tbl, nil
}

func (c *sqlCatalog) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	meta, loc, err := c.Catalog.CommitTable(ctx, id, reqs, updates)
	if err != nil {
		return nil, "", catalog.Conflict(ctx, c.Catalog, id, reqs, err)
	}
	return meta, loc, nil
}

// Namespace is ns: the catalog name already keeps organizations apart.
func (b *Backend) Namespace(_, ns string) (string, error) { return ns, nil }
