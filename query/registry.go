package query

import (
	"fmt"
	"slices"
	"sync"
)

// Factory opens an engine from its configuration properties (backend specific
// keys, e.g. "memory_limit" for duckdb).
type Factory func(props map[string]string) (Engine, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a backend available to Open under name. Backends call it from
// init; registering a name twice panics.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("query: backend registered twice: " + name)
	}
	registry[name] = f
}

// Open returns the engine registered as name, configured by props, behind
// query slots shared fairly among organizations (see Slots): props
// max_concurrent (default 4) and max_concurrent_per_org (default 2) size them;
// the engine sees the other props. An empty value means the default.
func Open(name string, props map[string]string) (Engine, error) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("query: no engine named %q (known: %v); import its package, e.g. query/duckdb", name, Backends())
	}
	set := make(map[string]string, len(props))
	for k, v := range props {
		if v != "" { // an empty setting takes its default
			set[k] = v
		}
	}
	rest, total, perOrg, err := splitSlotProps(set)
	if err != nil {
		return nil, err
	}
	var limits Limits
	for k, v := range rest {
		if _, err := limits.Set(k, v); err != nil {
			return nil, fmt.Errorf("query: setting %s: %w", k, err)
		}
	}
	e, err := f(rest)
	if err != nil {
		return nil, err
	}
	return Shared(e, NewSlots(total, perOrg), limits), nil
}

// Backends lists the registered engine names, sorted.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
