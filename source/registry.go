package source

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lakeport/lakeport/source/manifest"
)

// Registry maps references to sources. The zero value is not usable; use
// NewRegistry. Default holds the built-in sources.
type Registry struct {
	mu       sync.RWMutex
	builtins map[string]func() Source
	// Engines are the container engine commands tried, in order, for
	// image: sources (default docker, then podman).
	Engines []string
	// Options apply to exec: and image: sources opened from this registry.
	Options ProcessOptions
	// Allow is the operator's list of the exec: and image: references Open
	// accepts; the zero value accepts none (built-in and manifest sources
	// need no listing).
	Allow AllowList
	// ManifestsDir is the operator's catalogue of declarative manifests
	// (see Manifests); empty for none.
	ManifestsDir string
	// ManifestOptions apply to manifest sources (their HTTP client, rate
	// limit and outbound address rules).
	ManifestOptions manifest.Options
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{builtins: make(map[string]func() Source), Engines: []string{"docker", "podman"}}
}

// Default is the registry Open uses; it holds the built-in sources.
var Default = NewRegistry()

// Register adds a built-in source to Default.
func Register(name string, newSource func() Source) { Default.Register(name, newSource) }

// Open opens a source from Default. See Registry.Open.
func Open(ref string) (Source, error) { return Default.Open(ref) }

// Register adds a built-in source under name. It panics if name is taken or
// contains ':', as such a name could never be opened.
func (r *Registry) Register(name string, newSource func() Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" || strings.Contains(name, ":") {
		panic(fmt.Sprintf("source: bad built-in name %q", name))
	}
	if _, dup := r.builtins[name]; dup {
		panic(fmt.Sprintf("source: built-in %q registered twice", name))
	}
	r.builtins[name] = newSource
}

// Builtins returns the names of the built-in sources, sorted.
func (r *Registry) Builtins() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.builtins))
	for n := range r.builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// imageRef is what an image reference may look like; it keeps a reference
// from passing as an option to the container engine.
var imageRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]*$`)

// Open returns the source named by ref:
//
//	NAME                   a built-in source (see Builtins)
//	NAME                   a manifest the operator published (ManifestsDir)
//	exec:/path/to/program  a local executable speaking the protocol
//	image:REF              a container image, run with docker or podman
//
// A manifest a tenant sent is opened with OpenManifest.
func (r *Registry) Open(ref string) (Source, error) {
	kind, arg, hasKind := strings.Cut(ref, ":")
	if !hasKind {
		r.mu.RLock()
		f, ok := r.builtins[ref]
		r.mu.RUnlock()
		if ok {
			return f(), nil
		}
		if src, found, err := r.openPublished(ref); found {
			return src, err
		}
		known := append(r.Builtins(), r.Manifests()...)
		return nil, fmt.Errorf("%w %q: the built-in and published sources are %s; use exec:/path/to/program, image:REF or manifest:PATH for others",
			ErrUnknownSource, ref, strings.Join(known, ", "))
	}
	switch kind {
	case "manifest":
		return nil, fmt.Errorf("%w %q: a manifest: source is opened with its manifest (send it with the connector: lakeport connector create NAME --source manifest:PATH)", ErrUnknownSource, ref)
	case "exec":
		return r.openExec(ref, arg)
	case "image":
		return r.openImage(ref, arg)
	}
	return nil, fmt.Errorf("%w %q: a reference is a built-in name, exec:/path/to/program or image:REF", ErrUnknownSource, ref)
}

// openExec opens a local program the allow-list names (see AllowList.resolveExec);
// the program run is the one the path resolves to.
func (r *Registry) openExec(ref, path string) (Source, error) {
	if path == "" {
		return nil, fmt.Errorf("%w %q: exec: needs the path of a program", ErrUnknownSource, ref)
	}
	real, err := r.Allow.resolveExec(ref, path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("source %s: the program cannot be found: %w", ref, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("source %s: %s is not an executable file", ref, real)
	}
	return &procSource{ref: ref, path: real, opts: r.Options.withDefaults()}, nil
}

func (r *Registry) openImage(ref, image string) (Source, error) {
	if !imageRef.MatchString(image) {
		return nil, fmt.Errorf("%w %q: %q is not a container image reference", ErrUnknownSource, ref, image)
	}
	if err := r.Allow.checkImage(ref, image); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	engine, err := DetectContainerEngine(ctx, r.Engines...)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", ref, err)
	}
	return &procSource{ref: ref, engine: engine, image: image, opts: r.Options.withDefaults()}, nil
}
