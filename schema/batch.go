package schema

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type colKind uint8

const (
	kString colKind = iota
	kInt64
	kInt32
	kFloat64
	kFloat32
	kBool
	kTimestamp    // with zone: the instant
	kTimestampNTZ // without zone: the wall clock
	kDate
	kTime
)

// column is one user column and, while a record is being appended, the span
// of its value in the record.
type column struct {
	name    string
	kind    colKind
	builder array.Builder

	set        bool
	vkind      byte
	start, end int
}

type span struct{ start, end int }

// BatchBuilder converts JSON records to Arrow record batches for one table
// schema. It is not safe for concurrent use; use one per stream.
type BatchBuilder struct {
	schema *arrow.Schema
	rb     *array.RecordBuilder

	cols   []column
	byName map[string]int

	rawID       *array.StringBuilder
	extractedAt *array.TimestampBuilder
	genID       *array.Int64Builder
	meta        *array.StringBuilder

	idLow uint64 // the random base's last eight bytes
	seq   uint64

	sc      scanner
	data    []byte // the record last scanned
	extras  []span // key span, value span pairs of fields without a column
	changes []byte // JSON objects of the changes, comma separated
	scratch []byte
	metaBuf []byte
	idBuf   [36]byte
	rows    int
}

// NewBatchBuilder returns a builder for records of a table whose Arrow schema
// is sc (see [ArrowSchema]). sc must hold lakeport's columns; user columns may
// be string, long, int, double, float, boolean, timestamp(tz), date or time.
func NewBatchBuilder(sc *arrow.Schema) (*BatchBuilder, error) {
	return NewBatchBuilderWithAllocator(memory.DefaultAllocator, sc)
}

// NewBatchBuilderWithAllocator is [NewBatchBuilder] with a chosen allocator.
func NewBatchBuilderWithAllocator(mem memory.Allocator, sc *arrow.Schema) (*BatchBuilder, error) {
	b := &BatchBuilder{schema: sc, rb: array.NewRecordBuilder(mem, sc), byName: map[string]int{}}
	ok := true
	for i, f := range sc.Fields() {
		fb := b.rb.Field(i)
		switch f.Name {
		case ColRawID:
			b.rawID, ok = fb.(*array.StringBuilder)
		case ColExtractedAt:
			b.extractedAt, ok = fb.(*array.TimestampBuilder)
		case ColGenerationID:
			b.genID, ok = fb.(*array.Int64Builder)
		case ColMeta:
			b.meta, ok = fb.(*array.StringBuilder)
		default:
			k, kok := kindOf(f.Type)
			if !kok {
				b.rb.Release()
				return nil, fmt.Errorf("%w: column %q is %s", ErrUnsupportedColumn, f.Name, f.Type)
			}
			b.byName[f.Name] = len(b.cols)
			b.cols = append(b.cols, column{name: f.Name, kind: k, builder: fb})
		}
		if !ok {
			b.rb.Release()
			return nil, fmt.Errorf("%w: lakeport column %q is %s", ErrUnsupportedColumn, f.Name, f.Type)
		}
	}
	if b.rawID == nil || b.extractedAt == nil || b.genID == nil || b.meta == nil {
		b.rb.Release()
		return nil, fmt.Errorf("%w: the schema lacks lakeport's columns", ErrUnsupportedColumn)
	}
	var base [16]byte
	if _, err := rand.Read(base[:]); err != nil {
		b.rb.Release()
		return nil, fmt.Errorf("schema: random id base: %w", err)
	}
	b.setIDBase(base)
	return b, nil
}

func kindOf(t arrow.DataType) (colKind, bool) {
	switch t := t.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return kString, true
	case *arrow.Int64Type:
		return kInt64, true
	case *arrow.Int32Type:
		return kInt32, true
	case *arrow.Float64Type:
		return kFloat64, true
	case *arrow.Float32Type:
		return kFloat32, true
	case *arrow.BooleanType:
		return kBool, true
	case *arrow.TimestampType:
		if t.TimeZone == "" {
			return kTimestampNTZ, t.Unit == arrow.Microsecond
		}
		return kTimestamp, t.Unit == arrow.Microsecond
	case *arrow.Date32Type:
		return kDate, true
	case *arrow.Time64Type:
		return kTime, t.Unit == arrow.Microsecond
	}
	return 0, false
}

