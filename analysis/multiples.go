package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxPanels bounds the panels of one figure; past it the panels are too
// small to read, and the table still has every point.
const maxPanels = 12

// facet is one panel of a small-multiples figure: the series that share
// every parameter but x and the protocol.
type facet struct {
	label  string
	series []int // indexes into Summary.Series
}

// facets groups the series into panels, in order of first appearance.
func facets(s *Summary) []facet {
	var out []facet
	index := map[string]int{}
	for i, sr := range s.Series {
		var rest trace.Params
		for _, q := range sr.Params {
			if q.Name != ProtocolAxis {
				rest = append(rest, q)
			}
		}
		k := rest.Key()
		fi, ok := index[k]
		if !ok {
			fi = len(out)
			index[k] = fi
			out = append(out, facet{label: rest.String()})
		}
		out[fi].series = append(out[fi].series, i)
	}
	if len(out) == 1 && out[0].label == "" {
		out[0].label = "all runs"
	}
	return out
}

// protocols lists the protocols of the series in a stable order: the
// protocol axis' own order when it is swept, else first appearance.
func protocols(s *Summary) []string {
	var out []string
	if a, ok := s.Manifest.Axis(ProtocolAxis); ok {
		for _, v := range a.Values {
			out = append(out, v.Text)
		}
	}
	for _, sr := range s.Series {
		if p := protocolOf(s, sr.Params); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// estimate is one plotted value with its interval (NaN when unknown).
// boundOnly marks a cell where nothing was observed: v is the observed 0
// or 100 %, and the interval runs to the one-sided bound.
type estimate struct {
	v, lo, hi float64
	boundOnly bool
}

// yAxis is how a small-multiples figure scales its shared y axis.
type yAxis int

const (
	yLinear  yAxis = iota // from 0
	yPercent              // 0-100, zoomed in when every interval is high
	yLog                  // logarithmic, labelled at 1-2-5 steps
)

// multiples draws one panel per facet with a line per protocol against the
// summary's x axis; every panel shares the x and y ranges.
func multiples(s *Summary, title, ylabel string, scale yAxis, intervalNote string, value func(*Point) (estimate, bool)) (layout, bool, error) {
	fs := facets(s)
	if len(fs) > maxPanels {
		fs = fs[:maxPanels]
	}
	protos := protocols(s)
	xs := allX(s)
	var panels []*plot.Plot
	lo, hi := math.Inf(1), math.Inf(-1)
	any, anyBound := false, false
	used := map[string]bool{}
	for _, f := range fs {
		p := newPlot(f.label, "", ylabel)
		p.Title.TextStyle.Font = font.From(sans, 11)
		shift := wideDodge(xScale(p, s, xs))
		for _, si := range f.series {
			sr := s.Series[si]
			proto := protocolOf(s, sr.Params)
			pi := slices.Index(protos, proto)
			c := protocolColor(proto)
			var all, measured, bounds errXY
			for _, idx := range sr.Points {
				pt := s.Points[idx]
				e, ok := value(pt)
				if !ok || math.IsNaN(float64(pt.X)) || math.IsNaN(e.v) || scale == yLog && e.v <= 0 {
					continue
				}
				xy := plotter.XY{X: shift(float64(pt.X), pi, len(protos)), Y: e.v}
				bar := errAt(e.v, e.lo, e.hi)
				all.XYs = append(all.XYs, xy)
				all.YErrors = append(all.YErrors, bar)
				if e.boundOnly {
					bounds.XYs = append(bounds.XYs, xy)
					anyBound = true
				} else {
					measured.XYs = append(measured.XYs, xy)
				}
				for _, y := range []float64{e.v, e.lo, e.hi} {
					if !math.IsNaN(y) && (scale != yLog || y > 0) {
						lo, hi = math.Min(lo, y), math.Max(hi, y)
					}
				}
			}
			if len(all.XYs) == 0 {
				continue
			}
			any = true
			used[proto] = true
			// Lines join measurements only: a line through cells where
			// nothing failed would draw a flat 100 % as if measured, and
			// hide the other protocols' cells behind it.
			for _, seg := range measuredRuns(all.XYs, bounds.XYs) {
				line, err := plotter.NewLine(seg)
				if err != nil {
					return layout{}, false, err
				}
				line.LineStyle = lineStyle(c)
				p.Add(line)
			}
			eb, err := plotter.NewYErrorBars(all)
			if err != nil {
				return layout{}, false, err
			}
			eb.LineStyle = barStyle(c)
			eb.CapWidth = vg.Points(5)
			p.Add(eb)
			for _, g := range []struct {
				xys   plotter.XYs
				bound bool
			}{{measured.XYs, false}, {bounds.XYs, true}} {
				if len(g.xys) == 0 {
					continue
				}
				sc, err := plotter.NewScatter(g.xys)
				if err != nil {
					return layout{}, false, err
				}
				sc.GlyphStyle = glyphStyle(c, g.bound)
				p.Add(sc)
			}
		}
		panels = append(panels, p)
	}
	if !any {
		return layout{}, false, nil
	}
	for _, p := range panels {
		setY(p, scale, lo, hi)
	}
	leg := newLegend()
	addProtocolLegend(leg, s, protos, used)
	addGlyphLegend(leg, intervalNote, anyBound)
	return gridFigure(title, panels, leg), true, nil
}

// measuredRuns splits a line's points into runs of consecutive
// measurements, leaving out the bound-only points.
func measuredRuns(all, bounds plotter.XYs) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for _, xy := range all {
		if slices.Contains(bounds, xy) {
			if len(cur) > 1 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, xy)
	}
	if len(cur) > 1 {
		out = append(out, cur)
	}
	return out
}

// addProtocolLegend lists the protocols drawn, from the colour map.
func addProtocolLegend(leg *legend, s *Summary, protos []string, used map[string]bool) {
	for _, pr := range protos {
		if !used[pr] {
			continue
		}
		line, sc, _ := plotter.NewLinePoints(plotter.XYs{{}})
		line.LineStyle = lineStyle(protocolColor(pr))
		sc.GlyphStyle = glyphStyle(protocolColor(pr), false)
		label := pr
		if pr == "" {
			label = "all runs"
		} else if _, swept := s.Manifest.Axis(ProtocolAxis); swept {
			label = ProtocolAxis + "=" + pr
		}
		leg.add(label, line, sc)
	}
}

// addGlyphLegend explains the markers.
func addGlyphLegend(leg *legend, intervalNote string, anyBound bool) {
	sc, _ := plotter.NewScatter(plotter.XYs{{}})
	sc.GlyphStyle = glyphStyle(neutral, false)
	leg.add("estimate; bar: "+intervalNote, sc)
	if anyBound {
		b, _ := plotter.NewScatter(plotter.XYs{{}})
		b.GlyphStyle = glyphStyle(neutral, true)
		leg.add("none failed; bar: one-sided 95% bound", b)
	}
}

// setY gives a panel the figure's shared y range.
func setY(p *plot.Plot, scale yAxis, lo, hi float64) {
	switch scale {
	case yPercent:
		p.Y.Min, p.Y.Max = 0, 100
		if lo >= 50 {
			p.Y.Min = math.Max(0, math.Floor((lo-1)/5)*5)
		}
	case yLog:
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = ticks125{}
		p.Y.Min, p.Y.Max = lo/1.25, hi*1.25
	default:
		p.Y.Min, p.Y.Max = 0, math.Max(hi*1.08, 1e-9)
	}
}

// wideDodge spreads the protocols of one x value further apart than
// xScale does, so that cells where nothing failed (all at 100 %) stand
// side by side instead of on top of each other.
func wideDodge(shift func(x float64, i, n int) float64) func(x float64, i, n int) float64 {
	return func(x float64, i, n int) float64 { return shift(x, 2*i, 2*n-1) }
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten, so
// that values between the decades can be read; with fewer than three such
// labels in range it labels every tick. A sparse axis (a narrow panel's x
// axis, where labels are wide) labels only the decades over ranges wider
// than 300×.
type ticks125 struct{ sparse bool }

func (tk ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if !(lo > 0) || !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}}
	}
	labelled := 0
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (m == 2 || m == 5) && (!tk.sparse || hi/lo < 300) {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled < 3 {
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', -1, 64)
		}
	}
	return ticks
}

