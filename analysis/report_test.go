package analysis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
	"github.com/dhtexp/dhtexp/trace"
)

var imgSrc = regexp.MustCompile(`<img [^>]*src="([^"]*)"`)

// checkImage decodes a data: URI and checks it is a PNG or an SVG.
func checkImage(t *testing.T, src string) {
	t.Helper()
	mime, data, ok := strings.Cut(strings.TrimPrefix(src, "data:"), ";base64,")
	if !strings.HasPrefix(src, "data:") || !ok {
		t.Errorf("img src %.60q is not a base64 data: URI", src)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Errorf("img %s: %v", mime, err)
		return
	}
	switch mime {
	case "image/png":
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("img png: %v", err)
		}
	case "image/svg+xml":
		checkSVG(t, "img", raw)
	default:
		t.Errorf("img has type %q", mime)
	}
}

func checkSVG(t *testing.T, name string, raw []byte) {
	t.Helper()
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(raw, &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("%s: not an SVG document: %v %v", name, root.XMLName, err)
	}
}

func TestWriteReport(t *testing.T) {
	tests := []struct {
		name string
		set  *analysistest.Set
		opts Options
		figs []string
	}{
		{"small", smallSet(), Options{}, []string{"run_success", "join_success", "latency_cdf", "latency_p50", "latency_p99", "messages_per_join", "failures"}},
		{"categorical x", smallSet(), Options{X: "protocol"}, []string{"run_success", "failures"}},
		{"no failures", randomSet(3, 20, func(int) float64 { return 0 }), Options{}, []string{"run_success", "latency_cdf"}},
		{"many series", manySeries(), Options{}, []string{"run_success", "latency_cdf", "failures"}},
		{"runs table only", func() *analysistest.Set { s := smallSet(); s.Trace = trace.LevelNone; return s }(), Options{}, []string{"latency_cdf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := analyze(t, writeSet(t, tt.set), tt.opts)
			out := filepath.Join(t.TempDir(), "report")
			if err := WriteReport(out, s); err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(out, ReportHTML))
			if err != nil {
				t.Fatal(err)
			}
			imgs := imgSrc.FindAllStringSubmatch(string(page), -1)
			if len(imgs) == 0 {
				t.Fatal("index.html has no images")
			}
			for _, m := range imgs {
				// Attribute values are HTML-escaped ("+" as &#43;).
				checkImage(t, html.UnescapeString(m[1]))
			}
			// Self-contained: nothing is fetched from anywhere.
			for _, bad := range []string{"http://", "https://", "<link", "<script src", "@import"} {
				if bytes.Contains(page, []byte(bad)) {
					t.Errorf("index.html contains %q", bad)
				}
			}
			for _, f := range tt.figs {
				if !bytes.Contains(page, []byte(`id="fig-`+f+`"`)) {
					t.Errorf("index.html lacks figure %s", f)
				}
				raw, err := os.ReadFile(filepath.Join(out, ReportFigures, f+".png"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
					t.Errorf("%s.png: %v", f, err)
				}
				if raw, err = os.ReadFile(filepath.Join(out, ReportFigures, f+".svg")); err != nil {
					t.Fatal(err)
				}
				checkSVG(t, f+".svg", raw)
			}
			if tt.name == "no failures" && bytes.Contains(page, []byte(`id="fig-failures"`)) {
				t.Error("a failure figure without failures")
			}
			md, err := os.ReadFile(filepath.Join(out, ReportMarkdown))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(md, []byte("| point |")) || !bytes.Contains(md, []byte(s.Manifest.SpecHash)) {
				t.Errorf("summary.md lacks the table or the spec hash:\n%s", md)
			}
			if len(s.Points) > 0 && !bytes.Contains(page, []byte(`<td class="num" data-v="`)) {
				t.Error("table cells carry no sort keys")
			}
		})
	}
}

// manySeries has 15 series, more than the palette's colours and the tiled
// figures' panels.
func manySeries() *analysistest.Set {
	s := randomSet(2, 5, func(p int) float64 { return float64(p%4) / 8 })
	s.Axes = []analysistest.Axis{
		{Name: "joiners", Values: []any{2, 8}},
		{Name: "variant", Values: []any{"a", "b", "c", "d", "e"}},
		{Name: "link", Values: []any{"fifo", "reorder", "drop"}},
	}
	return s
}

