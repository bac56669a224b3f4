package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/sourcetest"
)

// testSourcePath is the protocol test program (see package sourcetest).
func testSourcePath(t *testing.T) string { return sourcetest.Program(t) }

func TestMain(m *testing.M) {
	// The operator's allow-list: these tests run the test source and fake engines.
	source.Default.Allow = source.MustAllowList("exec:*", "image:*")
	code := m.Run()
	sourcetest.Remove()
	os.Exit(code)
}

func openTestSource(t *testing.T) source.Source {
	t.Helper()
	src, err := source.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func catalogOf(names ...string) *protocol.ConfiguredCatalog {
	c := &protocol.ConfiguredCatalog{}
	for _, n := range names {
		c.Streams = append(c.Streams, protocol.ConfiguredStream{
			Stream:   protocol.Stream{Name: n, JSONSchema: json.RawMessage(`{"type":"object"}`), SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh}},
			SyncMode: protocol.FullRefresh, DestinationSyncMode: protocol.Append,
		})
	}
	return c
}

// drain reads a stream to its end and returns its messages and final error
// (nil for io.EOF), failing on line errors unless keepLineErrors.
func drain(t *testing.T, st source.MessageStream) ([]*protocol.Message, []error, error) {
	t.Helper()
	var msgs []*protocol.Message
	var lineErrs []error
	for {
		m, err := st.Next()
		if err == io.EOF {
			return msgs, lineErrs, nil
		}
		if protocol.IsLineError(err) {
			lineErrs = append(lineErrs, err)
			continue
		}
		if err != nil {
			return msgs, lineErrs, err
		}
		msgs = append(msgs, m)
	}
}

const twoStreams = `{"api_key":"k","streams":[{"name":"users","records":[{"id":1},{"id":2}]},{"name":"orders","records":[{"id":10}]}],"state":true}`

func TestExecSpecCheckDiscover(t *testing.T) {
	src := openTestSource(t)
	ctx := context.Background()
	spec, err := src.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !spec.SupportsIncremental || !strings.Contains(string(spec.ConnectionSpecification), "api_key") {
		t.Errorf("spec = %+v", spec)
	}
	st, err := src.Check(ctx, json.RawMessage(twoStreams))
	if err != nil || st.Status != protocol.StatusSucceeded {
		t.Errorf("check = %+v, %v", st, err)
	}
	st, err = src.Check(ctx, json.RawMessage(`{"check_fail":"wrong key"}`))
	if err != nil || st.Status != protocol.StatusFailed || st.Message != "wrong key" {
		t.Errorf("failing check = %+v, %v", st, err)
	}
	// A config_error trace and a non-zero exit is a failed check too.
	st, err = src.Check(ctx, json.RawMessage(`{"trace_error":"api_key is revoked","exit_code":1}`))
	if err != nil || st.Status != protocol.StatusFailed || st.Message != "api_key is revoked" {
		t.Errorf("check with trace error = %+v, %v", st, err)
	}
	cat, err := src.Discover(ctx, json.RawMessage(twoStreams))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Streams) != 2 || cat.Find("orders", "") == nil {
		t.Errorf("catalog = %+v", cat)
	}
	// Plain-text lines around the answer are tolerated.
	if _, err := src.Discover(ctx, json.RawMessage(`{"plain_text":"Starting…","streams":[]}`)); err != nil {
		t.Errorf("discover with a plain-text line: %v", err)
	}
}

