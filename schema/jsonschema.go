package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/apache/iceberg-go"
)

// node is the part of a JSON schema lakeport reads. Decoding is lenient: a
// keyword of the wrong shape is ignored, so the property falls back to a
// string JSON column instead of failing the stream.
type node struct {
	types       []string
	format      string
	airbyteType string
	props       []property // in the order the schema lists them
	oneOf       []node     // oneOf and anyOf branches together
	hasOneOf    bool
}

type property struct {
	name   string
	schema node
}

// UnmarshalJSON decodes a schema node; anything that is not an object (true,
// false, garbage) is an empty node, which maps to string JSON.
func (n *node) UnmarshalJSON(data []byte) error {
	*n = node{}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil
	}
	if t, ok := raw["type"]; ok {
		var one string
		var many []json.RawMessage
		switch {
		case json.Unmarshal(t, &one) == nil:
			n.types = []string{one}
		case json.Unmarshal(t, &many) == nil:
			for _, m := range many {
				if json.Unmarshal(m, &one) == nil {
					n.types = append(n.types, one)
				}
			}
		}
	}
	_ = json.Unmarshal(raw["format"], &n.format)
	_ = json.Unmarshal(raw["airbyte_type"], &n.airbyteType)
	if p, ok := raw["properties"]; ok {
		n.props = decodeProperties(p)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		var branches []node
		if b, ok := raw[key]; ok && json.Unmarshal(b, &branches) == nil && len(branches) > 0 {
			n.oneOf = append(n.oneOf, branches...)
			n.hasOneOf = true
		}
	}
	return nil
}

// decodeProperties reads a "properties" object keeping its key order, so
// columns come out in the order the source declares them. A key listed twice
// keeps its first position and its last schema (encoding/json's rule).
func decodeProperties(data []byte) []property {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []property
	index := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out
		}
		var n node
		_ = n.UnmarshalJSON(raw)
		if i, ok := index[name]; ok {
			out[i].schema = n
			continue
		}
		index[name] = len(out)
		out = append(out, property{name: name, schema: n})
	}
	return out
}

// icebergType maps a schema node to the Iceberg type of its column.
func (n *node) icebergType() iceberg.Type {
	var types []iceberg.Type
	for _, t := range n.types {
		if t == "null" {
			continue
		}
		types = append(types, n.primitive(t))
	}
	if n.hasOneOf {
		for i := range n.oneOf {
			b := &n.oneOf[i]
			if len(b.types) == 1 && b.types[0] == "null" && !b.hasOneOf {
				continue
			}
			types = append(types, b.icebergType())
		}
	}
	return commonType(types)
}

func (n *node) primitive(t string) iceberg.Type {
	switch t {
	case "string":
		switch n.format {
		case "date-time":
			if n.airbyteType == "timestamp_without_timezone" {
				return iceberg.PrimitiveTypes.Timestamp
			}
			return iceberg.PrimitiveTypes.TimestampTz
		case "date":
			return iceberg.PrimitiveTypes.Date
		case "time":
			if n.airbyteType == "time_with_timezone" {
				return iceberg.PrimitiveTypes.String
			}
			return iceberg.PrimitiveTypes.Time
		}
		switch n.airbyteType {
		case "timestamp_with_timezone":
			return iceberg.PrimitiveTypes.TimestampTz
		case "timestamp_without_timezone":
			return iceberg.PrimitiveTypes.Timestamp
		case "date":
			return iceberg.PrimitiveTypes.Date
		case "time_without_timezone":
			return iceberg.PrimitiveTypes.Time
		}
		return iceberg.PrimitiveTypes.String
	case "integer":
		return iceberg.PrimitiveTypes.Int64
	case "number":
		if n.airbyteType == "integer" || n.airbyteType == "big_integer" {
			return iceberg.PrimitiveTypes.Int64
		}
		return iceberg.PrimitiveTypes.Float64
	case "boolean":
		return iceberg.PrimitiveTypes.Bool
	default: // object, array, unknown words
		return iceberg.PrimitiveTypes.String
	}
}

// commonType is the one type all candidates agree on; long and double agree
// on double; anything else, or nothing, is string (JSON text).
func commonType(types []iceberg.Type) iceberg.Type {
	if len(types) == 0 {
		return iceberg.PrimitiveTypes.String
	}
	out := types[0]
	for _, t := range types[1:] {
		switch {
		case t.Equals(out):
		case isNumber(t) && isNumber(out):
			out = iceberg.PrimitiveTypes.Float64
		default:
			return iceberg.PrimitiveTypes.String
		}
	}
	return out
}

func isNumber(t iceberg.Type) bool {
	switch t.(type) {
	case iceberg.Int64Type, iceberg.Float64Type:
		return true
	}
	return false
}

// columnName makes a source property name acceptable to Iceberg; see the
// package documentation.
func columnName(name string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	if name == "" {
		return "_empty"
	}
	return name
}
