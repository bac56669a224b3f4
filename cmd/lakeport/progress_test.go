package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSyncProgressWithoutTerminal: `lakeport connector sync NAME 2>err.txt` writes plain
// lines, each ending in a newline, and no terminal control codes.
func TestSyncProgressWithoutTerminal(t *testing.T) {
	url, dir := startServerWith(t, true)
	waitFirstSync(t, url, dir, "sample")

	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs([]string{"--url", url, "--data-dir", dir, "connector", "sync", "sample"})
	if err := root.Execute(); err != nil {
		var ee exitError
		errors.As(err, &ee)
		t.Fatalf("connector sync: %v (exit %d)\n%s%s", err, ee.code, out.String(), errb.String())
	}
	got := errb.String()
	if got == "" {
		t.Fatal("no progress written to stderr at all")
	}
	if strings.ContainsAny(got, "\r\x1b") {
		t.Fatalf("progress written to a file holds terminal control codes: %q", got)
	}
	if !strings.HasSuffix(got, "\n") {
		t.Fatalf("the last progress line does not end in a newline: %q", got)
	}
	if !strings.Contains(got, "sample ") || !strings.Contains(got, "records") {
		t.Fatalf("progress lines do not name the connector and its records: %q", got)
	}
}

// TestPlainProgressIsThrottled: without a terminal, an unchanged line is not repeated and
// lines come at most once per interval.
func TestPlainProgressIsThrottled(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	if p.terminal {
		t.Fatal("a bytes.Buffer was taken for a terminal")
	}
	p.every = time.Hour
	p.show("a 1")
	p.show("a 2") // within the interval: skipped
	p.show("a 1")
	p.done()
	if b.String() != "a 1\n" {
		t.Fatalf("plain progress = %q, want one line", b.String())
	}
	p.every = 0
	p.show("a 1") // unchanged: skipped
	p.show("a 3")
	if b.String() != "a 1\na 3\n" {
		t.Fatalf("plain progress = %q", b.String())
	}
}

func waitFirstSync(t *testing.T, url, dir, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := run(t, url, dir, "connector", "runs", name, "--json")
		if strings.Contains(out, `"status": "succeeded"`) {
			return
		}
		if strings.Contains(out, `"status": "failed"`) || time.Now().After(deadline) {
			t.Fatalf("the first sync of %s did not succeed:\n%s", name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
