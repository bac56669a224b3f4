package schema

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// lakeport's own columns, present in every table, always first.
const (
	// ColRawID is a unique, UUID-formatted id given to each record.
	ColRawID = "_lakeport_raw_id"
	// ColExtractedAt is when lakeport read the record from the source.
	ColExtractedAt = "_lakeport_extracted_at"
	// ColGenerationID counts full refreshes of the stream.
	ColGenerationID = "_lakeport_generation_id"
	// ColMeta is JSON describing what lakeport changed in the record, or null.
	ColMeta = "_lakeport_meta"
)

// lakeportFields are lakeport's columns with the IDs they get in a new table.
// They are required: lakeport always fills them (the meta is optional, it is
// null for a clean record).
var lakeportFields = []iceberg.NestedField{
	{ID: 1, Name: ColRawID, Type: iceberg.PrimitiveTypes.String, Required: true,
		Doc: "lakeport: unique id of the record"},
	{ID: 2, Name: ColExtractedAt, Type: iceberg.PrimitiveTypes.TimestampTz, Required: true,
		Doc: "lakeport: when the record was read from the source"},
	{ID: 3, Name: ColGenerationID, Type: iceberg.PrimitiveTypes.Int64, Required: true,
		Doc: "lakeport: generation (full refresh count) that wrote the record"},
	{ID: 4, Name: ColMeta, Type: iceberg.PrimitiveTypes.String, Required: false,
		Doc: "lakeport: JSON of changes made to the record (values nulled, fields without a column)"},
}

// IsLakeportColumn reports whether name is one of lakeport's own columns.
func IsLakeportColumn(name string) bool {
	switch name {
	case ColRawID, ColExtractedAt, ColGenerationID, ColMeta:
		return true
	}
	return false
}

// Column is a user column derived from the JSON schema.
type Column struct {
	// Source is the property name in the JSON schema.
	Source string
	// Name is the column name (Source, unless Iceberg rejects it).
	Name string
	Type iceberg.Type
}

// Columns maps a stream's JSON schema to its user columns, in the order the
// schema lists its properties. The JSON schema must be a JSON object; a
// schema without properties has no user columns.
func Columns(jsonSchema []byte) ([]Column, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(jsonSchema, &probe); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSONSchema, err)
	}
	var root node
	if err := root.UnmarshalJSON(jsonSchema); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSONSchema, err)
	}
	taken := map[string]bool{ColRawID: true, ColExtractedAt: true, ColGenerationID: true, ColMeta: true}
	cols := make([]Column, 0, len(root.props))
	for _, p := range root.props {
		if IsLakeportColumn(p.name) {
			continue // values kept in the meta's "extra"
		}
		name := columnName(p.name)
		for i := 1; taken[name]; i++ {
			name = columnName(p.name) + "_" + strconv.Itoa(i)
		}
		taken[name] = true
		cols = append(cols, Column{Source: p.name, Name: name, Type: p.schema.icebergType()})
	}
	return cols, nil
}

// FromJSONSchema maps a stream's JSON schema to a new table's Iceberg schema:
// lakeport's columns (IDs 1-4) then one optional column per property (IDs
// from 5, in the schema's property order).
func FromJSONSchema(jsonSchema []byte) (*iceberg.Schema, error) {
	cols, err := Columns(jsonSchema)
	if err != nil {
		return nil, err
	}
	fields := make([]iceberg.NestedField, 0, len(lakeportFields)+len(cols))
	fields = append(fields, lakeportFields...)
	id := len(lakeportFields)
	for _, c := range cols {
		id++
		fields = append(fields, iceberg.NestedField{ID: id, Name: c.Name, Type: c.Type})
	}
	return iceberg.NewSchema(0, fields...), nil
}

// ArrowSchema is the Arrow schema record batches for a table with schema sc
// must have (with field IDs in the field metadata, as iceberg-go writes and
// reads them).
func ArrowSchema(sc *iceberg.Schema) (*arrow.Schema, error) {
	out, err := table.SchemaToArrowSchema(sc, nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("schema: arrow schema: %w", err)
	}
	return out, nil
}