// TestWriteReportAtomic: a report replaces an earlier one whole, leaves no
// temporary folders, and is not written over a folder that is no report.
func TestWriteReportAtomic(t *testing.T) {
	dir := writeSet(t, smallSet())
	s := analyze(t, dir, Options{})
	parent := t.TempDir()
	out := filepath.Join(parent, "report")
	if err := WriteReport(out, s); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, "stale.txt")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(out, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the old report survived: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("leftovers beside the report: %v", ents)
	}
	// The result set itself is not a report and must not be replaced.
	if err := WriteReport(dir, s); err == nil || !strings.Contains(err.Error(), "not a report") {
		t.Errorf("writing over the result set: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Errorf("the result set was damaged: %v", err)
	}
	// An unwritable destination fails without leaving anything behind.
	blocker := filepath.Join(parent, "file")
	os.WriteFile(blocker, nil, 0o644)
	if err := WriteReport(filepath.Join(blocker, "report"), s); err == nil {
		t.Error("writing under a file succeeded")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 2 {
		t.Errorf("leftovers after a failed report: %v", ents)
	}
}

// TestReportChromium loads the report in headless Chromium and checks that
// it renders. CI does not install Chromium, so the test skips there.
func TestReportChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no " + chromium)
	}
	s := analyze(t, writeSet(t, smallSet()), Options{})
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, s); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	if keep := os.Getenv("DHTEXP_SCREENSHOT"); keep != "" {
		shot = keep
	}
	if outb, err := runChromium(t, chromium, "--hide-scrollbars", "--window-size=1280,4000",
		"--screenshot="+shot, "file://"+filepath.Join(out, ReportHTML)); err != nil {
		t.Fatalf("chromium: %v\n%s", err, outb)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %v", b)
	}

	// Click the "p99 ms" header twice (descending) and read the row order
	// back through the page title.
	page, err := os.ReadFile(filepath.Join(out, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	col := len(s.Manifest.Axes) + 6 // point, axes, runs, run ok, join ok, p50, p90, p99
	probe := fmt.Sprintf(`<script>var b = document.querySelectorAll("th button"); b[%d].click(); b[%d].click();
document.title = Array.from(document.querySelector("table.sortable").tBodies[0].rows).map(function (r) { return r.cells[0].textContent; }).join(",");</script></body>`, col, col)
	sorted := filepath.Join(out, "sorted.html")
	if err := os.WriteFile(sorted, bytes.Replace(page, []byte("</body>"), []byte(probe), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, err := runChromium(t, chromium, "--dump-dom", "file://"+sorted)
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, dom)
	}
	points := append([]*Point(nil), s.Points...)
	sort.SliceStable(points, func(i, j int) bool { return points[i].LatencyP99 > points[j].LatencyP99 })
	var want []string
	for _, p := range points {
		want = append(want, strconv.Itoa(p.Index))
	}
	if !bytes.Contains(dom, []byte("<title>"+strings.Join(want, ",")+"</title>")) {
		t.Errorf("sorting by p99 descending: want rows %v, page has %s", want, regexp.MustCompile(`<title>[^<]*</title>`).Find(dom))
	}
}

// runChromium runs headless Chromium with args, giving up after 90 s.
func runChromium(t *testing.T, chromium string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}
	return exec.CommandContext(ctx, chromium, append(base, args...)...).Output()
}

// BenchmarkReport reads a synthetic 100,000-run result set (40 grid points
// × 2,500 seeds, 4 joins a run, in 4 parts) and writes its full report;
// the analyze sub-benchmark only reads and aggregates. Each reports the
// peak live heap, sampled every millisecond, as peak-heap-MB.
func BenchmarkReport(b *testing.B) {
	set := &analysistest.Set{
		Experiment: "bench",
		Spec:       "name = \"bench\"\n",
		Axes: []analysistest.Axis{
			{Name: "joiners", Values: []any{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}},
			{Name: "delay.max", Values: []any{"1ms", "10ms"}},
			{Name: "protocol", Values: []any{"seed", "locked"}},
		},
		Seeds: 2500,
		Parts: 4,
		Run:   randomSet(1, 2500, func(p int) float64 { return 0.01 * float64(p%20) }).Run,
	}
	dir := filepath.Join(b.TempDir(), "results")
	if err := analysistest.Write(dir, set); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "report")
	bench := func(b *testing.B, report bool) {
		peak := watchHeap(b)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rs, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			s, err := Analyze(rs, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if s.Runs != 100_000 {
				b.Fatalf("%d runs", s.Runs)
			}
			if report {
				if err := WriteReport(out, s); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(peak(), "peak-heap-MB")
	}
	b.Run("analyze", func(b *testing.B) { bench(b, false) })
	b.Run("full", func(b *testing.B) { bench(b, true) })
}

// watchHeap samples the live heap every millisecond until the returned
// function is called, which returns the peak in MiB.
func watchHeap(b *testing.B) func() float64 {
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	b.ResetTimer()
	return func() float64 {
		close(stop)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}
