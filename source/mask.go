package source

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// minMasked is the shortest secret value masked: shorter ones would garble
// every message and reveal little.
const minMasked = 4

// mask replaces the run's secret values (its config's airbyte_secret fields)
// in text a person will see: stderr and the connector's error messages.
func (p *process) mask(text string) string {
	if text == "" || len(p.config) == 0 {
		return text
	}
	return maskValues(text, p.src.secretValues(p.config))
}

// secretValues returns the values of config's airbyte_secret fields. The
// spec is asked only now, on an error (once per source); when it cannot be
// had, every string of config counts as secret.
func (s *procSource) secretValues(config []byte) []string {
	s.specOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), min(s.opts.CommandTimeout, 30*time.Second))
		defer cancel()
		if spec, err := s.Spec(ctx); err == nil {
			s.secretPaths, s.specErr = SecretPaths(spec)
		} else {
			s.specErr = err
		}
	})
	var doc any
	if json.Unmarshal(config, &doc) != nil {
		return nil
	}
	var out []string
	if s.specErr != nil {
		collect(doc, nil, &out)
	} else {
		for _, p := range s.secretPaths {
			collect(doc, p, &out)
		}
	}
	return out
}

// collect appends the strings at path p under node (all strings when p is empty).
func collect(node any, p Path, out *[]string) {
	if len(p) == 0 {
		switch v := node.(type) {
		case string:
			*out = append(*out, v)
		case map[string]any:
			for _, c := range v {
				collect(c, nil, out)
			}
		case []any:
			for _, c := range v {
				collect(c, nil, out)
			}
		}
		return
	}
	switch v := node.(type) {
	case map[string]any:
		if c, ok := v[p[0]]; ok {
			collect(c, p[1:], out)
		}
	case []any:
		if p[0] == "*" {
			for _, c := range v {
				collect(c, p[1:], out)
			}
		}
	}
}

// maskValues replaces every value of at least minMasked bytes in text with
// Redacted, longest first (so a secret that contains another goes whole).
func maskValues(text string, values []string) string {
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		if len(v) >= minMasked {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
}
