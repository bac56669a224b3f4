package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeport/lakeport/query"
)

// createViews makes each table a view "schema"."name", the only names the
// caller's SQL can see. Only tables the SQL references are read; the others
// are views with the table's columns that fail when scanned (so the catalog
// still lists them, and a table the SQL reads in a way DuckDB's table-name
// extraction missed is an error, never silently empty).
func (s *session) createViews(ctx context.Context, tables []query.Table, referenced map[string]bool) error {
	schemas := map[string]bool{}
	s.read = make(map[string]bool, len(tables))
	s.owner = map[string]string{}
	for i, t := range tables {
		read := referenced == nil || referenced[strings.ToLower(t.QualifiedName())] || t.ArrowSchema == nil
		s.read[strings.ToLower(t.QualifiedName())] = read
		var files []string
		var err error
		switch {
		case !read:
		case t.Snapshot != nil:
			files, err = s.snapshotFiles(ctx, t, i)
		case len(t.Files) > 0:
			files = t.Files
		case t.Scan != nil:
			files, err = s.scanFiles(ctx, t, i)
		}
		if err != nil {
			return err
		}
		source := ""
		switch {
		case len(files) > 0:
			source = "read_parquet(" + stringList(files) + ", union_by_name = true)"
			s.allowed = append(s.allowed, files...)
			for _, f := range files {
				s.owner[f] = t.QualifiedName()
			}
		case read:
			source, err = emptySource(t.ArrowSchema, "")
		default:
			source, err = emptySource(t.ArrowSchema, "lakeport did not read table "+t.QualifiedName()+
				" for this query, because it did not find the table's name in the SQL: name it as connector.stream (lakeport tables lists them)")
		}
		if err != nil {
			return fmt.Errorf("%w: table %s: %w", query.ErrUnreadable, t.QualifiedName(), err)
		}
		if !schemas[strings.ToLower(t.Schema)] {
			if err := s.execStmt(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(t.Schema)); err != nil {
				return fmt.Errorf("duckdb: create schema %s: %w", t.Schema, err)
			}
			schemas[strings.ToLower(t.Schema)] = true
		}
		body, err := s.viewBody(ctx, t, source, len(files) == 0)
		if err != nil {
			return err
		}
		stmt := "CREATE VIEW " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name) + " AS " + body
		if err := s.execStmt(ctx, stmt); err != nil {
			return fmt.Errorf("%w: table %s: %w", query.ErrUnreadable, t.QualifiedName(), err)
		}
	}
	return nil
}

// scanFiles writes the rows of t.Scan to a Parquet file of the query.
func (s *session) scanFiles(ctx context.Context, t query.Table, i int) ([]string, error) {
	r, err := t.Scan(ctx)
	if err != nil {
		return nil, unreadable(t, err)
	}
	defer r.Release()
	f, err := s.writeParquet(ctx, t, r, "scan"+strconv.Itoa(i)+".parquet")
	if err != nil {
		return nil, err
	}
	return []string{f}, nil
}

// viewBody is the view's query over source: the table's columns (those the
// schema has but no data file holds yet read as NULL), one row per primary
// key for dedup tables.
func (s *session) viewBody(ctx context.Context, t query.Table, source string, empty bool) (string, error) {
	if t.ArrowSchema == nil && len(t.PrimaryKey) == 0 {
		return "SELECT * FROM " + source, nil
	}
	have := map[string]bool{}
	if empty {
		for _, f := range t.ArrowSchema.Fields() {
			have[strings.ToLower(f.Name)] = true
		}
	} else {
		var err error
		if have, err = s.columns(ctx, source); err != nil {
			return "", fmt.Errorf("%w: table %s: read its columns: %w", query.ErrUnreadable, t.QualifiedName(), err)
		}
	}
	sel := "*"
	if t.ArrowSchema != nil {
		var missing []string
		for _, f := range t.ArrowSchema.Fields() {
			if have[strings.ToLower(f.Name)] {
				continue
			}
			typ, err := sqlType(f.Type)
			if err != nil {
				return "", fmt.Errorf("%w: table %s column %s: %w", query.ErrUnreadable, t.QualifiedName(), f.Name, err)
			}
			missing = append(missing, "CAST(NULL AS "+typ+") AS "+quoteIdent(f.Name))
			have[strings.ToLower(f.Name)] = true
		}
		if len(missing) > 0 {
			sel = "*, " + strings.Join(missing, ", ")
		}
	}
	body := "SELECT " + sel + " FROM " + source
	if len(t.PrimaryKey) == 0 {
		return body, nil
	}
	part := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		if !have[strings.ToLower(k)] {
			return "", fmt.Errorf("%w: table %s: primary key column %q is not in the table", query.ErrUnreadable, t.QualifiedName(), k)
		}
		part[i] = quoteIdent(k)
	}
	var order []string
	if t.Cursor != "" {
		if !have[strings.ToLower(t.Cursor)] {
			return "", fmt.Errorf("%w: table %s: cursor column %q is not in the table", query.ErrUnreadable, t.QualifiedName(), t.Cursor)
		}
		order = append(order, quoteIdent(t.Cursor)+" DESC NULLS LAST")
	}
	if have[query.ExtractedAtColumn] && !strings.EqualFold(t.Cursor, query.ExtractedAtColumn) {
		order = append(order, quoteIdent(query.ExtractedAtColumn)+" DESC NULLS LAST")
	}
	window := "PARTITION BY " + strings.Join(part, ", ")
	if len(order) > 0 {
		window += " ORDER BY " + strings.Join(order, ", ")
	}
	// The view's FROM is a subquery so that the added NULL columns can serve
	// as keys or cursor too.
	return "SELECT * FROM (" + body + ") QUALIFY row_number() OVER (" + window + ") = 1", nil
}

