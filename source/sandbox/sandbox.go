// Package sandbox starts a source program with nothing it was not given.
//
// Go cannot set resource limits, file-system rules or capabilities on a
// child between fork and exec, so lakeport starts its own binary as a small
// shim (Arg as the first argument, see [Command]) that applies them to
// itself and then replaces itself with the program (execve). What the shim
// sets is inherited by everything the program starts:
//
//   - no descriptor but stdin, stdout and stderr survives the exec;
//   - no new privileges (setuid binaries do not elevate), and, when lakeport
//     runs as root, no capabilities at all;
//   - CPU-time and data-size limits (RLIMIT_CPU, RLIMIT_DATA), and no core
//     files;
//   - on Linux with Landlock (5.13 and later), a file-system view of
//     read-only system folders plus the run's own folder: the data dir, the
//     config file and everything else of the server are out of reach, and
//     so are the server's process (its environment in /proc, signals).
//
// The shim runs from this package's init: a binary that links package
// source (lakeport, and every test binary that runs sources) becomes the shim
// when started with Arg, without a line in its main. Go initializes a package
// as soon as its imports are (the first such in import-path order), and this
// package imports only the standard library, so it runs before lakeport's
// heavy dependencies initialize (iceberg-go's alone takes a good part of a
// second): starting a program costs little more than an exec.
package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Arg is the first argument that makes a lakeport binary the shim.
const Arg = "__lakeport-source-sandbox"

// Spec is what the shim applies before it runs the program.
type Spec struct {
	// CPU is the CPU-time limit (RLIMIT_CPU, whole seconds); zero: none.
	CPU time.Duration `json:"cpu,omitempty"`
	// Memory is the data-size limit in bytes (RLIMIT_DATA: heap and private
	// mappings); zero: none.
	Memory int64 `json:"memory,omitempty"`
	// FileSystem, when set, restricts the program to these paths (Landlock).
	FileSystem *FileSystem `json:"fs,omitempty"`
}

// FileSystem is the program's view of the files: everything not granted here
// is denied.
type FileSystem struct {
	// Read are folders and files the program may read and execute.
	Read []string `json:"read"`
	// Write are folders the program may read, write, create and delete in.
	Write []string `json:"write"`
	// Devices are device files it may read and write (/dev/null, ...).
	Devices []string `json:"devices"`
	// Deny are paths taken out of Read even when a Read folder holds them
	// (the data dir, the config file): their siblings are granted instead.
	Deny []string `json:"deny"`
}

// DefaultRead are the system folders every program may read and execute
// (those that exist): binaries, libraries, certificates and /proc and /sys.
var DefaultRead = []string{"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/nix"}

// DefaultDevices are the device files every program may use.
var DefaultDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}

// Command returns the argv that runs program with args under spec, through
// the lakeport binary self.
func Command(self string, spec Spec, program string, args []string) ([]string, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return append([]string{self, Arg, string(raw), program}, args...), nil
}

func init() { shim() }

// shim turns this process into the shim when it was started as one (never
// returning); otherwise it returns at once.
func shim() {
	if len(os.Args) < 4 || os.Args[1] != Arg {
		return
	}
	var spec Spec
	if err := json.Unmarshal([]byte(os.Args[2]), &spec); err != nil {
		fail("bad spec: %v", err)
	}
	err := run(spec, os.Args[3], os.Args[3:], os.Environ())
	fail("%v", err) // run returns only when it could not run the program
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "lakeport sandbox: "+format+"\n", args...)
	os.Exit(126)
}