// Schema is the Arrow schema of the records the builder makes.
func (b *BatchBuilder) Schema() *arrow.Schema { return b.schema }

// Len is the number of records appended since the last NewRecord.
func (b *BatchBuilder) Len() int { return b.rows }

// Append adds one record. data must be a JSON object; otherwise Append
// returns an error wrapping [ErrInvalidRecord] and appends nothing. Values
// that do not fit their column are appended as null and kept in the meta;
// fields with no column are kept in the meta's "extra". A missing field and
// a null one both read as null.
func (b *BatchBuilder) Append(data []byte, extractedAt time.Time, generationID int64) error {
	start := skipSpace(data, 0)
	if err := b.scan(data[start:]); err != nil {
		return err
	}
	if end := skipSpace(data, start+b.sc.i); end != len(data) {
		return fmt.Errorf("%w: trailing data at byte %d", ErrInvalidRecord, end)
	}
	b.AppendScanned(extractedAt, generationID)
	return nil
}

// Scan validates the JSON object at the start of data (data may go on after
// it) and returns its length; [BatchBuilder.AppendScanned] then appends it
// without reading it again. data must not change until then. An invalid
// object returns an error wrapping [ErrInvalidRecord], and AppendScanned
// must not be called for it.
func (b *BatchBuilder) Scan(data []byte) (int, error) {
	if err := b.scan(data); err != nil {
		return 0, err
	}
	return b.sc.i, nil
}

// AppendScanned appends the record the last successful [BatchBuilder.Scan]
// (or the one inside Append) read, as Append does.
func (b *BatchBuilder) AppendScanned(extractedAt time.Time, generationID int64) {
	data := b.data
	b.changes = b.changes[:0]
	for i := range b.cols {
		c := &b.cols[i]
		if !c.set || c.vkind == kindNull {
			c.builder.AppendNull()
			continue
		}
		b.appendValue(c, data)
	}
	b.appendRawID()
	b.extractedAt.Append(arrow.Timestamp(extractedAt.UnixMicro()))
	b.genID.Append(generationID)
	b.appendMeta(data)
	b.rows++
}

// scan walks the object at the start of data once and records the value
// span of every column; nothing is appended until the whole record proved
// valid. On success b.sc.i is just past the object.
func (b *BatchBuilder) scan(data []byte) error {
	for i := range b.cols {
		b.cols[i].set = false
	}
	b.extras = b.extras[:0]
	b.data = data
	s := &b.sc
	*s = scanner{b: data}
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("%w: it does not start with '{'", ErrInvalidRecord)
	}
	s.i++
	s.ws()
	if s.i < len(data) && data[s.i] == '}' {
		s.i++
		return nil
	}
	next := 0 // the column the next key most likely names: keys tend to come in one order
	for {
		if s.i >= len(data) || data[s.i] != '"' {
			return fmt.Errorf("%w: expected a key at byte %d", ErrInvalidRecord, s.i)
		}
		kStart := s.i
		escaped := s.str()
		kEnd := s.i
		s.ws()
		if s.bad || s.i >= len(data) || data[s.i] != ':' {
			return fmt.Errorf("%w: bad key at byte %d", ErrInvalidRecord, kStart)
		}
		s.i++
		s.ws()
		vStart := s.i
		kind := s.value(0)
		if s.bad {
			return fmt.Errorf("%w: bad value at byte %d", ErrInvalidRecord, vStart)
		}
		vEnd := s.i
		var key []byte
		if escaped {
			b.scratch = unescape(b.scratch[:0], data[kStart+1:kEnd-1])
			key = b.scratch
		} else {
			key = data[kStart+1 : kEnd-1]
		}
		ci := -1
		if next < len(b.cols) && b.cols[next].name == string(key) {
			ci = next
		} else if i, ok := b.byName[string(key)]; ok {
			ci = i
		}
		if ci >= 0 && !b.cols[ci].set {
			c := &b.cols[ci]
			c.set, c.vkind, c.start, c.end = true, kind, vStart, vEnd
			next = ci + 1
		} else {
			// No column, a duplicate key, or one of lakeport's names.
			b.extras = append(b.extras, span{kStart, kEnd}, span{vStart, vEnd})
		}
		s.ws()
		if s.i >= len(data) {
			return fmt.Errorf("%w: unexpected end", ErrInvalidRecord)
		}
		if data[s.i] == ',' {
			s.i++
			s.ws()
			continue
		}
		if data[s.i] == '}' {
			s.i++
			return nil
		}
		return fmt.Errorf("%w: expected ',' or '}' at byte %d", ErrInvalidRecord, s.i)
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	s := scanner{b: b, i: i}
	s.ws()
	return s.i
}

