package lake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/glue"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Catalog kinds: where lakeport keeps the pointer from each table's name to
// its current Iceberg metadata.
const (
	// CatalogSQL is the Iceberg SQL catalog in Config.DB (the default).
	CatalogSQL = "sql"
	// CatalogGlue is the AWS Glue Data Catalog: one Glue database per
	// namespace of each organization (see [DefaultNamespace]).
	CatalogGlue = "glue"
	// CatalogREST is an Iceberg REST catalog.
	CatalogREST = "rest"
)

// DefaultNamespacePrefix prefixes the Glue database (or REST namespace) names
// made by [DefaultNamespace].
const DefaultNamespacePrefix = "lakeport_"

// CatalogConfig chooses the catalog backend. The zero value is the SQL
// catalog in Config.DB.
type CatalogConfig struct {
	// Kind is CatalogSQL (default, also ""), CatalogGlue or CatalogREST.
	Kind string
	// Namespace names the catalog namespace (Glue database, REST namespace)
	// holding namespace ns of the lake named catalogName (Config.CatalogName,
	// lakeport's organization ID). It must give different catalog names
	// different namespaces. Default: identity for the SQL catalog (the
	// catalog name already separates organizations there), and
	// DefaultNamespace with NamespacePrefix for Glue and REST, whose
	// namespaces are shared by every organization — the names
	// query/athena's DefaultDatabase gives, so Athena finds the tables.
	Namespace func(catalogName, ns string) (string, error)
	// NamespacePrefix is DefaultNamespace's prefix (default "lakeport_").
	NamespacePrefix string
	// Glue configures CatalogGlue.
	Glue GlueConfig
	// REST configures CatalogREST.
	REST RESTConfig
}

// GlueConfig reaches the AWS Glue Data Catalog (the platform's own account).
// Table files stay in Config.Warehouse, read and written with Config.Props.
type GlueConfig struct {
	// Region of the Glue catalog; default from the SDK's environment.
	Region string
	// CatalogID is the AWS account ID owning the Glue Data Catalog; empty
	// means the account of the credentials.
	CatalogID string
	// Endpoint overrides Glue's endpoint (tests, VPC endpoints). It applies
	// to Glue only: S3 keeps s3.endpoint from Config.Props.
	Endpoint string
	// Credentials sign the Glue requests; nil uses the SDK's default chain
	// (environment, shared files, instance or task role).
	Credentials aws.CredentialsProvider
	// HTTPClient carries the Glue requests; nil uses the SDK's.
	HTTPClient aws.HTTPClient
	// MaxAttempts bounds the SDK's retries of throttled or failed Glue
	// requests (default the SDK's, 3).
	MaxAttempts int
}

// RESTConfig reaches an Iceberg REST catalog.
type RESTConfig struct {
	// URI is the catalog's base URI (without /v1).
	URI string
	// Warehouse is the warehouse the catalog is asked for (sent to its
	// /v1/config); default Config.Warehouse.
	Warehouse string
	// Credential is an OAuth2 client credential "id:secret" exchanged at
	// the catalog's token endpoint; Token is a bearer token used as is.
	// Set at most one.
	Credential string
	Token      string
	// SigV4Region and SigV4Service sign requests with AWS SigV4 (for
	// example Glue's Iceberg REST endpoint: region, "glue").
	SigV4Region, SigV4Service string
	// Props are further catalog properties (rest.* and the like). File IO
	// properties belong in Config.Props.
	Props iceberg.Properties
	// Timeout bounds opening the catalog (its /v1/config call), also when
	// SetProps reopens it; default 30s.
	Timeout time.Duration
}

