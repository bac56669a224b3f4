// Package pipeline turns a source's protocol output into per-stream Arrow
// batches on every core, in order. One goroutine reads the output in chunks
// of whole lines; a pool of workers parses each chunk's lines and builds its
// records into Arrow batches (each RECORD's JSON is read once: the line
// parser hands the data to the stream's batch builder where it lies); the
// caller takes the results back chunk by chunk in the order the source wrote
// them, as [Part]s, with every other message (STATE, LOG, TRACE, …) at its
// place between the rows. So a STATE still covers exactly the records before
// it, and each stream's rows keep their order.
//
// Memory is bounded: at most Config.Depth chunks are read ahead of the
// caller, each Config.ChunkBytes of lines plus its Arrow batches.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/schema"
)

// Stream is one selected stream: the Arrow schema its records are built to.
type Stream struct {
	Name, Namespace string
	Schema          *arrow.Schema
	// GenerationID goes into every row's _lakeport_generation_id.
	GenerationID int64
}

// Key is the stream's name as records and states name it: "namespace.name",
// or the name alone.
func (s Stream) Key() string { return Key(s.Name, s.Namespace) }

// Key is the key of stream name in namespace ns.
func Key(name, ns string) string {
	if ns == "" {
		return name
	}
	return ns + "." + name
}

// Config tunes a pipeline. Zero values take the defaults.
type Config struct {
	Streams []Stream
	// Workers parse and build in parallel (default GOMAXPROCS).
	Workers int
	// ChunkBytes is how many bytes of lines a chunk holds (default 512 KiB).
	ChunkBytes int
	// Depth is how many chunks may be read ahead of the caller (default
	// 2 × Workers + 1).
	Depth int
	// MaxRecordBytes makes a bigger record a RecordError (default 16 MiB).
	MaxRecordBytes int
	// Now stamps _lakeport_extracted_at, once per chunk (default time.Now).
	Now func() time.Time
	// Alloc allocates the Arrow buffers (default: a Pool shared by every
	// pipeline of the process).
	Alloc memory.Allocator
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 512 << 10
	}
	if c.Depth <= 0 {
		c.Depth = 2*c.Workers + 1
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Alloc == nil {
		c.Alloc = sharedPool
	}
}

var sharedPool = NewPool()

// Part is the next stretch of the source's output: each stream's records
// in it as one Arrow batch, and the other messages and errors in their
// places between those rows.
type Part struct {
	// Batches holds a batch per stream with records in this part, indexed
	// like Config.Streams (nil for the others). The caller owns them: it
	// must Release each.
	Batches []arrow.RecordBatch
	// Bytes is the JSON size of each stream's records in this part.
	Bytes []int64
	// Events come in the order of the output.
	Events []Event
	// End, when set, ends the output after this part: io.EOF when it ended
	// well, else why it could not be read further.
	End error
}

// Mark is a position in a part's batch of one stream: the rows before it,
// and their JSON size.
type Mark struct {
	Rows  int64
	Bytes int64
}

// Event is what the output holds between rows: exactly one of Message,
// LineErr and Record is set.
type Event struct {
	// At is, per stream (indexed like Config.Streams), the position in the
	// part's batch where the event is: the rows before it come before it.
	At []Mark
	// Message is a message other than a RECORD.
	Message *protocol.Message
	// LineErr is an error about one line (see protocol.IsLineError, and
	// protocol.IsNotJSON for a line that is not JSON at all); the output
	// goes on after it.
	LineErr error
	// Record is a RECORD that could not be added to its stream's batch.
	Record *RecordError
}

// RecordError is a RECORD that was not added: of a stream that is not
// selected (Stream is -1), too large, or whose data is not a JSON object
// (Err wraps schema.ErrInvalidRecord).
type RecordError struct {
	Key    string // the stream's key, as the record names it
	Stream int    // index in Config.Streams, -1 when not selected
	Size   int    // bytes of the record's data
	Err    error
}

// ErrTooLarge is the Err of a RecordError for a record over MaxRecordBytes.
var ErrTooLarge = errors.New("record too large")

