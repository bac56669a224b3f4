package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

// runtime is a built manifest.
type runtime struct {
	streams []*stream
	check   []string
	spec    json.RawMessage
	docURL  string
	rate    float64
}

func (r *runtime) stream(name string) *stream {
	for _, s := range r.streams {
		if s.name == name {
			return s
		}
	}
	return nil
}

type stream struct {
	name, path      string
	params          map[string]any
	primaryKey      [][]string
	schema          []byte
	retriever       *retriever
	cursor          *cursor
	transformations []transformation
}

type retriever struct {
	requester *requester
	selector  *selector
	paginator *paginator
	router    router
}

func (b *builder) retriever(n node) *retriever {
	if n.typ() != "SimpleRetriever" {
		b.fail(n.path, n.typ(), "a retriever must be a SimpleRetriever")
		return nil
	}
	r := &retriever{}
	if rq, ok := n.child("requester"); ok {
		r.requester = b.requester(rq)
	} else {
		b.fail(n.path, "SimpleRetriever", "needs a requester")
	}
	if d, ok := n.child("decoder"); ok && r.requester != nil {
		r.requester.decoder = d.typ()
	}
	if rs, ok := n.child("record_selector"); ok {
		r.selector = b.selector(rs)
	} else {
		b.fail(n.path, "SimpleRetriever", "needs a record_selector")
	}
	if p, ok := n.child("paginator"); ok {
		r.paginator = b.paginator(p)
	} else {
		r.paginator = &paginator{none: true}
	}
	if pr, ok := n.child("partition_router"); ok {
		r.router = b.router(pr)
	} else if l, ok := n.m["partition_router"].([]any); ok && len(l) > 0 {
		b.fail(n.path+".partition_router", "", "a list of partition routers (their cartesian product) is not supported; use one router")
	}
	return r
}

// run is one spec/check/discover/read with one config.
type run struct {
	config    map[string]any
	client    *client
	eng       *interp.Engine
	requests  atomic.Int64
	checkOnly bool

	mu     sync.Mutex
	tokens map[any]*tokenState
}

func (rt *run) tokenState(key any) (*tokenState, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.tokens == nil {
		rt.tokens = map[any]*tokenState{}
	}
	st, ok := rt.tokens[key]
	if !ok {
		st = &tokenState{}
		rt.tokens[key] = st
	}
	return st, !ok
}

// backoff is the default exponential wait before retry number attempt+1.
func (rt *run) backoff(attempt int, _ int) time.Duration {
	d := rt.client.opts.BackoffBase << min(attempt, 20)
	if d > rt.client.opts.MaxWait || d <= 0 {
		d = rt.client.opts.MaxWait
	}
	return d
}

var errEnough = errors.New("enough")

