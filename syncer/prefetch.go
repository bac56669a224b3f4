package syncer

import (
	"io"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
)

// Read-ahead bounds: a batch is handed over at this many messages or bytes of
// record data, or at once for anything but a RECORD; at most prefetchDepth
// batches wait.
const (
	prefetchMessages = 256
	prefetchBytes    = 256 << 10
	prefetchDepth    = 4
)

// prefetchStream reads a source's messages in its own goroutine, so that
// reading and parsing the protocol overlaps with building batches and
// committing them. Memory stays bounded by the constants above (plus one
// record of up to MaxRecordBytes in each batch).
type prefetchStream struct {
	src  source.MessageStream
	ch   chan []fetched
	stop chan struct{}
	done chan struct{}
	cur  []fetched
	last fetched // once the reader has ended: what it ended with
	end  bool
}

type fetched struct {
	m   *protocol.Message
	err error
}

var _ source.MessageStream = (*prefetchStream)(nil)

func prefetch(src source.MessageStream) *prefetchStream {
	p := &prefetchStream{src: src, ch: make(chan []fetched, prefetchDepth), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *prefetchStream) run() {
	defer close(p.done)
	defer close(p.ch)
	batch := make([]fetched, 0, prefetchMessages)
	size := 0
	for {
		m, err := p.src.Next()
		batch = append(batch, fetched{m, err})
		// A line error concerns one line: the reader goes on after it.
		final := err != nil && !protocol.IsLineError(err)
		if err == nil && m.Type == protocol.TypeRecord && m.Record != nil {
			size += len(m.Record.Data)
		}
		if !final && err == nil && m.Type == protocol.TypeRecord && len(batch) < prefetchMessages && size < prefetchBytes {
			continue
		}
		select {
		case p.ch <- batch:
		case <-p.stop:
			return
		}
		if final {
			return
		}
		batch, size = make([]fetched, 0, prefetchMessages), 0
	}
}

// Next returns the source's next message, or its error, in order.
func (p *prefetchStream) Next() (*protocol.Message, error) {
	for len(p.cur) == 0 {
		if p.end {
			return nil, p.last.err
		}
		b, ok := <-p.ch
		if !ok {
			// Only after Close, or a reader that ended without a final error.
			p.end = true
			if p.last.err == nil {
				p.last.err = io.EOF
			}
			return nil, p.last.err
		}
		p.cur = b
	}
	f := p.cur[0]
	p.cur[0] = fetched{}
	p.cur = p.cur[1:]
	if f.err != nil && !protocol.IsLineError(f.err) {
		p.end, p.last = true, f
	}
	return f.m, f.err
}

// Close stops the reader and closes the source (which unblocks a reader
// waiting in its Next), then waits for the reader to return.
func (p *prefetchStream) Close() error {
	close(p.stop)
	err := p.src.Close()
	<-p.done
	return err
}
