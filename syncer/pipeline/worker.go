package pipeline

import (
	"bytes"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/schema"
)

// worker parses chunks and builds their records, with a batch builder per
// stream of its own.
type worker struct {
	p        *Pipeline
	lp       *protocol.LineParser
	builders []*schema.BatchBuilder
	// scanned is the builder the line parser last handed data to.
	scanned *schema.BatchBuilder
	err     error // a builder could not be made

	// the current job's
	part Part
	rows []int64
	now  time.Time
}

var _ protocol.DataScanner = (*worker)(nil)

// ScanData reads a record's data into its stream's builder as the line
// parser walks the line.
func (w *worker) ScanData(stream, namespace string, b []byte) (int, bool) {
	i, ok := w.p.keys[Key(stream, namespace)]
	if !ok {
		return 0, false
	}
	bb := w.builder(i)
	if bb == nil {
		return 0, false
	}
	n, err := bb.Scan(b)
	if err != nil {
		return 0, false
	}
	w.scanned = bb
	return n, true
}

func (w *worker) builder(i int) *schema.BatchBuilder {
	if b := w.builders[i]; b != nil {
		return b
	}
	b, err := schema.NewBatchBuilderWithAllocator(w.p.cfg.Alloc, w.p.cfg.Streams[i].Schema)
	if err != nil {
		w.err = fmt.Errorf("pipeline: stream %s: %w", w.p.cfg.Streams[i].Key(), err)
		return nil
	}
	w.builders[i] = b
	return b
}

func (w *worker) release() {
	for _, b := range w.builders {
		if b != nil {
			b.Release()
		}
	}
}

func (w *worker) run(j *job) {
	n := len(w.p.cfg.Streams)
	w.part = Part{Bytes: make([]int64, n)}
	w.rows = make([]int64, n)
	w.now = w.p.cfg.Now()
	lines := j.chunk.Lines
	no := j.chunk.First
	for len(lines) > 0 {
		end := bytes.IndexByte(lines, '\n') + 1
		if end == 0 {
			end = len(lines)
		}
		w.line(lines[:end], no)
		lines = lines[end:]
		no++
	}
	for _, m := range j.msgs {
		if m.Type == protocol.TypeRecord && m.Record != nil {
			w.record(m.Record.Stream, m.Record.Namespace, m.Record.Data, false)
			continue
		}
		w.event(Event{Message: m})
	}
	for i, b := range w.builders {
		if b != nil && b.Len() > 0 {
			if w.part.Batches == nil {
				w.part.Batches = make([]arrow.RecordBatch, n)
			}
			w.part.Batches[i] = b.NewRecord()
		}
	}
	j.part = w.part
	w.part = Part{}
}

func (w *worker) line(line []byte, no int64) {
	w.scanned = nil
	rec, m, err := w.lp.Parse(line, no, w)
	switch {
	case err != nil:
		w.event(Event{LineErr: err})
	case m != nil:
		w.event(Event{Message: m})
	case rec != nil:
		w.record(rec.Stream, rec.Namespace, rec.Data, rec.Scanned)
	}
}

// record adds one record to its stream's builder; scanned says the line
// parser handed its data to that builder already.
func (w *worker) record(stream, namespace string, data []byte, scanned bool) {
	key := Key(stream, namespace)
	i, ok := w.p.keys[key]
	if !ok {
		w.event(Event{Record: &RecordError{Key: key, Stream: -1, Size: len(data)}})
		return
	}
	if len(data) > w.p.cfg.MaxRecordBytes {
		w.event(Event{Record: &RecordError{Key: key, Stream: i, Size: len(data), Err: ErrTooLarge}})
		return
	}
	b := w.builder(i)
	if b == nil {
		w.event(Event{Record: &RecordError{Key: key, Stream: i, Size: len(data), Err: w.err}})
		return
	}
	gen := w.p.cfg.Streams[i].GenerationID
	if scanned && w.scanned == b {
		b.AppendScanned(w.now, gen)
	} else if err := b.Append(data, w.now, gen); err != nil {
		w.event(Event{Record: &RecordError{Key: key, Stream: i, Size: len(data), Err: err}})
		return
	}
	w.rows[i]++
	w.part.Bytes[i] += int64(len(data))
}

// event adds e at the current position.
func (w *worker) event(e Event) {
	e.At = make([]Mark, len(w.rows))
	for i, r := range w.rows {
		e.At[i] = Mark{Rows: r, Bytes: w.part.Bytes[i]}
	}
	w.part.Events = append(w.part.Events, e)
}
