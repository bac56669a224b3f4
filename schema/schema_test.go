package schema_test

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/lakeport/lakeport/schema"
)

func TestFromJSONSchemaTypes(t *testing.T) {
	p := iceberg.PrimitiveTypes
	tests := []struct {
		name string
		prop string
		want iceberg.Type
	}{
		{"string", `{"type":"string"}`, p.String},
		{"nullable string", `{"type":["null","string"]}`, p.String},
		{"integer", `{"type":"integer"}`, p.Int64},
		{"airbyte integer", `{"type":"number","airbyte_type":"integer"}`, p.Int64},
		{"number", `{"type":["number","null"]}`, p.Float64},
		{"boolean", `{"type":"boolean"}`, p.Bool},
		{"date-time", `{"type":"string","format":"date-time"}`, p.TimestampTz},
		{"date-time airbyte tz", `{"type":"string","format":"date-time","airbyte_type":"timestamp_with_timezone"}`, p.TimestampTz},
		{"date-time no tz", `{"type":"string","format":"date-time","airbyte_type":"timestamp_without_timezone"}`, p.Timestamp},
		{"airbyte_type only", `{"type":"string","airbyte_type":"timestamp_with_timezone"}`, p.TimestampTz},
		{"date", `{"type":"string","format":"date"}`, p.Date},
		{"time", `{"type":"string","format":"time","airbyte_type":"time_without_timezone"}`, p.Time},
		{"time with tz", `{"type":"string","format":"time","airbyte_type":"time_with_timezone"}`, p.String},
		{"object", `{"type":"object","properties":{"a":{"type":"integer"}}}`, p.String},
		{"array", `{"type":["null","array"],"items":{"type":"string"}}`, p.String},
		{"integer or number", `{"type":["integer","number"]}`, p.Float64},
		{"string or integer", `{"type":["string","integer"]}`, p.String},
		{"oneOf same", `{"oneOf":[{"type":"integer"},{"type":"null"}]}`, p.Int64},
		{"anyOf mixed", `{"anyOf":[{"type":"integer"},{"type":"object"}]}`, p.String},
		{"anyOf numbers", `{"anyOf":[{"type":"integer"},{"type":"number"}]}`, p.Float64},
		{"missing type", `{}`, p.String},
		{"empty type list", `{"type":[]}`, p.String},
		{"only null", `{"type":"null"}`, p.String},
		{"unknown type", `{"type":"bigint"}`, p.String},
		{"bad type shape", `{"type":5}`, p.String},
		{"not an object", `true`, p.String},
		{"ref", `{"$ref":"#/definitions/x"}`, p.String},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := schema.FromJSONSchema([]byte(`{"type":"object","properties":{"x":` + tt.prop + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			f, ok := sc.FindFieldByName("x")
			if !ok {
				t.Fatalf("no column x in %s", sc)
			}
			if !f.Type.Equals(tt.want) {
				t.Errorf("type = %s, want %s", f.Type, tt.want)
			}
			if f.Required {
				t.Errorf("user column is required")
			}
		})
	}
}

