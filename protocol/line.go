package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
)

// LineParser parses protocol lines one at a time, exactly as [Reader.Next]
// does (same messages, same errors), for a caller that splits the input
// into lines itself ([Reader.NextChunk]) and parses them elsewhere, e.g. in
// several goroutines, one LineParser each. A RECORD line is not made into a
// Message: [LineParser.Parse] returns its fields as a [RecordLine] whose
// data is a span of the line, and can hand that data to a [DataScanner]
// while it walks the line, so that the record is read once.
//
// A LineParser is not safe for concurrent use.
type LineParser struct {
	names map[string]string
	rec   RecordLine
}

// RecordLine is a RECORD line's fields. Data is a span of the line (or of
// a decoded copy): it is valid as long as the line is.
type RecordLine struct {
	Namespace string
	Stream    string
	Data      []byte
	EmittedAt int64
	Meta      *RecordMeta
	// Scanned reports that Data was read by the DataScanner given to Parse,
	// for this Stream and Namespace, and found well-formed. Otherwise the
	// parser checked it is well-formed JSON, and the scanner has not read it
	// (or not for this stream).
	Scanned bool

	msg *Message // the decoded message, when the slow path decoded it
}

// A DataScanner reads a RECORD's data where it lies in the line. The
// parser calls ScanData when it reaches the "data" value of a line whose
// type is RECORD and whose stream came before its data (as every common
// connector writes them): b runs from the value's first byte to the end of
// the line. ScanData returns the value's length if the value is a JSON
// object it could read, or ok false to leave the value to the parser (which
// then checks it itself). The parser may still reject the line afterwards
// (for a fault after the data); a scanner must keep what it read aside
// until [RecordLine.Scanned] says it counts.
type DataScanner interface {
	ScanData(stream, namespace string, b []byte) (n int, ok bool)
}

// NewLineParser returns a LineParser.
func NewLineParser() *LineParser { return &LineParser{} }

