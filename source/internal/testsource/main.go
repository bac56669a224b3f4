// Command testsource is a tiny program speaking the Airbyte protocol, for
// testing the exec: and image: runners. Its config tells it what to do:
//
//	{
//	  "streams": [{"name": "users", "records": [{"id": 1}], "json_schema": {…}}],
//	  "state": true,              // a STATE after each stream's records
//	  "plain_text": "hello",      // print a non-JSON line first
//	  "malformed": true,          // print a truncated JSON line
//	  "unknown_stream": true,     // a RECORD for stream "ghost"
//	  "oversized": 100000,        // a RECORD whose data is this many bytes
//	  "stderr": "text",           // written to stderr before exiting
//	  "exit_code": 3,             // exit status after the output
//	  "trace_error": "msg",       // a TRACE ERROR (config_error) before exiting
//	  "check_fail": "msg",        // check answers FAILED with this message
//	  "report_files": true,       // a LOG naming the config path and its mode
//	  "hang": true,               // after the output, sleep until killed
//	  "spawn_child": true,        // with hang: start a child (LOG "child <pid>") that sleeps too
//	  "probe": ["/path", …],      // read: RECORDs on stream "probe" of what the program was given:
//	                              //   {"kind":"env","name":K,"value":V} per variable, {"kind":"cwd",...},
//	                              //   {"kind":"fd","name":N} per open descriptor, {"kind":"limit",...}
//	                              //   from /proc/self/limits, {"kind":"file","name":P,"readable":B}
//	                              //   per path (a folder is listed, a file read), {"kind":"parent_env",…}
//	  "burn": true,               // spin on the CPU until stopped
//	  "allocate_mb": 512,         // allocate and touch this much memory, then report it
//	  "lines": ["{…}", …],        // read prints these lines verbatim instead of records
//	  "want_state": …             // read fails (exit 7) unless handed exactly this state
//	}
//
// Run as: testsource spec | check --config F | discover --config F |
// read --config F --catalog F [--state F].
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

type config struct {
	Streams []struct {
		Name       string            `json:"name"`
		Records    []json.RawMessage `json:"records"`
		JSONSchema json.RawMessage   `json:"json_schema"`
	} `json:"streams"`
	State         bool            `json:"state"`
	PlainText     string          `json:"plain_text"`
	Malformed     bool            `json:"malformed"`
	UnknownStream bool            `json:"unknown_stream"`
	Oversized     int             `json:"oversized"`
	Stderr        string          `json:"stderr"`
	ExitCode      int             `json:"exit_code"`
	TraceError    string          `json:"trace_error"`
	CheckFail     string          `json:"check_fail"`
	ReportFiles   bool            `json:"report_files"`
	Hang          bool            `json:"hang"`
	SpawnChild    bool            `json:"spawn_child"`
	Lines         []string        `json:"lines"`
	WantState     json.RawMessage `json:"want_state"`
	Probe         []string        `json:"probe"`
	Burn          bool            `json:"burn"`
	AllocateMB    int             `json:"allocate_mb"`
}

var out = bufio.NewWriter(os.Stdout)

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out.Write(b)
	out.WriteByte('\n')
}

func logf(format string, args ...any) {
	emit(map[string]any{"type": "LOG", "log": map[string]any{"level": "INFO", "message": fmt.Sprintf(format, args...)}})
}

const spec = `{"type":"object","required":["api_key"],"properties":{"api_key":{"type":"string","airbyte_secret":true},"streams":{"type":"array"},"exit_code":{"type":"integer","minimum":0}}}`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testsource spec|check|discover|read [--config F] [--catalog F] [--state F]")
		os.Exit(2)
	}
	if os.Args[1] == "sleep" { // the child of spawn_child
		time.Sleep(time.Hour)
		return
	}
	verb := os.Args[1]
	fs := flag.NewFlagSet(verb, flag.ExitOnError)
	configPath := fs.String("config", "", "")
	catalogPath := fs.String("catalog", "", "")
	statePath := fs.String("state", "", "")
	fs.Parse(os.Args[2:])

	if verb == "spec" {
		emit(map[string]any{"type": "SPEC", "spec": map[string]any{"connectionSpecification": json.RawMessage(spec), "supportsIncremental": true}})
		out.Flush()
		return
	}
	var cfg config
	b, err := os.ReadFile(*configPath)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsource: config:", err)
		os.Exit(2)
	}
	if cfg.ReportFiles {
		fi, err := os.Stat(*configPath)
		if err != nil {
			panic(err)
		}
		logf("config %s mode %o", *configPath, fi.Mode().Perm())
	}
	if cfg.PlainText != "" {
		fmt.Fprintln(out, cfg.PlainText)
	}
	switch verb {
	case "check":
		st := map[string]any{"status": "SUCCEEDED"}
		if cfg.CheckFail != "" {
			st = map[string]any{"status": "FAILED", "message": cfg.CheckFail}
		}
		if cfg.TraceError == "" {
			emit(map[string]any{"type": "CONNECTION_STATUS", "connectionStatus": st})
		}
	case "discover":
		var streams []map[string]any
		for _, s := range cfg.Streams {
			var js any = map[string]any{"type": "object"}
			if len(s.JSONSchema) > 0 {
				js = s.JSONSchema
			}
			streams = append(streams, map[string]any{"name": s.Name, "json_schema": js,
				"supported_sync_modes": []string{"full_refresh", "incremental"}, "source_defined_primary_key": [][]string{{"id"}}})
		}
		emit(map[string]any{"type": "CATALOG", "catalog": map[string]any{"streams": streams}})
	case "read":
		read(cfg, *catalogPath, *statePath)
	default:
		fmt.Fprintln(os.Stderr, "testsource: unknown command", verb)
		os.Exit(2)
	}
	finish(cfg)
}