func TestFromJSONSchemaColumns(t *testing.T) {
	sc, err := schema.FromJSONSchema([]byte(`{"type":"object","properties":{
		"zeta":{"type":"string"},
		"Größe mit Leerzeichen":{"type":"number"},
		"a.b":{"type":"integer"},
		"":{"type":"string"},
		"_lakeport_meta":{"type":"string"},
		"alpha":{"type":"boolean"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	want := []string{schema.ColRawID, schema.ColExtractedAt, schema.ColGenerationID, schema.ColMeta,
		"zeta", "Größe mit Leerzeichen", "a.b", "_empty", "alpha"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("columns = %q, want %q", names, want)
	}
	for i, f := range sc.Fields() {
		if f.ID != i+1 {
			t.Errorf("field %s has ID %d, want %d", f.Name, f.ID, i+1)
		}
	}
	if _, err := schema.ArrowSchema(sc); err != nil {
		t.Fatal(err)
	}
}

func TestFromJSONSchemaRejectsNonObject(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{`} {
		if _, err := schema.FromJSONSchema([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// An object without properties is fine: lakeport's columns only.
	sc, err := schema.FromJSONSchema([]byte(`{"type":"object"}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc.Fields()); n != 4 {
		t.Errorf("%d columns, want 4", n)
	}
}

func TestEvolve(t *testing.T) {
	p := iceberg.PrimitiveTypes
	current := iceberg.NewSchema(3,
		iceberg.NestedField{ID: 1, Name: schema.ColRawID, Type: p.String, Required: true},
		iceberg.NestedField{ID: 2, Name: schema.ColExtractedAt, Type: p.TimestampTz, Required: true},
		iceberg.NestedField{ID: 3, Name: schema.ColGenerationID, Type: p.Int64, Required: true},
		iceberg.NestedField{ID: 4, Name: schema.ColMeta, Type: p.String},
		iceberg.NestedField{ID: 5, Name: "small", Type: p.Int32},
		iceberg.NestedField{ID: 6, Name: "ratio", Type: p.Float32},
		iceberg.NestedField{ID: 7, Name: "count", Type: p.Int64},
		iceberg.NestedField{ID: 8, Name: "name", Type: p.String},
		iceberg.NestedField{ID: 9, Name: "gone", Type: p.String},
	)
	plan, err := schema.Evolve(current, []byte(`{"type":"object","properties":{
		"small":{"type":"integer"},
		"ratio":{"type":"number"},
		"count":{"type":"number"},
		"name":{"type":"integer"},
		"new one":{"type":"string","format":"date"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Changed() {
		t.Fatal("plan is empty")
	}
	if len(plan.Added) != 1 || plan.Added[0].Name != "new one" || plan.Added[0].ID != 10 || !plan.Added[0].Type.Equals(p.Date) {
		t.Errorf("added = %v", plan.Added)
	}
	if len(plan.Promoted) != 2 || plan.Promoted[0].Column != "small" || plan.Promoted[1].Column != "ratio" {
		t.Errorf("promoted = %v", plan.Promoted)
	}
	if len(plan.Kept) != 2 || plan.Kept[0].Column != "count" || plan.Kept[1].Column != "name" {
		t.Errorf("kept = %v", plan.Kept)
	}
	// IDs are stable, nothing dropped, the promotions applied.
	for _, f := range current.Fields() {
		g, ok := plan.Schema.FindFieldByName(f.Name)
		if !ok || g.ID != f.ID {
			t.Errorf("column %s: %v %v", f.Name, g, ok)
		}
	}
	if f, _ := plan.Schema.FindFieldByName("small"); !f.Type.Equals(p.Int64) {
		t.Errorf("small is %s", f.Type)
	}
	if f, _ := plan.Schema.FindFieldByName("count"); !f.Type.Equals(p.Int64) {
		t.Errorf("count is %s, want it kept as long", f.Type)
	}
	if !strings.Contains(plan.Kept[0].String(), "count") {
		t.Errorf("mismatch message: %s", plan.Kept[0])
	}

	// The same JSON schema again: nothing to do.
	again, err := schema.Evolve(plan.Schema, []byte(`{"type":"object","properties":{"new one":{"type":"string","format":"date"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || again.Schema != plan.Schema {
		t.Errorf("second plan changed: %+v", again)
	}
}

func FuzzFromJSONSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":["null","string"]},"b":{"type":"integer"}}}`,
		`{"properties":{"x":{"oneOf":[{"type":"string","format":"date-time"},{"type":"null"}]}}}`,
		`{"properties":{"":{},"_lakeport_raw_id":{"type":"integer"},"a.b":{"anyOf":[{"anyOf":[{"type":"number"}]}]}}}`,
		`{"properties":{"\u00ff\ud800":{"type":[1,"string"]},"n":{"type":"number","airbyte_type":"integer"}}}`,
		`{"properties":[1,2]}`,
		`{"properties":{"a":{"type":"string"},"a":{"type":"integer"}}}`,
		`[]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := schema.FromJSONSchema(data)
		if err != nil {
			return
		}
		for i, name := range []string{schema.ColRawID, schema.ColExtractedAt, schema.ColGenerationID, schema.ColMeta} {
			fld, ok := sc.FindFieldByName(name)
			if !ok || fld.ID != i+1 {
				t.Fatalf("lakeport column %s missing or moved: %v", name, sc)
			}
		}
		seen := map[string]bool{}
		for _, fld := range sc.Fields() {
			if fld.Name == "" || seen[fld.Name] {
				t.Fatalf("empty or duplicate column name %q", fld.Name)
			}
			seen[fld.Name] = true
		}
		if _, err := iceberg.SanitizeColumnNames(sc); err != nil {
			t.Fatalf("iceberg rejects the names: %v", err)
		}
		if _, err := schema.ArrowSchema(sc); err != nil {
			t.Fatal(err)
		}
		if _, err := schema.NewBatchBuilder(mustArrow(t, sc)); err != nil {
			t.Fatal(err)
		}
		plan, err := schema.Evolve(sc, data)
		if err != nil || plan.Changed() || len(plan.Kept) > 0 {
			t.Fatalf("evolving to the same schema: %+v, %v", plan, err)
		}
	})
}
