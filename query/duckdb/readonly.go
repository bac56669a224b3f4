package duckdb

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/lakeport/lakeport/query"
)

// parseGate decides from the parse tree alone, before anything is bound, that
// sqlText is one SELECT (DESCRIBE, SHOW, SUMMARIZE, VALUES and FROM-first
// queries parse as SELECTs), or a plain EXPLAIN of one. Binding is not
// harmless: DuckDB 1.5.6 creates the target directory of EXPORT DATABASE while
// binding it, before refusing it for lack of file access.
//
// It returns the tables the statement names (lower-cased "schema.name"),
// from the same tree: every table reference, in joins, subqueries, CTEs and
// DESCRIBE/SUMMARIZE alike.
func (s *session) parseGate(ctx context.Context, sqlText string) (map[string]bool, error) {
	text := sqlText
	if t, ok := explainTarget(sqlText); ok {
		text = t
	}
	// json_serialize_sql parses only, and serializes only SELECT statements.
	rows, err := s.conn.QueryContext(ctx, "SELECT json_serialize_sql(CAST(? AS VARCHAR))::VARCHAR", []driver.NamedValue{{Ordinal: 1, Value: text}})
	if err != nil {
		return nil, fmt.Errorf("duckdb: parse: %w", err)
	}
	dst := make([]driver.Value, 1)
	err = rows.Next(dst)
	rows.Close()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("duckdb: parse: %w", err)
	}
	out, _ := dst[0].(string)
	var tree struct {
		Error        bool   `json:"error"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		Statements   []any  `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		return nil, &query.SQLError{Kind: "Parser", Err: query.ErrResources,
			Message: "the statement is nested too deeply to be checked (more than 10,000 levels, e.g. thousands of UNION ALL branches): split it into smaller queries"}
	}
	switch {
	case tree.Error && tree.ErrorType == "parser":
		// Not even parseable, so preparing it binds nothing: let DuckDB say
		// where the error is.
		stmt, err := s.prepare(sqlText)
		if err != nil {
			return nil, err
		}
		stmt.Close()
		return nil, notReadOnly("this statement")
	case tree.Error:
		return nil, notReadOnly("a statement other than SELECT")
	case len(tree.Statements) != 1:
		return nil, notReadOnly("more than one statement (send one SELECT)")
	}
	if fn := deniedFunction(tree.Statements[0]); fn != "" {
		return nil, notReadOnly("the function %s", fn)
	}
	refs := map[string]bool{}
	tableRefs(tree.Statements[0], refs)
	return refs, nil
}

// tableRefs adds every table a parse tree names (BASE_TABLE nodes, whose
// names the tree holds unquoted) to out.
func tableRefs(node any, out map[string]bool) {
	switch n := node.(type) {
	case map[string]any:
		if n["type"] == "BASE_TABLE" {
			schema, _ := n["schema_name"].(string)
			name, _ := n["table_name"].(string)
			out[strings.ToLower(schema+"."+name)] = true
		}
		for _, v := range n {
			tableRefs(v, out)
		}
	case []any:
		for _, v := range n {
			tableRefs(v, out)
		}
	}
}

// deniedFunctions change the database's state (logging, checkpoints), run
// SQL given as a string, which the parse gate cannot see into, or show where
// the server keeps its files (settings hold the temp directory and the
// canonical paths of the files a query may read; extensions, secrets and
// temporary files name folders of the server). The lock-down still holds
// without this list; it is a second layer.
var deniedFunctions = map[string]bool{
	"enable_logging":              true,
	"disable_logging":             true,
	"truncate_duckdb_logs":        true,
	"checkpoint":                  true,
	"force_checkpoint":            true,
	"query":                       true,
	"query_table":                 true,
	"json_execute_serialized_sql": true,
	"duckdb_settings":             true,
	"current_setting":             true,
	"duckdb_extensions":           true,
	"duckdb_secrets":              true,
	"which_secret":                true,
	"duckdb_temporary_files":      true,
	"duckdb_external_file_cache":  true,
	"duckdb_logs":                 true,
	"duckdb_log_contexts":         true,
	"duckdb_databases":            true,
	"pragma_database_list":        true,
	"getenv":                      true,
	// File readers: a query reads the tables it names, through their views,
	// never files by path (the lock-down refuses other files anyway).
	"read_parquet":          true,
	"parquet_scan":          true,
	"parquet_metadata":      true,
	"parquet_schema":        true,
	"parquet_file_metadata": true,
	"parquet_kv_metadata":   true,
	"read_csv":              true,
	"read_csv_auto":         true,
	"sniff_csv":             true,
	"read_json":             true,
	"read_json_auto":        true,
	"read_ndjson":           true,
	"read_ndjson_auto":      true,
	"read_json_objects":     true,
	"read_text":             true,
	"read_blob":             true,
	"glob":                  true,
}

