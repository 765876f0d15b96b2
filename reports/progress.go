package reports

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// ProgressInterval is the shortest time between two progress lines: at
// most four updates a second reach the writer.
const ProgressInterval = 250 * time.Millisecond

// Progress prints a live status line while a drill runs: phase, elapsed
// time and current SLIs. On a terminal it rewrites one line in place;
// elsewhere (verbose mode in CI logs) it prints one line per update. A
// disabled Progress prints nothing. Its methods are safe for concurrent use
// and on a nil *Progress.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	inPlace bool
	now     func() time.Time
	last    time.Time
	pending string
	printed bool
	width   int // length of the last in-place line, to blank it
}

// NewProgress returns a Progress writing to w when enabled is true. Lines
// are rewritten in place when w is a terminal.
func NewProgress(w io.Writer, enabled bool) *Progress {
	return &Progress{w: w, enabled: enabled && w != nil, inPlace: isTerminal(w), now: time.Now}
}

// ProgressEnabled is the usual rule for enabling progress: stderr is a
// terminal, or verbose output was asked for (go test -v).
func ProgressEnabled(verbose bool) bool { return verbose || isTerminal(os.Stderr) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Enabled reports whether Update prints anything (false on nil), so a
// caller can skip gathering what it would show.
func (p *Progress) Enabled() bool { return p != nil && p.enabled }

// Update reports the current phase, the time elapsed in the drill and the
// current SLI values. Calls closer than ProgressInterval to the last
// printed one are held back; the latest is printed by the next update
// after the interval, or by Done.
func (p *Progress) Update(phase string, elapsed time.Duration, slis map[string]float64) {
	if p == nil || !p.enabled {
		return
	}
	line := formatProgress(phase, elapsed, slis)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.printed && now.Sub(p.last) < ProgressInterval {
		p.pending = line
		return
	}
	p.write(line)
	p.last = now
}

// Done prints the last held-back update, if any, and ends the line.
func (p *Progress) Done() {
	if p == nil || !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending != "" {
		p.write(p.pending)
	}
	if p.inPlace && p.printed {
		fmt.Fprintln(p.w)
	}
	p.printed = false
	p.width = 0
}

func (p *Progress) write(line string) {
	p.pending = ""
	p.printed = true
	if !p.inPlace {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
}

func formatProgress(phase string, elapsed time.Duration, slis map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "firedrill %-12s %7.1fs", phase, elapsed.Seconds())
	keys := make([]string, 0, len(slis))
	for k := range slis {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%.4g", k, slis[k])
	}
	return b.String()
}
