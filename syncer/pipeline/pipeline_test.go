package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/schema"
	"github.com/lakeport/lakeport/syncer/pipeline"
)

func arrowSchema(t testing.TB) *arrow.Schema {
	t.Helper()
	sc, err := schema.FromJSONSchema([]byte(`{"type":"object","properties":{"id":{"type":"integer"},"s":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	as, err := schema.ArrowSchema(sc)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// chunks is a ChunkReader over a protocol.Reader.
type chunks struct{ r *protocol.Reader }

func (c chunks) NextChunk(buf []byte, size int) (protocol.Chunk, error) {
	return c.r.NextChunk(buf, size)
}
func (chunks) LineErr(err error) error { return fmt.Errorf("wrapped: %w", err) }

// messages is a MessageReader over a protocol.Reader.
type messages struct{ r *protocol.Reader }

func (m messages) Next() (*protocol.Message, error) { return m.r.Next() }

// stream writes a protocol stream of n records over streams a and b with
// STATEs, LOGs, a non-JSON line, a bad line and a record of an unknown
// stream mixed in, and returns it with the sequence a sequential reader
// sees: "a:17" for a record, "STATE a 3", "LOG …", "ERR …".
func stream(n int, rnd *rand.Rand) ([]byte, []string) {
	var b bytes.Buffer
	var want []string
	for i := range n {
		switch k := rnd.IntN(100); {
		case k < 3:
			s := "ab"[rnd.IntN(2):][:1]
			fmt.Fprintf(&b, `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"%s"},"stream_state":{"n":%d}}}}`+"\n", s, i)
			want = append(want, fmt.Sprintf("STATE %s %d", s, i))
		case k < 4:
			fmt.Fprintf(&b, `{"type":"LOG","log":{"level":"INFO","message":"m%d"}}`+"\n", i)
			want = append(want, fmt.Sprintf("LOG m%d", i))
		case k < 5:
			b.WriteString("plain text\n")
			want = append(want, "ERR line")
		case k < 6:
			b.WriteString(`{"type":"RECORD","record":{"stream":"zz","data":{"id":1}}}` + "\n")
			want = append(want, "ERR record zz")
		case k < 7:
			b.WriteString(`{"type":"RECORD","record":{"data":{"id":1,"s":"late stream"},"stream":"b"}}` + "\n")
			want = append(want, "b:1")
		default:
			s := "ab"[rnd.IntN(2):][:1]
			fmt.Fprintf(&b, `{"type":"RECORD","record":{"stream":"%s","data":{"id":%d,"s":"x\"%d"},"emitted_at":1}}`+"\n", s, i, i)
			want = append(want, fmt.Sprintf("%s:%d", s, i))
		}
	}
	return b.Bytes(), want
}

// replay walks the parts as a caller does and returns the sequence it sees.
func replay(t *testing.T, p *pipeline.Pipeline) ([]string, error) {
	var got []string
	names := []string{"a", "b"}
	for {
		part, err := p.Next()
		if err == io.EOF {
			return got, errors.New("no end")
		}
		done := make([]int64, 2)
		take := func(at []pipeline.Mark) {
			for i, b := range part.Batches {
				if b == nil {
					continue
				}
				ids := b.Column(b.Schema().FieldIndices("id")[0]).(*array.Int64)
				for r := done[i]; r < at[i].Rows; r++ {
					got = append(got, fmt.Sprintf("%s:%d", names[i], ids.Value(int(r))))
				}
				done[i] = at[i].Rows
			}
		}
		for _, e := range part.Events {
			take(e.At)
			switch {
			case e.LineErr != nil:
				got = append(got, "ERR line")
			case e.Record != nil:
				got = append(got, "ERR record "+e.Record.Key)
			case e.Message.Type == protocol.TypeState:
				got = append(got, fmt.Sprintf("STATE %s %s", e.Message.State.Stream.StreamDescriptor.Name,
					strings.TrimSuffix(strings.TrimPrefix(string(e.Message.State.Stream.StreamState), `{"n":`), "}")))
			case e.Message.Type == protocol.TypeLog:
				got = append(got, "LOG "+e.Message.Log.Message)
			}
		}
		end := make([]pipeline.Mark, 2)
		for i, b := range part.Batches {
			if b != nil {
				end[i].Rows = b.NumRows()
			}
		}
		take(end)
		part.Release()
		if part.End != nil {
			if part.End == io.EOF {
				return got, nil
			}
			return got, part.End
		}
	}
}

// byStream orders the records between two other entries by stream, keeping
// each stream's order: the order a part gives them (a batch per stream).
func byStream(seq []string) []string {
	out := slices.Clone(seq)
	isRecord := func(e string) bool { return len(e) > 2 && e[1] == ':' }
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && isRecord(out[j]) {
			j++
		}
		slices.SortStableFunc(out[i:j], func(a, b string) int { return strings.Compare(a[:1], b[:1]) })
		i = j + 1
	}
	return out
}

// Whatever the chunk size and the number of workers, the parts replay the
// stream in its order: every record at its place between the other
// messages (and after the earlier records of its stream), each error where
// its line was.
func TestPipelineKeepsOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	in, want := stream(1500, rnd)
	as := arrowSchema(t)
	for _, size := range []int{1, 300, 1 << 20} {
		for _, workers := range []int{1, 3} {
			for _, fromMessages := range []bool{false, true} {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				cfg := pipeline.Config{Streams: []pipeline.Stream{{Name: "a", Schema: as}, {Name: "b", Schema: as}},
					Workers: workers, ChunkBytes: size, Alloc: mem, Now: func() time.Time { return time.Unix(1, 0) }}
				r := protocol.NewReader(bytes.NewReader(in))
				var p *pipeline.Pipeline
				if fromMessages {
					p = pipeline.FromMessages(t.Context(), cfg, messages{r})
				} else {
					p = pipeline.FromChunks(t.Context(), cfg, chunks{r})
				}
				got, err := replay(t, p)
				p.Close()
				if err != nil {
					t.Fatal(err)
				}
				got, want := byStream(got), byStream(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					for i := range min(len(got), len(want)) {
						if got[i] != want[i] {
							t.Fatalf("size %d, %d workers, messages %v: at %d got %q, want %q", size, workers, fromMessages, i, got[i], want[i])
						}
					}
					t.Fatalf("size %d, %d workers: %d entries, want %d", size, workers, len(got), len(want))
				}
				mem.AssertSize(t, 0)
			}
		}
	}
}

// blocked is a ChunkReader that serves one chunk, then blocks until closed.
type blocked struct {
	chunks
	closed chan struct{}
}

func (b blocked) NextChunk(buf []byte, size int) (protocol.Chunk, error) {
	c, err := b.chunks.NextChunk(buf, size)
	if err == io.EOF {
		<-b.closed
		return c, errors.New("closed")
	}
	return c, err
}

// Close in the middle of the output stops the workers and releases every
// batch the caller did not take.
func TestPipelineCloseEarly(t *testing.T) {
	in, _ := stream(3000, rand.New(rand.NewPCG(3, 4)))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	as := arrowSchema(t)
	src := blocked{chunks{protocol.NewReader(bytes.NewReader(in))}, make(chan struct{})}
	p := pipeline.FromChunks(context.Background(), pipeline.Config{Streams: []pipeline.Stream{{Name: "a", Schema: as}, {Name: "b", Schema: as}},
		ChunkBytes: 1000, Depth: 2, Alloc: mem}, src)
	part, err := p.Next()
	if err != nil {
		t.Fatal(err)
	}
	part.Release()
	close(src.closed) // as closing the source does
	p.Close()
	mem.AssertSize(t, 0)
}
