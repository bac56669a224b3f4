// Package syncer runs one sync: it reads a source's Airbyte-protocol messages, batches
// each stream's records into Arrow, and commits them to the stream's Iceberg table
// together with the STATE that covers them, in one atomic commit. A sync that dies at
// any moment resumes from the last committed state: nothing lost, nothing twice.
package syncer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/google/uuid"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/schema"
	"github.com/lakeport/lakeport/source"
)

// Options tune a sync. Zero values take the defaults.
type Options struct {
	// A stream's buffered records are committed at the next STATE once they reach
	// BatchRows rows or BatchBytes bytes of JSON, or FlushInterval has passed since the
	// stream's last commit.
	BatchRows     int
	BatchBytes    int64
	FlushInterval time.Duration
	// MaxRecordBytes fails the run on a bigger record.
	MaxRecordBytes int
	// Progress is called after every commit and about every ProgressEvery records.
	Progress      func(Progress)
	ProgressEvery int
	Logger        *slog.Logger
	// Now stamps _lakeport_extracted_at; tests fix it.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.BatchRows <= 0 {
		o.BatchRows = 200_000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 20
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 30 * time.Second
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 16 << 20
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Job is one sync of one connector.
type Job struct {
	Source  source.Source
	Config  json.RawMessage
	Catalog *protocol.ConfiguredCatalog
	Lake    *lake.Lake
	// Namespace is the connector's namespace; Location is its prefix in the warehouse
	// (each stream's table lives at Location/<stream>).
	Namespace string
	Location  string
	// SyncID names the run in every commit it makes.
	SyncID string
	// UpdateConfig, when set, keeps a config the source sent in a CONTROL
	// connectorConfig message (sources rotate OAuth refresh tokens this way): the
	// whole new config, to be used from the next read on. Without it such a message
	// fails the run, since the source may have invalidated the old config.
	UpdateConfig func(ctx context.Context, config json.RawMessage) error
}

// StreamStats are one stream's figures in a run.
type StreamStats struct {
	Records   int64    `json:"records"`
	Bytes     int64    `json:"bytes"`
	Committed int64    `json:"committed"` // records in commits that landed
	Commits   int      `json:"commits"`
	Mode      string   `json:"mode"` // e.g. "incremental append_dedup"
	Changes   []string `json:"changes,omitempty"`
	// Status is the last stream status the source reported (STARTED, RUNNING,
	// COMPLETE, INCOMPLETE), empty when it reports none.
	Status string `json:"status,omitempty"`
	// Skipped counts records the source sent again that the table already held (a
	// GLOBAL or LEGACY state resumed from behind this table's).
	Skipped int64 `json:"skipped,omitempty"`
}

// Progress is a run's figures so far.
type Progress struct {
	Records int64                   `json:"records"`
	Bytes   int64                   `json:"bytes"`
	Elapsed time.Duration           `json:"elapsed_ns"`
	Streams map[string]*StreamStats `json:"streams"`
}

// Result is a finished run's figures.
type Result = Progress

type stream struct {
	cs      *protocol.ConfiguredStream
	key     string
	table   *lake.Table
	schema  *arrow.Schema // of the table, which the pipeline builds records to
	index   int           // in the pipeline's streams
	batches []arrow.RecordBatch
	// Append streams write each cut batch into data files at once (files), and
	// commit those files at the due STATE; the others hold batches until then.
	streaming bool
	files     *lake.FileWriter
	rows      int64 // buffered, not committed
	bytes     int64
	state     *stateEnvelope // latest state covering every buffered row; nil when none
	gen       int64
	mode      lake.Mode
	pk        []string
	// whole: full refresh streams are committed once, at the end, so a run that dies
	// leaves the previous generation untouched.
	whole      bool
	lastCommit time.Time
	seq        int
	stats      *StreamStats
	// sinceState counts records received since the stream's last STREAM state.
	sinceState int64
	// ahead, when set, is the shared state this stream's table already holds: its
	// records are skipped until the source sends that state again.
	ahead string
}

// Run runs the sync to the end. On failure, everything committed before stays (with
// the state it covers) and nothing after it is visible.
func Run(ctx context.Context, job Job, opts Options) (Result, error) {
	opts.defaults()
	start := time.Now()
	res := Result{Streams: map[string]*StreamStats{}}
	if job.Catalog == nil || len(job.Catalog.Streams) == 0 {
		return res, fmt.Errorf("%w: no streams selected", ErrCatalog)
	}
	if err := job.Lake.EnsureNamespace(ctx, job.Namespace, job.Location); err != nil {
		return res, err
	}
	streams := map[string]*stream{}
	envs := map[string]*stateEnvelope{}
	defer func() {
		for _, s := range streams {
			s.release()
		}
	}()
	for i := range job.Catalog.Streams {
		cs := &job.Catalog.Streams[i]
		s, err := openStream(ctx, job, cs, opts)
		if err != nil {
			return res, err
		}
		streams[s.key] = s
		res.Streams[cs.Stream.Name] = s.stats
		if cs.SyncMode != protocol.Incremental {
			continue
		}
		env, err := lastState(ctx, s.table)
		if err != nil {
			return res, err
		}
		envs[s.key] = env
	}
	from, err := resumeFrom(envs)
	if err != nil {
		return res, err
	}
	for k, key := range from.ahead {
		streams[k].ahead = key
	}
	state := from.state

	msgs, err := job.Source.Read(ctx, job.Config, job.Catalog, state)
	if err != nil {
		return res, err
	}
	r := &run{job: job, opts: opts, streams: streams, res: &res, start: start, attempt: uuid.NewString()}
	pl := r.startPipeline(ctx, msgs)
	err = r.loop(ctx, pl)
	closeErr := msgs.Close() // first: it unblocks the pipeline's reader
	pl.Close()
	if err == nil {
		err = closeErr
	}
	if r.sourceErr != nil && (err == nil || !errors.Is(err, ErrRecordCount)) {
		// The source's own account of its failure says more than its exit status.
		err = r.sourceErr
	}
	if err == nil {
		err = r.finish(ctx)
	}
	res.Elapsed = time.Since(start)
	return res, err
}

func streamKey(name, ns string) string {
	if ns == "" {
		return name
	}
	return ns + "." + name
}

func openStream(ctx context.Context, job Job, cs *protocol.ConfiguredStream, opts Options) (*stream, error) {
	name := cs.Stream.Name
	sc, err := schema.FromJSONSchema(cs.Stream.JSONSchema)
	if err != nil {
		return nil, fmt.Errorf("syncer: stream %s: %w", name, err)
	}
	// The source names its streams (untrusted): the table and its folder are the
	// name's safe segment, never the name itself.
	tableName, err := names.Segment(name)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %q: %w", ErrCatalog, name, err)
	}
	location, err := names.Join(job.Location, name)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %q: %w", ErrCatalog, name, err)
	}
	// The table as it was before this sync evolves it: what the run reports as
	// changed is measured against it.
	var before *iceberg.Schema
	if old, err := job.Lake.LoadTable(ctx, job.Namespace, tableName); err == nil {
		before = old.Schema()
	}
	t, err := job.Lake.EnsureTable(ctx, job.Namespace, tableName, sc, location)
	if err != nil {
		return nil, err
	}
	as, err := t.ArrowSchema()
	if err != nil {
		return nil, err
	}
	// Fail early for a schema no batch can be built to.
	b, err := schema.NewBatchBuilder(as)
	if err != nil {
		return nil, fmt.Errorf("syncer: stream %s: %w", name, err)
	}
	b.Release()
	s := &stream{cs: cs, key: streamKey(name, cs.Stream.Namespace), table: t, schema: as, lastCommit: time.Now(),
		stats: &StreamStats{Mode: string(cs.SyncMode) + " " + string(cs.DestinationSyncMode)}}
	if before != nil {
		if plan, err := schema.Evolve(before, cs.Stream.JSONSchema); err == nil {
			s.stats.Changes = changes(plan)
		}
	}
	cp, ok, err := t.LastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		s.gen = cp.GenerationID
	}
	switch cs.DestinationSyncMode {
	case protocol.Overwrite:
		s.mode, s.whole = lake.Overwrite, true
		s.gen++
	case protocol.AppendDedup:
		s.mode = lake.Merge
		for _, path := range cs.PrimaryKey {
			if len(path) != 1 {
				return nil, fmt.Errorf("%w: stream %s: primary key %v is nested; only top-level key fields are supported", ErrCatalog, name, path)
			}
			s.pk = append(s.pk, path[0])
		}
		if len(s.pk) == 0 {
			return nil, fmt.Errorf("%w: stream %s: append_dedup needs a primary_key", ErrCatalog, name)
		}
	case protocol.Append, "":
		s.mode = lake.Append
	default:
		return nil, fmt.Errorf("%w: stream %s: unknown destination_sync_mode %q (use overwrite, append or append_dedup)", ErrCatalog, name, cs.DestinationSyncMode)
	}
	if cs.SyncMode == protocol.FullRefresh && s.mode == lake.Append {
		s.whole = true
	}
	if cs.GenerationID != nil {
		s.gen = *cs.GenerationID
	}
	s.streaming = s.mode == lake.Append && !s.whole && t.CanStage()
	return s, nil
}

