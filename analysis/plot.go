package analysis

import (
	"bytes"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is one rendered figure of a report.
type Figure struct {
	// Name is the file name without extension.
	Name string
	// Title is the figure's heading; Alt describes it for screen readers
	// and for people reading the report without images.
	Title, Alt string
	PNG, SVG   []byte
	// DHT marks the figures of the DHT workload, which the report shows
	// in their own section.
	DHT bool
	// Churn marks the figures of the churn section.
	Churn bool
}

// figureSpec is a figure before it is drawn: make returns false when the
// figure has no data.
type figureSpec struct {
	name, title, alt string
	make             func() (layout, bool, error)
}

// Sans-serif text reads better at figure sizes than the serif default.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func textStyle(size vg.Length) text.Style {
	return text.Style{Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// niceTicks puts about five labelled ticks at round steps (1, 2, 2.5 or 5
// times a power of ten) and labels them without trailing zeros; gonum's
// default often labels only two.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minor := 10*mag, 2*mag
	for _, m := range []struct{ step, minor float64 }{{1, 0.2}, {2, 0.5}, {2.5, 0.5}, {5, 1}} {
		if m.step*mag >= raw {
			step, minor = m.step*mag, m.minor*mag
			break
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi*(1+1e-12); i++ {
		v := i * minor
		t := plot.Tick{Value: v}
		if k := math.Round(v / step); math.Abs(v-k*step) < minor/100 {
			t.Label = strconv.FormatFloat(k*step, 'g', 6, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// legend is a plot.Legend that knows whether it has entries.
type legend struct {
	plot.Legend
	n int
}

func newLegend() *legend {
	l := &legend{Legend: plot.NewLegend()}
	l.TextStyle = textStyle(10)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(3)
	return l
}

func (l *legend) add(name string, thumbs ...plot.Thumbnailer) {
	l.Add(name, thumbs...)
	l.n++
}

// size returns the room the legend needs, including a margin; none when
// it is empty.
func (l *legend) size() (w, h vg.Length) {
	if l.n == 0 {
		return 0, 0
	}
	r := l.Rectangle(draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: 1e4, Y: 1e4}}})
	return r.Max.X - r.Min.X + vg.Points(20), r.Max.Y - r.Min.Y + vg.Points(16)
}

// layout is a figure's drawing function and size.
type layout struct {
	w, h vg.Length
	draw func(draw.Canvas)
}

// Base size of a figure's plotting area, before the legend.
var (
	figW = vg.Inch * 6.5
	figH = vg.Inch * 4
)

// withLegend places the legend to the right of the plot, outside the data,
// so that it never hides a line; the canvas grows to fit it.
func withLegend(w, h vg.Length, leg *legend, drawPlot func(draw.Canvas)) layout {
	lw, lh := leg.size()
	h = max(h, lh+vg.Points(40))
	return layout{w: w + lw, h: h, draw: func(c draw.Canvas) {
		drawPlot(draw.Crop(c, vg.Points(4), -lw, vg.Points(2), -vg.Points(6)))
		if lw > 0 {
			leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw+vg.Points(8), 0, 0, -vg.Points(30)))
		}
	}}
}

// render draws a layout as PNG (at 2× resolution, for sharp text on
// high-density screens) and as SVG.
func render(l layout) (pngData, svgData []byte, err error) {
	defer func() {
		// gonum/plot reports some failures, such as a range it cannot
		// draw, by panicking.
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing figure: %v", r)
		}
	}()
	img := vgimg.NewWith(vgimg.UseWH(l.w, l.h), vgimg.UseDPI(192), vgimg.UseBackgroundColor(color.White))
	l.draw(draw.New(img))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, nil, err
	}
	sv := vgsvg.New(l.w, l.h)
	dc := draw.New(sv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	l.draw(dc)
	var sb bytes.Buffer
	if _, err := sv.WriteTo(&sb); err != nil {
		return nil, nil, err
	}
	return pb.Bytes(), sb.Bytes(), nil
}

// xScale configures a plot's x axis for the summary's x axis and returns a
// function that shifts series i of n slightly sideways, so that error
// bars at the same x do not hide each other.
func xScale(p *plot.Plot, s *Summary, xs []float64) func(x float64, i, n int) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if len(xs) == 0 {
		lo, hi = 0, 1
	}
	ticks := xTicks(s, xs)
	if ticks != nil {
		p.X.Tick.Marker = ticks
	}
	p.X.Label.Text = s.XLabel()
	if s.XNumeric && geometric(xs) {
		p.X.Scale = plot.LogScale{}
		if ticks == nil {
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		p.X.Min, p.X.Max = lo/1.25, hi*1.25
		span := math.Log(p.X.Max / p.X.Min)
		return func(x float64, i, n int) float64 { return x * math.Exp(dodge(i, n)*span) }
	}
	pad := math.Max((hi-lo)*0.06, 0.5)
	if s.XNumeric && hi > lo {
		pad = (hi - lo) * 0.06
	}
	p.X.Min, p.X.Max = lo-pad, hi+pad
	span := p.X.Max - p.X.Min
	return func(x float64, i, n int) float64 { return x + dodge(i, n)*span }
}

// geometric reports whether positive values spread over a wide range and
// bunch up at its low end on a linear scale, as powers of two do; such
// axes read better on a log scale.
func geometric(xs []float64) bool {
	u := map[float64]bool{}
	var vals []float64
	for _, x := range xs {
		if x <= 0 {
			return false
		}
		if !u[x] {
			u[x] = true
			vals = append(vals, x)
		}
	}
	if len(vals) < 3 {
		return false
	}
	sort.Float64s(vals)
	lo, hi := vals[0], vals[len(vals)-1]
	median := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		median = (vals[len(vals)/2-1] + median) / 2
	}
	return hi/lo >= 8 && median < lo+(hi-lo)/4
}

