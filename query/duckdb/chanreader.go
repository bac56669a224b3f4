package duckdb

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// chanReader is an array.RecordReader fed through a channel by one goroutine
// that owns the source reader. Whatever thread DuckDB calls Next from, the
// source is only ever pulled from that goroutine (iter.Pull-based readers,
// like array.ReaderFromIter, crash when resumed from another OS thread).
type chanReader struct {
	refs   atomic.Int64
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	cur    arrow.RecordBatch
	ended  bool  // Next saw the channel closed
	err    error // set by the producer before it closes ch
}

var _ array.RecordReader = (*chanReader)(nil)

// newChanReader takes ownership of src: it is released when the reader is.
func newChanReader(ctx context.Context, src array.RecordReader) *chanReader {
	r := &chanReader{
		schema: src.Schema(),
		ch:     make(chan arrow.RecordBatch, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	r.refs.Store(1)
	go r.produce(ctx, src)
	return r
}

func (r *chanReader) produce(ctx context.Context, src array.RecordReader) {
	defer close(r.done)
	defer src.Release()
	defer close(r.ch)
	for src.Next() {
		rec := src.RecordBatch()
		rec.Retain()
		select {
		case r.ch <- rec:
		case <-r.stop:
			rec.Release()
			return
		case <-ctx.Done():
			rec.Release()
			r.err = ctx.Err()
			return
		}
	}
	r.err = src.Err()
}

func (r *chanReader) Retain() { r.refs.Add(1) }

func (r *chanReader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	r.once.Do(func() {
		close(r.stop)
		for rec := range r.ch {
			rec.Release()
		}
		<-r.done
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
	})
}

func (r *chanReader) Schema() *arrow.Schema { return r.schema }

func (r *chanReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec, ok := <-r.ch
	if !ok {
		r.ended = true
		return false
	}
	r.cur = rec
	return true
}

func (r *chanReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch, for the deprecated name.
func (r *chanReader) Record() arrow.RecordBatch { return r.cur }

func (r *chanReader) Err() error {
	if !r.ended {
		return nil
	}
	<-r.done
	return r.err
}
