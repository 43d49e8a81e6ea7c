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
}

// figureSpec is a figure before it is drawn: make returns false when the
// figure has no data.
type figureSpec struct {
	name, title, alt string
	make             func() (layout, bool, error)
}

// okabeIto is the Okabe–Ito palette, which stays distinguishable under the
// common colour-vision deficiencies; yellow comes last because it is faint
// on white.
var okabeIto = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
}

// Past eight series the colours repeat with another dash pattern and glyph,
// so that lines stay distinguishable without relying on colour alone.
var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}}

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

func seriesColor(i int) color.Color { return okabeIto[i%len(okabeIto)] }

func seriesLine(i int) draw.LineStyle {
	return draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.5), Dashes: dashes[(i/len(okabeIto))%len(dashes)]}
}

func seriesGlyph(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(3), Shape: glyphs[i%len(glyphs)]}
}

// outcomeColor gives each failure class a fixed colour (by its place among
// the known classes), so that a class looks the same in every report.
func outcomeColor(o string, s *Summary) color.Color {
	for i, k := range knownOutcomes {
		if k == o {
			return okabeIto[(i+1)%len(okabeIto)]
		}
	}
	for i, k := range s.Outcomes {
		if k == o {
			return okabeIto[i%len(okabeIto)]
		}
	}
	return color.Gray{0x80}
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
		if !math.IsNaN(p.X) {
			labels[p.X] = s.XTick(p)
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
		if !math.IsNaN(p.X) {
			xs = append(xs, p.X)
		}
	}
	return xs
}

// errXY is points with asymmetric y errors, for plotter.YErrorBars.
type errXY struct {
	plotter.XYs
	plotter.YErrors
}

// rateFigure plots a success rate against x, one line per series, with the
// Wilson interval as error bars.
func rateFigure(s *Summary, title, what string, rate func(*Point) Rate) (layout, error) {
	p := newPlot(title, "", what+" (%)")
	p.Y.Min, p.Y.Max = 0, 100
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"}, {Value: 75, Label: "75"}, {Value: 100, Label: "100"}}
	shift := xScale(p, s, allX(s))
	leg := newLegend()
	for i, sr := range s.Series {
		var d errXY
		for _, pi := range sr.Points {
			pt := s.Points[pi]
			r := rate(pt)
			if math.IsNaN(float64(r.Value)) || math.IsNaN(pt.X) {
				continue
			}
			d.XYs = append(d.XYs, plotter.XY{X: shift(pt.X, i, len(s.Series)), Y: 100 * float64(r.Value)})
			d.YErrors = append(d.YErrors, struct{ Low, High float64 }{100 * float64(r.Value-r.Lo), 100 * float64(r.Hi-r.Value)})
		}
		if len(d.XYs) == 0 {
			continue
		}
		line, err := plotter.NewLine(d.XYs)
		if err != nil {
			return layout{}, err
		}
		line.LineStyle = seriesLine(i)
		sc, err := plotter.NewScatter(d.XYs)
		if err != nil {
			return layout{}, err
		}
		sc.GlyphStyle = seriesGlyph(i)
		eb, err := plotter.NewYErrorBars(d)
		if err != nil {
			return layout{}, err
		}
		eb.LineStyle = draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1)}
		eb.CapWidth = vg.Points(6)
		p.Add(line, eb, sc)
		leg.add(sr.Label, line, sc)
	}
	return withLegend(figW, figH, leg, p.Draw), nil
}

// lineFigure plots one value per point against x, one line per series.
func lineFigure(s *Summary, title, ylabel string, value func(*Point) float64) (layout, bool, error) {
	p := newPlot(title, "", ylabel)
	shift := xScale(p, s, allX(s))
	leg := newLegend()
	any := false
	ymax := 0.0
	for i, sr := range s.Series {
		var xys plotter.XYs
		for _, pi := range sr.Points {
			pt := s.Points[pi]
			v := value(pt)
			if math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(pt.X) {
				continue
			}
			xys = append(xys, plotter.XY{X: shift(pt.X, i, len(s.Series)), Y: v})
			ymax = math.Max(ymax, v)
		}
		if len(xys) == 0 {
			continue
		}
		any = true
		line, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return layout{}, false, err
		}
		line.LineStyle = seriesLine(i)
		sc.GlyphStyle = seriesGlyph(i)
		p.Add(line, sc)
		leg.add(sr.Label, line, sc)
	}
	p.Y.Min = 0
	p.Y.Max = math.Max(ymax*1.08, 1e-9)
	return withLegend(figW, figH, leg, p.Draw), any, nil
}

