package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A plain `go build` / `go install ./cmd/lakeport` is the whole product: no file of
// lakeport's is built only with a tag (such as duckdb_arrow, which a plain build
// lacked, leaving a binary that could not query customer-hosted tables). The query
// tests of this package run in a tagless build and read a bucket's tables
// (TestHostileManifestNamesAnotherOrgsFile starts with one).
func TestNoFileNeedsABuildTag(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "bin" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			line := strings.TrimSpace(s.Text())
			if strings.HasPrefix(line, "package ") {
				break
			}
			if strings.HasPrefix(line, "//go:build") && strings.Contains(line, "duckdb_arrow") {
				t.Errorf("%s is built only with a tag: %s", path, line)
			}
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