func (e *RecordError) Error() string {
	switch {
	case e.Stream < 0:
		return fmt.Sprintf("a record of stream %q, which is not selected", e.Key)
	case errors.Is(e.Err, ErrTooLarge):
		return fmt.Sprintf("a record of stream %s is %d bytes", e.Key, e.Size)
	}
	return fmt.Sprintf("stream %s: %v", e.Key, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ChunkReader is a source whose output can be taken as raw protocol lines
// (source processes, recorded streams); see [protocol.Reader.NextChunk].
type ChunkReader interface {
	// NextChunk returns the next lines, or the output's end: io.EOF, a
	// line error (the output goes on) or another error (it does not).
	NextChunk(buf []byte, size int) (protocol.Chunk, error)
	// LineErr dresses an error about one of those lines as the source's
	// own Next would return it.
	LineErr(err error) error
}

// MessageReader is a source that hands over parsed messages (in-process
// sources).
type MessageReader interface {
	Next() (*protocol.Message, error)
}

// Pipeline runs the reader and the workers. Next returns its parts in order;
// Close stops it. Next and Close are for one goroutine.
type Pipeline struct {
	cfg   Config
	keys  map[string]int
	order chan *job
	work  chan *job
	free  chan []byte // chunk buffers to reuse
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	ended bool
}

type job struct {
	chunk protocol.Chunk
	msgs  []*protocol.Message
	// err is a line error (before the lines) or the end (after them).
	err  error
	part Part
	done chan struct{}
}

// FromChunks starts a pipeline over r's lines.
func FromChunks(ctx context.Context, cfg Config, r ChunkReader) *Pipeline {
	p := newPipeline(cfg)
	p.wg.Add(1)
	go p.readChunks(ctx, r)
	return p
}

// FromMessages starts a pipeline over r's messages: the same parts, built
// from records already parsed.
func FromMessages(ctx context.Context, cfg Config, r MessageReader) *Pipeline {
	p := newPipeline(cfg)
	p.wg.Add(1)
	go p.readMessages(ctx, r)
	return p
}

func newPipeline(cfg Config) *Pipeline {
	cfg.defaults()
	p := &Pipeline{cfg: cfg, keys: map[string]int{}, order: make(chan *job, cfg.Depth), work: make(chan *job, cfg.Depth),
		free: make(chan []byte, cfg.Depth+cfg.Workers+1), stop: make(chan struct{})}
	for i, s := range cfg.Streams {
		p.keys[s.Key()] = i
	}
	for range cfg.Workers {
		p.wg.Add(1)
		go p.worker()
	}
	return p
}

// send queues j for the caller, and for a worker when it has input. It
// reports false once the pipeline is stopping.
func (p *Pipeline) send(ctx context.Context, j *job, work bool) bool {
	select {
	case p.order <- j:
	case <-p.stop:
		return false
	case <-ctx.Done():
		return false
	}
	if !work {
		close(j.done)
		return true
	}
	select {
	case p.work <- j:
		return true
	case <-p.stop:
		close(j.done) // taken by no worker: Close finds it empty
		return false
	}
}

func (p *Pipeline) readChunks(ctx context.Context, r ChunkReader) {
	defer p.wg.Done()
	defer close(p.work)
	defer close(p.order)
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		default:
		}
		c, err := r.NextChunk(buf, p.cfg.ChunkBytes)
		j := &job{chunk: c, done: make(chan struct{})}
		switch {
		case err == nil:
			if !p.send(ctx, j, true) {
				return
			}
			continue
		case protocol.IsLineError(err):
			j.err = r.LineErr(err)
			if !p.send(ctx, j, false) {
				return
			}
			continue
		}
		j.err = err
		p.send(ctx, j, false)
		return
	}
}

// Messages per job of FromMessages, and the JSON bytes that end one early.
const (
	messagesPerJob = 2048
	messageBytes   = 512 << 10
)

func (p *Pipeline) readMessages(ctx context.Context, r MessageReader) {
	defer p.wg.Done()
	defer close(p.work)
	defer close(p.order)
	for {
		j := &job{done: make(chan struct{})}
		size := 0
		for len(j.msgs) < messagesPerJob && size < messageBytes {
			m, err := r.Next()
			if err != nil {
				if protocol.IsLineError(err) {
					// In its place: the messages before it, then the error.
					lj := &job{err: err, done: make(chan struct{})}
					if len(j.msgs) > 0 && !p.send(ctx, j, true) || !p.send(ctx, lj, false) {
						return
					}
					j = &job{done: make(chan struct{})}
					size = 0
					continue
				}
				j.err = err
				p.send(ctx, j, len(j.msgs) > 0)
				return
			}
			j.msgs = append(j.msgs, m)
			if m.Type == protocol.TypeRecord && m.Record != nil {
				size += len(m.Record.Data)
			}
		}
		if !p.send(ctx, j, true) {
			return
		}
	}
}

// Next returns the next part. After a part with End set it returns io.EOF.
func (p *Pipeline) Next() (Part, error) {
	if p.ended {
		return Part{}, io.EOF
	}
	j, ok := <-p.order
	if !ok {
		p.ended = true
		return Part{}, io.EOF
	}
	<-j.done
	part := j.part
	j.part = Part{}
	if j.err != nil {
		if protocol.IsLineError(j.err) {
			part.Events = append(part.Events, Event{At: p.marks(part.Batches, part.Bytes), LineErr: j.err})
		} else {
			part.End = j.err
			p.ended = true
		}
	}
	return part, nil
}

// marks is the end of each batch.
func (p *Pipeline) marks(batches []arrow.RecordBatch, bytes []int64) []Mark {
	at := make([]Mark, len(p.cfg.Streams))
	for i, b := range batches {
		if b != nil {
			at[i] = Mark{Rows: b.NumRows(), Bytes: bytes[i]}
		}
	}
	return at
}

// Close stops the pipeline and waits for its goroutines; parts not taken are
// released. It does not close the source: close the source first when the
// reader may be blocked reading it.
func (p *Pipeline) Close() {
	p.once.Do(func() { close(p.stop) })
	for j := range p.order {
		<-j.done
		j.part.release()
	}
	p.wg.Wait()
}

// Release releases the part's batches.
func (part *Part) release() {
	for _, b := range part.Batches {
		if b != nil {
			b.Release()
		}
	}
	part.Batches = nil
}

// Release releases the batches of the part that the caller did not keep.
func (part Part) Release() { part.release() }

func (p *Pipeline) worker() {
	defer p.wg.Done()
	w := &worker{p: p, lp: protocol.NewLineParser(), builders: make([]*schema.BatchBuilder, len(p.cfg.Streams))}
	defer w.release()
	for j := range p.work {
		w.run(j)
		close(j.done)
		if j.chunk.Lines != nil {
			select {
			case p.free <- j.chunk.Lines[:0]:
			default:
			}
			j.chunk.Lines = nil
		}
	}
}
