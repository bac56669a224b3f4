package query

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Slots shares query slots among organizations: at most total queries run at
// once, and at most perOrg of one organization. A freed slot goes to a waiting
// query of the organization running the fewest queries (the longest waiting
// among equals), so one organization's backlog never starves another's.
type Slots struct {
	total, perOrg int

	mu      sync.Mutex
	running int
	byOrg   map[string]int
	queue   []*slotWaiter
}

type slotWaiter struct {
	org     string
	granted chan struct{}
}

// Default slot counts: queries at once in all, and of one organization.
const (
	DefaultMaxConcurrent       = 4
	DefaultMaxConcurrentPerOrg = 2
)

// NewSlots returns slots for total queries at once, perOrg of one
// organization (0 takes the defaults; perOrg is at most total).
func NewSlots(total, perOrg int) *Slots {
	if total <= 0 {
		total = DefaultMaxConcurrent
	}
	if perOrg <= 0 {
		perOrg = DefaultMaxConcurrentPerOrg
	}
	return &Slots{total: total, perOrg: min(perOrg, total), byOrg: map[string]int{}}
}

// Acquire waits for a slot for org until ctx ends; release gives it back.
func (s *Slots) Acquire(ctx context.Context, org string) (release func(), err error) {
	s.mu.Lock()
	if s.running < s.total && s.byOrg[org] < s.perOrg && !s.waitingEligible() {
		s.take(org)
		s.mu.Unlock()
		return s.releaser(org), nil
	}
	w := &slotWaiter{org: org, granted: make(chan struct{})}
	s.queue = append(s.queue, w)
	full := s.byOrg[org] >= s.perOrg
	s.mu.Unlock()

	select {
	case <-w.granted:
		return s.releaser(org), nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.granted: // granted while giving up: hand it on
		s.put(org)
	default:
		for i, q := range s.queue {
			if q == w {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				break
			}
		}
	}
	why := fmt.Sprintf("all %d query slots of this server are busy", s.total)
	if full {
		why = fmt.Sprintf("your organization already runs %d queries, the most it may run at once", s.perOrg)
	}
	return nil, fmt.Errorf("waiting for a free query slot (%s): %w", why, ContextError(ctx))
}

// waitingEligible reports whether a queued query could run now (it is
// served first). Called with mu held.
func (s *Slots) waitingEligible() bool {
	for _, w := range s.queue {
		if s.byOrg[w.org] < s.perOrg {
			return true
		}
	}
	return false
}

func (s *Slots) take(org string) {
	s.running++
	s.byOrg[org]++
}

func (s *Slots) releaser(org string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.put(org)
		})
	}
}

// put frees org's slot and grants waiting queries. Called with mu held.
func (s *Slots) put(org string) {
	s.running--
	if s.byOrg[org]--; s.byOrg[org] == 0 {
		delete(s.byOrg, org)
	}
	for s.running < s.total {
		best := -1
		for i, w := range s.queue {
			if n := s.byOrg[w.org]; n < s.perOrg && (best < 0 || n < s.byOrg[s.queue[best].org]) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		w := s.queue[best]
		s.queue = append(s.queue[:best], s.queue[best+1:]...)
		s.take(w.org)
		close(w.granted)
	}
}

// Shared runs e's queries in slots: each query holds one from before it starts
// until its result is closed. The organization comes from the context (WithOrg),
// and the wait counts against the query's time limit.
func Shared(e Engine, s *Slots, limits Limits) Engine {
	return &sharedEngine{e: e, slots: s, limits: limits.WithDefaults()}
}

type sharedEngine struct {
	e      Engine
	slots  *Slots
	limits Limits
}

func (s *sharedEngine) Query(ctx context.Context, tables []Table, req Request) (Result, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = s.limits.DefaultTimeout
	}
	timeout = min(timeout, s.limits.MaxTimeout)
	org, _ := OrgFrom(ctx)
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	release, err := s.slots.Acquire(wctx, org)
	cancel()
	if err != nil {
		return nil, err
	}
	// The time limit runs from the start of the wait.
	req.Timeout = max(timeout-time.Since(start), time.Millisecond)
	res, err := s.e.Query(ctx, tables, req)
	if err != nil {
		release()
		return nil, err
	}
	return &slotResult{Result: res, release: release}, nil
}

// Close closes the engine when it holds resources (worker processes).
func (s *sharedEngine) Close() error {
	if c, ok := s.e.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type slotResult struct {
	Result
	release func()
}

func (r *slotResult) Close() error {
	err := r.Result.Close()
	r.release()
	return err
}

// splitSlotProps takes the slot settings (max_concurrent,
// max_concurrent_per_org) out of an engine's properties.
func splitSlotProps(props map[string]string) (rest map[string]string, total, perOrg int, err error) {
	rest = map[string]string{}
	for k, v := range props {
		switch k {
		case "max_concurrent", "max_concurrent_per_org":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, 0, 0, fmt.Errorf("query: setting %s: %q is not a positive whole number", k, v)
			}
			if k == "max_concurrent" {
				total = n
			} else {
				perOrg = n
			}
		default:
			rest[k] = v
		}
	}
	return rest, total, perOrg, nil
}
