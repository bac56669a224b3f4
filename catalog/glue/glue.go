// Package glue is the AWS Glue Data Catalog as lakeport's catalog: one Glue database
// per connector of each organization (catalog.DefaultNamespace), in the platform's
// account, so Athena finds the tables. Table files stay in each organization's
// storage, read and written with the file IO properties the lake opens it with.
//
// Registered as "glue"; settings: "region", "catalog-id" (the account owning the Data
// Catalog; empty: the credentials' account), "endpoint" (VPC endpoints), and
// "namespace-prefix" (default lakeport_).
package glue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"

	"github.com/apache/iceberg-go"
	icecatalog "github.com/apache/iceberg-go/catalog"
	iceglue "github.com/apache/iceberg-go/catalog/glue"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/lakeport/lakeport/catalog"
)

// Kind is the name the backend registers under.
const Kind = "glue"

func init() {
	catalog.Register(Kind, func(ctx context.Context, s catalog.Settings) (catalog.Backend, error) {
		return New(ctx, Config{Region: s.Get("region"), CatalogID: s.Get("catalog-id"), Endpoint: s.Get("endpoint"),
			NamespacePrefix: s.Get("namespace-prefix")})
	})
}

// Config reaches the Glue Data Catalog.
type Config struct {
	// Region of the Glue catalog; default from the SDK's environment.
	Region string
	// CatalogID is the AWS account ID owning the Data Catalog; empty means
	// the account of the credentials.
	CatalogID string
	// Endpoint overrides Glue's endpoint (tests, VPC endpoints). It applies
	// to Glue only: S3 keeps the file IO's s3.endpoint.
	Endpoint string
	// Credentials sign the Glue requests; nil uses the SDK's default chain.
	Credentials aws.CredentialsProvider
	// HTTPClient carries the Glue requests; nil uses the SDK's.
	HTTPClient aws.HTTPClient
	// MaxAttempts bounds the SDK's retries (default the SDK's, 3).
	MaxAttempts int
	// NamespacePrefix is catalog.DefaultNamespace's prefix (default lakeport_).
	NamespacePrefix string
}

// Backend is the Glue Data Catalog.
type Backend struct {
	aws       aws.Config
	catalogID string
	mapNS     func(name, ns string) (string, error)
}

var _ catalog.Backend = (*Backend)(nil)

// New loads the AWS configuration for Glue; it makes no call.
func New(ctx context.Context, c Config) (*Backend, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(c.Credentials))
	}
	if c.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(c.HTTPClient))
	}
	if c.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.MaxAttempts))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("glue: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: glue: no region (set catalog region, or AWS_REGION)", catalog.ErrInvalidConfig)
	}
	if c.Endpoint != "" {
		// Not aws.Config.BaseEndpoint: iceberg-go hands this config to the
		// S3 file IO of the tables it loads, which would then send S3
		// requests to Glue's endpoint. A config source answering for
		// Glue alone overrides Glue's endpoint only.
		cfg.ConfigSources = append([]any{glueEndpoint(c.Endpoint)}, cfg.ConfigSources...)
	}
	return &Backend{aws: cfg, catalogID: c.CatalogID, mapNS: catalog.Prefixed(c.NamespacePrefix)}, nil
}

// Kind is "glue".
func (b *Backend) Kind() string { return Kind }

// Open returns the Glue catalog with the file IO properties props.
func (b *Backend) Open(_ context.Context, _ string, props iceberg.Properties) (catalog.Catalog, error) {
	p := iceglue.AwsProperties(maps.Clone(props))
	if b.catalogID != "" {
		p[iceglue.CatalogIdKey] = b.catalogID
	}
	c, err := iceglue.NewCatalog(iceglue.WithAwsConfig(b.aws), iceglue.WithAwsProperties(p))
	if err != nil {
		return nil, err
	}
	return &glueCatalog{Catalog: c}, nil
}

// Namespace is catalog.DefaultNamespace with the configured prefix.
func (b *Backend) Namespace(name, ns string) (string, error) { return b.mapNS(name, ns) }

// glueEndpoint is an AWS SDK configuration source that names the endpoint of
// the Glue service and of no other.
type glueEndpoint string

// GetServiceBaseEndpoint is the SDK's per-service endpoint lookup
// (AWS_ENDPOINT_URL_GLUE works the same way).
func (e glueEndpoint) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if sdkID == "Glue" {
		return string(e), true, nil
	}
	return "", false, nil
}

// glueCatalog is iceberg-go's Glue catalog with two of its errors classified: Glue's
// EntityNotFoundException, which it passes on as it is when listing a missing
// database, and a commit requirement that no longer holds, which v0.7.0 checks
// itself and answers with a plain error instead of table.ErrCommitFailed.
type glueCatalog struct{ *iceglue.Catalog }

func (c *glueCatalog) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	meta, loc, err := c.Catalog.CommitTable(ctx, id, reqs, updates)
	if err != nil {
		return nil, "", catalog.Conflict(ctx, c.Catalog, id, reqs, err)
	}
	return meta, loc, nil
}

func (c *glueCatalog) ListTables(ctx context.Context, ns table.Identifier) iter.Seq2[table.Identifier, error] {
	return func(yield func(table.Identifier, error) bool) {
		for id, err := range c.Catalog.ListTables(ctx, ns) {
			if errors.As(err, new(*gluetypes.EntityNotFoundException)) {
				err = fmt.Errorf("%w: %w", icecatalog.ErrNoSuchNamespace, err)
			}
			if !yield(id, err) {
				return
			}
		}
	}
}