// bytesString views b as a string without copying; the string must not
// outlive b's next change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// stringValue returns the decoded content of the string value of c.
func (b *BatchBuilder) stringValue(c *column, data []byte) []byte {
	raw := data[c.start+1 : c.end-1]
	for _, ch := range raw {
		if ch == '\\' {
			b.scratch = unescape(b.scratch[:0], raw)
			return b.scratch
		}
	}
	return raw
}

func (b *BatchBuilder) appendValue(c *column, data []byte) {
	raw := data[c.start:c.end]
	switch c.kind {
	case kString:
		sb := c.builder.(*array.StringBuilder)
		if c.vkind == kindString {
			sb.BinaryBuilder.Append(b.stringValue(c, data))
		} else {
			sb.BinaryBuilder.Append(raw) // JSON text
		}
	case kInt64, kInt32:
		v, ok := b.intValue(c, data)
		if ok && c.kind == kInt32 && (v < math.MinInt32 || v > math.MaxInt32) {
			ok = false
		}
		switch {
		case !ok:
			c.builder.AppendNull()
			b.nulled(c, raw, "not an integer")
		case c.kind == kInt64:
			c.builder.(*array.Int64Builder).Append(v)
		default:
			c.builder.(*array.Int32Builder).Append(int32(v))
		}
	case kFloat64, kFloat32:
		v, ok := b.floatValue(c, data)
		if ok && c.kind == kFloat32 && !math.IsInf(v, 0) && math.Abs(v) > math.MaxFloat32 {
			ok = false
		}
		switch {
		case !ok:
			c.builder.AppendNull()
			b.nulled(c, raw, "not a number")
		case c.kind == kFloat64:
			c.builder.(*array.Float64Builder).Append(v)
		default:
			c.builder.(*array.Float32Builder).Append(float32(v))
		}
	case kBool:
		bb := c.builder.(*array.BooleanBuilder)
		switch {
		case c.vkind == kindTrue:
			bb.Append(true)
		case c.vkind == kindFalse:
			bb.Append(false)
		case c.vkind == kindString && string(b.stringValue(c, data)) == "true":
			bb.Append(true)
		case c.vkind == kindString && string(b.stringValue(c, data)) == "false":
			bb.Append(false)
		default:
			bb.AppendNull()
			b.nulled(c, raw, "not a boolean")
		}
	case kTimestamp, kTimestampNTZ:
		var us int64
		ok := c.vkind == kindString
		switch {
		case ok && c.kind == kTimestamp:
			us, ok = parseTimestamp(b.stringValue(c, data))
		case ok:
			us, ok = parseWallTimestamp(b.stringValue(c, data))
		}
		if ok {
			c.builder.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
		} else {
			c.builder.AppendNull()
			b.nulled(c, raw, "not a timestamp")
		}
	case kDate:
		var days int32
		ok := c.vkind == kindString
		if ok {
			days, ok = parseDate(b.stringValue(c, data))
		}
		if ok {
			c.builder.(*array.Date32Builder).Append(arrow.Date32(days))
		} else {
			c.builder.AppendNull()
			b.nulled(c, raw, "not a date")
		}
	case kTime:
		var us int64
		ok := c.vkind == kindString
		if ok {
			us, ok = parseTime(b.stringValue(c, data))
		}
		if ok {
			c.builder.(*array.Time64Builder).Append(arrow.Time64(us))
		} else {
			c.builder.AppendNull()
			b.nulled(c, raw, "not a time")
		}
	}
}

