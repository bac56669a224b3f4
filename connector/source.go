package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/manifest"
	"github.com/lakeport/lakeport/source/manifest/document"
	"github.com/lakeport/lakeport/store"
)

// openSource opens a connector's source: by reference, or, for a manifest:
// connector, from the manifest stored with it.
func (s *Service) openSource(c store.Connector) (source.Source, error) {
	return s.open(c.Source, c.Manifest)
}

// open opens ref, or the manifest doc when one is given (ref is then
// manifest:LABEL).
func (s *Service) open(ref, doc string) (source.Source, error) {
	if doc == "" {
		if strings.HasPrefix(ref, "manifest:") {
			return nil, invalid("manifest", "a manifest: source needs the manifest itself (YAML or JSON) in the manifest field; the CLI sends the file: lakeport connector create NAME --source manifest:PATH")
		}
		return s.sources().Open(ref)
	}
	label := strings.TrimPrefix(ref, "manifest:")
	if ref == "" || label == ref {
		return nil, invalid("source", "a connector sent with a manifest has the source manifest:LABEL (for example manifest:github.yaml)")
	}
	src, err := s.sources().OpenManifest(label, []byte(doc))
	if err != nil {
		return nil, manifestError(err)
	}
	return src, nil
}

// manifestError turns a manifest that cannot run into bad input naming the
// manifest field (each unsupported component with its JSON path).
func manifestError(err error) error {
	var ue *manifest.UnsupportedError
	if errors.As(err, &ue) {
		ie := &InvalidError{}
		for _, p := range ue.Problems {
			msg := p.Msg
			if p.Type != "" {
				msg = p.Type + ": " + msg
			}
			ie.Fields = append(ie.Fields, FieldError{Field: "manifest." + p.Path, Message: msg})
		}
		return ie
	}
	if errors.Is(err, document.ErrInvalid) {
		return invalid("manifest", err.Error())
	}
	return fmt.Errorf("connector: manifest: %w", err)
}

// specKey is what the spec cache knows a source by: its reference, and for
// a manifest its content (two connectors may both be manifest:x.yaml).
func specKey(ref, doc string) string {
	if doc == "" {
		return ref
	}
	sum := sha256.Sum256([]byte(doc))
	return ref + "#" + hex.EncodeToString(sum[:])
}