var (
	defaultNSOrgRE = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	defaultNSRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// DefaultNamespace is prefix + catalogName + "__" + ns, e.g.
// lakeport_org_k3j2__stripe: the same rule as query/athena's DefaultDatabase,
// so Athena queries find the Glue databases lakeport writes. It is
// one-to-one: a catalog name (organization ID) has no "__" and does not end
// in "_", a namespace starts with a letter. Names outside those forms are
// refused rather than mangled into a name another organization could get.
func DefaultNamespace(prefix, catalogName, ns string) (string, error) {
	if !defaultNSOrgRE.MatchString(catalogName) {
		return "", fmt.Errorf("%w: catalog name %q cannot name a Glue database: want lower-case letters and digits separated by single underscores", ErrInvalidName, catalogName)
	}
	if !defaultNSRE.MatchString(ns) {
		return "", fmt.Errorf("%w: namespace %q cannot name a Glue database: want lower-case letters, digits and underscores, starting with a letter", ErrInvalidName, ns)
	}
	db := prefix + catalogName + "__" + ns
	if len(db) > 255 {
		return "", fmt.Errorf("%w: Glue database name %s is longer than 255 characters", ErrInvalidName, db)
	}
	return db, nil
}

// icebergCatalog is what lake needs of a catalog: iceberg-go's catalog
// interface with table commits.
type icebergCatalog interface {
	catalog.Catalog
	table.CatalogIO
}

var (
	_ icebergCatalog = (*sqlcat.Catalog)(nil)
	_ icebergCatalog = (*glue.Catalog)(nil)
	_ icebergCatalog = (*rest.Catalog)(nil)
)

// opener makes the catalog with the given file IO properties; SetProps calls
// it again with renewed ones.
type opener func(props iceberg.Properties) (icebergCatalog, error)

// newOpener checks cfg and returns the opener of its catalog kind, and the
// namespace mapping.
func newOpener(ctx context.Context, cfg Config, name string) (opener, func(string, string) (string, error), error) {
	cc := cfg.Catalog
	mapNS := cc.Namespace
	if mapNS == nil && cc.Kind != "" && cc.Kind != CatalogSQL {
		prefix := cc.NamespacePrefix
		if prefix == "" {
			prefix = DefaultNamespacePrefix
		}
		mapNS = func(catalogName, ns string) (string, error) { return DefaultNamespace(prefix, catalogName, ns) }
	}
	if mapNS == nil {
		mapNS = func(_, ns string) (string, error) { return ns, nil }
	}
	switch cc.Kind {
	case "", CatalogSQL:
		if cfg.DB == nil {
			return nil, nil, fmt.Errorf("%w: no database for the SQL catalog", ErrInvalidConfig)
		}
		dialect := sqlcat.SQLite
		switch cfg.Dialect {
		case "", "sqlite":
		case "postgres":
			dialect = sqlcat.Postgres
		default:
			return nil, nil, fmt.Errorf("%w: dialect %q: use sqlite or postgres", ErrInvalidConfig, cfg.Dialect)
		}
		return func(props iceberg.Properties) (icebergCatalog, error) {
			return sqlcat.NewCatalog(name, cfg.DB, dialect, props)
		}, mapNS, nil
	case CatalogGlue:
		open, err := glueOpener(ctx, cc.Glue)
		return open, mapNS, err
	case CatalogREST:
		open, err := restOpener(cfg, name)
		return open, mapNS, err
	}
	return nil, nil, fmt.Errorf("%w: catalog kind %q: use sql, glue or rest", ErrInvalidConfig, cc.Kind)
}

func glueOpener(ctx context.Context, g GlueConfig) (opener, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if g.Region != "" {
		opts = append(opts, awsconfig.WithRegion(g.Region))
	}
	if g.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(g.Credentials))
	}
	if g.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(g.HTTPClient))
	}
	if g.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(g.MaxAttempts))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("lake: glue: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("%w: glue: no region (set it, or AWS_REGION)", ErrInvalidConfig)
	}
	if g.Endpoint != "" {
		// Not aws.Config.BaseEndpoint: iceberg-go hands this config to the
		// S3 file IO of the tables it loads, which would then send S3
		// requests to Glue's endpoint. A config source answering for
		// Glue alone overrides Glue's endpoint only.
		awsCfg.ConfigSources = append([]any{glueEndpoint(g.Endpoint)}, awsCfg.ConfigSources...)
	}
	return func(props iceberg.Properties) (icebergCatalog, error) {
		p := glue.AwsProperties(maps.Clone(props))
		if g.CatalogID != "" {
			p[glue.CatalogIdKey] = g.CatalogID
		}
		return glue.NewCatalog(glue.WithAwsConfig(awsCfg), glue.WithAwsProperties(p))
	}, nil
}

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

func restOpener(cfg Config, name string) (opener, error) {
	r := cfg.Catalog.REST
	if r.URI == "" {
		return nil, fmt.Errorf("%w: rest: no URI", ErrInvalidConfig)
	}
	if r.Credential != "" && r.Token != "" {
		return nil, fmt.Errorf("%w: rest: set a credential or a token, not both", ErrInvalidConfig)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return func(props iceberg.Properties) (icebergCatalog, error) {
		all := iceberg.Properties{}
		maps.Copy(all, r.Props)
		maps.Copy(all, props)
		wh := r.Warehouse
		if wh == "" {
			wh = props["warehouse"]
		}
		delete(all, "warehouse") // sent by WithWarehouseLocation
		opts := []rest.Option{rest.WithAdditionalProps(all)}
		if wh != "" {
			opts = append(opts, rest.WithWarehouseLocation(wh))
		}
		if r.Credential != "" {
			opts = append(opts, rest.WithCredential(r.Credential))
		}
		if r.Token != "" {
			opts = append(opts, rest.WithOAuthToken(r.Token))
		}
		if r.SigV4Region != "" || r.SigV4Service != "" {
			opts = append(opts, rest.WithSigV4RegionSvc(r.SigV4Region, r.SigV4Service))
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return rest.NewCatalog(ctx, name, r.URI, opts...)
	}, nil
}

// isGlueNotFound reports a Glue EntityNotFoundException that iceberg-go
// passes on unclassified (GetTables of a missing database).
func isGlueNotFound(err error) bool {
	return errors.As(err, new(*gluetypes.EntityNotFoundException))
}
