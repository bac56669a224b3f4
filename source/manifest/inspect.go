package manifest

import (
	"errors"
	"sort"

	"github.com/lakeport/lakeport/source/manifest/document"
)

// Report says what a manifest uses and whether lakeport runs all of it:
// what `lakeport sources check-manifest` prints.
type Report struct {
	// Runnable is true when lakeport can run the manifest as it is.
	Runnable   bool            `json:"runnable"`
	Streams    []string        `json:"streams,omitempty"`
	Components []ComponentUse  `json:"components,omitempty"`
	Problems   []Problem       `json:"problems,omitempty"`
	Deprecated []DeprecatedUse `json:"deprecated,omitempty"`
	// Error is set when the manifest cannot be read at all.
	Error string `json:"error,omitempty"`
}

// ComponentUse is one component type and how often the manifest uses it.
type ComponentUse struct {
	Type      string `json:"type"`
	Count     int    `json:"count"`
	Supported bool   `json:"supported"`
}

// DeprecatedUse is a deprecated field the CDK (and lakeport) still accept.
type DeprecatedUse struct {
	Path string `json:"path"`
	Note string `json:"note"`
}

// Inspect reads a manifest and reports on it; it sends no request and reads
// no file.
func Inspect(data []byte) Report {
	doc, err := document.Parse(data)
	if err != nil {
		return Report{Error: err.Error()}
	}
	var r Report
	counts := map[string]int{}
	for _, c := range doc.Components {
		counts[c.Type]++
	}
	for t, n := range counts {
		_, bad := unsupported(t)
		r.Components = append(r.Components, ComponentUse{Type: t, Count: n, Supported: !bad})
	}
	sort.Slice(r.Components, func(i, j int) bool {
		if r.Components[i].Count != r.Components[j].Count {
			return r.Components[i].Count > r.Components[j].Count
		}
		return r.Components[i].Type < r.Components[j].Type
	})
	for _, d := range doc.Deprecated {
		r.Deprecated = append(r.Deprecated, DeprecatedUse{Path: d.Path, Note: d.Note})
	}
	s, err := New(data, Options{})
	var ue *UnsupportedError
	switch {
	case errors.As(err, &ue):
		r.Problems = ue.Problems
	case err != nil:
		r.Error = err.Error()
	default:
		r.Runnable = true
		r.Streams = s.Streams()
	}
	return r
}
