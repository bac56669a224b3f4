package lake

import (
	"context"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"

	lpcatalog "github.com/lakeport/lakeport/catalog"
)

// ioCatalog gives iceberg-go's S3 file IO lakeport's HTTP client (for an
// S3-compatible endpoint an organization chose: the one whose every
// connection the network guard checks) and API options (SSE-KMS on every
// object written to a bucket with a KMS key).
//
// iceberg-go v0.7.0 builds an S3 client at every file access, from the
// properties and an AWS config it takes only from the context
// (utils.WithAwsConfig). So ioCatalog puts that config in the context of
// every catalog call that reads or writes files, and binds every table it
// hands out to a file IO function that does the same: scans and commits made
// later through those tables, with any context, use the client too.
type ioCatalog struct {
	lpcatalog.Catalog
	aws *aws.Config
}

// ioBackend is a catalog backend whose catalogs' file IO uses one AWS
// configuration: an HTTP client, API options.
type ioBackend struct {
	lpcatalog.Backend
	aws *aws.Config
}

// withFileIO wraps b so its catalogs' S3 file IO uses cfg's HTTP client (when
// not nil) and API options.
func withFileIO(b lpcatalog.Backend, cfg *aws.Config) lpcatalog.Backend {
	return &ioBackend{Backend: b, aws: cfg}
}

func (b *ioBackend) Open(ctx context.Context, name string, props iceberg.Properties) (lpcatalog.Catalog, error) {
	cat, err := b.Backend.Open(ctx, name, props)
	if err != nil {
		return nil, err
	}
	return &ioCatalog{Catalog: cat, aws: b.aws}, nil
}

func (c *ioCatalog) ctx(ctx context.Context) context.Context { return utils.WithAwsConfig(ctx, c.aws) }

func (c *ioCatalog) bind(tbl *table.Table) *table.Table {
	fs := tbl.FS
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(),
		func(ctx context.Context) (icebergio.IO, error) { return fs(c.ctx(ctx)) }, c)
}

func (c *ioCatalog) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	tbl, err := c.Catalog.LoadTable(c.ctx(ctx), id)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) CreateTable(ctx context.Context, id table.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*table.Table, error) {
	tbl, err := c.Catalog.CreateTable(c.ctx(ctx), id, sc, opts...)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) RenameTable(ctx context.Context, from, to table.Identifier) (*table.Table, error) {
	tbl, err := c.Catalog.RenameTable(c.ctx(ctx), from, to)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) RegisterTable(ctx context.Context, id table.Identifier, metadataLocation string) (*table.Table, error) {
	tbl, err := c.Catalog.RegisterTable(c.ctx(ctx), id, metadataLocation)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	return c.Catalog.CommitTable(c.ctx(ctx), id, reqs, updates)
}

func (c *ioCatalog) DropTable(ctx context.Context, id table.Identifier) error {
	return c.Catalog.DropTable(c.ctx(ctx), id)
}

// Close closes the wrapped catalog when it has a Close.
func (c *ioCatalog) Close() error {
	if cl, ok := c.Catalog.(catalog.Closer); ok {
		return cl.Close()
	}
	return nil
}
