package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/lakeport/lakeport/protocol"
)

// InProcess is a source written in Go and run inside lakeport. Run emits
// its messages through emit, which returns an error once the reader has
// gone (the run should then return). Messages passed to emit are handed
// over: Run must not change them afterwards.
type InProcess interface {
	Spec(ctx context.Context) (*protocol.ConnectorSpecification, error)
	Check(ctx context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error)
	Discover(ctx context.Context, config json.RawMessage) (*protocol.Catalog, error)
	Run(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage, emit func(*protocol.Message) error) error
}

// FromInProcess wraps an in-process source as a Source. Its Read runs p in
// a goroutine and hands messages over in batches, with no encoding.
func FromInProcess(name string, p InProcess) Source { return &inProcess{name: name, p: p} }

type inProcess struct {
	name string
	p    InProcess
}

func (s *inProcess) Spec(ctx context.Context) (*protocol.ConnectorSpecification, error) {
	return s.p.Spec(ctx)
}

func (s *inProcess) Check(ctx context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error) {
	return s.p.Check(ctx, config)
}

func (s *inProcess) Discover(ctx context.Context, config json.RawMessage) (*protocol.Catalog, error) {
	return s.p.Discover(ctx, config)
}

const batchSize = 512

var errStreamClosed = errors.New("source: stream closed")

func (s *inProcess) Read(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage) (MessageStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source %s: read: %w", s.name, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	st := &memStream{name: s.name, ctx: ctx, cancel: cancel, batches: make(chan []*protocol.Message, 4), done: make(chan struct{})}
	go st.run(runCtx, s.p, config, catalog, state)
	return st, nil
}

// memStream carries an in-process source's messages to the reader.
type memStream struct {
	name    string
	ctx     context.Context
	cancel  context.CancelFunc
	batches chan []*protocol.Message
	done    chan struct{} // closed when run has returned; err is then set
	err     error

	// reader side
	cur    []*protocol.Message
	final  error
	closed atomic.Bool
	once   sync.Once
}

func (st *memStream) run(ctx context.Context, p InProcess, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage) {
	defer close(st.done)
	defer close(st.batches)
	batch := make([]*protocol.Message, 0, batchSize)
	send := func() error {
		select {
		case st.batches <- batch:
			batch = make([]*protocol.Message, 0, batchSize)
			return nil
		case <-ctx.Done():
			return errStreamClosed
		}
	}
	emit := func(m *protocol.Message) error {
		if m == nil {
			return nil
		}
		batch = append(batch, m)
		// A state is passed on at once: it is what lets a sync commit.
		if len(batch) == batchSize || m.Type == protocol.TypeState {
			return send()
		}
		return nil
	}
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return p.Run(ctx, config, catalog, state, emit)
	}()
	if len(batch) > 0 {
		// Messages emitted before a failure are delivered too.
		if serr := send(); err == nil {
			err = serr
		}
	}
	switch {
	case st.ctx.Err() != nil:
		st.err = fmt.Errorf("source %s: read: %w", st.name, st.ctx.Err())
	case ctx.Err() != nil: // stopped by Close
		st.err = nil
	case err != nil:
		st.err = fmt.Errorf("source %s: read: %w", st.name, err)
	}
}

func (st *memStream) Next() (*protocol.Message, error) {
	if st.closed.Load() {
		return nil, errClosed
	}
	for len(st.cur) == 0 {
		if st.final != nil {
			return nil, st.final
		}
		b, ok := <-st.batches
		if !ok {
			<-st.done
			st.final = st.err
			if st.final == nil {
				st.final = io.EOF
			}
			return nil, st.final
		}
		st.cur = b
	}
	m := st.cur[0]
	st.cur[0] = nil
	st.cur = st.cur[1:]
	return m, nil
}

func (st *memStream) Close() error {
	st.once.Do(func() {
		st.closed.Store(true)
		st.cancel()
		for range st.batches { // let a blocked send finish
		}
		<-st.done
	})
	return st.err
}