// columns lists source's column names, lower-cased.
func (s *session) columns(ctx context.Context, source string) (map[string]bool, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT column_name FROM (DESCRIBE SELECT * FROM "+source+")", nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	dst := make([]driver.Value, 1)
	for {
		if err := rows.Next(dst); err != nil {
			break
		}
		if name, ok := dst[0].(string); ok {
			have[strings.ToLower(name)] = true
		}
	}
	return have, nil
}

// emptySource is a FROM item with schema's columns and no rows; with a
// message, scanning it fails with that message instead.
func emptySource(schema *arrow.Schema, failure string) (string, error) {
	if schema == nil || schema.NumFields() == 0 {
		return "", fmt.Errorf("no data files and no columns")
	}
	cols := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		typ, err := sqlType(f.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols[i] = "CAST(NULL AS " + typ + ") AS " + quoteIdent(f.Name)
	}
	if failure != "" {
		return "(SELECT " + strings.Join(cols, ", ") + " FROM range(1) WHERE error(" + quoteString(failure) + ") IS NULL)", nil
	}
	return "(SELECT " + strings.Join(cols, ", ") + " LIMIT 0)", nil
}

// sqlType is DuckDB's type for an Arrow type, as DuckDB's own Arrow and
// Parquet readers map it.
func sqlType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Int8Type:
		return "TINYINT", nil
	case *arrow.Int16Type:
		return "SMALLINT", nil
	case *arrow.Int32Type:
		return "INTEGER", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Uint8Type:
		return "UTINYINT", nil
	case *arrow.Uint16Type:
		return "USMALLINT", nil
	case *arrow.Uint32Type:
		return "UINTEGER", nil
	case *arrow.Uint64Type:
		return "UBIGINT", nil
	case *arrow.Float16Type, *arrow.Float32Type:
		return "FLOAT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "VARCHAR", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType, *arrow.FixedSizeBinaryType:
		return "BLOB", nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "DATE", nil
	case *arrow.Time32Type, *arrow.Time64Type:
		return "TIME", nil
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return "TIMESTAMP WITH TIME ZONE", nil
		}
		switch t.Unit {
		case arrow.Second:
			return "TIMESTAMP_S", nil
		case arrow.Millisecond:
			return "TIMESTAMP_MS", nil
		case arrow.Nanosecond:
			return "TIMESTAMP_NS", nil
		}
		return "TIMESTAMP", nil
	case *arrow.DurationType, *arrow.MonthIntervalType, *arrow.DayTimeIntervalType, *arrow.MonthDayNanoIntervalType:
		return "INTERVAL", nil
	case arrow.DecimalType:
		if t.GetPrecision() > 38 {
			return "DOUBLE", nil
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", t.GetPrecision(), t.GetScale()), nil
	case *arrow.ListType:
		return listType(t.Elem())
	case *arrow.LargeListType:
		return listType(t.Elem())
	case *arrow.ListViewType:
		return listType(t.Elem())
	case *arrow.FixedSizeListType:
		e, err := sqlType(t.Elem())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s[%d]", e, t.Len()), nil
	case *arrow.StructType:
		if t.NumFields() == 0 {
			return "", fmt.Errorf("empty struct")
		}
		parts := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			ft, err := sqlType(f.Type)
			if err != nil {
				return "", err
			}
			parts[i] = quoteIdent(f.Name) + " " + ft
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	case *arrow.MapType:
		k, err := sqlType(t.KeyType())
		if err != nil {
			return "", err
		}
		v, err := sqlType(t.ItemType())
		if err != nil {
			return "", err
		}
		return "MAP(" + k + ", " + v + ")", nil
	case *arrow.DictionaryType:
		return sqlType(t.ValueType)
	case arrow.ExtensionType:
		if t.ExtensionName() == "arrow.uuid" {
			return "UUID", nil
		}
		if t.ExtensionName() == "arrow.json" {
			return "JSON", nil
		}
		return sqlType(t.StorageType())
	case *arrow.NullType:
		return "INTEGER", nil
	}
	return "", fmt.Errorf("arrow type %s has no DuckDB equivalent here", t)
}

func listType(elem arrow.DataType) (string, error) {
	e, err := sqlType(elem)
	if err != nil {
		return "", err
	}
	return e + "[]", nil
}

// quoteIdent quotes a SQL identifier: "a""b".
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal: 'a”b'.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// stringList is a SQL list of string literals: ['a', 'b'].
func stringList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quoteString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
