package protocol

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxLineSize is the longest line a Reader accepts unless told otherwise.
const DefaultMaxLineSize = 64 << 20

const (
	readBufSize  = 64 << 10 // bufio buffer; longer lines are assembled in Reader.long
	slabSize     = 64 << 10 // record data is carved out of slabs this big
	slabMaxCarve = 8 << 10  // larger data gets its own allocation
	maxInterned  = 4096     // distinct stream/namespace names remembered
	maxErrText   = 4 << 10
)

// ReaderOption tunes a Reader.
type ReaderOption func(*Reader)

// WithMaxLineSize sets the longest line, in bytes without the newline, the
// Reader accepts (default DefaultMaxLineSize). A longer line is skipped
// without being held in memory and reported as ErrLineTooLong.
func WithMaxLineSize(n int) ReaderOption {
	return func(r *Reader) {
		if n > 0 {
			r.max = n
		}
	}
}

// Reader reads Airbyte messages, one JSON object per line. It is not safe
// for concurrent use.
//
// RECORD lines take a fast path: the line is checked to be well-formed JSON
// and the record data is copied out as a json.RawMessage without being
// decoded. Other messages are decoded with encoding/json.
//
// Messages returned by Next are owned by the caller; the Reader does not
// reuse them.
type Reader struct {
	br   *bufio.Reader
	max  int
	line int64
	long []byte // a line longer than the bufio buffer, assembled
	err  error  // sticky I/O error

	slab []byte
	lp   LineParser
	// pending is an error to return after the lines NextChunk returned.
	pending error
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, opts ...ReaderOption) *Reader {
	rd := &Reader{max: DefaultMaxLineSize}
	for _, o := range opts {
		o(rd)
	}
	size := readBufSize
	if rd.max+2 < size {
		size = rd.max + 2
	}
	rd.br = bufio.NewReaderSize(r, size)
	return rd
}

// Line returns the number of the line last read (1-based).
func (r *Reader) Line() int64 { return r.line }

// Next returns the next message. Blank lines are skipped. At the end of the
// input it returns io.EOF.
//
// An error about one line is a *LineError (see IsLineError, IsNotJSON); the
// Reader can be called again after it and goes on with the next line. Any
// other error comes from the underlying reader and is returned again by
// every later call.
func (r *Reader) Next() (*Message, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		return r.parse(line)
	}
}

// readLine returns the next line without its newline. A line longer than
// r.max is consumed and reported as an error.
func (r *Reader) readLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, err := r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(b) > 0) {
		r.line++
		if len(b) > r.max+1 || (len(b) == r.max+1 && b[len(b)-1] != '\n') {
			return nil, r.tooLong()
		}
		return b, nil
	}
	if err != bufio.ErrBufferFull {
		if err == io.EOF {
			r.err = io.EOF
		} else {
			r.err = fmt.Errorf("protocol: read line %d: %w", r.line+1, err)
		}
		return nil, r.err
	}
	// A line longer than the buffer: assemble it, up to the maximum.
	r.line++
	if cap(r.long) > 4<<20 {
		r.long = nil // do not keep a huge buffer from an earlier line
	}
	r.long = append(r.long[:0], b...)
	for {
		if len(r.long) > r.max {
			r.discardLine()
			return nil, r.tooLong()
		}
		b, err = r.br.ReadSlice('\n')
		r.long = append(r.long, b...)
		switch {
		case err == nil:
			if len(r.long) > r.max+1 {
				return nil, r.tooLong()
			}
			return r.long, nil
		case err == bufio.ErrBufferFull:
		case err == io.EOF:
			if len(r.long) > r.max {
				return nil, r.tooLong()
			}
			return r.long, nil
		default:
			r.err = fmt.Errorf("protocol: read line %d: %w", r.line, err)
			return nil, r.err
		}
	}
}

// discardLine skips the rest of the current line.
func (r *Reader) discardLine() {
	r.long = r.long[:0]
	for {
		_, err := r.br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			if err != nil && err != io.EOF {
				r.err = fmt.Errorf("protocol: read line %d: %w", r.line, err)
			}
			return
		}
	}
}

func (r *Reader) tooLong() error {
	return &LineError{Line: r.line, Kind: ErrLineTooLong,
		Detail: fmt.Sprintf("longer than the maximum of %d bytes", r.max)}
}

// recordAlloc puts a Message and its RecordMessage in one allocation.
type recordAlloc struct {
	msg Message
	rec RecordMessage
}

func (r *Reader) parse(line []byte) (*Message, error) {
	rec, m, err := r.lp.Parse(line, r.line, nil)
	if err != nil || m != nil {
		return m, err
	}
	if rec.msg != nil { // a RECORD the slow path decoded
		return rec.msg, nil
	}
	a := &recordAlloc{}
	a.msg.Type = TypeRecord
	a.msg.Record = &a.rec
	a.rec.Stream, a.rec.Namespace, a.rec.EmittedAt, a.rec.Meta = rec.Stream, rec.Namespace, rec.EmittedAt, rec.Meta
	a.rec.Data = r.copyData(rec.Data)
	return &a.msg, nil
}

// copyData copies record data out of the line buffer. Small records are
// carved out of a shared slab to save allocations.
func (r *Reader) copyData(b []byte) json.RawMessage {
	n := len(b)
	if n > slabMaxCarve {
		return append(json.RawMessage(nil), b...)
	}
	if len(r.slab)+n > cap(r.slab) {
		r.slab = make([]byte, 0, slabSize)
	}
	start := len(r.slab)
	r.slab = append(r.slab, b...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

// parseMillis parses an epoch-milliseconds number. Non-integers are
// truncated: some connectors print emitted_at as a float.
func parseMillis(b []byte, integer bool) (int64, error) {
	if b[0] != '-' && !isDigit(b[0]) {
		return 0, fmt.Errorf("not a number: %s", b)
	}
	if integer && len(b) <= 18 {
		var n int64
		neg := b[0] == '-'
		if neg {
			b = b[1:]
		}
		for _, c := range b {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, err
	}
	return int64(f), nil
}
