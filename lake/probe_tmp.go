package lake

import (
	_ "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	_ "modernc.org/sqlite"
	_ "github.com/apache/arrow-go/v18/arrow/compute"
	_ "github.com/johannesboyne/gofakes3"
)