func read(cfg config, catalogPath, statePath string) {
	var catalog struct {
		Streams []struct {
			Stream struct {
				Name string `json:"name"`
			} `json:"stream"`
		} `json:"streams"`
	}
	b, err := os.ReadFile(catalogPath)
	if err == nil {
		err = json.Unmarshal(b, &catalog)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsource: catalog:", err)
		os.Exit(2)
	}
	prev := json.RawMessage("null")
	if statePath != "" {
		if prev, err = os.ReadFile(statePath); err != nil {
			fmt.Fprintln(os.Stderr, "testsource: state:", err)
			os.Exit(2)
		}
	}
	if len(cfg.WantState) > 0 && canonical(cfg.WantState) != canonical(prev) {
		fmt.Fprintf(os.Stderr, "testsource: handed state %s, want %s\n", prev, cfg.WantState)
		os.Exit(7)
	}
	for _, l := range cfg.Lines {
		fmt.Fprintln(out, l)
	}
	if cfg.Malformed {
		fmt.Fprintln(out, `{"type":"RECORD","record":{"stream":"users","data":{"id":`)
	}
	if cfg.UnknownStream {
		emit(map[string]any{"type": "RECORD", "record": map[string]any{"stream": "ghost", "data": map[string]any{"id": 0}, "emitted_at": 1}})
	}
	if cfg.Probe != nil {
		probe(cfg.Probe)
	}
	if cfg.AllocateMB > 0 {
		mem := make([][]byte, 0, cfg.AllocateMB)
		for i := 0; i < cfg.AllocateMB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			mem = append(mem, b)
		}
		logf("allocated %d MiB", len(mem))
	}
	if cfg.Burn {
		for x := 0; ; x++ {
			if x == -1 {
				break
			}
		}
	}
	if cfg.Oversized > 0 {
		emit(map[string]any{"type": "RECORD", "record": map[string]any{"stream": "users", "data": map[string]any{"pad": strings.Repeat("x", cfg.Oversized)}, "emitted_at": 1}})
	}
	for _, cs := range catalog.Streams {
		for _, s := range cfg.Streams {
			if s.Name != cs.Stream.Name {
				continue
			}
			for _, r := range s.Records {
				emit(map[string]any{"type": "RECORD", "record": map[string]any{"stream": s.Name, "data": r, "emitted_at": 1}})
			}
			if cfg.State {
				emit(map[string]any{"type": "STATE", "state": map[string]any{"type": "STREAM",
					"stream":      map[string]any{"stream_descriptor": map[string]any{"name": s.Name}, "stream_state": map[string]any{"count": len(s.Records), "previous": prev}},
					"sourceStats": map[string]any{"recordCount": float64(len(s.Records))}}})
			}
		}
	}
}

func finish(cfg config) {
	if cfg.TraceError != "" {
		emit(map[string]any{"type": "TRACE", "trace": map[string]any{"type": "ERROR", "emitted_at": 1,
			"error": map[string]any{"message": cfg.TraceError, "failure_type": "config_error"}}})
	}
	if cfg.Hang {
		if cfg.SpawnChild {
			child := exec.Command(os.Args[0], "sleep")
			if err := child.Start(); err != nil {
				panic(err)
			}
			logf("child %d", child.Process.Pid)
		}
		out.Flush()
		time.Sleep(time.Hour)
	}
	out.Flush()
	if cfg.Stderr != "" {
		fmt.Fprint(os.Stderr, cfg.Stderr)
	}
	os.Exit(cfg.ExitCode)
}

// probe reports what the program was given, as RECORDs of stream "probe".
func probe(paths []string) {
	rec := func(data map[string]any) {
		emit(map[string]any{"type": "RECORD", "record": map[string]any{"stream": "probe", "data": data, "emitted_at": 1}})
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		rec(map[string]any{"kind": "env", "name": k, "value": v})
	}
	wd, _ := os.Getwd()
	rec(map[string]any{"kind": "cwd", "name": wd})
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			rec(map[string]any{"kind": "fd", "name": e.Name(), "value": target})
		}
	}
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Max cpu time") || strings.HasPrefix(line, "Max data size") || strings.HasPrefix(line, "Max core file size") {
				rec(map[string]any{"kind": "limit", "name": line})
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid())); err == nil {
		rec(map[string]any{"kind": "parent_env", "readable": true, "value": strings.ReplaceAll(string(b), "\x00", "\n")})
	} else {
		rec(map[string]any{"kind": "parent_env", "readable": false, "value": err.Error()})
	}
	for _, p := range paths {
		var err error
		if fi, serr := os.Stat(p); serr == nil && fi.IsDir() {
			_, err = os.ReadDir(p)
		} else {
			_, err = os.ReadFile(p)
		}
		r := map[string]any{"kind": "file", "name": p, "readable": err == nil}
		if err != nil {
			r["value"] = err.Error()
		}
		rec(r)
	}
}

// canonical is JSON with sorted keys and no spaces, for comparing states.
func canonical(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