// dodge is series i's sideways shift as a fraction of the axis width.
func dodge(i, n int) float64 {
	if n <= 1 {
		return 0
	}
	step := math.Min(0.012, 0.08/float64(n-1))
	return (float64(i) - float64(n-1)/2) * step
}

// xTicks labels the x axis with the axis values themselves when there are
// few of them, which reads better than round numbers between them.
func xTicks(s *Summary, xs []float64) plot.Ticker {
	if len(xs) == 0 {
		return nil
	}
	labels := map[float64]string{}
	for _, p := range s.Points {
		if !math.IsNaN(float64(p.X)) {
			labels[float64(p.X)] = s.XTick(p)
		}
	}
	if s.XNumeric && len(labels) > 12 {
		return nil
	}
	// In order of value, so that the drawing does not depend on map iteration order.
	var ticks plot.ConstantTicks
	for _, x := range slices.Sorted(maps.Keys(labels)) {
		ticks = append(ticks, plot.Tick{Value: x, Label: labels[x]})
	}
	return ticks
}

func allX(s *Summary) []float64 {
	xs := make([]float64, 0, len(s.Points))
	for _, p := range s.Points {
		if !math.IsNaN(float64(p.X)) {
			xs = append(xs, float64(p.X))
		}
	}
	return xs
}

// errXY is points with asymmetric y errors, for plotter.YErrorBars.
type errXY struct {
	plotter.XYs
	plotter.YErrors
}

// Figures draws every figure of a report, the DHT workload's and then churn's last.
// Figures without data are left out; mainFigureSpecs says which and why.
func Figures(s *Summary) ([]Figure, error) {
	specs, _ := mainFigureSpecs(s)
	nmain := len(specs)
	dhtSpecs, _ := dhtFigureSpecs(s)
	specs = append(specs, dhtSpecs...)
	nbefore := len(specs)
	churnSpecs, _ := churnFigureSpecs(s)
	specs = append(specs, churnSpecs...)
	var figs []Figure
	for i, sp := range specs {
		l, ok, err := sp.make()
		if err != nil {
			return nil, fmt.Errorf("figure %s: %w", sp.name, err)
		}
		if !ok {
			continue
		}
		png, svg, err := render(l)
		if err != nil {
			return nil, fmt.Errorf("figure %s: %w", sp.name, err)
		}
		figs = append(figs, Figure{Name: sp.name, Title: sp.title, Alt: sp.alt, PNG: png, SVG: svg, DHT: i >= nmain && i < nbefore, Churn: i >= nbefore})
	}
	return figs, nil
}

