package query_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/query"
)

// acquired tries to take a slot within a short wait: a slot that is free is
// granted at once, so the wait only has to outlast scheduling.
func acquired(t *testing.T, s *query.Slots, org string) (func(), bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	release, err := s.Acquire(ctx, org)
	return release, err == nil
}

func TestSlotsCapEachOrganization(t *testing.T) {
	s := query.NewSlots(4, 2)
	var held []func()
	for range 2 {
		r, ok := acquired(t, s, "a")
		if !ok {
			t.Fatal("org a could not take its first two slots")
		}
		held = append(held, r)
	}
	if _, ok := acquired(t, s, "a"); ok {
		t.Fatal("org a took a third slot: the per-organization cap does not hold")
	}
	// Another organization still gets a slot while a is at its cap.
	if r, ok := acquired(t, s, "b"); !ok {
		t.Fatal("org b waited behind org a's queries")
	} else {
		r()
	}
	held[0]()
	if r, ok := acquired(t, s, "a"); !ok {
		t.Fatal("a released slot was not given back to org a")
	} else {
		r()
	}
	held[1]()
}

// A freed slot goes to the organization running the fewest queries, not to
// the longest queue.
func TestSlotsGoToTheLeastServedOrganization(t *testing.T) {
	s := query.NewSlots(4, 2)
	ctx := context.Background()
	var a, b []func()
	for range 2 {
		ra, _ := s.Acquire(ctx, "a")
		rb, _ := s.Acquire(ctx, "b")
		a, b = append(a, ra), append(b, rb)
	}
	// a queues more first, then c asks once.
	aWaits := make(chan func(), 3)
	for range 3 {
		go func() {
			r, err := s.Acquire(ctx, "a")
			if err == nil {
				aWaits <- r
			}
		}()
	}
	time.Sleep(20 * time.Millisecond) // let a's queries queue first
	cGot := make(chan func(), 1)
	go func() {
		r, err := s.Acquire(ctx, "c")
		if err == nil {
			cGot <- r
		}
	}()
	time.Sleep(20 * time.Millisecond)
	b[0]() // a slot frees: c (running none) goes before a's queue (a runs two)
	select {
	case r := <-cGot:
		r()
	case r := <-aWaits:
		t.Fatal("the freed slot went to org a, which already runs its share")
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("nobody got the freed slot")
	}
	b[1]()
	for _, r := range a {
		r()
	}
	for range 3 {
		select {
		case r := <-aWaits:
			r()
		case <-time.After(5 * time.Second):
			t.Fatal("org a's queued queries never ran")
		}
	}
}

func TestSlotsWaitEndsWithTheContext(t *testing.T) {
	s := query.NewSlots(1, 1)
	r, _ := s.Acquire(context.Background(), "a")
	defer r()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := s.Acquire(ctx, "a")
	if !errors.Is(err, query.ErrTimeout) || !strings.Contains(err.Error(), "your organization already runs 1 queries") {
		t.Fatalf("wait past the deadline: %v", err)
	}
	_, err = s.Acquire(ctx, "b")
	if !errors.Is(err, query.ErrTimeout) || !strings.Contains(err.Error(), "all 1 query slots") {
		t.Fatalf("wait for a full server: %v", err)
	}
}

// The operator's cap on a request's time limit defaults to 60 s: one query
// holds a shared slot for at most that long.
func TestDefaultTimeoutCap(t *testing.T) {
	l := query.Limits{}.WithDefaults()
	if l.MaxTimeout != 60*time.Second || l.DefaultTimeout != 30*time.Second {
		t.Fatalf("defaults: max %s, default %s; want 60s and 30s", l.MaxTimeout, l.DefaultTimeout)
	}
}
