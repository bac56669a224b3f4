package source

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lakeport/lakeport/source/sandbox"
)

// programCommand runs an exec: program through the sandbox shim: its own
// folder dir as working directory, HOME and TMPDIR inside it, an environment
// of PATH, LANG and what the operator adds, resource limits, and (on Linux)
// read access to the system folders and its own folder only.
func (s *procSource) programCommand(ctx context.Context, dir string, args []string) (*exec.Cmd, error) {
	home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	self := s.opts.Sandbox
	if self == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the lakeport binary for the sandbox: %w", err)
		}
		self = exe
	}
	read := append(slices.Clone(sandbox.DefaultRead), filepath.Dir(s.path))
	spec := sandbox.Spec{CPU: s.opts.CPU, Memory: s.opts.Memory, FileSystem: &sandbox.FileSystem{
		Read: append(read, s.opts.Read...), Write: []string{dir}, Devices: sandbox.DefaultDevices, Deny: s.opts.Deny}}
	argv, err := sandbox.Command(self, spec, s.path, args)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + s.opts.Path, "LANG=C.UTF-8", "HOME=" + home, "TMPDIR=" + tmp}, s.opts.Env...)
	return cmd, nil
}

// containerCommand runs an image: source: a read-only root with a private
// /tmp, no capabilities and no new privileges, memory, CPU and process
// limits, the operator's network, the run's files mounted read-only, and an
// environment of LANG, HOME, TMPDIR and what the operator adds.
func (s *procSource) containerCommand(ctx context.Context, name, dir string, args []string) (*exec.Cmd, error) {
	mem := strconv.FormatInt(s.opts.Memory, 10)
	argv := []string{"run", "--rm", "-i", "--name", name,
		"--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=" + mem,
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--memory", mem, "--memory-swap", mem, "--cpus", s.opts.ContainerCPUs, "--pids-limit", "512",
		"--ulimit", "core=0",
	}
	if s.opts.ContainerNetwork != "" {
		argv = append(argv, "--network", s.opts.ContainerNetwork)
	}
	for _, e := range append([]string{"LANG=C.UTF-8", "HOME=/tmp", "TMPDIR=/tmp"}, s.opts.Env...) {
		argv = append(argv, "-e", e)
	}
	argv = append(argv, "-v", dir+":"+containerDir+":ro", s.image)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, s.engine, argv...)
	cmd.Env = engineEnv(os.Environ())
	return cmd, nil
}

// engineEnv keeps of the server's environment what the container engine's
// client needs to find its engine and registry credentials; the container
// sees none of it (only the -e values).
func engineEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "HOME", k == "USER", k == "LANG",
			strings.HasPrefix(k, "DOCKER_"), strings.HasPrefix(k, "CONTAINER_"), strings.HasPrefix(k, "XDG_"):
			out = append(out, kv)
		}
	}
	return out
}
