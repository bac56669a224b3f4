package worker

import (
	"encoding/gob"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one worker process: its private folder, the control socket (gob)
// and the file socket (descriptors of a query's local files).
type proc struct {
	cmd     *exec.Cmd
	dir     string
	ctrl    net.Conn
	files   *net.UnixConn
	enc     *gob.Encoder
	dec     *gob.Decoder
	stderr  *tail
	queries int

	exited  chan struct{} // closed when the process has been waited for
	waitErr error

	mu     sync.Mutex
	killed error  // why the parent killed it (nil: it was not)
	query  uint64 // which query it runs; a kill for another is ignored
}

// maxFDsPerMessage stays under the kernel's SCM_MAX_FD (253).
const maxFDsPerMessage = 250

// socketpair returns the two ends of a unix socket of type typ: the parent's
// as a net.Conn, the child's as a file to inherit.
func socketpair(typ int) (net.Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "worker-parent")
	defer parent.Close()
	conn, err := net.FileConn(parent)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	return conn, os.NewFile(uintptr(fds[1]), "worker-child"), nil
}

// start starts one worker process with the pool's limits.
func (p *Pool) start() (_ *proc, err error) {
	dir, err := os.MkdirTemp(p.cfg.Dir, "lakeport-query-")
	if err != nil {
		return nil, fmt.Errorf("worker: private folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	ctrl, ctrlChild, err := socketpair(unix.SOCK_STREAM)
	if err != nil {
		return nil, err
	}
	files, filesChild, err := socketpair(unix.SOCK_DGRAM)
	if err != nil {
		ctrl.Close()
		ctrlChild.Close()
		return nil, err
	}
	cmd := p.cfg.Command()
	cmd.Dir = dir
	// Nothing of the server's environment: no secrets, no credentials.
	env := append([]string{}, cmd.Env...)
	env = append(env, "HOME="+dir, "TMPDIR="+dir, "LANG=C.UTF-8")
	if tz := os.Getenv("TZ"); tz != "" {
		env = append(env, "TZ="+tz)
	}
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{ctrlChild, filesChild} // fds 3 and 4; nothing else is inherited
	cmd.Stdin, cmd.Stdout = nil, nil
	pr := &proc{cmd: cmd, dir: dir, ctrl: ctrl, files: files.(*net.UnixConn), stderr: &tail{max: 16 << 10}, exited: make(chan struct{})}
	cmd.Stderr = pr.stderr
	// The worker dies with the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	ctrlChild.Close()
	filesChild.Close()
	if err != nil {
		ctrl.Close()
		files.Close()
		return nil, fmt.Errorf("worker: start %s: %w", cmd.Path, err)
	}
	go func() {
		pr.waitErr = cmd.Wait()
		close(pr.exited)
	}()
	// Limits go on before the worker has its settings, so before DuckDB
	// exists in it: its data memory (heap, DuckDB's buffers, stacks) and no
	// core dumps of an organization's data.
	pid := cmd.Process.Pid
	limits := []struct {
		res int
		n   uint64
	}{{unix.RLIMIT_DATA, uint64(p.cfg.ProcessMemory)}, {unix.RLIMIT_CORE, 0}}
	for _, l := range limits {
		if err := unix.Prlimit(pid, l.res, &unix.Rlimit{Cur: l.n, Max: l.n}, nil); err != nil {
			pr.kill(errors.New("limits"))
			pr.close()
			return nil, fmt.Errorf("worker: set the limits of process %d: %w", pid, err)
		}
	}
	pr.enc, pr.dec = gob.NewEncoder(ctrl), gob.NewDecoder(ctrl)
	if err := pr.enc.Encode(message{Setup: &setup{Props: p.cfg.EngineProps}}); err != nil {
		pr.kill(errors.New("setup"))
		pr.close()
		return nil, fmt.Errorf("worker: set up process %d: %w", pid, err)
	}
	return pr, nil
}

// kill ends the process at once (SIGKILL), recording why.
func (pr *proc) kill(why error) {
	pr.mu.Lock()
	if pr.killed == nil {
		pr.killed = why
	}
	pr.mu.Unlock()
	pr.cmd.Process.Kill()
}

// begin starts query n on the process: killQuery(n, …) applies until end.
func (pr *proc) begin() uint64 {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.query++
	return pr.query
}

// end ends the current query: its late killers (timer, cancel) do nothing.
func (pr *proc) end() {
	pr.mu.Lock()
	pr.query++
	pr.mu.Unlock()
}

// killQuery kills the process if it still runs query n.
func (pr *proc) killQuery(n uint64, why error) {
	pr.mu.Lock()
	current := pr.query == n
	pr.mu.Unlock()
	if current {
		pr.kill(why)
	}
}

func (pr *proc) killedFor() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.killed
}

// close closes the sockets (a waiting worker then exits), waits for the
// process and removes its folder.
func (pr *proc) close() {
	pr.ctrl.Close()
	pr.files.Close()
	select {
	case <-pr.exited:
	case <-time.After(5 * time.Second):
		pr.kill(errors.New("did not exit"))
		<-pr.exited
	}
	os.RemoveAll(pr.dir)
}

// died describes how the process ended, once it has.
func (pr *proc) died() string {
	<-pr.exited
	var ee *exec.ExitError
	if errors.As(pr.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if pr.waitErr != nil {
		return pr.waitErr.Error()
	}
	return "exited"
}

// sendFiles passes open files to the worker, in order, over the file socket.
func (pr *proc) sendFiles(files []*os.File) error {
	for len(files) > 0 {
		n := min(len(files), maxFDsPerMessage)
		fds := make([]int, n)
		for i, f := range files[:n] {
			fds[i] = int(f.Fd())
		}
		if _, _, err := pr.files.WriteMsgUnix([]byte{byte(n)}, unix.UnixRights(fds...), nil); err != nil {
			return fmt.Errorf("worker: pass files: %w", err)
		}
		files = files[n:]
	}
	return nil
}

// receiveFiles receives n files the parent passed (in the worker).
func receiveFiles(conn *net.UnixConn, n int) ([]*os.File, error) {
	var out []*os.File
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*maxFDsPerMessage))
	for len(out) < n {
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("worker: receive files: %w", err)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("worker: receive files: %w", err)
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				closeAll(out)
				return nil, fmt.Errorf("worker: receive files: %w", err)
			}
			for _, fd := range fds {
				unix.CloseOnExec(fd)
				out = append(out, os.NewFile(uintptr(fd), "table-file"))
			}
		}
	}
	if len(out) != n {
		closeAll(out)
		return nil, fmt.Errorf("worker: received %d files, want %d", len(out), n)
	}
	return out, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// tail keeps the last max bytes written to it: a worker's stderr, for the
// server's log when the worker dies.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
