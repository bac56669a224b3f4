package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakeport/lakeport/protocol"
)

// ProcessOptions tune exec: and image: sources: what a program is given
// (environment, files, limits) and how long lakeport waits for it.
type ProcessOptions struct {
	// MaxLineSize is the longest protocol line accepted (default
	// protocol.DefaultMaxLineSize).
	MaxLineSize int
	// StderrTail is how much of the end of stderr is kept for error
	// messages (default 2 KiB).
	StderrTail int
	// TempDir is where each run's private folder is made (default
	// os.TempDir()); it must not be inside the data dir.
	TempDir string
	// Stderr, if set, also receives everything the connector writes to
	// stderr (the operator's log; not masked).
	Stderr io.Writer

	// Path is the PATH a program gets (default DefaultPath).
	Path string
	// Env is what the operator adds to every program's environment
	// ("KEY=value"). Nothing of lakeport's own environment is passed.
	Env []string
	// CPU is each program's CPU-time limit (default DefaultCPU).
	CPU time.Duration
	// Memory is each program's memory limit in bytes: its data size
	// (RLIMIT_DATA) for exec:, --memory for image: (default DefaultMemory).
	Memory int64
	// CommandTimeout bounds spec, check and discover (default DefaultCommandTimeout).
	CommandTimeout time.Duration
	// Read are further paths exec: programs may read beyond the system
	// folders (sandbox.DefaultRead) and their own folder.
	Read []string
	// Deny are paths no program may read even inside a folder it may: the
	// data dir, the config file, the secret key file.
	Deny []string
	// Sandbox is the lakeport binary that runs programs through its shim
	// (default: this executable; see package sandbox).
	Sandbox string

	// ContainerNetwork is the engine's --network for image: sources (empty:
	// the engine's default).
	ContainerNetwork string
	// ContainerCPUs is --cpus for image: sources (default "1").
	ContainerCPUs string
}

// Defaults of ProcessOptions.
const (
	DefaultPath           = "/usr/local/bin:/usr/bin:/bin"
	DefaultCPU            = 6 * time.Hour
	DefaultMemory         = 2 << 30
	DefaultCommandTimeout = 5 * time.Minute
)

func (o ProcessOptions) withDefaults() ProcessOptions {
	if o.MaxLineSize <= 0 {
		o.MaxLineSize = protocol.DefaultMaxLineSize
	}
	if o.StderrTail <= 0 {
		o.StderrTail = 2 << 10
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.CPU <= 0 {
		o.CPU = DefaultCPU
	}
	if o.Memory <= 0 {
		o.Memory = DefaultMemory
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.ContainerCPUs == "" {
		o.ContainerCPUs = "1"
	}
	return o
}

// containerDir is where an image: source sees its config, catalog and state.
const containerDir = "/tmp/lakeport"

// procSource runs a connector as a process: a local program (path) or a
// container image (engine + image).
type procSource struct {
	ref    string
	path   string // exec:
	engine string // image:
	image  string // image:
	opts   ProcessOptions

	specOnce    sync.Once // secretValues asks the spec once
	secretPaths []Path
	specErr     error
}

var _ Source = (*procSource)(nil)

type fileArg struct {
	flag string
	data []byte
}

func (s *procSource) Spec(ctx context.Context) (*protocol.ConnectorSpecification, error) {
	m, err := s.runFor(ctx, "spec", protocol.TypeSpec, nil)
	if err != nil {
		return nil, err
	}
	return m.Spec, nil
}

func (s *procSource) Check(ctx context.Context, config json.RawMessage) (*protocol.ConnectionStatus, error) {
	m, err := s.runFor(ctx, "check", protocol.TypeConnectionStatus, []fileArg{{"config", config}})
	if err != nil {
		// A connector that rejects its config often exits non-zero after a
		// config_error trace: that is a failed check, not a failure to check.
		if ee, ok := IsExitError(err); ok && ee.TraceError != "" && ee.traceConfig {
			return &protocol.ConnectionStatus{Status: protocol.StatusFailed, Message: ee.TraceError}, nil
		}
		return nil, err
	}
	return m.ConnectionStatus, nil
}

func (s *procSource) Discover(ctx context.Context, config json.RawMessage) (*protocol.Catalog, error) {
	m, err := s.runFor(ctx, "discover", protocol.TypeCatalog, []fileArg{{"config", config}})
	if err != nil {
		return nil, err
	}
	return m.Catalog, nil
}

func (s *procSource) Read(ctx context.Context, config json.RawMessage, catalog *protocol.ConfiguredCatalog, state json.RawMessage) (MessageStream, error) {
	cat, err := json.Marshal(catalog)
	if err != nil {
		return nil, fmt.Errorf("source %s: read: encode catalog: %w", s.ref, err)
	}
	files := []fileArg{{"config", config}, {"catalog", cat}}
	if len(state) > 0 && string(state) != "null" {
		files = append(files, fileArg{"state", state})
	}
	return s.start(ctx, "read", files)
}

// runFor runs a command and returns the last message of type want, within
// the server's time limit for spec, check and discover.
func (s *procSource) runFor(ctx context.Context, verb string, want protocol.MessageType, files []fileArg) (*protocol.Message, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, s.opts.CommandTimeout, ErrTimeout)
	defer cancel()
	p, err := s.start(ctx, verb, files)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var found *protocol.Message
	var lineErr error
	for {
		m, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if protocol.IsNotJSON(err) {
				continue // plain text: a log line
			}
			if protocol.IsLineError(err) {
				if lineErr == nil {
					lineErr = err
				}
				continue
			}
			if errors.Is(context.Cause(ctx), ErrTimeout) {
				return nil, fmt.Errorf("%w: source %s: %s did not finish within %s (the operator sets this limit: sources.command_timeout)",
					ErrTimeout, s.ref, verb, s.opts.CommandTimeout)
			}
			return nil, err
		}
		if m.Type == want {
			found = m
		}
	}
	if found == nil {
		if lineErr != nil {
			return nil, fmt.Errorf("source %s: %s: %w", s.ref, verb, lineErr)
		}
		return nil, fmt.Errorf("%w: source %s: %s printed no %s message; check that the program speaks the Airbyte protocol (stderr: %q)",
			ErrNoMessage, s.ref, verb, want, p.mask(p.stderr.String()))
	}
	return found, nil
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "lakeport-source-" + hex.EncodeToString(b[:])
}

