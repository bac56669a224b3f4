package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
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

// DuckDBRun is DuckDB converting the input's records to one Parquet file,
// timed several times in fresh databases: Seconds and CPUSeconds are the
// medians.
type DuckDBRun struct {
	Name    string  `json:"name"`
	SQL     string  `json:"sql"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is this process's CPU time during the conversion.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Times and CPUTimes are every run's, in order.
	Times    []float64 `json:"times"`
	CPUTimes []float64 `json:"cpu_times"`
	// OutputBytes is the size of the Parquet file DuckDB wrote.
	OutputBytes int64 `json:"output_bytes"`
	// Output is that file's path.
	Output string `json:"-"`
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
	data, proto := outDir+"/duckdb-data.parquet", outDir+"/duckdb-protocol.parquet"
	return []DuckDBRun{
		{Name: "data lines → Parquet", Output: data, SQL: "COPY (SELECT * FROM read_json(" + sqlString(in.Data) +
			", format = 'newline_delimited', columns = " + eventColumns + ")) TO " +
			sqlString(data) + " (FORMAT parquet, COMPRESSION zstd)"},
		{Name: "protocol lines → Parquet", Output: proto, SQL: "COPY (SELECT unnest(record.data) FROM read_json(" + sqlString(in.Protocol) +
			", format = 'newline_delimited', columns = {type: 'VARCHAR', record: 'STRUCT(stream VARCHAR, data " + eventStruct + ", emitted_at BIGINT)'}) WHERE type = 'RECORD') TO " +
			sqlString(proto) + " (FORMAT parquet, COMPRESSION zstd)"},
	}
}

// DefaultDuckDBRuns is how many times each DuckDB conversion is timed.
const DefaultDuckDBRuns = 5

// runDuckDB times each conversion times times, in a fresh database each
// time, keeps the medians, checks that each wrote want rows and notes the
// size of what it wrote. The conversions alternate (data, protocol, data, …)
// so that a change in the machine's load touches both alike.
func runDuckDB(ctx context.Context, runs []DuckDBRun, threads, times int, want int64) ([]DuckDBRun, error) {
	if times <= 0 {
		times = DefaultDuckDBRuns
	}
	for range times {
		for i := range runs {
			db, err := openDuckDB(threads)
			if err != nil {
				return nil, err
			}
			start, cpu := time.Now(), selfCPU()
			r, err := db.ExecContext(ctx, runs[i].SQL)
			secs, cpuSecs := time.Since(start).Seconds(), selfCPU()-cpu
			db.Close()
			if err != nil {
				return nil, fmt.Errorf("bench: duckdb %s: %w", runs[i].Name, err)
			}
			if n, err := r.RowsAffected(); err == nil && n != want {
				return nil, fmt.Errorf("bench: duckdb %s wrote %d rows, the input has %d", runs[i].Name, n, want)
			}
			runs[i].Times = append(runs[i].Times, secs)
			runs[i].CPUTimes = append(runs[i].CPUTimes, cpuSecs)
		}
	}
	for i := range runs {
		runs[i].Seconds, runs[i].CPUSeconds = medianOf(runs[i].Times), medianOf(runs[i].CPUTimes)
		if fi, err := os.Stat(runs[i].Output); err == nil {
			runs[i].OutputBytes = fi.Size()
		}
	}
	return runs, nil
}

// medianOf is the median of xs (the mean of the middle two for an even
// count); 0 for none.
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
