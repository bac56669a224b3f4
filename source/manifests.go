package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/lakeport/lakeport/source/manifest"
)

// Declarative (manifest) sources run in process by package source/manifest.
// Two ways in:
//
//   - a tenant sends the manifest with the connector (reference
//     manifest:LABEL, the manifest stored with it): OpenManifest;
//   - the operator publishes a catalogue, Registry.ManifestsDir, where
//     DIR/NAME/manifest.yaml or DIR/NAME.yaml is the source NAME.

// manifestName is what a catalogue entry may be called: it is also a path
// element, so nothing that could leave the folder.
var manifestName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)

// OpenManifest opens a manifest a tenant sent. label names it in messages
// (the reference is manifest:LABEL). It reads no file.
func (r *Registry) OpenManifest(label string, doc []byte) (Source, error) {
	opts := r.ManifestOptions
	opts.ManifestDir = ""
	m, err := manifest.New(doc, opts)
	if err != nil {
		return nil, err
	}
	return FromInProcess("manifest:"+label, m), nil
}

// Manifests lists the operator's published manifests, sorted.
func (r *Registry) Manifests() []string {
	if r.ManifestsDir == "" {
		return nil
	}
	entries, err := os.ReadDir(r.ManifestsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && manifestName.MatchString(name):
			if fi, err := os.Stat(filepath.Join(r.ManifestsDir, name, "manifest.yaml")); err == nil && fi.Mode().IsRegular() {
				out = append(out, name)
			}
		case !e.IsDir() && strings.HasSuffix(name, ".yaml"):
			if n := strings.TrimSuffix(name, ".yaml"); manifestName.MatchString(n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// openPublished opens the catalogue entry name, or reports that there is
// none (ok false).
func (r *Registry) openPublished(name string) (Source, bool, error) {
	if r.ManifestsDir == "" || !manifestName.MatchString(name) {
		return nil, false, nil
	}
	for _, p := range []string{filepath.Join(r.ManifestsDir, name, "manifest.yaml"), filepath.Join(r.ManifestsDir, name+".yaml")} {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, true, fmt.Errorf("source %s: %w", name, err)
		}
		opts := r.ManifestOptions
		opts.ManifestDir = filepath.Dir(p)
		m, err := manifest.New(data, opts)
		if err != nil {
			return nil, true, fmt.Errorf("source %s (%s): %w", name, p, err)
		}
		return FromInProcess(name, m), true, nil
	}
	return nil, false, nil
}