// lastState returns the state envelope of the table's last commit, nil when none.
func lastState(ctx context.Context, t *lake.Table) (*stateEnvelope, error) {
	raw, _, ok, err := t.LastState(ctx)
	if err != nil || !ok || len(raw) == 0 {
		return nil, err
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		return nil, fmt.Errorf("syncer: the state committed to %s: %w", t.Location(), err)
	}
	return env, nil
}

// changes describes a schema evolution plan for people, one line per column.
func changes(plan *schema.Plan) []string {
	var out []string
	for _, f := range plan.Added {
		out = append(out, fmt.Sprintf("column %q added (%s)", f.Name, f.Type))
	}
	for _, p := range plan.Promoted {
		out = append(out, fmt.Sprintf("column %q widened from %s to %s", p.Column, p.From, p.To))
	}
	for _, k := range plan.Kept {
		out = append(out, k.String())
	}
	return out
}

func (s *stream) release() {
	if s.files != nil {
		s.files.Abort()
		s.files = nil
	}
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
}

type run struct {
	job     Job
	opts    Options
	streams map[string]*stream
	res     *Result
	start   time.Time
	sinceP  int
	byIndex []*stream // the pipeline's streams, by index
	// attempt tells this Run's commits apart from those of an earlier Run of the same
	// sync (a job run again after its process died): commit IDs only dedupe retries of
	// one commit, and a resumed Run's first commits must never pass for the dead one's.
	attempt string
	// sinceShared counts records received since the last GLOBAL or LEGACY state.
	sinceShared int64
	// sourceErr is the first error the source reported in a TRACE message.
	sourceErr *SourceError
}

