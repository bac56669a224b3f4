//go:build race

package maintain_test

// scale shrinks a test's number of syncs under the race detector, which makes each
// about ten times slower.
func scale(n int) int { return max(n/3, 3) }
