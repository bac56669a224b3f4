// Package schema maps an Airbyte stream's JSON schema to an Iceberg schema
// (and its Arrow form), plans schema evolution between runs, and converts JSON
// records into Arrow record batches.
//
// # Type mapping
//
// A property's JSON schema maps to one Iceberg type:
//
//	"string"                                  string
//	"string" + format "date-time"             timestamptz
//	  (airbyte_type timestamp_without_timezone) timestamp
//	"string" + format "date"                  date
//	"string" + format "time"                  time (airbyte_type time_with_timezone: string,
//	                                          since Iceberg's time has no offset)
//	"integer", or "number" + airbyte_type integer   long
//	"number"                                  double
//	"boolean"                                 boolean
//	"object", "array"                         string holding the value's JSON text
//	several types, oneOf/anyOf                the common type of all branches when they agree
//	                                          ({integer, number} → double); else string JSON
//	missing, empty or unknown type            string JSON
//
// Nested objects and arrays are deliberately not mapped to Iceberg structs and
// lists: sources change nested shapes often and loosely, and a string column
// holding JSON text never fails a write, never needs an evolution and is
// queryable with any engine's JSON functions. "null" in a type list only means
// the column is optional, which every user column is anyway.
//
// # lakeport's columns
//
// Every table starts with four columns owned by lakeport (see [ColRawID],
// [ColExtractedAt], [ColGenerationID], [ColMeta]). [ColMeta] is null for a
// clean record; otherwise it holds JSON such as
//
//	{"changes":[{"field":"age","change":"NULLED","reason":"not an integer: \"abc\"","value":"abc"}],
//	 "extra":{"undeclared":1}}
//
// "value" is the original JSON value of a field that did not fit its column,
// "extra" the fields the record had but the table has no column for: nothing a
// source sends is dropped.
//
// # Column names
//
// Names are kept as the source spells them: unicode, spaces and dots included.
// Iceberg allows any non-empty UTF-8 name; dots would only be ambiguous in
// references to nested fields, and lakeport's tables have no nested fields.
// iceberg-go sanitizes names in the Parquet files it writes
// (iceberg.SanitizeColumnNames) and maps them back by field ID, so readers see
// the original names. Only names Iceberg rejects change: an empty name becomes
// "_empty", invalid UTF-8 bytes become U+FFFD, and a name that collides after
// that gets a suffix "_1", "_2"…. A source property named like one of
// lakeport's own columns gets no column. Record keys that match no column land
// in the meta's "extra".
package schema