func TestExecRead(t *testing.T) {
	src := openTestSource(t)
	st, err := src.Read(context.Background(), json.RawMessage(twoStreams), catalogOf("users", "orders"), json.RawMessage(`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"count":7}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	msgs, lineErrs, err := drain(t, st)
	if err != nil || len(lineErrs) > 0 {
		t.Fatalf("read: %v %v", err, lineErrs)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	var got []string
	for _, m := range msgs {
		switch m.Type {
		case protocol.TypeRecord:
			got = append(got, m.Record.Stream+string(m.Record.Data))
		case protocol.TypeState:
			got = append(got, "STATE "+m.State.Stream.StreamDescriptor.Name+string(m.State.Stream.StreamState))
		}
	}
	want := []string{
		`users{"id":1}`, `users{"id":2}`, `STATE users{"count":2,"previous":[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"count":7}}}]}`,
		`orders{"id":10}`, `STATE orders{"count":1,"previous":[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"count":7}}}]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExecTempFiles(t *testing.T) {
	src := openTestSource(t)
	st, err := src.Read(context.Background(), json.RawMessage(`{"report_files":true,"streams":[]}`), catalogOf(), nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var path, mode string
	for _, m := range msgs {
		if m.Type == protocol.TypeLog && strings.HasPrefix(m.Log.Message, "config ") {
			f := strings.Fields(m.Log.Message)
			path, mode = f[1], f[3]
		}
	}
	if path == "" {
		t.Fatalf("no report from the test source: %+v", msgs)
	}
	if mode != "600" {
		t.Errorf("config file mode %s, want 600", mode)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("config file %s still exists after Close: %v", path, err)
	}
}

func TestExecNonZeroExit(t *testing.T) {
	src := openTestSource(t)
	cfg := `{"streams":[{"name":"users","records":[{"id":1}]}],"exit_code":3,"stderr":"` + strings.Repeat("noise\\n", 2000) + `Traceback: KeyError 'token'\n","trace_error":"token expired"}`
	st, err := src.Read(context.Background(), json.RawMessage(cfg), catalogOf("users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := drain(t, st)
	if len(msgs) == 0 {
		t.Error("records before the failure were not delivered")
	}
	ee, ok := source.IsExitError(err)
	if !ok {
		t.Fatalf("err = %v, want an ExitError", err)
	}
	if ee.Code != 3 || ee.TraceError != "token expired" || !strings.HasSuffix(strings.TrimSpace(ee.Stderr), "Traceback: KeyError 'token'") || len(ee.Stderr) > 4200 {
		t.Errorf("exit error = code %d trace %q stderr %d bytes", ee.Code, ee.TraceError, len(ee.Stderr))
	}
	for _, want := range []string{"status 3", "token expired", "KeyError 'token'", "read"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err2 := st.Next(); err2 != err {
		t.Errorf("Next after the end = %v, want the same error", err2)
	}
	if err := st.Close(); !errors.As(err, &ee) {
		t.Errorf("Close = %v, want the exit error", err)
	}
	// spec/check/discover report it too.
	_, err = src.Discover(context.Background(), json.RawMessage(`{"exit_code":4,"stderr":"boom"}`))
	if ee, ok := source.IsExitError(err); !ok || ee.Code != 4 || !strings.Contains(err.Error(), "boom") {
		t.Errorf("discover: %v", err)
	}
}

func TestExecBadLines(t *testing.T) {
	src := openTestSource(t)
	cfg := `{"streams":[{"name":"users","records":[{"id":1}]}],"plain_text":"hello from stdout","malformed":true,"unknown_stream":true}`
	st, err := src.Read(context.Background(), json.RawMessage(cfg), catalogOf("users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, lineErrs, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(lineErrs) != 2 || !protocol.IsNotJSON(lineErrs[0]) || !errors.Is(lineErrs[1], protocol.ErrMalformed) {
		t.Fatalf("line errors = %v", lineErrs)
	}
	if !strings.Contains(lineErrs[1].Error(), "line 2") || !strings.Contains(lineErrs[1].Error(), "exec:") {
		t.Errorf("malformed line error = %q, want the line number and the source", lineErrs[1])
	}
	// The record for a stream not in the catalog is passed on: the caller decides.
	var streams []string
	for _, m := range msgs {
		if m.Type == protocol.TypeRecord {
			streams = append(streams, m.Record.Stream)
		}
	}
	if strings.Join(streams, ",") != "ghost,users" {
		t.Errorf("record streams = %v", streams)
	}
}

func TestExecOversizedRecord(t *testing.T) {
	reg := source.NewRegistry()
	reg.Allow = source.MustAllowList("exec:" + testSourcePath(t))
	reg.Options.MaxLineSize = 1000
	src, err := reg.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.Read(context.Background(), json.RawMessage(`{"oversized":5000,"streams":[{"name":"users","records":[{"id":1}]}]}`), catalogOf("users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, lineErrs, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(lineErrs) != 1 || !protocol.IsLineTooLong(lineErrs[0]) || !strings.Contains(lineErrs[0].Error(), "1000") {
		t.Fatalf("line errors = %v", lineErrs)
	}
	if len(msgs) != 1 || string(msgs[0].Record.Data) != `{"id":1}` {
		t.Errorf("messages after the long line = %v", msgs)
	}
}

func TestExecCancelKillsProcessGroup(t *testing.T) {
	src := openTestSource(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := src.Read(ctx, json.RawMessage(`{"hang":true,"spawn_child":true,"streams":[]}`), catalogOf(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Next()
	if err != nil || m.Type != protocol.TypeLog || !strings.HasPrefix(m.Log.Message, "child ") {
		t.Fatalf("first message = %+v, %v", m, err)
	}
	child, _ := strconv.Atoi(strings.TrimPrefix(m.Log.Message, "child "))
	cancel()
	done := make(chan error, 1)
	go func() { _, err := st.Next(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after the context was cancelled")
	}
	if err := st.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v", err)
	}
	waitDead(t, child)
}

func TestExecCloseEarly(t *testing.T) {
	src := openTestSource(t)
	st, err := src.Read(context.Background(), json.RawMessage(`{"hang":true,"spawn_child":true,"streams":[]}`), catalogOf(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Next()
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimPrefix(m.Log.Message, "child "))
	if err := st.Close(); err != nil {
		t.Errorf("Close of a running source = %v, want nil", err)
	}
	waitDead(t, child)
}

// waitDead waits for pid to be gone (or a zombie: killed, not yet reaped).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("child process %d still runs: the process group was not killed", pid)
}

func TestOpen(t *testing.T) {
	for _, ref := range []string{"nope", "ftp:x", "exec:", "exec:/does/not/exist", "image:-rm", "image:"} {
		if _, err := source.Open(ref); err == nil {
			t.Errorf("Open(%q) = nil error", ref)
		}
	}
	if _, err := source.Open("nope"); !errors.Is(err, source.ErrUnknownSource) || !strings.Contains(err.Error(), "sample") {
		t.Errorf("Open(nope) = %v, want ErrUnknownSource listing the built-ins", err)
	}
	if _, err := source.Open("exec:" + t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("Open(exec:dir) = %v", err)
	}
}

func TestImageWithoutEngine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := source.Open("image:airbyte/source-faker:6.2.0")
	if !errors.Is(err, source.ErrNoContainerEngine) || !strings.Contains(err.Error(), "exec:") {
		t.Fatalf("err = %v, want ErrNoContainerEngine pointing to exec:", err)
	}
}

// A fake engine stands in for docker: it answers `info`, and runs the test
// source for `run`, with the mounted folder mapped back to the host.
func TestImageWithFakeEngine(t *testing.T) {
	ts := testSourcePath(t)
	bin := t.TempDir()
	script := `#!/bin/sh
case "$1" in
info) echo '{}'; exit 0;;
kill) exit 0;;
run) shift ;;
*) echo "fake docker: unexpected $1" >&2; exit 125;;
esac
printf '%s\n' "$@" > "$(dirname "$0")/args"
host=""
while [ $# -gt 0 ]; do
  case "$1" in
  --rm|-i|--read-only) shift;;
  --name|--tmpfs|--cap-drop|--security-opt|--memory|--memory-swap|--cpus|--pids-limit|--ulimit|--network|-e) shift 2;;
  -v) host="${2%%:/tmp/lakeport:ro}"; shift 2;;
  *) break;;
  esac
done
image="$1"; shift
[ "$image" = "example/source:1" ] || { echo "fake docker: no image $image" >&2; exit 125; }
args=""
for a in "$@"; do
  case "$a" in /tmp/lakeport/*) a="$host/${a#/tmp/lakeport/}";; esac
  args="$args $a"
done
exec ` + ts + ` $args
`
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	src, err := source.Open("image:example/source:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Spec(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := src.Read(context.Background(), json.RawMessage(twoStreams), catalogOf("users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Errorf("messages = %d, want 2 records and a state", len(msgs))
	}
	// The container runs read-only, without capabilities or new privileges,
	// within memory, CPU and process limits, with the run's files read-only.
	raw, err := os.ReadFile(filepath.Join(bin, "args"))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(strings.Split(strings.TrimSpace(string(raw)), "\n"), " ")
	for _, want := range []string{"--read-only", "--cap-drop ALL", "--security-opt no-new-privileges", "--memory 2147483648",
		"--memory-swap 2147483648", "--cpus 1", "--pids-limit 512", "-e LANG=C.UTF-8", ":/tmp/lakeport:ro example/source:1"} {
		if !strings.Contains(args, want) {
			t.Errorf("container args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "LAKEPORT") || strings.Contains(args, "AWS_") {
		t.Errorf("the container is given the server's environment: %s", args)
	}
	missing, err := source.Open("image:example/missing:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = missing.Spec(context.Background())
	if ee, ok := source.IsExitError(err); !ok || ee.Code != 125 || !strings.Contains(err.Error(), "no image") {
		t.Errorf("missing image: %v", err)
	}
}