// start makes the run's private folder (0700: the files, mode 0600, and
// the program's HOME and TMPDIR) and starts the connector in it, through
// the sandbox shim, with an explicit environment. The folder is removed
// when the process has been waited for.
func (s *procSource) start(ctx context.Context, verb string, files []fileArg) (_ *process, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source %s: %s: %w", s.ref, verb, err)
	}
	dir, err := os.MkdirTemp(s.opts.TempDir, "lakeport-source-")
	if err != nil {
		return nil, fmt.Errorf("source %s: %s: temporary directory: %w", s.ref, verb, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	args := []string{verb}
	var config []byte
	for _, f := range files {
		name := f.flag + ".json"
		if err := os.WriteFile(filepath.Join(dir, name), f.data, 0o600); err != nil {
			return nil, fmt.Errorf("source %s: %s: write %s: %w", s.ref, verb, name, err)
		}
		if f.flag == "config" {
			config = f.data
		}
		at := filepath.Join(dir, name)
		if s.image != "" {
			at = containerDir + "/" + name
		}
		args = append(args, "--"+f.flag, at)
	}

	runCtx, cancel := context.WithCancel(ctx)
	var cmd *exec.Cmd
	container := ""
	if s.image != "" {
		container = randomName()
		cmd, err = s.containerCommand(runCtx, container, dir, args)
	} else {
		cmd, err = s.programCommand(runCtx, dir, args)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("source %s: %s: %w", s.ref, verb, err)
	}
	setProcessGroup(cmd)
	cmd.Cancel = func() error {
		if container != "" {
			// Killing the engine's client does not stop the container.
			kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = exec.CommandContext(kctx, s.engine, "kill", container).Run()
			kcancel()
		}
		return killGroup(cmd)
	}
	cmd.WaitDelay = 2 * time.Second
	tail := &tailBuffer{max: s.opts.StderrTail}
	if s.opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, s.opts.Stderr)
	} else {
		cmd.Stderr = tail
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("source %s: %s: %w", s.ref, verb, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("source %s: %s: start: %w", s.ref, verb, err)
	}
	return &process{
		src: s, verb: verb, ctx: ctx, exited: make(chan struct{}), cancel: cancel, cmd: cmd, dir: dir, stderr: tail, config: config,
		reader: protocol.NewReader(stdout, protocol.WithMaxLineSize(s.opts.MaxLineSize)),
	}, nil
}

// process is a running connector; it is the MessageStream of a read.
type process struct {
	src    *procSource
	verb   string
	ctx    context.Context
	cancel context.CancelFunc
	cmd    *exec.Cmd
	dir    string
	stderr *tailBuffer
	reader *protocol.Reader
	lines  *protocol.LineParser // for the TRACE lines of NextChunk
	config []byte               // what the run was given, whose secrets are masked in errors

	exited chan struct{} // closed once the process has been waited for

	lastTrace   string
	traceConfig bool

	// Next's own state; Next is called from one goroutine at a time.
	final error // what Next returns once the output is over
	done  bool  // the output is over

	closed   atomic.Bool // Close was called
	waitOnce sync.Once
	waitErr  error // the outcome, as Close reports it
}

