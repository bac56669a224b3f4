package schema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"

	"github.com/lakeport/lakeport/schema"
)

const testJSONSchema = `{"type":"object","properties":{
	"id":{"type":"integer"},
	"name":{"type":["null","string"]},
	"score":{"type":"number"},
	"active":{"type":"boolean"},
	"created_at":{"type":"string","format":"date-time"},
	"local_at":{"type":"string","format":"date-time","airbyte_type":"timestamp_without_timezone"},
	"day":{"type":"string","format":"date"},
	"clock":{"type":"string","format":"time"},
	"address":{"type":"object"},
	"tags":{"type":"array"}}}`

func mustArrow(t testing.TB, sc *iceberg.Schema) *arrow.Schema {
	t.Helper()
	as, err := schema.ArrowSchema(sc)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func newBuilder(t testing.TB, mem memory.Allocator, jsonSchema string) *schema.BatchBuilder {
	t.Helper()
	sc, err := schema.FromJSONSchema([]byte(jsonSchema))
	if err != nil {
		t.Fatal(err)
	}
	b, err := schema.NewBatchBuilderWithAllocator(mem, mustArrow(t, sc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cell renders one value of a batch the way the tests compare them.
func cell(rec arrow.RecordBatch, name string, row int) any {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return "NO COLUMN"
	}
	col := rec.Column(idx[0])
	if col.IsNull(row) {
		return nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(row)
	case *array.Int64:
		return a.Value(row)
	case *array.Float64:
		return a.Value(row)
	case *array.Boolean:
		return a.Value(row)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(row))).UTC().Format(time.RFC3339Nano)
	case *array.Date32:
		return a.Value(row).FormattedString()
	case *array.Time64:
		return a.Value(row).FormattedString(arrow.Microsecond)
	}
	return fmt.Sprintf("%T", col)
}

func TestBatchBuilderValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := newBuilder(t, mem, testJSONSchema)
	defer b.Release()

	extracted := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	tests := []struct {
		name   string
		record string
		want   map[string]any
		meta   string // "" means null
	}{
		{
			name: "clean",
			record: `{"id":7,"name":"Zoë \"Z\" \u00e9\ud83d\ude00","score":1.5,"active":true,
				"created_at":"2024-01-02T03:04:05.123456+02:00","local_at":"2024-01-02 03:04:05",
				"day":"2024-02-29","clock":"13:14:15.5","address":{"city":"Oslo", "zip":[1,2]},"tags":[]}`,
			want: map[string]any{
				"id": int64(7), "name": "Zoë \"Z\" é😀", "score": 1.5, "active": true,
				"created_at": "2024-01-02T01:04:05.123456Z", "local_at": "2024-01-02T03:04:05Z",
				"day": "2024-02-29", "clock": "13:14:15.500000", "address": `{"city":"Oslo", "zip":[1,2]}`, "tags": `[]`,
			},
		},
		{
			name:   "nulls and missing",
			record: `{"id":null,"name":null}`,
			want:   map[string]any{"id": nil, "name": nil, "score": nil, "address": nil},
		},
		{
			name:   "lenient forms",
			record: `{"id":"42","score":"3.25","active":"false","created_at":"2024-01-02","day":"2024-03-04T23:00:00Z","id2":1,"local_at":"2024-01-02T03:04:05-05:00"}`,
			want: map[string]any{"id": int64(42), "score": 3.25, "active": false,
				"created_at": "2024-01-02T00:00:00Z", "day": "2024-03-04", "local_at": "2024-01-02T03:04:05Z"},
			meta: `{"extra":{"id2":1}}`,
		},
		{
			name:   "integral float into long, number into string",
			record: `{"id":1e3,"name":12.50}`,
			want:   map[string]any{"id": int64(1000), "name": "12.50"},
		},
		{
			name:   "values that do not fit",
			record: `{"id":"abc","score":true,"active":1,"created_at":"yesterday","day":"2023-02-29","clock":"25:00","tags":[1]}`,
			want:   map[string]any{"id": nil, "score": nil, "active": nil, "created_at": nil, "day": nil, "clock": nil, "tags": "[1]"},
			meta: `{"changes":[` +
				`{"field":"id","change":"NULLED","reason":"not an integer: \"abc\"","value":"abc"},` +
				`{"field":"score","change":"NULLED","reason":"not a number: true","value":true},` +
				`{"field":"active","change":"NULLED","reason":"not a boolean: 1","value":1},` +
				`{"field":"created_at","change":"NULLED","reason":"not a timestamp: \"yesterday\"","value":"yesterday"},` +
				`{"field":"day","change":"NULLED","reason":"not a date: \"2023-02-29\"","value":"2023-02-29"},` +
				`{"field":"clock","change":"NULLED","reason":"not a time: \"25:00\"","value":"25:00"}]}`,
		},
		{
			name:   "fraction and overflow into long",
			record: `{"id":1.5,"_lakeport_meta":"mine","id":2}`,
			want:   map[string]any{"id": nil},
			meta: `{"changes":[{"field":"id","change":"NULLED","reason":"not an integer: 1.5","value":1.5}],` +
				`"extra":{"_lakeport_meta":"mine","id":2}}`,
		},
	}
	for _, tt := range tests {
		if err := b.Append([]byte(tt.record), extracted, 3); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	if b.Len() != len(tests) {
		t.Fatalf("Len = %d", b.Len())
	}
	rec := b.NewRecord()
	defer rec.Release()
	if rec.NumRows() != int64(len(tests)) {
		t.Fatalf("rows = %d", rec.NumRows())
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	ids := map[string]bool{}
	for row, tt := range tests {
		for name, want := range tt.want {
			if got := cell(rec, name, row); got != want {
				t.Errorf("%s: %s = %#v, want %#v", tt.name, name, got, want)
			}
		}
		var gotMeta string
		if m := cell(rec, schema.ColMeta, row); m != nil {
			gotMeta = m.(string)
			if !json.Valid([]byte(gotMeta)) {
				t.Errorf("%s: meta is not JSON: %s", tt.name, gotMeta)
			}
		}
		if gotMeta != tt.meta {
			t.Errorf("%s: meta =\n%s\nwant\n%s", tt.name, gotMeta, tt.meta)
		}
		id, _ := cell(rec, schema.ColRawID, row).(string)
		if !uuidRE.MatchString(id) || ids[id] {
			t.Errorf("%s: raw id %q not a fresh uuid", tt.name, id)
		}
		ids[id] = true
		if got := cell(rec, schema.ColExtractedAt, row); got != "2024-05-06T07:08:09.123456Z" {
			t.Errorf("extracted_at = %v", got)
		}
		if got := cell(rec, schema.ColGenerationID, row); got != int64(3) {
			t.Errorf("generation = %v", got)
		}
	}
}

func TestBatchBuilderRejectsInvalidRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := newBuilder(t, mem, testJSONSchema)
	defer b.Release()
	for _, in := range []string{``, `[]`, `{"id":1`, `{"id":1}x`, `{"id":tru}`, `{"id":01}`, `{"a":"\x"}`,
		"{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":{"b"}}`, `{"a":1,}`, `{id:1}`, `{"id":-}`, `{"a":"\u12"}`} {
		err := b.Append([]byte(in), time.Now(), 1)
		if !errors.Is(err, schema.ErrInvalidRecord) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
	if b.Len() != 0 {
		t.Fatalf("invalid records were appended")
	}
	// The builder stays usable and aligned.
	if err := b.Append([]byte(` {"id":1} `), time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if rec.NumRows() != 1 || cell(rec, "id", 0) != int64(1) {
		t.Fatalf("after errors: %v", rec)
	}
}

func TestBatchBuilderUnsupportedSchema(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String}}, nil)
	if _, err := schema.NewBatchBuilder(sc); !errors.Is(err, schema.ErrUnsupportedColumn) {
		t.Errorf("missing lakeport columns: %v", err)
	}
}

func FuzzBatchBuilderAppend(f *testing.F) {
	for _, s := range []string{
		`{"id":7,"name":"x","score":1.5,"active":true,"created_at":"2024-01-02T03:04:05Z","address":{"a":[1,{"b":null}]}}`,
		`{"id":"9","day":"2024-01-01","clock":"01:02","tags":["\ud83d\ude00"]}`,
		`{"id":1e400,"score":-0.0e-7,"x":"\u0000"}`,
		`{}`, `[]`, `{"a":`,
	} {
		f.Add([]byte(s))
	}
	b := newBuilder(f, memory.DefaultAllocator, testJSONSchema)
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]json.RawMessage
		valid := json.Unmarshal(data, &obj) == nil && obj != nil
		before := b.Len()
		err := b.Append(data, time.Unix(0, 0), 1)
		if valid && err != nil {
			t.Fatalf("valid object rejected: %v", err)
		}
		if err == nil && !json.Valid(data) {
			t.Fatalf("invalid JSON accepted")
		}
		if (err == nil) != (b.Len() == before+1) {
			t.Fatalf("len %d -> %d with err %v", before, b.Len(), err)
		}
		if b.Len() >= 64 {
			rec := b.NewRecord()
			for i := 0; i < int(rec.NumRows()); i++ {
				if m := cell(rec, schema.ColMeta, i); m != nil && !json.Valid([]byte(m.(string))) {
					t.Fatalf("meta is not JSON: %s", m)
				}
			}
			rec.Release()
		}
	})
}
