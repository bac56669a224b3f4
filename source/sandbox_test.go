package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/sandbox"
)

// probeRecord is one RECORD of the test source's "probe" stream.
type probeRecord struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Value    string `json:"value"`
	Readable bool   `json:"readable"`
}

// probe reads the test source's report of what it was given.
func probe(t *testing.T, reg *source.Registry, paths ...string) []probeRecord {
	t.Helper()
	src, err := reg.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"api_key": "k", "probe": paths})
	st, err := src.Read(context.Background(), cfg, catalogOf("probe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []probeRecord
	for {
		m, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeRecord && m.Record.Stream == "probe" {
			var r probeRecord
			if err := json.Unmarshal(m.Record.Data, &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
	}
	return out
}

// TestProgramGetsNothingItWasNotGiven runs the test source in a process that
// holds what a lakeport server holds (secrets in its environment, a data dir,
// an open descriptor without close-on-exec) and has it report what it sees.
func TestProgramGetsNothingItWasNotGiven(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the file-system sandbox is Linux's (Landlock)")
	}
	if sandbox.LandlockABI() == 0 {
		t.Fatal("this kernel has no Landlock: the data dir cannot be hidden from sources")
	}
	t.Setenv("LAKEPORT_SECRET_KEY", "c2VjcmV0LWtleS1vZi10aGUtc2VydmVy")
	t.Setenv("LAKEPORT_DATABASE_URL", "postgres://lakeport:pw@db/lakeport")
	t.Setenv("DATABASE_URL", "postgres://lakeport:pw@db/lakeport")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	// The operator lets sources read a folder that holds the data dir: the data
	// dir stays out of reach, its sibling does not.
	base := t.TempDir()
	dataDir, shared := filepath.Join(base, "data"), filepath.Join(base, "shared")
	for _, d := range []string{dataDir, shared} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secret.key", "lakeport.db", "admin.token"} {
		if err := os.WriteFile(filepath.Join(dataDir, f), []byte("server secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A descriptor the server holds open without close-on-exec (as C code may).
	leak, err := syscall.Open(filepath.Join(dataDir, "secret.key"), syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)

	runs := t.TempDir()
	reg := source.NewRegistry()
	reg.Allow = source.MustAllowList("exec:" + testSourcePath(t))
	reg.Options = source.ProcessOptions{TempDir: runs, Read: []string{base}, Deny: []string{dataDir}, Env: []string{"OPERATOR_SETTING=on"},
		CPU: 90 * time.Second, Memory: 1 << 30}
	report := probe(t, reg, dataDir, filepath.Join(dataDir, "secret.key"), "/usr/bin", shared, runs)

	env := map[string]string{}
	var cwd string
	for _, r := range report {
		switch r.Kind {
		case "env":
			env[r.Name] = r.Value
		case "cwd":
			cwd = r.Name
		}
	}
	for k := range env {
		switch k {
		case "PATH", "LANG", "HOME", "TMPDIR", "OPERATOR_SETTING":
		default:
			t.Errorf("the program was given %s=%s", k, env[k])
		}
	}
	if env["OPERATOR_SETTING"] != "on" || env["PATH"] != source.DefaultPath || env["LANG"] != "C.UTF-8" {
		t.Errorf("environment %v", env)
	}
	if cwd == "" || !strings.HasPrefix(cwd, runs+"/") || strings.HasPrefix(cwd, dataDir) {
		t.Errorf("working directory %q, want a folder of its own under %s", cwd, runs)
	}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if !strings.HasPrefix(env[k], cwd+"/") {
			t.Errorf("%s=%s is not inside the run's folder %s", k, env[k], cwd)
		}
	}
	for _, r := range report {
		switch {
		case r.Kind == "fd" && strings.HasPrefix(r.Value, dataDir):
			t.Errorf("descriptor %s of the server (%s) survived into the program", r.Name, r.Value)
		case r.Kind == "parent_env" && r.Readable:
			t.Errorf("the program read the server's environment from /proc: %.80s", r.Value)
		case r.Kind == "file" && strings.HasPrefix(r.Name, dataDir) && r.Readable:
			t.Errorf("the program read %s in the data dir", r.Name)
		case r.Kind == "file" && r.Name == runs && r.Readable:
			t.Errorf("the program listed the folder of other runs %s", runs)
		case r.Kind == "file" && (r.Name == "/usr/bin" || r.Name == shared) && !r.Readable:
			t.Errorf("the program cannot read %s (%s): the sandbox is too tight", r.Name, r.Value)
		case r.Kind == "limit" && strings.HasPrefix(r.Name, "Max cpu time") && !strings.Contains(r.Name, " 90 "):
			t.Errorf("CPU limit: %s", r.Name)
		case r.Kind == "limit" && strings.HasPrefix(r.Name, "Max data size") && !strings.Contains(r.Name, fmt.Sprint(1<<30)):
			t.Errorf("memory limit: %s", r.Name)
		case r.Kind == "limit" && strings.HasPrefix(r.Name, "Max core file size") && !strings.Contains(r.Name, " 0 "):
			t.Errorf("core files: %s", r.Name)
		}
	}
	if _, err := os.Stat(cwd); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run's folder %s is still there: %v", cwd, err)
	}
}

func TestCPULimitEndsTheProgram(t *testing.T) {
	reg := source.NewRegistry()
	reg.Allow = source.MustAllowList("exec:*")
	reg.Options.CPU = time.Second
	src, err := reg.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.Read(context.Background(), json.RawMessage(`{"api_key":"k","burn":true}`), catalogOf("users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = drain(t, st)
	st.Close()
	if err == nil || !strings.Contains(err.Error(), "CPU-time limit") {
		t.Fatalf("a program spinning past its CPU limit: %v", err)
	}
}

func TestMemoryLimitEndsTheProgram(t *testing.T) {
	reg := source.NewRegistry()
	reg.Allow = source.MustAllowList("exec:*")
	reg.Options.Memory = 64 << 20
	var log syncBuffer // the operator's log gets the whole stderr (the error keeps its end)
	reg.Options.Stderr = &log
	src, err := reg.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	read := func(mb int) error {
		st, err := src.Read(context.Background(), json.RawMessage(fmt.Sprintf(`{"api_key":"k","allocate_mb":%d}`, mb)), catalogOf("users"), nil)
		if err != nil {
			return err
		}
		_, _, err = drain(t, st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err := read(8); err != nil {
		t.Fatalf("8 MiB within a 64 MiB limit: %v", err)
	}
	err = read(256)
	if _, ok := source.IsExitError(err); !ok || !strings.Contains(log.String(), "out of memory") {
		t.Fatalf("256 MiB past a 64 MiB limit: %v\n%.300s", err, log.String())
	}
}

func TestCommandTimeout(t *testing.T) {
	reg := source.NewRegistry()
	reg.Allow = source.MustAllowList("exec:*")
	reg.Options.CommandTimeout = 500 * time.Millisecond
	src, err := reg.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Discover(context.Background(), json.RawMessage(`{"api_key":"k","hang":true}`))
	if !errors.Is(err, source.ErrTimeout) || !strings.Contains(err.Error(), "sources.command_timeout") {
		t.Fatalf("a discover that never ends: %v", err)
	}
}

// TestErrorsMaskSecretsAndStayShort: what the connector writes to stderr and
// its error messages reach people with its secret config values masked, and
// only the end of stderr is kept.
func TestErrorsMaskSecretsAndStayShort(t *testing.T) {
	const key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	cfg, _ := json.Marshal(map[string]any{"api_key": key, "exit_code": 3,
		"trace_error": "the API refused key " + key,
		"stderr":      strings.Repeat("noise\n", 2000) + "auth failed for " + key + " on stream users\n"})
	src, err := source.Open("exec:" + testSourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Discover(context.Background(), cfg)
	ee, ok := source.IsExitError(err)
	if !ok {
		t.Fatalf("discover: %v", err)
	}
	if strings.Contains(err.Error(), key) || strings.Contains(ee.Stderr, key) || strings.Contains(ee.TraceError, key) {
		t.Fatalf("the secret reached the error: %v", err)
	}
	if !strings.Contains(ee.Stderr, "auth failed for "+source.Redacted+" on stream users") {
		t.Errorf("stderr %q: want the secret masked and the rest kept", ee.Stderr)
	}
	if len(ee.Stderr) > 3<<10 {
		t.Errorf("stderr kept: %d bytes", len(ee.Stderr))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
