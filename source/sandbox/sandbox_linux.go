package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// run applies spec to this process and executes program. It returns only on failure.
func run(spec Spec, program string, argv, env []string) error {
	// no_new_privs, Landlock and capabilities are set per thread, and execve
	// runs with the calling thread's: all of it happens on this one thread.
	runtime.LockOSThread()
	if err := closeOnExec(); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if spec.FileSystem != nil {
		if abi := LandlockABI(); abi > 0 {
			if err := landlock(abi, *spec.FileSystem); err != nil {
				return fmt.Errorf("landlock: %w", err)
			}
		}
	}
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		if err := dropCapabilities(); err != nil {
			return fmt.Errorf("drop capabilities: %w", err)
		}
	}
	// Everything execve needs is allocated before the limits: once the data
	// limit is set, the Go runtime of this shim may not get more memory.
	argv0, err := syscall.BytePtrFromString(program)
	if err != nil {
		return err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	// The CPU limit's hard value is a second above the soft one: the
	// program gets SIGXCPU (and may say why it stops) before SIGKILL.
	limits := []struct {
		res      int
		cur, max uint64
	}{{res: unix.RLIMIT_CORE}}
	if spec.CPU > 0 {
		secs := uint64((spec.CPU + 999_999_999) / 1_000_000_000)
		limits = append(limits, struct {
			res      int
			cur, max uint64
		}{unix.RLIMIT_CPU, secs, secs + 1})
	}
	if spec.Memory > 0 {
		limits = append(limits, struct {
			res      int
			cur, max uint64
		}{unix.RLIMIT_DATA, uint64(spec.Memory), uint64(spec.Memory)})
	}
	for _, l := range limits {
		lim := unix.Rlimit{Cur: l.cur, Max: l.max}
		if _, _, e := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(l.res), uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
			return fmt.Errorf("setrlimit %d: %w", l.res, e)
		}
	}
	_, _, e := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return fmt.Errorf("exec %s: %w", program, e)
}

// closeOnExec marks every descriptor above stderr close-on-exec, whoever
// opened it (Go does so itself; C libraries linked into lakeport may not).
func closeOnExec() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	ents, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}

// LandlockABI returns the kernel's Landlock ABI version, 0 when it has none.
func LandlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

const (
	fsRead = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	// fileRights are the rights that apply to a file (not a folder).
	fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// handled is every file-system right the kernel's ABI knows.
func handled(abi int) uint64 {
	h := uint64(0x1fff) // ABI 1: EXECUTE … MAKE_SYM
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return h
}

func landlock(abi int, fs FileSystem) error {
	all := handled(abi)
	attr := unix.LandlockRulesetAttr{Handled_access_fs: all}
	size := unsafe.Sizeof(attr.Handled_access_fs) // ABI 1-3
	if abi >= 6 {
		// Signals and abstract sockets reach only processes in this sandbox.
		attr.Scoped = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		size = unsafe.Offsetof(attr.Scoped) + unsafe.Sizeof(attr.Scoped)
	} else if abi >= 4 {
		size = unsafe.Offsetof(attr.Handled_access_net) + unsafe.Sizeof(attr.Handled_access_net)
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return fmt.Errorf("create ruleset: %w", e)
	}
	ruleset := int(fd)
	defer unix.Close(ruleset)

	deny := make([]string, 0, len(fs.Deny))
	for _, d := range fs.Deny {
		if d = clean(d); d != "" {
			deny = append(deny, d)
		}
	}
	for _, p := range fs.Read {
		if err := grantExcept(ruleset, clean(p), fsRead, deny); err != nil {
			return err
		}
	}
	for _, p := range fs.Write {
		if err := grant(ruleset, clean(p), all); err != nil {
			return err
		}
	}
	for _, p := range fs.Devices {
		if err := grant(ruleset, p, unix.LANDLOCK_ACCESS_FS_READ_FILE|unix.LANDLOCK_ACCESS_FS_WRITE_FILE); err != nil {
			return err
		}
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); e != 0 {
		return fmt.Errorf("restrict self: %w", e)
	}
	return nil
}

// clean makes p absolute, clean and free of symbolic links (so a denied
// path compares with the paths it would be reached through).
func clean(p string) string {
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// grantExcept grants access beneath root, except beneath each denied path:
// a folder that holds one is granted entry by entry instead.
func grantExcept(ruleset int, root string, access uint64, deny []string) error {
	if root == "" {
		return nil
	}
	for _, d := range deny {
		if d == root || within(root, d) {
			return nil // root is denied itself
		}
	}
	var inside []string
	for _, d := range deny {
		if within(d, root) {
			inside = append(inside, d)
		}
	}
	if len(inside) == 0 {
		return grant(ruleset, root, access)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil // unreadable: nothing to grant
	}
	for _, e := range ents {
		if err := grantExcept(ruleset, filepath.Join(root, e.Name()), access, inside); err != nil {
			return err
		}
	}
	return nil
}

// within reports whether p lies strictly beneath dir.
func within(p, dir string) bool {
	return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// grant adds a rule for path; a path that does not exist is skipped.
func grant(ruleset int, path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= fileRights
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		return fmt.Errorf("add rule for %s: %w", path, e)
	}
	return nil
}

// dropCapabilities empties the bounding, ambient, inheritable, permitted and
// effective sets, so a program run as root keeps none (after execve, root
// gets only what the bounding set allows).
func dropCapabilities() error {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("bounding set %d: %w", c, err)
		}
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	return unix.Capset(&hdr, &data[0])
}
