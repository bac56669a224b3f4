package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
)

// fakeInProcess is an InProcess whose Run is a function field.
type fakeInProcess struct {
	run func(ctx context.Context, emit func(*protocol.Message) error) error
}

func (f *fakeInProcess) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{}`)}, nil
}
func (f *fakeInProcess) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}
func (f *fakeInProcess) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	return &protocol.Catalog{}, nil
}
func (f *fakeInProcess) Run(ctx context.Context, _ json.RawMessage, _ *protocol.ConfiguredCatalog, _ json.RawMessage, emit func(*protocol.Message) error) error {
	return f.run(ctx, emit)
}

func rec(i int) *protocol.Message {
	return &protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: "s", Data: json.RawMessage(`{}`), EmittedAt: int64(i)}}
}

func TestInProcessOrderAndErrors(t *testing.T) {
	boom := errors.New("api said no")
	src := source.FromInProcess("fake", &fakeInProcess{run: func(ctx context.Context, emit func(*protocol.Message) error) error {
		for i := range 2000 {
			if err := emit(rec(i)); err != nil {
				return err
			}
		}
		return boom
	}})
	st, err := src.Read(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		m, err := st.Next()
		if err != nil || m.Record.EmittedAt != int64(i) {
			t.Fatalf("message %d: %v %v", i, m, err)
		}
	}
	if _, err := st.Next(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "fake") {
		t.Fatalf("end = %v, want the run's error", err)
	}
	if err := st.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v", err)
	}
}

func TestInProcessPanicAndStateFlush(t *testing.T) {
	src := source.FromInProcess("fake", &fakeInProcess{run: func(ctx context.Context, emit func(*protocol.Message) error) error {
		emit(rec(0))
		emit(protocol.NewStreamStateMessage(protocol.StreamDescriptor{Name: "s"}, json.RawMessage(`{}`), 1))
		<-ctx.Done() // the state must reach the reader without more messages
		panic("unreachable in a good run")
	}})
	st, err := src.Read(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []protocol.MessageType{protocol.TypeRecord, protocol.TypeState} {
		m, err := st.Next()
		if err != nil || m.Type != want {
			t.Fatalf("got %v %v, want %s", m, err, want)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close early = %v", err)
	}
	if _, err := st.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v", err)
	}
}
