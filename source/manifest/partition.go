package manifest

import (
	"context"
	"fmt"
	"strings"

	"github.com/lakeport/lakeport/source/manifest/interp"
)

// partition is one partition of a stream: its values (stream_partition)
// and what it puts on requests.
type partition struct {
	values map[string]any
	inject []injection
}

type injection struct {
	opt   *requestOption
	value any
}

// router lists a stream's partitions.
type router interface {
	partitions(ctx context.Context, rt *run, state map[string]any, each func(partition) error) (parentState map[string]any, err error)
}

type listRouter struct {
	values *interp.Template
	list   []any
	field  string
	opt    *requestOption
	params map[string]any
}

type parentConfig struct {
	stream      *stream
	parentKey   string
	field       string
	opt         *requestOption
	incremental bool
	params      map[string]any
}

type substreamRouter struct{ parents []parentConfig }

func (b *builder) router(n node) router {
	switch n.typ() {
	case "ListPartitionRouter":
		r := &listRouter{field: n.str("cursor_field"), params: n.params()}
		switch v := n.m["values"].(type) {
		case []any:
			r.list = v
		case string:
			r.values = b.compile(v, n.path+".values")
		default:
			b.fail(n.path, "ListPartitionRouter", "needs values (a list, or a template that yields one)")
		}
		if o, ok := n.child("request_option"); ok {
			r.opt = b.requestOption(o)
		}
		return r
	case "SubstreamPartitionRouter":
		r := &substreamRouter{}
		for _, pc := range n.children("parent_stream_configs") {
			s, ok := pc.child("stream")
			if !ok {
				b.fail(pc.path, "ParentStreamConfig", "needs stream")
				continue
			}
			parent := b.streams[s.path]
			if parent == nil {
				parent = b.stream(s)
				b.streams[s.path] = parent
			}
			cfg := parentConfig{stream: parent, parentKey: pc.str("parent_key"), field: pc.str("partition_field"),
				incremental: pc.boolean("incremental_dependency", false), params: pc.params()}
			if cfg.parentKey == "" || cfg.field == "" {
				b.fail(pc.path, "ParentStreamConfig", "needs parent_key and partition_field")
			}
			if o, ok := pc.child("request_option"); ok {
				cfg.opt = b.requestOption(o)
			}
			r.parents = append(r.parents, cfg)
		}
		return r
	}
	b.fail(n.path, n.typ(), "is not a partition router lakeport supports (ListPartitionRouter, SubstreamPartitionRouter)")
	return nil
}

func (r *listRouter) partitions(_ context.Context, rt *run, _ map[string]any, each func(partition) error) (map[string]any, error) {
	values := r.list
	if r.values != nil {
		v, err := r.values.Eval(interp.Vars{"config": rt.config, "parameters": r.params})
		if err != nil {
			return nil, fmt.Errorf("ListPartitionRouter values: %w", err)
		}
		switch x := v.(type) {
		case []any:
			values = x
		case string:
			for _, s := range strings.Split(x, ",") {
				values = append(values, strings.TrimSpace(s))
			}
		case nil:
		default:
			values = []any{x}
		}
	}
	for _, v := range values {
		if tpl, ok := v.(string); ok && interp.IsTemplate(tpl) {
			t, err := rt.eng.Compile(tpl)
			if err != nil {
				return nil, err
			}
			if v, err = t.Eval(interp.Vars{"config": rt.config, "parameters": r.params}); err != nil {
				return nil, err
			}
		}
		p := partition{values: map[string]any{r.field: v}}
		if r.opt != nil {
			p.inject = append(p.inject, injection{r.opt, v})
		}
		if err := each(p); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// partitions reads each parent stream and makes a partition of every parent
// record. With incremental_dependency the parent is read from its state,
// which is kept inside the child's, and its new state is returned.
func (r *substreamRouter) partitions(ctx context.Context, rt *run, state map[string]any, each func(partition) error) (map[string]any, error) {
	parentStates := map[string]any{}
	prior, _ := state["parent_state"].(map[string]any)
	for _, pc := range r.parents {
		var pstate map[string]any
		if pc.incremental && pc.stream.cursor != nil {
			pstate, _ = prior[pc.stream.name].(map[string]any)
		}
		newState, err := rt.readStream(ctx, pc.stream, pstate, pc.incremental, func(rec map[string]any, slice map[string]any) error {
			v := lookupPath(rec, pc.parentKey)
			if v == nil {
				return nil
			}
			p := partition{values: map[string]any{pc.field: v, "parent_slice": slice}}
			if pc.opt != nil {
				p.inject = append(p.inject, injection{pc.opt, v})
			}
			return each(p)
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("parent stream %s: %w", pc.stream.name, err)
		}
		if pc.incremental && newState != nil {
			parentStates[pc.stream.name] = newState
		}
	}
	if len(parentStates) == 0 {
		return nil, nil
	}
	return parentStates, nil
}

// lookupPath reads a key, or a path with "/" or "." between keys.
func lookupPath(rec map[string]any, key string) any {
	if v, ok := rec[key]; ok {
		return v
	}
	sep := "/"
	if !strings.Contains(key, sep) {
		sep = "."
	}
	var cur any = rec
	for _, p := range strings.Split(key, sep) {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}