// deniedFunction finds a denied function called anywhere in a parse tree.
func deniedFunction(node any) string {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if name, ok := v.(string); ok && k == "function_name" && deniedFunctions[strings.ToLower(name)] {
				return name
			}
			if fn := deniedFunction(v); fn != "" {
				return fn
			}
		}
	case []any:
		for _, v := range n {
			if fn := deniedFunction(v); fn != "" {
				return fn
			}
		}
	}
	return ""
}

// prepareExplain allows EXPLAIN only in front of a read-only query. EXPLAIN
// ANALYZE runs the statement it explains (DuckDB's own statement type for it
// is just EXPLAIN), so the explained statement is checked on its own first.
func (s *session) prepareExplain(sqlText string) (*duck.Stmt, error) {
	target, ok := explainTarget(sqlText)
	if !ok {
		return nil, notReadOnly("EXPLAIN ANALYZE (it runs the statement), or EXPLAIN with options or comments,")
	}
	inner, err := s.prepare(target)
	if err != nil {
		return nil, err
	}
	typ, err := inner.StatementType()
	inner.Close()
	if err != nil || typ != duck.STATEMENT_TYPE_SELECT {
		return nil, notReadOnly("EXPLAIN of a %s statement", statementName(typ))
	}
	return s.prepare(sqlText)
}

// explainTarget returns what follows "EXPLAIN " when it plainly starts a
// query. Anything else — ANALYZE, options in parentheses, comments, a
// statement that does not start with a query keyword — is refused: this is a
// whitelist, not a parser.
func explainTarget(sqlText string) (string, bool) {
	t := strings.TrimLeft(sqlText, " \t\r\n")
	const kw = "EXPLAIN"
	if len(t) <= len(kw) || !strings.EqualFold(t[:len(kw)], kw) || !isSpace(t[len(kw)]) {
		return "", false
	}
	rest := strings.TrimLeft(t[len(kw):], " \t\r\n")
	end := 0
	for end < len(rest) && isLetter(rest[end]) {
		end++
	}
	switch strings.ToUpper(rest[:end]) {
	case "SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SHOW", "SUMMARIZE", "PIVOT", "UNPIVOT":
		if end < len(rest) && !isSpace(rest[end]) && rest[end] != '(' && rest[end] != '*' {
			return "", false
		}
		return rest, true
	}
	return "", false
}

func isSpace(b byte) bool  { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }
func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func statementName(t duck.StmtType) string {
	names := map[duck.StmtType]string{
		duck.STATEMENT_TYPE_SELECT:       "SELECT",
		duck.STATEMENT_TYPE_INSERT:       "INSERT",
		duck.STATEMENT_TYPE_UPDATE:       "UPDATE",
		duck.STATEMENT_TYPE_EXPLAIN:      "EXPLAIN",
		duck.STATEMENT_TYPE_DELETE:       "DELETE",
		duck.STATEMENT_TYPE_PREPARE:      "PREPARE",
		duck.STATEMENT_TYPE_CREATE:       "CREATE",
		duck.STATEMENT_TYPE_EXECUTE:      "EXECUTE",
		duck.STATEMENT_TYPE_ALTER:        "ALTER",
		duck.STATEMENT_TYPE_TRANSACTION:  "transaction",
		duck.STATEMENT_TYPE_COPY:         "COPY",
		duck.STATEMENT_TYPE_ANALYZE:      "ANALYZE",
		duck.STATEMENT_TYPE_VARIABLE_SET: "SET VARIABLE",
		duck.STATEMENT_TYPE_CREATE_FUNC:  "CREATE FUNCTION",
		duck.STATEMENT_TYPE_DROP:         "DROP",
		duck.STATEMENT_TYPE_EXPORT:       "EXPORT",
		duck.STATEMENT_TYPE_PRAGMA:       "PRAGMA",
		duck.STATEMENT_TYPE_VACUUM:       "VACUUM",
		duck.STATEMENT_TYPE_CALL:         "CALL",
		duck.STATEMENT_TYPE_SET:          "SET",
		duck.STATEMENT_TYPE_LOAD:         "LOAD/INSTALL",
		duck.STATEMENT_TYPE_RELATION:     "relation",
		duck.STATEMENT_TYPE_EXTENSION:    "extension",
		duck.STATEMENT_TYPE_LOGICAL_PLAN: "logical plan",
		duck.STATEMENT_TYPE_ATTACH:       "ATTACH",
		duck.STATEMENT_TYPE_DETACH:       "DETACH",
		duck.STATEMENT_TYPE_MULTI:        "multi-statement",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return "unknown"
}
