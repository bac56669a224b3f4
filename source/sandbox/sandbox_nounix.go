//go:build !unix

package sandbox

import "errors"

// run cannot start programs outside Unix.
func run(Spec, string, []string, []string) error {
	return errors.New("source programs run only on Unix systems")
}

// LandlockABI is 0: Landlock is Linux's.
func LandlockABI() int { return 0 }
