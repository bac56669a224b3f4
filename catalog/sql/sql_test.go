package sql_test

import (
	dbsql "database/sql"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/lakeport/lakeport/catalog/catalogtest"
	"github.com/lakeport/lakeport/catalog/sql"
	"github.com/lakeport/lakeport/internal/pgtest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	db, err := dbsql.Open("sqlite", "file:"+filepath.Join(dir, "catalog.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sql.New(db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Run(t, catalogtest.Env{Backend: b, Warehouse: "file://" + filepath.Join(dir, "warehouse")})
}

// The same suite on PostgreSQL (the scale-out metadata store), whose statements the
// catalog writes with $n placeholders.
func TestConformancePostgres(t *testing.T) {
	db, err := dbsql.Open("pgx", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sql.New(db, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Run(t, catalogtest.Env{Backend: b, Warehouse: "file://" + filepath.Join(t.TempDir(), "warehouse")})
}
