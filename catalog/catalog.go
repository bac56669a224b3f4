// Package catalog is where lakeport keeps the pointer from each table's name to its
// current Iceberg metadata. A [Backend] is one kind of catalog (the Iceberg SQL catalog
// on the metadata store, AWS Glue, an Iceberg REST catalog); each lives in its own
// package (catalog/sql, catalog/glue, catalog/rest), registers itself by name the way
// iceberg-go's catalogs do (its catalog/registry.go), and passes the conformance suite
// in catalog/catalogtest.
//
// A backend serves every organization: [Backend.Open] opens one organization's catalog
// (its name is the organization ID) with the file IO properties of the organization's
// storage, and [Backend.Namespace] says which catalog namespace holds a connector's
// tables, so that two organizations never share one.
package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	icecatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// Catalog is what lakeport needs of an opened catalog: iceberg-go's catalog
// interface with table commits, and registering a table whose metadata file already
// exists (a migrated table at its new place).
type Catalog interface {
	icecatalog.Catalog
	table.CatalogIO
	// RegisterTable adds table id whose current metadata is the file at
	// metadataLocation; icecatalog.ErrTableAlreadyExists when id exists.
	RegisterTable(ctx context.Context, id table.Identifier, metadataLocation string) (*table.Table, error)
}

// Backend is one kind of catalog, configured for the install.
type Backend interface {
	// Kind is the name the backend is registered under ("sql", "glue", "rest").
	Kind() string
	// Open returns the catalog of the lake named name (lakeport: the
	// organization ID) whose tables are read and written with the file IO
	// properties props ("warehouse" is the lake's root). The lake calls it
	// again with renewed properties (see lake.Lake.SetProps).
	Open(ctx context.Context, name string, props iceberg.Properties) (Catalog, error)
	// Namespace is the catalog namespace holding lakeport namespace ns of
	// the lake named name. Different names never map to one namespace.
	Namespace(name, ns string) (string, error)
}

// Settings configure a backend chosen by name (see [New]): the metadata store for
// the SQL catalog, and the backend's own settings by key (see each backend's
// package for the keys it reads).
type Settings struct {
	// DB and Dialect ("sqlite" or "postgres") are the metadata store.
	DB      *sql.DB
	Dialect string
	// Props are the backend's settings, like "region" or "uri".
	Props map[string]string
}

// Get returns the setting key, or "".
func (s Settings) Get(key string) string { return s.Props[key] }

// Factory makes a backend from its settings.
type Factory func(ctx context.Context, s Settings) (Backend, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a backend available under kind. Backends call it from init.
func Register(kind string, f Factory) {
	if f == nil {
		panic("catalog: Register " + kind + " with a nil factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("catalog: Register called twice for " + kind)
	}
	registry[kind] = f
}

// Kinds lists the registered backends, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// New makes the backend registered under kind ("" is "sql").
func New(ctx context.Context, kind string, s Settings) (Backend, error) {
	if kind == "" {
		kind = "sql"
	}
	regMu.RLock()
	f, ok := registry[kind]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: catalog %q: use one of %s", ErrInvalidConfig, kind, strings.Join(Kinds(), ", "))
	}
	b, err := f(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", kind, err)
	}
	return b, nil
}
