package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Writer writes Airbyte messages as JSON lines. It buffers: call Flush when
// done. It is not safe for concurrent use.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
	buf []byte
	err error
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &Writer{w: bw, enc: enc}
}

// Write validates m and writes it as one line.
func (w *Writer) Write(m *Message) error {
	if w.err != nil {
		return w.err
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("protocol: write %s: %w", m.Type, err)
	}
	if m.Type == TypeRecord && m.Record.Meta == nil {
		r := m.Record
		return w.WriteRecord(r.Stream, r.Namespace, r.Data, r.EmittedAt)
	}
	if err := w.enc.Encode(m); err != nil {
		w.err = fmt.Errorf("protocol: write %s: %w", m.Type, err)
		return w.err
	}
	return nil
}

// WriteRecord writes a RECORD message without going through reflection.
// data must be a JSON object; it is written as is (only compacted when it
// spans several lines).
func (w *Writer) WriteRecord(stream, namespace string, data json.RawMessage, emittedAt int64) error {
	if w.err != nil {
		return w.err
	}
	if stream == "" {
		return fmt.Errorf("protocol: write RECORD: %w: RECORD without stream", ErrInvalidMessage)
	}
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("protocol: write RECORD %s: %w: data is not a JSON object", stream, ErrInvalidMessage)
	}
	b := append(w.buf[:0], `{"type":"RECORD","record":{"stream":`...)
	b = appendString(b, stream)
	if namespace != "" {
		b = append(b, `,"namespace":`...)
		b = appendString(b, namespace)
	}
	b = append(b, `,"data":`...)
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		var cb bytes.Buffer
		if err := json.Compact(&cb, data); err != nil {
			return fmt.Errorf("protocol: write RECORD %s: %w: data: %v", stream, ErrInvalidMessage, err)
		}
		b = append(b, cb.Bytes()...)
	} else {
		b = append(b, data...)
	}
	b = append(b, `,"emitted_at":`...)
	b = strconv.AppendInt(b, emittedAt, 10)
	b = append(b, "}}\n"...)
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("protocol: write RECORD %s: %w", stream, err)
		return w.err
	}
	return nil
}

// Flush writes buffered lines to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("protocol: flush: %w", err)
		return w.err
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendString appends s to b as a JSON string literal. Built-in sources use
// it to render record data without reflection.
func AppendString(b []byte, s string) []byte { return appendString(b, s) }
