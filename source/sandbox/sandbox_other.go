//go:build unix && !linux

package sandbox

import "syscall"

// run applies the resource limits the OS has and executes program; there is
// no file-system restriction outside Linux. It returns only on failure.
func run(spec Spec, program string, argv, env []string) error {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	if spec.CPU > 0 {
		s := uint64((spec.CPU + 999_999_999) / 1_000_000_000)
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: s, Max: s}); err != nil {
			return err
		}
	}
	if spec.Memory > 0 {
		m := uint64(spec.Memory)
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: m, Max: m}); err != nil {
			return err
		}
	}
	return syscall.Exec(program, argv, env)
}

// LandlockABI is 0: Landlock is Linux's.
func LandlockABI() int { return 0 }