var _ MessageStream = (*process)(nil)

// errClosed is what Next returns after Close.
var errClosed = errors.New("source: read from a closed stream")

func (p *process) Next() (*protocol.Message, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	if p.done {
		return nil, p.final
	}
	m, err := p.reader.Next()
	if err == nil {
		p.noteTrace(m)
		return m, nil
	}
	if protocol.IsLineError(err) {
		return nil, p.LineErr(err)
	}
	return nil, p.end(err)
}

// end takes the reader's final error: the output is over (or unreadable),
// and the outcome is the process's.
func (p *process) end(err error) error {
	p.done = true
	if err != io.EOF {
		p.kill()
	}
	p.wait()
	switch {
	case p.waitErr != nil:
		p.final = p.waitErr
	case err != io.EOF:
		p.final = fmt.Errorf("source %s: %s: %w", p.src.ref, p.verb, err)
		p.waitErr = p.final
	default:
		p.final = io.EOF
	}
	return p.final
}

// NextChunk returns the connector's next whole output lines, unparsed (see
// protocol.Reader.NextChunk), for a caller that parses them itself; its
// errors and end are Next's. A stream is read with Next or NextChunk, not
// both. TRACE errors in the lines are still remembered for the exit error.
func (p *process) NextChunk(buf []byte, size int) (protocol.Chunk, error) {
	if p.closed.Load() {
		return protocol.Chunk{}, errClosed
	}
	if p.done {
		return protocol.Chunk{}, p.final
	}
	c, err := p.reader.NextChunk(buf, size)
	if err == nil {
		p.traces(c)
		return c, nil
	}
	if protocol.IsLineError(err) {
		return c, p.LineErr(err)
	}
	return c, p.end(err)
}

// LineErr dresses an error about one output line as Next returns it.
func (p *process) LineErr(err error) error {
	return fmt.Errorf("source %s: %s: %w", p.src.ref, p.verb, err)
}

// traces remembers the last TRACE error among c's lines, as Next does; only
// lines that mention TRACE are parsed.
func (p *process) traces(c protocol.Chunk) {
	if !bytes.Contains(c.Lines, []byte("TRACE")) {
		return
	}
	if p.lines == nil {
		p.lines = protocol.NewLineParser()
	}
	for line := range bytes.Lines(c.Lines) {
		if !bytes.Contains(line, []byte("TRACE")) {
			continue
		}
		if _, m, err := p.lines.Parse(line, 0, nil); err == nil && m != nil {
			p.noteTrace(m)
		}
	}
}

func (p *process) noteTrace(m *protocol.Message) {
	if m.Type == protocol.TypeTrace && m.Trace.Type == protocol.TraceError && m.Trace.Error != nil {
		p.lastTrace = m.Trace.Error.Message
		p.traceConfig = m.Trace.Error.FailureType == protocol.FailureConfig
	}
}

func (p *process) kill() {
	p.cancel()
}

// wait waits for the process, removes its files and sets waitErr.
func (p *process) wait() {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		close(p.exited)
		p.cancel()
		os.RemoveAll(p.dir)
		var ee *exec.ExitError
		switch {
		case p.ctx.Err() != nil:
			p.waitErr = fmt.Errorf("source %s: %s: %w", p.src.ref, p.verb, p.ctx.Err())
		case errors.As(err, &ee) && p.closed.Load() && ee.ExitCode() == -1:
			p.waitErr = nil // killed by Close: stopping early is not a failure
		case errors.As(err, &ee):
			xe := &ExitError{Source: p.src.ref, Command: p.verb, Code: ee.ExitCode(), Signal: signalOf(ee),
				TraceError: p.mask(p.lastTrace), traceConfig: p.traceConfig, Stderr: p.mask(p.stderr.String())}
			if p.src.image == "" && ee.UserTime()+ee.SystemTime() >= p.src.opts.CPU {
				xe.CPULimit = p.src.opts.CPU
			}
			p.waitErr = xe
		case err != nil && !p.closed.Load():
			p.waitErr = fmt.Errorf("source %s: %s: %w", p.src.ref, p.verb, err)
		}
	})
}

// Close stops the connector if it is still running, waits for it and
// removes its files. It reports the connector's failure, if any. It may be
// called while another goroutine is blocked in Next, to stop the read.
func (p *process) Close() error {
	if p.closed.CompareAndSwap(false, true) {
		select {
		case <-p.exited:
		default:
			p.kill() // still running: stopping it early is not a failure
		}
	}
	p.wait()
	return p.waitErr
}