// readStream reads a stream: every partition, every time slice, every page.
// onRecord gets each record with its slice; onState gets the stream's state
// after each completed slice (when incremental). It returns the final state.
func (rt *run) readStream(ctx context.Context, st *stream, state map[string]any, incremental bool,
	onRecord func(rec, slice map[string]any) error, onState func(map[string]any) error) (map[string]any, error) {
	if st.retriever == nil || st.retriever.requester == nil || st.retriever.selector == nil {
		return nil, fmt.Errorf("stream %s cannot be read", st.name)
	}
	incremental = incremental && st.cursor != nil
	if state == nil {
		state = map[string]any{}
	}
	if st.retriever.router == nil {
		cur := copyMap(state)
		err := rt.readPartition(ctx, st, partition{}, cur, incremental, onRecord, func(s map[string]any) error {
			cur = s
			if onState != nil {
				return onState(s)
			}
			return nil
		})
		return cur, err
	}
	// Partitioned: a state per partition, in the CDK's form
	// {"states": [{"partition": {...}, "cursor": {...}}]}.
	perPartition := map[string]map[string]any{}
	partitions := map[string]map[string]any{}
	if l, ok := state["states"].([]any); ok {
		for _, e := range l {
			m, _ := e.(map[string]any)
			p, _ := m["partition"].(map[string]any)
			c, _ := m["cursor"].(map[string]any)
			if p != nil && c != nil {
				k := partitionKey(p)
				perPartition[k], partitions[k] = c, p
			}
		}
	}
	full := func(parentState map[string]any) map[string]any {
		keys := make([]string, 0, len(perPartition))
		for k := range perPartition {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		list := make([]any, 0, len(keys))
		for _, k := range keys {
			list = append(list, map[string]any{"partition": partitions[k], "cursor": perPartition[k]})
		}
		out := map[string]any{"states": list}
		if parentState != nil {
			out["parent_state"] = parentState
		} else if ps, ok := state["parent_state"]; ok {
			out["parent_state"] = ps
		}
		return out
	}
	count := 0
	parentState, err := st.retriever.router.partitions(ctx, rt, state, func(p partition) error {
		if rt.checkOnly && count > 0 {
			return errEnough
		}
		count++
		key := partitionKey(withoutParentSlice(p.values))
		cur := copyMap(perPartition[key])
		return rt.readPartition(ctx, st, p, cur, incremental, onRecord, func(s map[string]any) error {
			perPartition[key], partitions[key] = s, withoutParentSlice(p.values)
			if onState != nil {
				return onState(full(nil))
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	final := full(parentState)
	if onState != nil && incremental && parentState != nil {
		if err := onState(final); err != nil {
			return nil, err
		}
	}
	return final, nil
}

func withoutParentSlice(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "parent_slice" {
			out[k] = v
		}
	}
	return out
}

func partitionKey(m map[string]any) string {
	b, _ := json.Marshal(interp.Plain(m))
	return string(b)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// readPartition reads one partition's time slices and pages.
func (rt *run) readPartition(ctx context.Context, st *stream, p partition, state map[string]any, incremental bool,
	onRecord func(rec, slice map[string]any) error, onSlice func(map[string]any) error) error {
	r := st.retriever
	c := st.cursor
	windows := []*window{nil}
	var field string
	var prior time.Time
	hasPrior := false
	if c != nil {
		field = c.fieldName(rt)
		from := state
		if !incremental {
			from = nil
		}
		ws, err := c.windows(rt, from)
		if err != nil {
			return err
		}
		windows = windows[:0]
		for i := range ws {
			windows = append(windows, &ws[i])
		}
		if v, ok := state[field]; ok && v != nil {
			if t, err := c.parse(interp.Str(v)); err == nil {
				prior, hasPrior = t, true
			}
		}
	}
	for _, w := range windows {
		slice := copyMap(p.values)
		if w != nil {
			for k, v := range c.sliceValues(*w) {
				slice[k] = v
			}
		}
		var maxSeen time.Time
		seen := false
		var token any
		if r.paginator != nil && !r.paginator.none {
			token = r.paginator.strategy.first()
		}
		pageURL := ""
		var firstURL *url.URL
		for pageNo := 0; ; pageNo++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			v := reqVars{config: rt.config, slice: slice, token: token, state: state}
			vars := v.interp(r.requester.parameters)
			pg, err := r.requester.send(ctx, rt, v, pageURL, func(req *request) error {
				if firstURL == nil {
					u := *req.url
					firstURL = &u
				}
				for _, in := range p.inject {
					if err := in.opt.put(req, vars, in.value); err != nil {
						return err
					}
				}
				if w != nil {
					if err := c.apply(req, vars, *w); err != nil {
						return err
					}
				}
				if pageURL != "" {
					return r.paginator.apply(req, vars, nil)
				}
				return r.paginator.apply(req, vars, token)
			})
			if err != nil {
				return fmt.Errorf("stream %s: %w", st.name, err)
			}
			if pg.ignored {
				break
			}
			recs, err := r.selector.extract(rt, pg.body)
			if err != nil {
				return fmt.Errorf("stream %s: %w", st.name, err)
			}
			olderThanState := false
			var last map[string]any
			for _, rec := range recs {
				last = rec
				keep, err := r.selector.keep(rt, rec, v)
				if err != nil {
					return fmt.Errorf("stream %s: %w", st.name, err)
				}
				if !keep {
					continue
				}
				for _, t := range st.transformations {
					if err := t.apply(rt, rec, v); err != nil {
						return fmt.Errorf("stream %s: %w", st.name, err)
					}
				}
				if c != nil {
					if t, ok := c.recordTime(field, rec); ok {
						if hasPrior && incremental && !t.After(prior) {
							olderThanState = true
							if c.clientSide {
								continue
							}
						}
						if (w == nil || !t.Before(w.start) && !t.After(w.end)) && (!seen || t.After(maxSeen)) {
							maxSeen, seen = t, true
						}
					}
				}
				if err := onRecord(rec, slice); err != nil {
					return err
				}
			}
			if rt.checkOnly || r.paginator == nil || r.paginator.none {
				break
			}
			if c != nil && c.dataFeed && olderThanState {
				break // a data feed is newest first: the rest was read before
			}
			next, done, err := r.paginator.strategy.next(rt, pageInfo{body: pg.body, headers: pg.headers, lastRecord: last, count: len(recs), token: token})
			if err != nil {
				return fmt.Errorf("stream %s: pagination: %w", st.name, err)
			}
			if done {
				break
			}
			token = next
			if r.paginator.path {
				if pageURL, err = r.paginator.pageURL(firstURL, next); err != nil {
					return fmt.Errorf("stream %s: %w", st.name, err)
				}
			}
			if pageNo > 1_000_000 {
				return fmt.Errorf("stream %s: more than a million pages in one slice; the pagination does not end", st.name)
			}
		}
		if rt.checkOnly {
			return errEnough
		}
		if c != nil && incremental {
			if seen && (!hasPrior || maxSeen.After(prior)) {
				prior, hasPrior = maxSeen, true
				state = copyMap(state)
				state[field] = c.format2(prior)
			}
			if onSlice != nil {
				if err := onSlice(state); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