// Parse parses one line numbered n (1-based; it goes into errors). The line
// may end with its newline. A blank line returns nothing. A RECORD returns
// rec (valid until the next call), anything else its Message. An error is a
// *LineError, as [Reader.Next] would return for the line.
func (p *LineParser) Parse(line []byte, n int64, scan DataScanner) (rec *RecordLine, msg *Message, err error) {
	line = trimSpace(line)
	if len(line) == 0 {
		return nil, nil, nil
	}
	if line[0] != '{' {
		return nil, nil, lineErr(n, ErrNotJSON, "", line)
	}
	var (
		typ                        []byte
		typEscaped, slow, sawType  bool
		stream, namespace, data    []byte
		streamEsc, nsEsc           bool
		emitted, meta              []byte
		emittedInt, haveRecordSpan bool
		// the stream and namespace spans the scanner was given, and the
		// data it read
		scannedStream, scannedNS, scannedData []byte
	)
	// scanData hands the data starting at line[vs] to the scanner, when it
	// can name the stream, and returns its end; -1 when the scanner did not
	// read it.
	scanData := func(vs int) int {
		if scan == nil || !sawType || typEscaped || slow || string(typ) != string(TypeRecord) || len(stream) <= 2 || streamEsc || nsEsc {
			return -1
		}
		ns := ""
		if len(namespace) > 2 {
			ns = p.intern(namespace[1 : len(namespace)-1])
		}
		size, ok := scan.ScanData(p.intern(stream[1:len(stream)-1]), ns, line[vs:])
		if !ok || size <= 0 || vs+size > len(line) {
			return -1
		}
		scannedStream, scannedNS, scannedData = stream, namespace, line[vs:vs+size]
		return vs + size
	}
	recordField := func(k []byte, esc bool, vs, depth int) (int, error) {
		if !esc && string(k) == "data" {
			if end := scanData(vs); end >= 0 {
				data = line[vs:end]
				return end, nil
			}
		}
		ve, integer, err := walkValue(line, vs, depth)
		if err != nil || esc {
			slow = slow || esc
			return ve, err
		}
		v := line[vs:ve]
		switch string(k) {
		case "stream":
			if v[0] == '"' {
				stream, streamEsc = v, bytes.IndexByte(v, '\\') >= 0
			} else {
				stream = nil
			}
		case "namespace":
			if v[0] == '"' {
				namespace, nsEsc = v, bytes.IndexByte(v, '\\') >= 0
			} else {
				namespace = nil
			}
		case "data":
			data = v
		case "emitted_at":
			emitted, emittedInt = v, integer
		case "meta":
			meta = v
		}
		return ve, nil
	}
	end, err := objectFields(line, 0, 1, func(key []byte, esc bool, vs, depth int) (int, error) {
		if !esc && string(key) == "record" && vs < len(line) && line[vs] == '{' {
			haveRecordSpan = true
			return objectFields(line, vs, depth+1, recordField)
		}
		ve, _, err := walkValue(line, vs, depth)
		if err != nil || esc {
			slow = slow || esc
			return ve, err
		}
		val := line[vs:ve]
		switch string(key) {
		case "type":
			sawType = true
			if val[0] != '"' {
				typ = nil
				return ve, nil
			}
			typ = val[1 : len(val)-1]
			typEscaped = bytes.IndexByte(typ, '\\') >= 0
		case "record":
			if string(val) != "null" {
				return ve, errRecordNotObject
			}
		}
		return ve, nil
	})
	if err == nil {
		if end = skipWS(line, end); end != len(line) {
			err = syntaxErr(line, end, "after the message")
		}
	}
	if err == errRecordNotObject {
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD \"record\" is not an object", line)
	}
	if err != nil {
		return nil, nil, lineErr(n, ErrMalformed, err.Error(), line)
	}
	if !sawType {
		return nil, nil, lineErr(n, ErrMissingType, "", line)
	}
	if slow || typEscaped || string(typ) != string(TypeRecord) {
		m, err := p.parseSlow(line, n)
		if err != nil || m.Type != TypeRecord || m.Record == nil {
			return nil, m, err
		}
		p.rec = RecordLine{Namespace: m.Record.Namespace, Stream: m.Record.Stream, Data: m.Record.Data,
			EmittedAt: m.Record.EmittedAt, Meta: m.Record.Meta, msg: m}
		return &p.rec, nil, nil
	}
	// RECORD fast path.
	switch {
	case !haveRecordSpan:
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD without record", line)
	case len(stream) <= 2:
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD without stream", line)
	case data == nil || string(data) == "null":
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD without data", line)
	case data[0] != '{':
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD data is not a JSON object", line)
	}
	r := &p.rec
	*r = RecordLine{Data: data}
	if r.Stream, err = p.name(stream, streamEsc); err != nil {
		return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD stream: "+err.Error(), line)
	}
	if len(namespace) > 2 {
		if r.Namespace, err = p.name(namespace, nsEsc); err != nil {
			return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD namespace: "+err.Error(), line)
		}
	}
	if emitted != nil && string(emitted) != "null" {
		if r.EmittedAt, err = parseMillis(emitted, emittedInt); err != nil {
			return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD emitted_at: "+err.Error(), line)
		}
	}
	if meta != nil && string(meta) != "null" {
		r.Meta = new(RecordMeta)
		if err := json.Unmarshal(meta, r.Meta); err != nil {
			return nil, nil, lineErr(n, ErrInvalidMessage, "RECORD meta: "+err.Error(), line)
		}
	}
	// The scanner's reading counts only if it read this very data for this
	// very stream and namespace (a key given twice changes them).
	r.Scanned = scannedData != nil && sameSpan(scannedData, data) && sameSpan(scannedStream, stream) && sameSpan(scannedNS, namespace)
	return r, nil, nil
}

// sameSpan reports whether a and b are the same span of one line.
func sameSpan(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func lineErr(n int64, kind error, detail string, line []byte) error {
	t := line
	if len(t) > maxErrText {
		t = t[:maxErrText]
	}
	return &LineError{Line: n, Kind: kind, Detail: detail, Text: string(t)}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', ' ', '\t':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

var errRecordNotObject = errors.New("\"record\" is not an object")

// parseSlow decodes a (syntactically valid) message with encoding/json.
func (p *LineParser) parseSlow(line []byte, n int64) (*Message, error) {
	m := new(Message)
	if err := json.Unmarshal(line, m); err != nil {
		return nil, lineErr(n, ErrInvalidMessage, err.Error(), line)
	}
	if err := m.Validate(); err != nil {
		var me *messageError
		if errors.As(err, &me) {
			return nil, lineErr(n, me.kind, me.detail, line)
		}
		return nil, lineErr(n, ErrInvalidMessage, err.Error(), line)
	}
	if m.Record != nil {
		m.Record.Stream = p.intern([]byte(m.Record.Stream))
		m.Record.Namespace = p.intern([]byte(m.Record.Namespace))
	}
	return m, nil
}

// name returns the string value of a JSON string span (with quotes).
func (p *LineParser) name(v []byte, escaped bool) (string, error) {
	if !escaped {
		return p.intern(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	return p.intern([]byte(s)), nil
}

// intern returns b as a string, reusing the string of an earlier equal name
// so that each record does not allocate its stream name.
func (p *LineParser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.names == nil {
		p.names = make(map[string]string)
	}
	if len(p.names) < maxInterned {
		p.names[s] = s
	}
	return s
}
