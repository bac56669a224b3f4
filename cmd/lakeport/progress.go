package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// progress shows a running sync on stderr. On a terminal it redraws one line in place;
// anywhere else (a file, a pipe, CI) it writes a plain line, ending in a newline, when
// the figures changed and at most once per interval, so a captured log holds no control
// codes and the next output starts on its own line.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration

	drawn    bool      // a terminal line is on screen
	last     string    // the last plain line written
	lastTime time.Time // when it was written
}

// plainEvery is how often a plain progress line is written at most.
const plainEvery = 5 * time.Second

func newProgress(w io.Writer) *progress {
	return &progress{w: w, terminal: isTerminal(w), every: plainEvery}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// show reports line as the current progress.
func (p *progress) show(line string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if line == p.last || time.Since(p.lastTime) < p.every {
		return
	}
	fmt.Fprintln(p.w, line)
	p.last, p.lastTime = line, time.Now()
}

// done clears a redrawn terminal line; plain output needs nothing more.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