func (r *run) selected() string {
	var names []string
	for k := range r.streams {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (r *run) state(ctx context.Context, m *protocol.StateMessage) error {
	shape, err := stateShape(m)
	if err != nil {
		return err
	}
	if shape == protocol.StateStream {
		d := m.Stream.StreamDescriptor
		s := r.streams[streamKey(d.Name, d.Namespace)]
		if s == nil {
			return fmt.Errorf("%w: the source sent a STATE for stream %q, which is not selected", ErrUnknownStream, d.String())
		}
		if err := checkCount(m, "stream "+s.key, s.sinceState); err != nil {
			return err
		}
		s.sinceState = 0
		s.state = &stateEnvelope{V: 1, Message: stored(m, shape)}
		if r.due(s) {
			return r.commit(ctx, s)
		}
		return nil
	}
	// GLOBAL and LEGACY cover every stream.
	if err := checkCount(m, "every stream", r.sinceShared); err != nil {
		return err
	}
	r.sinceShared = 0
	env := &stateEnvelope{V: 1, Seq: time.Now().UnixNano(), Message: stored(m, shape)}
	key := sharedKey(env.Message)
	due := false
	for _, s := range r.streams {
		if s.ahead != "" {
			// The table holds this state already, or a later one: it takes records
			// (and states) again only after the source re-sends the one it holds.
			if s.ahead == key {
				s.ahead = ""
			}
			continue
		}
		s.state = env
		due = due || r.due(s)
	}
	if !due {
		return nil
	}
	for _, s := range r.sorted() {
		if s.ahead != "" || s.state != env {
			continue
		}
		if err := r.commit(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// trace takes a TRACE message: an error is kept to fail the run with (the states
// committed before it stay), a stream status shows in the run's progress.
func (r *run) trace(t *protocol.TraceMessage) {
	switch {
	case t == nil:
	case t.Type == protocol.TraceError && t.Error != nil:
		e := &SourceError{Message: t.Error.Message, FailureType: string(t.Error.FailureType)}
		if t.Error.StreamDescriptor != nil {
			e.Stream = t.Error.StreamDescriptor.String()
		}
		if e.Message == "" {
			e.Message = "(no message)"
		}
		r.opts.Logger.Warn("source reported an error", "message", truncate(e.Message, 1000), "failure_type", e.FailureType, "stream", e.Stream)
		if r.sourceErr == nil {
			r.sourceErr = e
		}
	case t.Type == protocol.TraceStreamStatus && t.StreamStatus != nil:
		d := t.StreamStatus.StreamDescriptor
		if s := r.streams[streamKey(d.Name, d.Namespace)]; s != nil {
			s.stats.Status = string(t.StreamStatus.Status)
			r.progress()
		}
	}
}

// control takes a CONTROL message: a connectorConfig replaces the connector's config.
func (r *run) control(ctx context.Context, c *protocol.ControlMessage) error {
	if c == nil || c.Type != protocol.ControlConnectorConfig || c.ConnectorConfig == nil {
		return nil
	}
	cfg := bytes.TrimSpace(c.ConnectorConfig.Config)
	if len(cfg) == 0 || cfg[0] != '{' {
		return fmt.Errorf("%w: a CONTROL connectorConfig message whose config is not a JSON object", ErrMalformed)
	}
	if r.job.UpdateConfig == nil {
		return fmt.Errorf("%w: the source sent a new config (CONTROL connectorConfig) and this sync cannot keep it", ErrMalformed)
	}
	if err := r.job.UpdateConfig(ctx, json.RawMessage(cfg)); err != nil {
		return fmt.Errorf("syncer: keep the config the source sent (CONTROL connectorConfig): %w", err)
	}
	r.opts.Logger.Info("the source updated its config (CONTROL connectorConfig); the connector keeps it")
	return nil
}

func (r *run) sorted() []*stream {
	out := make([]*stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func (r *run) due(s *stream) bool {
	if s.whole {
		return false
	}
	return s.rows >= int64(r.opts.BatchRows) || s.bytes >= r.opts.BatchBytes || time.Since(s.lastCommit) >= r.opts.FlushInterval
}

// add takes rows of the stream's records (a slice of a pipeline part's
// batch, which it now owns): a streaming stream writes them into its open
// data file, the others keep them for the commit.
func (s *stream) add(ctx context.Context, b arrow.RecordBatch) error {
	if !s.streaming {
		s.batches = append(s.batches, b)
		return nil
	}
	if s.files == nil {
		s.files = s.table.NewFileWriter(ctx, b.Schema())
	}
	if err := s.files.Write(b); err != nil {
		return fmt.Errorf("syncer: stream %s: %w", s.key, err)
	}
	return nil
}

// commit writes the stream's buffered rows with its latest state in one commit.
func (r *run) commit(ctx context.Context, s *stream) error {
	if len(s.batches) == 0 && s.files == nil && s.state == nil && s.mode != lake.Overwrite {
		return nil
	}
	var state json.RawMessage
	if s.state != nil {
		raw, err := json.Marshal(s.state)
		if err != nil {
			return err
		}
		state = raw
	}
	s.seq++
	c := lake.Commit{Mode: s.mode, PrimaryKey: s.pk, State: state, SyncID: r.job.SyncID, GenerationID: s.gen,
		RecordCount: s.rows, CommitID: fmt.Sprintf("%s/%s/%s/%d", r.job.SyncID, r.attempt, s.key, s.seq)}
	if s.streaming {
		var staged lake.Staged
		if s.files != nil {
			var err error
			staged, err = s.files.Close()
			s.files = nil
			if err != nil {
				return fmt.Errorf("syncer: stream %s: %w", s.key, err)
			}
		}
		if err := s.table.CommitFiles(ctx, staged, c); err != nil {
			return fmt.Errorf("syncer: commit %d rows of stream %s: %w", s.rows, s.key, err)
		}
	} else if err := s.table.Commit(ctx, s.batches, c); err != nil {
		return fmt.Errorf("syncer: commit %d rows of stream %s: %w", s.rows, s.key, err)
	}
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
	s.stats.Committed += s.rows
	s.stats.Commits++
	s.rows, s.bytes, s.state = 0, 0, nil
	s.lastCommit = time.Now()
	r.progress()
	return nil
}

// finish commits what is left after the source ended successfully.
func (r *run) finish(ctx context.Context) error {
	for _, s := range r.sorted() {
		if s.ahead != "" {
			r.opts.Logger.Warn("the source never sent again the state this stream's table holds; nothing new was written to it",
				"stream", s.key, "skipped", s.stats.Skipped)
			continue
		}
		if s.rows == 0 && s.state == nil && !s.whole {
			continue
		}
		if err := r.commit(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) progress() {
	if r.opts.Progress == nil {
		return
	}
	p := Progress{Records: r.res.Records, Bytes: r.res.Bytes, Elapsed: time.Since(r.start), Streams: map[string]*StreamStats{}}
	for _, s := range r.streams {
		st := *s.stats
		p.Streams[s.cs.Stream.Name] = &st
	}
	r.opts.Progress(p)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
