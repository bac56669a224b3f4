package lake

import (
	"errors"

	"github.com/apache/iceberg-go/table"

	lpcatalog "github.com/lakeport/lakeport/catalog"
)

var (
	// ErrCommitUnknown means a commit was sent but lakeport could not learn
	// whether it landed (for example the context ended first). Check with
	// [Table.Landed] and the commit's ID before committing the same data again.
	ErrCommitUnknown = errors.New("lake: commit outcome unknown")
	// ErrConflict means concurrent commits kept winning until the retries ran
	// out; nothing of this commit landed. It wraps table.ErrCommitFailed.
	ErrConflict = table.ErrCommitFailed
	// ErrNoPrimaryKey means a merge commit named no primary key, or a key
	// column the batches lack.
	ErrNoPrimaryKey = errors.New("lake: merge needs primary key columns present in the batches")
	// ErrInvalidConfig means Open was given an incomplete configuration.
	ErrInvalidConfig = errors.New("lake: invalid configuration")
	// ErrInvalidName means a namespace or catalog name cannot name a
	// catalog namespace (see catalog.DefaultNamespace).
	ErrInvalidName = lpcatalog.ErrInvalidName
)

// IsNotFound reports whether err means a namespace or table does not exist.
func IsNotFound(err error) bool {
	return lpcatalog.IsNotFound(err)
}

// IsConflict reports whether err is a commit conflict: nothing landed and
// the commit may be retried as is.
func IsConflict(err error) bool { return errors.Is(err, table.ErrCommitFailed) }