// gridFigure lays panels out in up to three columns, filling rows.
func gridFigure(title string, panels []*plot.Plot, leg *legend) layout {
	cols := min(len(panels), 3)
	if len(panels) == 4 {
		cols = 2
	}
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for c := range grid[r] {
			if i := r*cols + c; i < len(panels) {
				grid[r][c] = panels[i]
			}
		}
	}
	return gridLayout(title, grid, leg)
}

// gridLayout draws a grid of panels under one title with one legend. Axis
// titles appear on the left column and the bottom row only: the panels
// share their ranges, so repeating the titles would only crowd them.
func gridLayout(title string, grid [][]*plot.Plot, leg *legend) layout {
	rows, cols := len(grid), len(grid[0])
	tileW, tileH := vg.Inch*3.4, vg.Inch*2.6
	if rows == 1 && cols == 1 {
		tileW, tileH = figW, figH
	}
	for r := range grid {
		for c, p := range grid[r] {
			if p == nil {
				continue
			}
			if c > 0 {
				p.Y.Label.Text = ""
			}
			if r < rows-1 && (r+1 >= rows || grid[r+1][c] != nil) {
				p.X.Label.Text = ""
			}
		}
	}
	titleH := vg.Points(28)
	// Panel titles are drawn here rather than by each plot: plot.Align
	// aligns the data areas and would otherwise float the titles of
	// panels with different axis labels to different heights.
	titles := make([][]string, rows)
	for r := range grid {
		titles[r] = make([]string, cols)
		for c, p := range grid[r] {
			if p != nil {
				titles[r][c], p.Title.Text = p.Title.Text, ""
			}
		}
	}
	panelTitleH := vg.Points(16)
	w, h := tileW*vg.Length(cols), tileH*vg.Length(rows)+titleH
	return withLegend(w, h, leg, func(c draw.Canvas) {
		ts := textStyle(14)
		ts.XAlign = draw.XCenter
		ts.YAlign = draw.YTop
		c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
		// The padding above each row leaves room for the panel titles.
		t := draw.Tiles{Rows: rows, Cols: cols, PadTop: titleH + panelTitleH, PadX: vg.Points(10), PadY: vg.Points(10) + panelTitleH, PadLeft: vg.Points(4), PadRight: vg.Points(4), PadBottom: vg.Points(4)}
		pts := textStyle(10)
		pts.XAlign = draw.XCenter
		pts.YAlign = draw.YBottom
		cs := plot.Align(grid, t, c)
		for r := range grid {
			for col, p := range grid[r] {
				if p == nil {
					continue
				}
				cc := cs[r][col]
				p.Draw(cc)
				// Over the data area, which Align lines up across the
				// row, rather than over the canvas, which it does not.
				dc := p.DataCanvas(cc)
				cc.FillText(pts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y + vg.Points(7)}, titles[r][col])
			}
		}
	})
}

