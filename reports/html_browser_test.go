package reports_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
)

// chromium finds a headless-capable Chromium: $FIREDRILL_CHROMIUM, else
// Debian's chromium package, else a Chrome on PATH.
func chromium() (string, error) {
	if p := os.Getenv("FIREDRILL_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium on PATH")
}

// TestHTMLInChromium opens a 7-drill report in headless Chromium, checks
// that it renders without console errors, counts its timelines and
// markers, and takes a full-page screenshot. Set FIREDRILL_SCREENSHOT_DIR
// to keep the screenshot.
func TestHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping headless Chromium test in -short mode")
	}
	bin, err := chromium()
	if err != nil {
		t.Skip("skipping: headless Chromium not found (install Debian's chromium package: apt-get install -y chromium, or set FIREDRILL_CHROMIUM)")
	}

	run := sevenDrillRun()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	require.NoError(t, reports.WriteFile(page, reports.HTML, run))

	parent, cancelAll := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancelAll()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in CI containers
		chromedp.WindowSize(1100, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == "error" {
				problems = append(problems, "log ("+string(ev.Entry.Source)+"): "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}), "start chromium %s", bin)
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady("body"),
	))

	count := func(js string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		require.NoError(t, err, js)
		return n
	}
	assert.Equal(t, 7, count(`document.querySelectorAll('svg.timeline').length`), "one timeline per drill")
	assert.Equal(t, 7, count(`Array.from(document.querySelectorAll('svg.timeline')).filter(s => s.getBoundingClientRect().height > 150 && s.getBoundingClientRect().width > 600).length`), "timelines are laid out at a readable size")
	assert.Equal(t, 6*4, count(`document.querySelectorAll('svg.timeline g.marker').length`), "impact, detected, restored and caught-up markers on the six drills with impact")
	for _, kind := range []string{"impact", "detected", "restored", "caught_up"} {
		assert.Equal(t, 6, count(`document.querySelectorAll('g.marker[data-kind="`+kind+`"]').length`), kind)
	}
	assert.Equal(t, 6, count(`document.querySelectorAll('svg.timeline g.ttr-span').length`))
	assert.Equal(t, 6, count(`document.querySelectorAll('svg.timeline g.episode[data-restored="true"]').length`), "an episode band on each drill with impact")
	assert.Equal(t, 6, count(`document.querySelectorAll('table.episodes tr').length - document.querySelectorAll('table.episodes').length`), "each episode listed in its drill's table (rows less one header per table)")
	assert.Equal(t, 7, count(`document.querySelectorAll('svg.timeline rect.fault-band').length`))
	// Alert lanes: one per alert that fired (loader-crash and
	// warehouse-outage page and warn, lake-outage pages, poison-batch and
	// slow-warehouse warn; their quiet alerts stay quiet), each span drawn.
	assert.Equal(t, 7, count(`document.querySelectorAll('svg.timeline g.alert').length`), "alert lanes")
	assert.Equal(t, 3, count(`document.querySelectorAll('svg.timeline g.alert[data-page="true"]').length`), "page lanes")
	assert.Equal(t, 0, count(`Array.from(document.querySelectorAll('svg.timeline rect.alert-span')).filter(r => !(r.getBoundingClientRect().width > 0)).length`), "every firing span is drawn")
	assert.Equal(t, 3, count(`document.querySelectorAll('svg.timeline g.ttr-parts').length`), "TTR parts of the drills whose runbook started on detection")
	assert.Equal(t, 5, count(`document.querySelectorAll('table.alerts').length`))
	assert.Equal(t, 7*3, count(`document.querySelectorAll('svg.timeline g.series path').length`))
	assert.Equal(t, 7, count(`document.querySelectorAll('table.summary tbody tr').length`))
	assert.Equal(t, 0, count(`document.querySelectorAll('script, link[rel=stylesheet], img[src^="http"]').length`))
	// Every SVG path got drawn coordinates (no NaN in the geometry).
	assert.Equal(t, 0, count(`Array.from(document.querySelectorAll('svg path')).filter(p => !(p.getTotalLength() > 0)).length`))

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(png), 10_000)
	shotDir := os.Getenv("FIREDRILL_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = dir
	}
	shot := filepath.Join(shotDir, "report.png")
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// The listener works: a deliberate console error is seen (and removed).
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`console.error("firedrill-probe")`))
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			if strings.Contains(p, "firedrill-probe") {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "console listener sees console.error")
	mu.Lock()
	defer mu.Unlock()
	var real []string
	for _, p := range problems {
		if !strings.Contains(p, "firedrill-probe") {
			real = append(real, p)
		}
	}
	assert.Empty(t, real, "console errors while loading the report")
}