// mainFigureSpecs lists the figures of the join protocol that have data,
// and a sentence for each one left out, so that the page says what is
// missing instead of showing an empty axis.
func mainFigureSpecs(s *Summary) (specs []figureSpec, notes []string) {
	xs := s.XLabel()
	var joins, latencies, failed int64
	onX := 0
	for _, p := range s.Points {
		if math.IsNaN(float64(p.X)) {
			continue
		}
		onX++
		joins += p.Joins
		latencies += p.Latency.N()
		failed += p.Failed()
	}
	panels := "one panel per " + facetNoun(s) + ", colour for protocol"
	if len(facets(s)) == 1 {
		panels = "colour for protocol"
	}
	if onX == 0 {
		return nil, []string{"No grid point has a value of " + s.XLabel() + ", so there are no figures against it; the table has every point."}
	}
	if len(facets(s)) > maxPanels {
		notes = append(notes, fmt.Sprintf("Figures show the first %d of %d panels; the table has every grid point.", maxPanels, len(facets(s))))
	}
	specs = append(specs, figureSpec{"run_success", "Run success rate",
		"Share of runs whose outcome is ok against " + xs + ", " + panels + ", with 95% Wilson intervals. A hollow marker is a cell where no run failed: its bar reaches down to the one-sided 95% Clopper–Pearson bound.",
		func() (layout, bool, error) {
			return multiples(s, "Run success rate (outcome ok)", "runs ok (%)", yPercent, "95% Wilson interval", func(p *Point) (estimate, bool) {
				return rateEstimate(p.RunSuccess, p.RunsOK, p.Runs, false)
			})
		}})
	if joins == 0 {
		notes = append(notes, "No run had a joiner, so there are no join figures (success, latency, messages per join).")
		return specs, append(notes, failureNote(s, failed)...)
	}
	specs = append(specs, figureSpec{"join_success", "Join success rate",
		"Share of joins that succeeded against " + xs + ", " + panels + ", with 95% Wilson intervals; hollow markers as in the run success figure.",
		func() (layout, bool, error) {
			return multiples(s, "Join success rate", "joins ok (%)", yPercent, "95% Wilson interval", func(p *Point) (estimate, bool) {
				return rateEstimate(p.JoinSuccess, p.JoinsOK, p.Joins, false)
			})
		}})
	if latencies == 0 {
		notes = append(notes, "No join succeeded, so there are no latency figures.")
	} else {
		for _, q := range []struct {
			name, title, what string
			get               func(*Point) (Num, Interval)
		}{
			{"latency_p50", "Median join latency", "median", func(p *Point) (Num, Interval) { return p.LatencyP50, p.LatencyP50CI }},
			{"latency_p99", "99th percentile join latency", "99th percentile", func(p *Point) (Num, Interval) { return p.LatencyP99, p.LatencyP99CI }},
		} {
			specs = append(specs, figureSpec{q.name, q.title,
				"The " + q.what + " of successful joins' latency against " + xs + ", " + panels + ", on a log axis, with 95% cluster-bootstrap intervals (whole runs resampled; a bar narrower than its marker is hidden behind it).",
				func() (layout, bool, error) {
					return multiples(s, q.title, "join latency (ms)", yLog, "95% bootstrap interval", func(p *Point) (estimate, bool) {
						v, ci := q.get(p)
						return estimate{v: float64(v) / 1e6, lo: float64(ci.Lo) / 1e6, hi: float64(ci.Hi) / 1e6}, true
					})
				}})
		}
		specs = append(specs, figureSpec{"latency_cdf", "Join latency CDF",
			"Empirical distribution of successful joins' latency per grid point: a column per protocol, a row per " + facetNoun(s) + ", lighter lines for lower " + xs + ". Every panel has the same x range.",
			func() (layout, bool, error) { return latencyCDFGrid(s) }})
	}
	specs = append(specs, figureSpec{"messages_per_join", "Messages per join",
		"Protocol messages per join against " + xs + ", " + panels + ", with 95% cluster-bootstrap intervals (whole runs resampled; a bar narrower than its marker is hidden behind it).",
		func() (layout, bool, error) {
			return multiples(s, "Messages per join", "messages per join", yLinear, "95% bootstrap interval", func(p *Point) (estimate, bool) {
				ci := p.MessagesPerJoinCI
				return estimate{v: float64(p.MessagesPerJoin), lo: float64(ci.Lo), hi: float64(ci.Hi)}, true
			})
		}})
	if failed > 0 {
		specs = append(specs, figureSpec{"failures", "Failure classes",
			"Share of runs ending in each failure class against " + xs + ", a column per class, a row per " + facetNoun(s) + " with any failure, colour for protocol, with 95% Wilson intervals.",
			func() (layout, bool, error) {
				l, ok, _, err := failureGrid(s)
				return l, ok, err
			}})
	}
	return specs, append(notes, failureNote(s, failed)...)
}

// failureNote says which panels the failure figure leaves out, and why.
func failureNote(s *Summary, failed int64) []string {
	if failed == 0 {
		return []string{"No run failed, so there is no failure-class figure."}
	}
	var notes []string
	if note := cleanFacetsNote(s); note != "" {
		notes = append(notes, note)
	}
	totals := protocolTotals(s)
	var none []string
	for _, pr := range protocols(s) {
		if t := totals[pr]; t.runs > 0 && t.failed == 0 {
			none = append(none, protoLabel(pr))
		}
	}
	if len(none) > 0 {
		it, its := "it", "its"
		if len(none) > 1 {
			it, its = "them", "their"
		}
		notes = append(notes, "No run of "+strings.Join(none, " or ")+" failed, so the failure figure has no line for "+it+"; the findings give "+its+" upper bound on the failure rate.")
	}
	return notes
}

// cdfLine draws a latency CDF (nanoseconds) in milliseconds as a right-continuous step
// curve that starts at zero, so that the steps read as a CDF; it raises *xmax to the
// largest value drawn.
func cdfLine(cdf []stats.CDFPoint, xmax *float64) (*plotter.Line, error) {
	xys := plotter.XYs{{X: cdf[0].X / 1e6, Y: 0}}
	for _, c := range cdf {
		xys = append(xys, plotter.XY{X: c.X / 1e6, Y: c.P})
		*xmax = math.Max(*xmax, c.X/1e6)
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	line.StepStyle = plotter.PostStep
	return line, nil
}