// intValue reads an integer from a number, or from a string holding one. A
// number with a fraction or exponent is accepted when it is integral.
func (b *BatchBuilder) intValue(c *column, data []byte) (int64, bool) {
	var text []byte
	switch c.vkind {
	case kindNumber:
		text = data[c.start:c.end]
	case kindString:
		text = b.stringValue(c, data)
	default:
		return 0, false
	}
	if v, err := strconv.ParseInt(bytesString(text), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(bytesString(text), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// floatValue reads a float from a number, or from a string holding one
// (including "NaN" and "Infinity"). Numbers beyond float64 do not fit.
func (b *BatchBuilder) floatValue(c *column, data []byte) (float64, bool) {
	var text []byte
	switch c.vkind {
	case kindNumber:
		text = data[c.start:c.end]
	case kindString:
		text = b.stringValue(c, data)
	default:
		return 0, false
	}
	v, err := strconv.ParseFloat(bytesString(text), 64)
	return v, err == nil
}

// maxReasonValue bounds how much of a value a change's reason quotes; the
// full value is in the change's "value".
const maxReasonValue = 64

// nulled records that c's value raw did not fit and was nulled.
func (b *BatchBuilder) nulled(c *column, raw []byte, reason string) {
	if len(b.changes) > 0 {
		b.changes = append(b.changes, ',')
	}
	b.changes = append(b.changes, `{"field":`...)
	b.changes = appendJSONString(b.changes, []byte(c.name))
	b.changes = append(b.changes, `,"change":"NULLED","reason":`...)
	quoted := raw
	if len(quoted) > maxReasonValue {
		quoted = quoted[:maxReasonValue]
	}
	r := append(append(b.scratch[:0], reason...), ": "...)
	r = append(r, quoted...)
	if len(quoted) < len(raw) {
		r = append(r, "…"...)
	}
	b.changes = appendJSONString(b.changes, r)
	b.scratch = r
	b.changes = append(b.changes, `,"value":`...)
	b.changes = append(b.changes, raw...)
	b.changes = append(b.changes, '}')
}

func (b *BatchBuilder) appendMeta(data []byte) {
	if len(b.changes) == 0 && len(b.extras) == 0 {
		b.meta.AppendNull()
		return
	}
	m := append(b.metaBuf[:0], '{')
	if len(b.changes) > 0 {
		m = append(m, `"changes":[`...)
		m = append(m, b.changes...)
		m = append(m, ']')
	}
	if len(b.extras) > 0 {
		if len(b.changes) > 0 {
			m = append(m, ',')
		}
		m = append(m, `"extra":{`...)
		for i := 0; i < len(b.extras); i += 2 {
			if i > 0 {
				m = append(m, ',')
			}
			k, v := b.extras[i], b.extras[i+1]
			m = append(m, data[k.start:k.end]...)
			m = append(m, ':')
			m = append(m, data[v.start:v.end]...)
		}
		m = append(m, '}')
	}
	m = append(m, '}')
	b.meta.BinaryBuilder.Append(m)
	b.metaBuf = m
}

// appendRawID appends a version-4-formatted UUID: the builder's random base
// plus a counter, so ids are unique within a builder and random across them.
// The first eight bytes never change and are formatted once (idBuf[:19]);
// the counter goes into the last eight.
func (b *BatchBuilder) appendRawID() {
	b.seq++
	lo := b.idLow + b.seq
	hi := byte(lo >> 56)
	hi = hi&0x3f | 0x80 // the variant
	d := &b.idBuf
	d[19], d[20] = hexDigits[hi>>4], hexDigits[hi&0xf]
	x := lo
	for j := 35; j > 23; j -= 2 { // bytes 10-15
		d[j-1], d[j] = hexDigits[x>>4&0xf], hexDigits[x&0xf]
		x >>= 8
	}
	d[21], d[22] = hexDigits[x>>4&0xf], hexDigits[x&0xf] // byte 9
	b.rawID.BinaryBuilder.Append(d[:])
}

// setIDBase formats the fixed part of the raw ids: the first eight bytes of
// base, with the version nibble, as "xxxxxxxx-xxxx-4xxx-".
func (b *BatchBuilder) setIDBase(base [16]byte) {
	base[6] = base[6]&0x0f | 0x40
	b.idLow = binary.BigEndian.Uint64(base[8:])
	d := &b.idBuf
	j := 0
	for i, x := range base[:8] {
		if i == 4 || i == 6 {
			d[j] = '-'
			j++
		}
		d[j], d[j+1] = hexDigits[x>>4], hexDigits[x&0xf]
		j += 2
	}
	d[18], d[23] = '-', '-'
}

// NewRecord returns the records appended so far as one batch and resets the
// builder. The caller must Release the batch.
func (b *BatchBuilder) NewRecord() arrow.RecordBatch {
	b.rows = 0
	return b.rb.NewRecordBatch()
}

// Release frees the builder's buffers.
func (b *BatchBuilder) Release() { b.rb.Release() }
