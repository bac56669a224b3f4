package lake

import (
	"context"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// ioCatalog gives iceberg-go's S3 file IO lakeport's HTTP client (for an
// S3-compatible endpoint an organization chose: the one whose every
// connection the network guard checks).
//
// iceberg-go v0.7.0 builds an S3 client at every file access, from the
// properties and an AWS config it takes only from the context
// (utils.WithAwsConfig). So ioCatalog puts that config in the context of
// every catalog call that reads or writes files, and binds every table it
// hands out to a file IO function that does the same: scans and commits made
// later through those tables, with any context, use the client too.
type ioCatalog struct {
	icebergCatalog
	aws *aws.Config
}

// withHTTPClient wraps open so its catalogs' file IO uses hc.
func withHTTPClient(open opener, hc aws.HTTPClient) opener {
	cfg := &aws.Config{HTTPClient: hc}
	return func(props iceberg.Properties) (icebergCatalog, error) {
		cat, err := open(props)
		if err != nil {
			return nil, err
		}
		return &ioCatalog{icebergCatalog: cat, aws: cfg}, nil
	}
}

func (c *ioCatalog) ctx(ctx context.Context) context.Context { return utils.WithAwsConfig(ctx, c.aws) }

func (c *ioCatalog) bind(tbl *table.Table) *table.Table {
	fs := tbl.FS
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(),
		func(ctx context.Context) (icebergio.IO, error) { return fs(c.ctx(ctx)) }, c)
}

func (c *ioCatalog) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	tbl, err := c.icebergCatalog.LoadTable(c.ctx(ctx), id)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) CreateTable(ctx context.Context, id table.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*table.Table, error) {
	tbl, err := c.icebergCatalog.CreateTable(c.ctx(ctx), id, sc, opts...)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) RenameTable(ctx context.Context, from, to table.Identifier) (*table.Table, error) {
	tbl, err := c.icebergCatalog.RenameTable(c.ctx(ctx), from, to)
	if err != nil {
		return nil, err
	}
	return c.bind(tbl), nil
}

func (c *ioCatalog) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	return c.icebergCatalog.CommitTable(c.ctx(ctx), id, reqs, updates)
}

func (c *ioCatalog) DropTable(ctx context.Context, id table.Identifier) error {
	return c.icebergCatalog.DropTable(c.ctx(ctx), id)
}

// Close closes the wrapped catalog when it has a Close.
func (c *ioCatalog) Close() error {
	if cl, ok := c.icebergCatalog.(catalog.Closer); ok {
		return cl.Close()
	}
	return nil
}