// rateEstimate is a rate in percent with its Wilson interval; a cell with
// no failure (rate 100 %, or 0 % for a failure rate) is drawn as a bound:
// the one-sided exact (Clopper–Pearson) 95 % bound, not Wilson's
// two-sided one.
func rateEstimate(r Rate, k, n int64, failure bool) (estimate, bool) {
	if n == 0 || math.IsNaN(float64(r.Value)) {
		return estimate{}, false
	}
	e := estimate{v: 100 * float64(r.Value), lo: 100 * float64(r.Lo), hi: 100 * float64(r.Hi)}
	fails := n - k
	if failure {
		fails = k
	}
	if fails == 0 {
		b := 100 * zeroBound(n)
		e.boundOnly = true
		if failure {
			e.lo, e.hi = 0, b
		} else {
			e.lo, e.hi = 100-b, 100
		}
	}
	return e, true
}

// latencyCDFGrid draws join latency CDFs: a row per facet, a column per
// protocol, a line per x value whose lightness follows the x order in the
// protocol's hue. Every panel shares the same x range.
func latencyCDFGrid(s *Summary) (layout, bool, error) {
	fs := facets(s)
	protos := protocols(s)
	// The x axis' values in order: each keeps its lightness in every panel.
	var xorder []float64
	for _, p := range s.Points {
		if !math.IsNaN(float64(p.X)) && !slices.Contains(xorder, float64(p.X)) {
			xorder = append(xorder, float64(p.X))
		}
	}
	slices.Sort(xorder)
	xlabel := map[float64]string{}
	for _, p := range s.Points {
		if !math.IsNaN(float64(p.X)) {
			xlabel[float64(p.X)] = s.XTick(p)
		}
	}
	type cell struct {
		f, pr int
		si    int
	}
	var cells []cell
	usedProto := map[int]bool{}
	for fi, f := range fs {
		for _, si := range f.series {
			pr := slices.Index(protos, protocolOf(s, s.Series[si].Params))
			cells = append(cells, cell{fi, pr, si})
			usedProto[pr] = true
		}
	}
	var cols []int
	for i := range protos {
		if usedProto[i] {
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 {
		return layout{}, false, nil
	}
	rows := min(len(fs), maxPanels/len(cols)+1)
	lo, hi := math.Inf(1), 0.0
	for _, p := range s.Points {
		if p.Latency.N() > 0 && !math.IsNaN(float64(p.X)) {
			lo, hi = math.Min(lo, math.Max(float64(p.Latency.Min())/1e6, 1e-3)), math.Max(hi, float64(p.Latency.Max())/1e6)
		}
	}
	if hi == 0 {
		return layout{}, false, nil
	}
	logX := hi/lo >= 30
	grid := make([][]*plot.Plot, rows)
	usedX := map[string]bool{} // protocol index and x value drawn
	for r := range grid {
		grid[r] = make([]*plot.Plot, len(cols))
	}
	for _, c := range cells {
		if c.f >= rows {
			continue
		}
		col := slices.Index(cols, c.pr)
		title := fs[c.f].label
		if protos[c.pr] != "" {
			title = protos[c.pr] + ", " + title
		}
		p := newPlot(title, "join latency (ms)", "fraction of joins")
		p.Title.TextStyle.Font = font.From(sans, 10)
		p.Y.Min, p.Y.Max = 0, 1
		if logX {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = ticks125{sparse: true}
			p.X.Min, p.X.Max = lo/1.1, hi*1.1
		} else {
			p.X.Min, p.X.Max = 0, hi*1.03
		}
		base := protocolColor(protos[c.pr])
		for _, idx := range s.Series[c.si].Points {
			pt := s.Points[idx]
			if math.IsNaN(float64(pt.X)) || pt.Latency.N() == 0 {
				continue
			}
			cdf := pt.Latency.CDF(400)
			var xmax float64
			line, err := cdfLine(cdf, &xmax)
			if err != nil {
				return layout{}, false, err
			}
			if logX {
				for i := range line.XYs {
					line.XYs[i].X = math.Max(line.XYs[i].X, lo)
				}
			}
			xi := slices.Index(xorder, float64(pt.X))
			line.LineStyle = lineStyle(rampColor(base, xi, len(xorder)))
			line.LineStyle.Width = vg.Points(1.2)
			p.Add(line)
			usedX[fmt.Sprint(c.pr, "/", xi)] = true
		}
		grid[c.f][col] = p
	}
	leg := newLegend()
	for _, pr := range cols {
		for xi, x := range xorder {
			if !usedX[fmt.Sprint(pr, "/", xi)] {
				continue
			}
			line, _ := plotter.NewLine(plotter.XYs{{}})
			line.LineStyle = lineStyle(rampColor(protocolColor(protos[pr]), xi, len(xorder)))
			label := s.XAxis + "=" + xlabel[x]
			if protos[pr] != "" {
				label = protos[pr] + ", " + label
			}
			leg.add(label, line)
		}
	}
	title := "Join latency CDF"
	if len(fs) > 1 {
		title += ": a row per " + facetNoun(s) + ", a column per protocol"
	}
	return gridLayout(title, grid, leg), true, nil
}

// facetNoun names what the panels vary over.
func facetNoun(s *Summary) string {
	var names []string
	for _, a := range s.Manifest.Axes {
		if a.Name != s.XAxis && a.Name != ProtocolAxis {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return "series"
	}
	return strings.Join(names, " × ")
}

// facetFailed counts the failed runs of a panel's points on the x axis.
func facetFailed(s *Summary, f facet) int64 {
	var failed int64
	for _, si := range f.series {
		for _, idx := range s.Series[si].Points {
			if !math.IsNaN(float64(s.Points[idx].X)) {
				failed += s.Points[idx].Failed()
			}
		}
	}
	return failed
}

// cleanFacetsNote names the panels without any failure.
func cleanFacetsNote(s *Summary) string {
	var clean []string
	for _, f := range facets(s) {
		if facetFailed(s, f) == 0 {
			clean = append(clean, f.label)
		}
	}
	if len(clean) == 0 {
		return ""
	}
	return "No run failed at " + strings.Join(clean, "; ") + ", so the failure figure has no row for it."
}

// failureGrid draws, for each failure class seen, the share of runs ending
// in it: a row per facet that had any failure, a column per class, a line
// per protocol with Wilson intervals. Facets without a failure are named
// in the returned note instead of drawn empty.
func failureGrid(s *Summary) (layout, bool, string, error) {
	if len(s.Outcomes) == 0 {
		return layout{}, false, "", nil
	}
	fs := facets(s)
	protos := protocols(s)
	xs := allX(s)
	totals := protocolTotals(s)
	var grid [][]*plot.Plot
	hi := 0.0
	used := map[string]bool{}
	for _, f := range fs {
		if facetFailed(s, f) == 0 {
			continue
		}
		if len(grid)*len(s.Outcomes) >= maxPanels*2 {
			continue
		}
		row := make([]*plot.Plot, len(s.Outcomes))
		for oi, o := range s.Outcomes {
			p := newPlot(o+", "+f.label, "", "runs (%)")
			p.Title.TextStyle.Font = font.From(sans, 10)
			shift := xScale(p, s, xs)
			for _, si := range f.series {
				sr := s.Series[si]
				proto := protocolOf(s, sr.Params)
				if totals[proto].failed == 0 {
					// Said in words (with its bound) instead of a
					// line along zero that would hide the others.
					continue
				}
				pi := slices.Index(protos, proto)
				var d errXY
				for _, idx := range sr.Points {
					pt := s.Points[idx]
					if math.IsNaN(float64(pt.X)) || pt.Runs == 0 {
						continue
					}
					k := pt.FailuresOf(o)
					r := newRate(k, pt.Runs)
					v := 100 * float64(r.Value)
					d.XYs = append(d.XYs, plotter.XY{X: shift(float64(pt.X), pi, len(protos)), Y: v})
					d.YErrors = append(d.YErrors, errAt(v, 100*float64(r.Lo), 100*float64(r.Hi)))
					hi = math.Max(hi, 100*float64(r.Hi))
				}
				if len(d.XYs) == 0 {
					continue
				}
				used[proto] = true
				c := protocolColor(proto)
				line, err := plotter.NewLine(d.XYs)
				if err != nil {
					return layout{}, false, "", err
				}
				line.LineStyle = lineStyle(c)
				eb, err := plotter.NewYErrorBars(d)
				if err != nil {
					return layout{}, false, "", err
				}
				eb.LineStyle = barStyle(c)
				eb.CapWidth = vg.Points(4)
				sc, err := plotter.NewScatter(d.XYs)
				if err != nil {
					return layout{}, false, "", err
				}
				sc.GlyphStyle = glyphStyle(c, false)
				sc.GlyphStyle.Radius = vg.Points(2)
				p.Add(line, eb, sc)
			}
			row[oi] = p
		}
		grid = append(grid, row)
	}
	note := cleanFacetsNote(s)
	if len(grid) == 0 {
		return layout{}, false, note, nil
	}
	for _, row := range grid {
		for _, p := range row {
			p.Y.Min, p.Y.Max = 0, math.Min(100, math.Max(hi*1.08, 1))
		}
	}
	leg := newLegend()
	addProtocolLegend(leg, s, protos, used)
	addGlyphLegend(leg, "95% Wilson interval", false)
	title := "Runs ending in each failure class: a column per class"
	if len(fs) > 1 {
		title += ", a row per " + facetNoun(s)
	}
	return gridLayout(title, grid, leg), true, note, nil
}
