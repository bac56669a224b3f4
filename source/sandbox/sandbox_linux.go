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
)

// The shim runs in package init, before the rest of lakeport's packages (see
// Main): so it uses only the standard library, and these kernel constants
// (the same on every Linux architecture Go supports but a few old ones).
const (
	sysCloseRange                     = 436
	sysLandlockCreateRuleset          = 444
	sysLandlockAddRule                = 445
	sysLandlockRestrictSelf           = 446
	closeRangeCloexec                 = 1 << 2
	oPath                             = 0x200000
	prSetNoNewPrivs                   = 38
	prCapbsetDrop                     = 24
	prCapAmbient                      = 47
	prCapAmbientClearAll              = 4
	linuxCapabilityVersion3           = 0x20080522
	landlockCreateRulesetVer          = 1
	landlockRulePathBeneath           = 1
	landlockScopeAbstractUnix         = 1
	landlockScopeSignal               = 2
	landlockFsExecute                 = 1 << 0
	landlockFsWriteFile               = 1 << 1
	landlockFsReadFile                = 1 << 2
	landlockFsReadDir                 = 1 << 3
	landlockFsRefer                   = 1 << 13
	landlockFsTruncate                = 1 << 14
	landlockFsIoctlDev                = 1 << 15
	landlockFsAllABI1                 = 1<<13 - 1 // EXECUTE … MAKE_SYM
	rlimitCPU, rlimitData, rlimitCore = 0, 2, 4
)

// rulesetAttr and pathBeneathAttr are the kernel's landlock_ruleset_attr
// (up to ABI 6) and landlock_path_beneath_attr (packed: 12 bytes).
type rulesetAttr struct {
	handledFS, handledNet, scoped uint64
}

type pathBeneathAttr struct {
	allowed  uint64
	parentFD int32
}

func prctl(op, arg uintptr) error {
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, op, arg, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// run applies spec to this process and executes program. It returns only on failure.
func run(spec Spec, program string, argv, env []string) error {
	// no_new_privs, Landlock and capabilities are set per thread, and execve
	// runs with the calling thread's: all of it happens on this one thread.
	runtime.LockOSThread()
	if err := closeOnExec(); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	if err := prctl(prSetNoNewPrivs, 1); err != nil {
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
	}{{res: rlimitCore}}
	if spec.CPU > 0 {
		secs := uint64((spec.CPU + 999_999_999) / 1_000_000_000)
		limits = append(limits, struct {
			res      int
			cur, max uint64
		}{rlimitCPU, secs, secs + 1})
	}
	if spec.Memory > 0 {
		limits = append(limits, struct {
			res      int
			cur, max uint64
		}{rlimitData, uint64(spec.Memory), uint64(spec.Memory)})
	}
	for _, l := range limits {
		lim := syscall.Rlimit{Cur: l.cur, Max: l.max}
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, 0, uintptr(l.res), uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
			return fmt.Errorf("setrlimit %d: %w", l.res, e)
		}
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return fmt.Errorf("exec %s: %w", program, e)
}

// closeOnExec marks every descriptor above stderr close-on-exec, whoever
// opened it (Go does so itself; C libraries linked into lakeport may not).
func closeOnExec() error {
	_, _, e := syscall.Syscall(sysCloseRange, 3, ^uintptr(0), closeRangeCloexec)
	if e == 0 {
		return nil
	}
	ents, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return errors.Join(e, rerr)
	}
	for _, ent := range ents {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil || fd < 3 {
			continue
		}
		syscall.CloseOnExec(fd)
	}
	return nil
}

// LandlockABI returns the kernel's Landlock ABI version, 0 when it has none.
func LandlockABI() int {
	v, _, e := syscall.Syscall(sysLandlockCreateRuleset, 0, 0, landlockCreateRulesetVer)
	if e != 0 {
		return 0
	}
	return int(v)
}

const (
	fsRead = landlockFsExecute | landlockFsReadFile | landlockFsReadDir
	// fileRights are the rights that apply to a file (not a folder).
	fileRights = landlockFsExecute | landlockFsReadFile | landlockFsWriteFile | landlockFsTruncate | landlockFsIoctlDev
)

// handled is every file-system right the kernel's ABI knows.
func handled(abi int) uint64 {
	h := uint64(landlockFsAllABI1)
	if abi >= 2 {
		h |= landlockFsRefer
	}
	if abi >= 3 {
		h |= landlockFsTruncate
	}
	if abi >= 5 {
		h |= landlockFsIoctlDev
	}
	return h
}

func landlock(abi int, fs FileSystem) error {
	all := handled(abi)
	attr := rulesetAttr{handledFS: all}
	size := unsafe.Sizeof(attr.handledFS) // ABI 1-3
	if abi >= 6 {
		// Signals and abstract sockets reach only processes in this sandbox.
		attr.scoped = landlockScopeSignal | landlockScopeAbstractUnix
		size = unsafe.Sizeof(attr)
	} else if abi >= 4 {
		size = unsafe.Offsetof(attr.scoped)
	}
	fd, _, e := syscall.Syscall(sysLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return fmt.Errorf("create ruleset: %w", e)
	}
	ruleset := int(fd)
	defer syscall.Close(ruleset)

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
		if err := grant(ruleset, p, landlockFsReadFile|landlockFsWriteFile); err != nil {
			return err
		}
	}
	if _, _, e := syscall.Syscall(sysLandlockRestrictSelf, uintptr(ruleset), 0, 0); e != 0 {
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
	fd, err := syscall.Open(path, oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		access &= fileRights
	}
	rule := pathBeneathAttr{allowed: access, parentFD: int32(fd)}
	if _, _, e := syscall.Syscall6(sysLandlockAddRule, uintptr(ruleset), landlockRulePathBeneath,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		return fmt.Errorf("add rule for %s: %w", path, e)
	}
	return nil
}

// capHeader and capData are the kernel's capability header and data (v3: two words).
type capHeader struct {
	version uint32
	pid     int32
}

type capData struct {
	effective, permitted, inheritable uint32
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
		if err := prctl(prCapbsetDrop, uintptr(c)); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("bounding set %d: %w", c, err)
		}
	}
	_, _, _ = syscall.RawSyscall6(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClearAll, 0, 0, 0, 0)
	hdr := capHeader{version: linuxCapabilityVersion3}
	var data [2]capData
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	return nil
}
