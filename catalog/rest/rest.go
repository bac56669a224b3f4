// Package rest is an Iceberg REST catalog as lakeport's catalog. Every organization
// shares the catalog, so a connector's namespace is catalog.DefaultNamespace.
//
// Registered as "rest"; settings: "uri" (without /v1), "token" (a bearer token) or
// "credential" (an OAuth2 client credential id:secret), "warehouse" (sent to the
// catalog's /v1/config; default the lake's root), "sigv4-region" and "sigv4-service"
// (AWS SigV4 signing, e.g. Glue's Iceberg REST endpoint), "namespace-prefix".
package rest

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/apache/iceberg-go"
	icerest "github.com/apache/iceberg-go/catalog/rest"

	"github.com/lakeport/lakeport/catalog"
)

// Kind is the name the backend registers under.
const Kind = "rest"

func init() {
	catalog.Register(Kind, func(_ context.Context, s catalog.Settings) (catalog.Backend, error) {
		return New(Config{URI: s.Get("uri"), Token: s.Get("token"), Credential: s.Get("credential"), Warehouse: s.Get("warehouse"),
			SigV4Region: s.Get("sigv4-region"), SigV4Service: s.Get("sigv4-service"), NamespacePrefix: s.Get("namespace-prefix")})
	})
}

// Config reaches an Iceberg REST catalog.
type Config struct {
	// URI is the catalog's base URI (without /v1).
	URI string
	// Warehouse is the warehouse the catalog is asked for (sent to its
	// /v1/config); default the lake's root.
	Warehouse string
	// Credential is an OAuth2 client credential "id:secret" exchanged at
	// the catalog's token endpoint; Token is a bearer token used as is.
	// Set at most one.
	Credential string
	Token      string
	// SigV4Region and SigV4Service sign requests with AWS SigV4.
	SigV4Region, SigV4Service string
	// Props are further catalog properties (rest.* and the like). File IO
	// properties come from the lake.
	Props iceberg.Properties
	// Timeout bounds opening the catalog (its /v1/config call); default 30s.
	Timeout time.Duration
	// NamespacePrefix is catalog.DefaultNamespace's prefix (default lakeport_).
	NamespacePrefix string
}

// Backend is one REST catalog.
type Backend struct {
	c     Config
	mapNS func(name, ns string) (string, error)
}

var _ catalog.Backend = (*Backend)(nil)

// New checks c; it makes no call.
func New(c Config) (*Backend, error) {
	if c.URI == "" {
		return nil, fmt.Errorf("%w: rest: no URI (set catalog uri)", catalog.ErrInvalidConfig)
	}
	if c.Credential != "" && c.Token != "" {
		return nil, fmt.Errorf("%w: rest: set a credential or a token, not both", catalog.ErrInvalidConfig)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return &Backend{c: c, mapNS: catalog.Prefixed(c.NamespacePrefix)}, nil
}

// Kind is "rest".
func (b *Backend) Kind() string { return Kind }

// Open fetches the catalog's configuration and returns it with the file IO
// properties props.
func (b *Backend) Open(ctx context.Context, name string, props iceberg.Properties) (catalog.Catalog, error) {
	all := iceberg.Properties{}
	maps.Copy(all, b.c.Props)
	maps.Copy(all, props)
	wh := b.c.Warehouse
	if wh == "" {
		wh = props["warehouse"]
	}
	delete(all, "warehouse") // sent by WithWarehouseLocation
	opts := []icerest.Option{icerest.WithAdditionalProps(all)}
	if wh != "" {
		opts = append(opts, icerest.WithWarehouseLocation(wh))
	}
	if b.c.Credential != "" {
		opts = append(opts, icerest.WithCredential(b.c.Credential))
	}
	if b.c.Token != "" {
		opts = append(opts, icerest.WithOAuthToken(b.c.Token))
	}
	if b.c.SigV4Region != "" || b.c.SigV4Service != "" {
		opts = append(opts, icerest.WithSigV4RegionSvc(b.c.SigV4Region, b.c.SigV4Service))
	}
	// Not the caller's context: the lake reopens the catalog with renewed
	// properties from wherever it is.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.c.Timeout)
	defer cancel()
	return icerest.NewCatalog(ctx, name, b.c.URI, opts...)
}

// Namespace is catalog.DefaultNamespace with the configured prefix.
func (b *Backend) Namespace(name, ns string) (string, error) { return b.mapNS(name, ns) }
