package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer/pipeline"
)

// startPipeline reads msgs through a pipeline that parses and builds
// records on every core (see package pipeline): from the source's raw lines
// when it can hand them over, else from its messages.
func (r *run) startPipeline(ctx context.Context, msgs source.MessageStream) *pipeline.Pipeline {
	order := r.sorted()
	cfg := pipeline.Config{MaxRecordBytes: r.opts.MaxRecordBytes, Now: r.opts.Now}
	r.byIndex = order
	for i, s := range order {
		s.index = i
		cfg.Streams = append(cfg.Streams, pipeline.Stream{Name: s.cs.Stream.Name, Namespace: s.cs.Stream.Namespace,
			Schema: s.schema, GenerationID: s.gen})
	}
	if cr, ok := msgs.(pipeline.ChunkReader); ok {
		return pipeline.FromChunks(ctx, cfg, cr)
	}
	return pipeline.FromMessages(ctx, cfg, msgs)
}

// loop takes the pipeline's parts in order until the source's output ends.
func (r *run) loop(ctx context.Context, pl *pipeline.Pipeline) error {
	for {
		part, err := pl.Next()
		if err == io.EOF {
			return nil
		}
		err = r.part(ctx, part)
		part.Release()
		if err != nil {
			return err
		}
		if r.sinceP >= r.opts.ProgressEvery {
			r.sinceP = 0
			r.progress()
		}
		if part.End == io.EOF {
			return nil
		}
		if part.End != nil {
			return part.End
		}
	}
}

// part takes one part: each stream's rows up to each event, then the
// event, then the rest of the rows.
func (r *run) part(ctx context.Context, part pipeline.Part) error {
	var done []pipeline.Mark
	if part.Batches != nil {
		done = make([]pipeline.Mark, len(part.Batches))
	}
	for _, e := range part.Events {
		if err := r.rows(ctx, part, done, e.At); err != nil {
			return err
		}
		if err := r.event(ctx, e); err != nil {
			return err
		}
	}
	if part.Batches == nil {
		return nil
	}
	end := make([]pipeline.Mark, len(part.Batches))
	for i, b := range part.Batches {
		if b != nil {
			end[i] = pipeline.Mark{Rows: b.NumRows(), Bytes: part.Bytes[i]}
		}
	}
	return r.rows(ctx, part, done, end)
}

// rows hands each stream the rows of its batch from done to at, and moves
// done there.
func (r *run) rows(ctx context.Context, part pipeline.Part, done, at []pipeline.Mark) error {
	for i, b := range part.Batches {
		if b == nil || at[i].Rows <= done[i].Rows {
			continue
		}
		from := done[i].Rows
		n, size := at[i].Rows-from, at[i].Bytes-done[i].Bytes
		s := r.byIndex[i]
		done[i] = at[i]
		s.sinceState += n
		r.sinceShared += n
		if s.ahead != "" {
			// The table holds these already (see stream.ahead).
			s.stats.Skipped += n
			continue
		}
		rows := b
		if n == b.NumRows() {
			b.Retain()
		} else {
			rows = b.NewSlice(from, at[i].Rows)
		}
		if err := s.add(ctx, rows); err != nil {
			return err
		}
		s.rows += n
		s.bytes += size
		s.stats.Records += n
		s.stats.Bytes += size
		r.res.Records += n
		r.res.Bytes += size
		r.sinceP += int(n)
	}
	return nil
}

// event takes what the source wrote between records.
func (r *run) event(ctx context.Context, e pipeline.Event) error {
	switch {
	case e.LineErr != nil:
		if protocol.IsNotJSON(e.LineErr) {
			r.opts.Logger.Info("source printed a non-protocol line", "line", truncate(e.LineErr.Error(), 300))
			return nil
		}
		return fmt.Errorf("%w: %v", ErrMalformed, e.LineErr)
	case e.Record != nil:
		return r.recordError(e.Record)
	}
	m := e.Message
	switch m.Type {
	case protocol.TypeState:
		return r.state(ctx, m.State)
	case protocol.TypeLog:
		if m.Log != nil {
			r.opts.Logger.Debug("source log", "level", m.Log.Level, "message", truncate(m.Log.Message, 1000))
		}
	case protocol.TypeTrace:
		r.trace(m.Trace)
	case protocol.TypeControl:
		return r.control(ctx, m.Control)
	}
	return nil
}

// recordError fails the run for a record that could not be added, unless
// its stream skips its records (see stream.ahead).
func (r *run) recordError(e *pipeline.RecordError) error {
	if e.Stream < 0 {
		return fmt.Errorf("%w: the source sent a record for stream %q, which is not selected in the connector's catalog (selected: %s)",
			ErrUnknownStream, e.Key, r.selected())
	}
	s := r.byIndex[e.Stream]
	s.sinceState++
	r.sinceShared++
	if s.ahead != "" {
		s.stats.Skipped++
		return nil
	}
	switch {
	case errors.Is(e.Err, pipeline.ErrTooLarge):
		return fmt.Errorf("%w: a record of stream %s is %d bytes; the limit is %d bytes", ErrRecordTooLarge, e.Key, e.Size, r.opts.MaxRecordBytes)
	}
	return fmt.Errorf("syncer: stream %s: %w", e.Key, e.Err)
}
