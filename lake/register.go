package lake

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
)

// RegisterTable makes ns.name the table whose current metadata is the existing file
// at metadataLocation (a table moved to another storage: see package migration). The
// table must not exist in the catalog.
func (l *Lake) RegisterTable(ctx context.Context, ns, name, metadataLocation string) (*Table, error) {
	id, err := l.ident(ns, name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.catalog().RegisterTable(ctx, id, metadataLocation)
	if err != nil {
		return nil, fmt.Errorf("lake: register %s.%s at %s: %w", ns, name, metadataLocation, err)
	}
	return l.newTable(ns, name, id, tbl), nil
}

// SetNamespaceLocation sets namespace ns's location (where tables created without
// one go) to location.
func (l *Lake) SetNamespaceLocation(ctx context.Context, ns, location string) error {
	cns, err := l.CatalogNamespace(ns)
	if err != nil {
		return err
	}
	_, err = l.catalog().UpdateNamespaceProperties(ctx, table.Identifier{cns}, nil,
		iceberg.Properties{"location": strings.TrimSuffix(location, "/")})
	if err != nil {
		return fmt.Errorf("lake: set the location of namespace %s: %w", ns, err)
	}
	return nil
}

// ReadTable reads the table whose metadata is the file at metadataLocation, through
// the lake's file IO but outside the catalog (a table written to another storage,
// checked before it is registered): for reading only, it has no catalog to commit to.
func (l *Lake) ReadTable(ctx context.Context, metadataLocation string) (*table.Table, error) {
	l.mu.RLock()
	props := maps.Clone(l.props)
	l.mu.RUnlock()
	fs := icebergio.LoadFSFunc(props, metadataLocation)
	if l.fileIO != nil {
		cfg := l.fileIO
		load := fs
		fs = func(ctx context.Context) (icebergio.IO, error) { return load(utils.WithAwsConfig(ctx, cfg)) }
	}
	tbl, err := table.NewFromLocation(ctx, table.Identifier{"lakeport", "read"}, metadataLocation, fs, nil)
	if err != nil {
		return nil, fmt.Errorf("lake: read the table at %s: %w", metadataLocation, err)
	}
	return tbl, nil
}
