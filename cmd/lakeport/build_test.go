package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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

// What `go install ./cmd/lakeport` gives, with no tags, queries a customer-hosted
// table: this test builds the binary so (the test binary itself may carry the
// CI's flags), runs it as `lakeport serve`, saves a bucket (versitygw) as an
// organization's storage, syncs the sample source into it and queries it through
// the binary's own query workers.
func TestTaglessBinaryQueriesABucketTable(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lakeport")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") && !strings.HasPrefix(kv, "LAKEPORT_") {
			env = append(env, kv)
		}
	}
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build (no tags): %v\n%s", err, out)
	}
	info, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "version", "-m", bin).Output()
	if err != nil || strings.Contains(string(info), "-tags") {
		t.Fatalf("the binary's build settings: %v\n%s", err, info)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	srv := exec.Command(bin, "serve", "--data-dir", dir, "--addr", addr, "--allow-private-networks")
	srv.Env = env
	logFile, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	srv.Stderr, srv.Stdout = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	logs := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	url := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lakeport serve never became ready:\n%s", logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	acme := newCustomerHosted(t, url, dir, "acme")
	acme.syncSample("crm")
	rows, out, code := acme.query("SELECT count(*) FROM crm.customers")
	if code != 0 || len(rows) != 1 || rows[0][0] != float64(50) {
		t.Fatalf("a query of a bucket table on the tagless binary: exit %d\n%s\nserver log:\n%s", code, out, logs())
	}
}