// percentileFigure plots latency p50, p90 and p99 against x: colour (and
// glyph) tells the series, the dash pattern tells the percentile.
func percentileFigure(s *Summary) (layout, bool, error) {
	p := newPlot("Join latency percentiles", "", "join latency (ms)")
	shift := xScale(p, s, allX(s))
	leg := newLegend()
	pcts := []struct {
		name string
		get  func(*Point) Num
		dash []vg.Length
	}{
		{"p50", func(p *Point) Num { return p.LatencyP50 }, nil},
		{"p90", func(p *Point) Num { return p.LatencyP90 }, []vg.Length{vg.Points(6), vg.Points(3)}},
		{"p99", func(p *Point) Num { return p.LatencyP99 }, []vg.Length{vg.Points(2), vg.Points(2)}},
	}
	any := false
	lo, hi := math.Inf(1), 0.0
	for i, sr := range s.Series {
		added := false
		for _, pc := range pcts {
			var xys plotter.XYs
			for _, pi := range sr.Points {
				pt := s.Points[pi]
				v := float64(pc.get(pt)) / 1e6
				if math.IsNaN(v) || math.IsNaN(pt.X) {
					continue
				}
				xys = append(xys, plotter.XY{X: shift(pt.X, i, len(s.Series)), Y: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if len(xys) == 0 {
				continue
			}
			line, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return layout{}, false, err
			}
			line.LineStyle = seriesLine(i)
			line.LineStyle.Dashes = pc.dash
			sc.GlyphStyle = seriesGlyph(i)
			sc.GlyphStyle.Radius = vg.Points(2.5)
			p.Add(line, sc)
			any, added = true, true
		}
		if added {
			line, sc, _ := plotter.NewLinePoints(plotter.XYs{{}})
			line.LineStyle = seriesLine(i)
			sc.GlyphStyle = seriesGlyph(i)
			leg.add(sr.Label, line, sc)
		}
	}
	for _, pc := range pcts {
		line, _ := plotter.NewLine(plotter.XYs{{}})
		line.LineStyle = draw.LineStyle{Color: color.Gray{0x40}, Width: vg.Points(1.5), Dashes: pc.dash}
		leg.add(pc.name, line)
	}
	if any && lo > 0 && hi/lo >= 30 {
		// Tail latencies can be orders of magnitude above the median.
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/1.3, hi*1.3
	} else {
		p.Y.Min = 0
		p.Y.Max = math.Max(hi*1.08, 1e-6)
	}
	return withLegend(figW, figH, leg, p.Draw), any, nil
}

// maxTiles bounds the panels of a tiled figure; past it the figure would be
// unreadable, and the table still has every point.
const maxTiles = 12

// tiles lays out n panels in up to three columns.
func tiles(n int) (rows, cols int) {
	cols = min(n, 3)
	if n > 4 && n <= 6 {
		cols = 3
	}
	return (n + cols - 1) / cols, cols
}

// tiledFigure draws one panel per series (at most maxTiles), sharing one
// legend and a figure title.
func tiledFigure(title string, panels []*plot.Plot, leg *legend) layout {
	rows, cols := tiles(len(panels))
	tileW, tileH := vg.Inch*3.6, vg.Inch*2.8
	if len(panels) == 1 {
		tileW, tileH = figW, figH
	}
	titleH := vg.Points(28)
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for c := range grid[r] {
			if i := r*cols + c; i < len(panels) {
				grid[r][c] = panels[i]
			}
		}
	}
	w, h := tileW*vg.Length(cols), tileH*vg.Length(rows)+titleH
	return withLegend(w, h, leg, func(c draw.Canvas) {
		ts := textStyle(14)
		ts.XAlign = draw.XCenter
		ts.YAlign = draw.YTop
		c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
		t := draw.Tiles{Rows: rows, Cols: cols, PadTop: titleH, PadX: vg.Points(10), PadY: vg.Points(10), PadLeft: vg.Points(4), PadRight: vg.Points(4), PadBottom: vg.Points(4)}
		cs := plot.Align(grid, t, c)
		for r := range grid {
			for col, p := range grid[r] {
				if p != nil {
					p.Draw(cs[r][col])
				}
			}
		}
	})
}

// cdfFigure draws join latency CDFs: a panel per series, a line per x value.
func cdfFigure(s *Summary) (layout, bool, error) {
	// A colour per x value, in x order, the same in every panel.
	xpos := map[string]float64{}
	var xorder []string
	for _, p := range s.Points {
		t := s.XTick(p)
		if _, ok := xpos[t]; !ok {
			xpos[t] = p.X
			xorder = append(xorder, t)
		}
	}
	sort.SliceStable(xorder, func(i, j int) bool {
		a, b := xpos[xorder[i]], xpos[xorder[j]]
		return a < b || !math.IsNaN(a) && math.IsNaN(b)
	})
	xcolor := make(map[string]int, len(xorder))
	for i, t := range xorder {
		xcolor[t] = i
	}
	leg := newLegend()
	used := map[string]bool{}
	var panels []*plot.Plot
	any := false
	for _, sr := range s.Series {
		if len(panels) == maxTiles {
			break
		}
		title := sr.Label
		if len(s.Series) == 1 {
			title = "Join latency CDF"
		}
		p := newPlot(title, "join latency (ms)", "fraction of joins")
		p.Title.TextStyle.Font = font.From(sans, 11)
		p.Y.Min, p.Y.Max = 0, 1
		xmax := 0.0
		for _, pi := range sr.Points {
			pt := s.Points[pi]
			cdf := pt.Latency.CDF(400)
			if len(cdf) == 0 {
				continue
			}
			line, err := cdfLine(cdf, &xmax)
			if err != nil {
				return layout{}, false, err
			}
			ci := xcolor[s.XTick(pt)]
			line.LineStyle = seriesLine(ci)
			p.Add(line)
			any = true
			used[s.XTick(pt)] = true
		}
		p.X.Min = 0
		p.X.Max = math.Max(xmax*1.03, 1e-6)
		panels = append(panels, p)
	}
	for _, t := range xorder {
		if !used[t] {
			continue
		}
		line, _ := plotter.NewLine(plotter.XYs{{}})
		line.LineStyle = seriesLine(xcolor[t])
		label := t
		if s.XAxis != "" {
			label = s.XAxis + "=" + t
		}
		leg.add(label, line)
	}
	title := "Join latency CDF"
	if len(s.Series) > 1 {
		title = "Join latency CDF, one panel per " + seriesNoun(s)
	}
	return tiledFigure(title, panels, leg), any, nil
}

// seriesNoun names what the series vary over, for titles.
func seriesNoun(s *Summary) string {
	var names []string
	for _, a := range s.Manifest.Axes {
		if a.Name != s.XAxis {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return "series"
	}
	out := names[0]
	for _, n := range names[1:] {
		out += " × " + n
	}
	return out
}

// failureFigure draws failure classes as stacked bars (percent of runs),
// a panel per series, a bar per x value.
func failureFigure(s *Summary) (layout, bool, error) {
	if len(s.Outcomes) == 0 {
		return layout{}, false, nil
	}
	leg := newLegend()
	// Listed top to bottom as the stacks are drawn.
	for i := len(s.Outcomes) - 1; i >= 0; i-- {
		o := s.Outcomes[i]
		b, _ := plotter.NewBarChart(plotter.Values{0}, 1)
		b.Color = outcomeColor(o, s)
		b.LineStyle.Width = 0
		leg.add(o, b)
	}
	var panels []*plot.Plot
	tileW := vg.Inch * 3.6
	if len(s.Series) == 1 {
		tileW = figW
	}
	ymax := 0.0
	for _, sr := range s.Series {
		if len(panels) == maxTiles {
			break
		}
		title := sr.Label
		if len(s.Series) == 1 {
			title = ""
		}
		p := newPlot(title, s.XLabel(), "runs failed (%)")
		p.Title.TextStyle.Font = font.From(sans, 11)
		n := len(sr.Points)
		barW := (tileW - vg.Points(70)) / vg.Length(max(n, 1)) * 0.5
		var below *plotter.BarChart
		for _, o := range s.Outcomes {
			vals := make(plotter.Values, n)
			for j, pi := range sr.Points {
				pt := s.Points[pi]
				if pt.Runs > 0 {
					vals[j] = 100 * float64(pt.FailuresOf(o)) / float64(pt.Runs)
				}
			}
			b, err := plotter.NewBarChart(vals, barW)
			if err != nil {
				return layout{}, false, err
			}
			b.Color = outcomeColor(o, s)
			b.LineStyle.Width = 0
			if below != nil {
				b.StackOn(below)
			}
			below = b
			p.Add(b)
		}
		labels := make([]string, n)
		for j, pi := range sr.Points {
			pt := s.Points[pi]
			labels[j] = s.XTick(pt)
			if pt.Runs > 0 {
				ymax = math.Max(ymax, 100*float64(pt.Failed())/float64(pt.Runs))
			}
		}
		p.NominalX(labels...)
		p.X.Tick.Label.Font = font.From(sans, 9)
		// Room for the outer bars' halves.
		p.X.Min, p.X.Max = -0.6, float64(n)-0.4
		panels = append(panels, p)
	}
	// A shared y range makes panels comparable at a glance.
	for _, p := range panels {
		p.Y.Min, p.Y.Max = 0, math.Min(100, math.Max(ymax*1.1, 1))
	}
	title := "Failed runs by failure class"
	if len(s.Series) > 1 {
		title += ", one panel per " + seriesNoun(s)
	}
	return tiledFigure(title, panels, leg), true, nil
}

// Figures draws every figure of a report, the DHT workload's last.
// Figures without data (latency when no join succeeded, failures when none
// failed, a DHT figure whose x does not vary) are left out.
func Figures(s *Summary) ([]Figure, error) {
	xs := s.XLabel()
	specs := []figureSpec{
		{"run_success", "Run success rate", "Share of runs whose outcome is ok against " + xs + ", one line per " + seriesNoun(s) + ", with 95% Wilson intervals.",
			func() (layout, bool, error) {
				l, err := rateFigure(s, "Run success rate (outcome ok)", "runs ok", func(p *Point) Rate { return p.RunSuccess })
				return l, true, err
			}},
		{"join_success", "Join success rate", "Share of joins that succeeded against " + xs + ", with 95% Wilson intervals.",
			func() (layout, bool, error) {
				l, err := rateFigure(s, "Join success rate", "joins ok", func(p *Point) Rate { return p.JoinSuccess })
				return l, true, err
			}},
		{"latency_cdf", "Join latency CDF", "Empirical distribution of successful joins' latency, per grid point.",
			func() (layout, bool, error) { return cdfFigure(s) }},
		{"latency_percentiles", "Join latency percentiles", "Join latency p50, p90 and p99 against " + xs + ".",
			func() (layout, bool, error) { return percentileFigure(s) }},
		{"messages_per_join", "Messages per join", "Protocol messages per join against " + xs + ".",
			func() (layout, bool, error) {
				return lineFigure(s, "Messages per join", "messages per join", func(p *Point) float64 { return float64(p.MessagesPerJoin) })
			}},
		{"failures", "Failure classes", "Share of runs ending in each failure class, stacked, against " + xs + ".",
			func() (layout, bool, error) { return failureFigure(s) }},
	}
	if len(s.Series) > maxTiles {
		// Tiled figures stop at maxTiles panels; say so rather than drop
		// series silently.
		for i := range specs {
			if specs[i].name == "latency_cdf" || specs[i].name == "failures" {
				specs[i].alt += fmt.Sprintf(" Only the first %d of %d panels are drawn; the table has every grid point.", maxTiles, len(s.Series))
			}
		}
	}
	nmain := len(specs)
	dhtSpecs, _ := dhtFigureSpecs(s)
	specs = append(specs, dhtSpecs...)
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
		figs = append(figs, Figure{Name: sp.name, Title: sp.title, Alt: sp.alt, PNG: png, SVG: svg, DHT: i >= nmain})
	}
	return figs, nil
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
