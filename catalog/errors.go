package catalog

import (
	"context"
	"errors"
	"fmt"

	icecatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

var (
	// ErrInvalidConfig means a backend was given an incomplete or wrong configuration.
	ErrInvalidConfig = errors.New("catalog: invalid configuration")
	// ErrInvalidName means a catalog or namespace name cannot name a catalog
	// namespace (see [DefaultNamespace]).
	ErrInvalidName = errors.New("catalog: invalid name")
)

// IsNotFound reports whether err means a namespace or table does not exist. Every
// backend answers with iceberg-go's sentinels (icecatalog.ErrNoSuchTable,
// icecatalog.ErrNoSuchNamespace), translating its service's own errors.
func IsNotFound(err error) bool {
	return errors.Is(err, icecatalog.ErrNoSuchTable) || errors.Is(err, icecatalog.ErrNoSuchNamespace)
}

// Conflict classifies err, a failed commit of id with requirements reqs: when err is
// not already table.ErrCommitFailed and one of reqs fails on the table as c now has
// it, the table moved and nothing landed, and Conflict wraps err in
// table.ErrCommitFailed. Otherwise it returns err as it is. Backends whose client
// checks requirements itself and answers with a plain error (iceberg-go v0.7.0's SQL
// and Glue catalogs) pass their commit errors through it.
func Conflict(ctx context.Context, c icecatalog.Catalog, id table.Identifier, reqs []table.Requirement, err error) error {
	if err == nil || errors.Is(err, table.ErrCommitFailed) || ctx.Err() != nil {
		return err
	}
	current, lerr := c.LoadTable(ctx, id)
	if lerr != nil {
		return err
	}
	for _, r := range reqs {
		if r.Validate(current.Metadata()) != nil {
			return fmt.Errorf("%w: the table changed since it was loaded (%w)", table.ErrCommitFailed, err)
		}
	}
	return err
}
