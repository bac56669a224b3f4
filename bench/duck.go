package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"
)

// eventColumns are the sample events' fields with the types the synced
// Iceberg table gives them (properties, a nested object, is JSON text).
const eventColumns = `{id: 'BIGINT', type: 'VARCHAR', customer_id: 'BIGINT', session_id: 'VARCHAR', created_at: 'TIMESTAMPTZ', properties: 'JSON'}`

// eventStruct is the same as a STRUCT type, for the data inside a RECORD.
const eventStruct = `STRUCT(id BIGINT, type VARCHAR, customer_id BIGINT, session_id VARCHAR, created_at TIMESTAMPTZ, properties JSON)`

// DuckDBRun is DuckDB converting the input's records to one Parquet file.
type DuckDBRun struct {
	Name    string  `json:"name"`
	SQL     string  `json:"sql"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is this process's CPU time during the conversion.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Ratio is the lakeport sync's time over this one; CPURatio the same
	// for CPU time, which other work on the machine skews less.
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
}

// openDuckDB opens an in-memory DuckDB with threads threads (0: DuckDB's
// default, every core), extensions kept from the network, and settings
// ("name=value") in its startup configuration.
func openDuckDB(threads int, settings ...string) (*sql.DB, error) {
	dsn := "?autoinstall_known_extensions=false&autoload_known_extensions=false"
	if threads > 0 {
		dsn += "&threads=" + strconv.Itoa(threads)
	}
	for _, s := range settings {
		dsn += "&" + s
	}
	c, err := duck.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: duckdb: %w", err)
	}
	return sql.OpenDB(c), nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// duckDBConversions are the two ways DuckDB is timed: from the data objects
// alone, and from the very protocol file the sync reads.
func duckDBConversions(in *Input, outDir string) []DuckDBRun {
	return []DuckDBRun{
		{Name: "data lines → Parquet", SQL: "COPY (SELECT * FROM read_json(" + sqlString(in.Data) +
			", format = 'newline_delimited', columns = " + eventColumns + ")) TO " +
			sqlString(outDir+"/duckdb-data.parquet") + " (FORMAT parquet, COMPRESSION zstd)"},
		{Name: "protocol lines → Parquet", SQL: "COPY (SELECT unnest(record.data) FROM read_json(" + sqlString(in.Protocol) +
			", format = 'newline_delimited', columns = {type: 'VARCHAR', record: 'STRUCT(stream VARCHAR, data " + eventStruct + ", emitted_at BIGINT)'}) WHERE type = 'RECORD') TO " +
			sqlString(outDir+"/duckdb-protocol.parquet") + " (FORMAT parquet, COMPRESSION zstd)"},
	}
}

// runDuckDB times each conversion once, in a fresh database each, and checks
// that each wrote want rows.
func runDuckDB(ctx context.Context, runs []DuckDBRun, threads int, want int64) ([]DuckDBRun, error) {
	for i := range runs {
		db, err := openDuckDB(threads)
		if err != nil {
			return nil, err
		}
		start, cpu := time.Now(), selfCPU()
		r, err := db.ExecContext(ctx, runs[i].SQL)
		runs[i].Seconds = time.Since(start).Seconds()
		runs[i].CPUSeconds = selfCPU() - cpu
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("bench: duckdb %s: %w", runs[i].Name, err)
		}
		if n, err := r.RowsAffected(); err == nil && n != want {
			return nil, fmt.Errorf("bench: duckdb %s wrote %d rows, the input has %d", runs[i].Name, n, want)
		}
	}
	return runs, nil
}
