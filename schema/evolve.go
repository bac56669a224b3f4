package schema

import (
	"fmt"

	"github.com/apache/iceberg-go"
)

// Plan is what it takes to bring a table's schema in line with a stream's
// current JSON schema. Columns are never dropped or renamed: a property the
// source no longer declares keeps its column (null from now on).
type Plan struct {
	// Schema is the table schema after the plan (the current one when the
	// plan is empty). Field IDs of existing columns are unchanged; added
	// columns take IDs after the current highest.
	Schema *iceberg.Schema
	// Added are new columns, with the IDs Schema gives them. The catalog
	// assigns its own IDs when the plan is applied (the same ones, unless
	// the table's last-column-id is ahead of its current schema).
	Added []iceberg.NestedField
	// Promoted are columns widened the way Iceberg allows (int→long,
	// float→double, decimal precision).
	Promoted []Promotion
	// Kept are columns whose type the source changed in a way Iceberg
	// cannot follow (for example long→double, or long→string). The column
	// keeps its type; values that do not fit become null and are kept in
	// the record's meta. A run reports them.
	Kept []Mismatch
}

// Promotion is a column whose type is widened.
type Promotion struct {
	Column   string
	From, To iceberg.Type
}

// Mismatch is a column the source now declares with a type the column
// cannot take.
type Mismatch struct {
	Column   string
	Current  iceberg.Type
	Incoming iceberg.Type
}

func (m Mismatch) String() string {
	return fmt.Sprintf("column %q stays %s: the source now declares %s, which Iceberg cannot promote %s to; values that do not fit are nulled and kept in %s",
		m.Column, m.Current, m.Incoming, m.Current, ColMeta)
}

// Changed reports whether applying the plan changes the table schema.
func (p *Plan) Changed() bool { return len(p.Added) > 0 || len(p.Promoted) > 0 }

// Evolve compares a table's current schema with the stream's JSON schema.
func Evolve(current *iceberg.Schema, jsonSchema []byte) (*Plan, error) {
	if current == nil {
		return nil, fmt.Errorf("schema: evolve: current schema is nil")
	}
	cols, err := Columns(jsonSchema)
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	fields := current.Fields()
	pos := make(map[string]int, len(fields))
	for i, f := range fields {
		pos[f.Name] = i
	}
	nextID := current.HighestFieldID()
	for _, c := range cols {
		i, ok := pos[c.Name]
		if !ok {
			nextID++
			f := iceberg.NestedField{ID: nextID, Name: c.Name, Type: c.Type}
			plan.Added = append(plan.Added, f)
			pos[c.Name] = len(fields)
			fields = append(fields, f)
			continue
		}
		f := fields[i]
		if f.Type.Equals(c.Type) {
			continue
		}
		if canPromote(f.Type, c.Type) {
			plan.Promoted = append(plan.Promoted, Promotion{Column: f.Name, From: f.Type, To: c.Type})
			fields[i].Type = c.Type
			continue
		}
		plan.Kept = append(plan.Kept, Mismatch{Column: f.Name, Current: f.Type, Incoming: c.Type})
	}
	if !plan.Changed() {
		plan.Schema = current
		return plan, nil
	}
	plan.Schema = iceberg.NewSchemaWithIdentifiers(current.ID+1, current.IdentifierFieldIDs, fields...)
	return plan, nil
}

// canPromote is Iceberg's type promotion for primitive columns (the spec's
// "Schema Evolution" rules, as iceberg.PromoteType implements them, minus
// string↔binary, which lakeport never needs).
func canPromote(from, to iceberg.Type) bool {
	switch from.(type) {
	case iceberg.Int32Type, iceberg.Float32Type, iceberg.DecimalType:
		_, err := iceberg.PromoteType(from, to)
		return err == nil
	}
	return false
}
