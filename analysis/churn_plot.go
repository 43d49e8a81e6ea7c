package analysis

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dhtexp/dhtexp/trace"
)

// The Bamboo reference of the maintenance figure: Rhea, Geels, Roscoe and
// Kubiatowicz, "Handling Churn in a DHT" (USENIX ATC 2004), report Bamboo
// working effectively at a median session time of 1.4 minutes with under
// 900 bytes/s per node of maintenance traffic in a 1,000-node system.
const (
	BambooMedianMin   = 1.4
	BambooBytesPerSec = 900
	BambooLabel       = "Bamboo: 1.4 min, < 900 B/s (Rhea et al. 2004)"
	bambooCitation    = "Rhea, Geels, Roscoe and Kubiatowicz, \"Handling Churn in a DHT\", USENIX ATC 2004: Bamboo works effectively at a median session time of 1.4 minutes with under 900 bytes/s per node of maintenance in a 1,000-node system"
	// LNBKCitation names the source of the stabilization-rate condition.
	LNBKCitation = "Liben-Nowell, Balakrishnan and Karger, \"Analysis of the evolution of peer-to-peer systems\", PODC 2002"
)

// churnGroup is one line of a churn figure: points that share every
// varying parameter but the median session.
type churnGroup struct {
	label  string
	points []*ChurnPoint
}

// medianX is a point's median session time in minutes.
func medianX(p *ChurnPoint) float64 {
	if p.MedianNs <= 0 {
		return math.NaN()
	}
	return float64(p.MedianNs) / float64(time.Minute)
}

// churnGroups splits points by their values of the varying axes other than
// the median session, in order of first appearance, each sorted by median.
func churnGroups(s *Summary, pts []*ChurnPoint) []churnGroup {
	return churnGroupsBy(s, pts, axesOfColumns(s, "churn_median_ns"))
}

// churnGroupsBy splits points by their values of the varying axes other
// than skip.
func churnGroupsBy(s *Summary, pts []*ChurnPoint, skip []string) []churnGroup {
	by := s.Churn.varyingExcept(skip...)
	var groups []churnGroup
	index := map[string]int{}
	for _, p := range pts {
		if math.IsNaN(medianX(p)) {
			continue
		}
		parts := make([]string, len(by))
		for i, a := range by {
			parts[i] = shortAxis(a) + "=" + paramText(p.Params, a)
		}
		label := strings.Join(parts, ", ")
		if label == "" {
			label = "all runs"
		}
		gi, ok := index[label]
		if !ok {
			gi = len(groups)
			index[label] = gi
			groups = append(groups, churnGroup{label: label})
		}
		groups[gi].points = append(groups[gi].points, p)
	}
	for _, g := range groups {
		sort.SliceStable(g.points, func(i, j int) bool { return medianX(g.points[i]) < medianX(g.points[j]) })
	}
	return groups
}

// shortAxis names an axis in a legend: workload.replicas is r, as the
// figures' captions say.
func shortAxis(a string) string {
	if a == "workload.replicas" {
		return "r"
	}
	return a
}

// churnColors gives each line its protocol's colour, stepping through the
// protocol's lightness ramp for lines that differ in other parameters.
func churnColors(s *Summary, groups []churnGroup) []color.RGBA {
	proto := make([]string, len(groups))
	count := map[string]int{}
	for i, g := range groups {
		proto[i] = protocolOf(s, g.points[0].Params)
		count[proto[i]]++
	}
	seen := map[string]int{}
	out := make([]color.RGBA, len(groups))
	for i := range groups {
		out[i] = rampColor(protocolColor(proto[i]), seen[proto[i]], count[proto[i]])
		seen[proto[i]]++
	}
	return out
}

// LNBKLine is a vertical reference line of the lookup figures: the median
// session log2(N)·p at which a ring of N nodes stabilizing every p gets
// exactly log2 N stabilization rounds per half-life.
type LNBKLine struct {
	MedianMin   float64
	Nodes       int64
	StabilizeNs int64
	Label       string
}

// lnbkLines returns the reference lines of pts, one per distinct ring size
// and stabilization period, by median.
func lnbkLines(pts []*ChurnPoint) []LNBKLine {
	seen := map[[2]int64]bool{}
	var out []LNBKLine
	for _, p := range pts {
		k := [2]int64{p.Nodes, p.StabilizeNs}
		if seen[k] || math.IsNaN(float64(p.LNBKMedianNs)) {
			continue
		}
		seen[k] = true
		out = append(out, LNBKLine{MedianMin: float64(p.LNBKMedianNs) / float64(time.Minute), Nodes: p.Nodes, StabilizeNs: p.StabilizeNs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MedianMin < out[j].MedianMin })
	nodes := map[int64]bool{}
	for _, l := range out {
		nodes[l.Nodes] = true
	}
	for i := range out {
		out[i].Label = "LNBK p=" + time.Duration(out[i].StabilizeNs).String()
		if len(nodes) > 1 {
			out[i].Label += fmt.Sprintf(", N=%d", out[i].Nodes)
		}
	}
	return out
}

var refStyle = draw.LineStyle{Color: color.Gray{0x55}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}

// addLNBK draws the reference lines across a panel's y range, each
// labelled at its top, widening the x range to show them.
func addLNBK(f *churnFigure, p *plot.Plot, lines []LNBKLine) error {
	if len(lines) == 0 {
		return nil
	}
	var labels plotter.XYLabels
	for i, l := range lines {
		p.X.Min, p.X.Max = math.Min(p.X.Min, l.MedianMin/1.25), math.Max(p.X.Max, l.MedianMin*1.25)
		line, err := plotter.NewLine(plotter.XYs{{X: l.MedianMin, Y: p.Y.Min}, {X: l.MedianMin, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		line.LineStyle = refStyle
		f.mark(p, line)
		if !f.lnbkInLegend {
			f.leg.add("LNBK: median = log2 N · p", line)
			f.lnbkInLegend = true
		}
		// Labels near the bottom, right of their line, where lookup rates
		// (high at long sessions) leave room; they step up so that
		// neighbouring lines' labels do not overlap.
		y := p.Y.Min + (p.Y.Max-p.Y.Min)*(0.03+0.07*float64(i%3))
		labels.XYs = append(labels.XYs, plotter.XY{X: l.MedianMin, Y: y})
		labels.Labels = append(labels.Labels, " "+l.Label)
	}
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i] = textStyle(8)
		lb.TextStyle[i].Color = color.Gray{0x33}
	}
	f.mark(p, lb)
	return nil
}

const churnXLabel = "median session (minutes, log scale)"

// churnFigure is a churn figure before layout: a panel per stabilization
// period when that varies (else one), a shared legend, and the reference
// marks added to the panels (LNBK lines and labels, the Bamboo mark), kept
// for tests to read.
type churnFigure struct {
	title        string
	panels       []churnPanel
	leg          *legend
	marks        []plot.Plotter
	lnbkInLegend bool
	inLegend     map[string]bool
}

// churnPanel is one panel: its plot, its points' lines, and how it shifts
// line i of n sideways.
type churnPanel struct {
	p      *plot.Plot
	pts    []*ChurnPoint
	groups []churnGroup
	colors []color.RGBA
	shift  func(x float64, i, n int) float64
}

// mark adds reference plotters to a panel.
func (f *churnFigure) mark(p *plot.Plot, ps ...plot.Plotter) {
	p.Add(ps...)
	f.marks = append(f.marks, ps...)
}

// churnFacetAxis is the axis churn figures split into panels: the
// stabilization period, when it is swept with two to four values among
// pts; "" otherwise. Each panel then has one LNBK line.
func churnFacetAxis(s *Summary, pts []*ChurnPoint) string {
	ax := axesOfColumns(s, "stabilize_ns")
	if len(ax) != 1 || !slices.Contains(s.Churn.Varying, ax[0]) {
		return ""
	}
	vals := map[string]bool{}
	for _, p := range pts {
		vals[paramText(p.Params, ax[0])] = true
	}
	if len(vals) < 2 || len(vals) > 4 {
		return ""
	}
	return ax[0]
}

// newChurnFigure lays pts out in panels and lines, with a shared x axis of
// median sessions; nil when fewer than two medians.
func newChurnFigure(s *Summary, pts []*ChurnPoint, title, ylabel string) *churnFigure {
	xs := distinctChurnX(pts)
	if len(xs) < 2 {
		return nil
	}
	facet := churnFacetAxis(s, pts)
	skip := axesOfColumns(s, "churn_median_ns")
	if facet != "" {
		skip = append(skip, facet)
	}
	// Colours by line over the whole figure, so that a line keeps its
	// colour from panel to panel.
	all := churnGroupsBy(s, pts, skip)
	allColors := churnColors(s, all)
	colorOf := map[string]color.RGBA{}
	for i, g := range all {
		colorOf[g.label] = allColors[i]
	}
	f := &churnFigure{title: title, leg: newLegend()}
	var order []string
	byFacet := map[string][]*ChurnPoint{}
	for _, p := range pts {
		v := ""
		if facet != "" {
			v = paramText(p.Params, facet)
		}
		if _, ok := byFacet[v]; !ok {
			order = append(order, v)
		}
		byFacet[v] = append(byFacet[v], p)
	}
	for _, v := range order {
		panelTitle := ""
		if facet != "" {
			panelTitle = facet + " = " + v
		}
		p := newPlot(panelTitle, "", ylabel)
		pn := churnPanel{p: p, pts: byFacet[v], shift: churnXAxis(p, xs)}
		pn.groups = churnGroupsBy(s, pn.pts, skip)
		for _, g := range pn.groups {
			pn.colors = append(pn.colors, colorOf[g.label])
		}
		f.panels = append(f.panels, pn)
	}
	return f
}

// lineInLegend adds an entry to the legend the first time its label
// comes: lines recur from panel to panel.
func (f *churnFigure) lineInLegend(label string, thumbs ...plot.Thumbnailer) {
	if f.inLegend[label] {
		return
	}
	if f.inLegend == nil {
		f.inLegend = map[string]bool{}
	}
	f.inLegend[label] = true
	f.leg.add(label, thumbs...)
}

// lineThumb is the legend entry of a line of estimates in colour c.
func lineThumb(c color.Color) []plot.Thumbnailer {
	line, sc, _ := plotter.NewLinePoints(plotter.XYs{{}})
	line.LineStyle = lineStyle(c)
	sc.GlyphStyle = glyphStyle(c, false)
	return []plot.Thumbnailer{line, sc}
}

// setY gives every panel the same y range.
func (f *churnFigure) setY(lo, hi float64, log bool) {
	for _, pn := range f.panels {
		if log {
			pn.p.Y.Scale = plot.LogScale{}
			pn.p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		pn.p.Y.Min, pn.p.Y.Max = lo, hi
	}
}

// layout draws the panels side by side under the title, with the legend.
func (f *churnFigure) layout() layout {
	row := make([]*plot.Plot, len(f.panels))
	for i, pn := range f.panels {
		row[i] = pn.p
	}
	if len(row) == 1 {
		row[0].Title.Text = f.title
		return withLegend(figW, figH, f.leg, row[0].Draw)
	}
	return rowLayout(f.title, row, f.leg)
}

// rowLayout draws panels side by side under one title with one legend,
// larger than gridLayout's tiles: a churn panel holds six medians, a line
// per r and the reference lines. The y axis title is on the first panel
// only; the panels share their ranges.
func rowLayout(title string, row []*plot.Plot, leg *legend) layout {
	tileW, tileH := vg.Inch*4, vg.Inch*3.4
	titles := make([]string, len(row))
	for i, p := range row {
		titles[i], p.Title.Text = p.Title.Text, ""
		if i > 0 {
			p.Y.Label.Text = ""
		}
	}
	titleH, panelTitleH := vg.Points(28), vg.Points(16)
	return withLegend(tileW*vg.Length(len(row)), tileH+titleH, leg, func(c draw.Canvas) {
		ts := textStyle(14)
		ts.XAlign = draw.XCenter
		ts.YAlign = draw.YTop
		c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
		t := draw.Tiles{Rows: 1, Cols: len(row), PadTop: titleH + panelTitleH, PadX: vg.Points(14), PadLeft: vg.Points(4), PadRight: vg.Points(4), PadBottom: vg.Points(4)}
		pts := textStyle(10)
		pts.XAlign = draw.XCenter
		pts.YAlign = draw.YBottom
		cs := plot.Align([][]*plot.Plot{row}, t, c)
		for i, p := range row {
			p.Draw(cs[0][i])
			dc := p.DataCanvas(cs[0][i])
			cs[0][i].FillText(pts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y + vg.Points(7)}, titles[i])
		}
	})
}

// churnXAxis sets up the log axis of median session times, labelling the
// values with three significant digits (a 10 s median is 0.167 min).
func churnXAxis(p *plot.Plot, xs []float64) func(x float64, i, n int) float64 {
	shift := dhtXAxis(p, churnXLabel, xs, true)
	if ticks, ok := p.X.Tick.Marker.(plot.ConstantTicks); ok {
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = fmtX(ticks[i].Value)
			}
		}
	}
	return shift
}

// churnMeanFigure plots a per-run mean with its bootstrap interval against
// the median session, a line per group; with bamboo, the Bamboo reference
// mark too, in every panel.
func churnMeanFigure(s *Summary, title, ylabel string, get func(*ChurnPoint) Mean, bamboo bool) (*churnFigure, bool, error) {
	var pts []*ChurnPoint
	for _, p := range s.Churn.Points {
		if !math.IsNaN(float64(get(p).Value)) && !math.IsNaN(medianX(p)) {
			pts = append(pts, p)
		}
	}
	f := newChurnFigure(s, pts, title, ylabel)
	if f == nil {
		return nil, false, nil
	}
	lo, hi := math.Inf(1), 0.0
	// A log axis cannot show a zero (a point with no lost keys, or an
	// interval reaching down to 0), so any such value keeps the axis linear.
	zero := false
	for _, pn := range f.panels {
		p := pn.p
		for i, g := range pn.groups {
			var d errXY
			for _, pt := range g.points {
				m := get(pt)
				v := float64(m.Value)
				d.XYs = append(d.XYs, plotter.XY{X: pn.shift(medianX(pt), i, len(pn.groups)), Y: v})
				d.YErrors = append(d.YErrors, errAt(v, float64(m.Lo), float64(m.Hi)))
				hi = math.Max(hi, math.Max(v, nanTo(float64(m.Hi), v)))
				if l := nanTo(float64(m.Lo), v); l > 0 {
					lo = math.Min(lo, l)
				} else {
					zero = true
				}
			}
			scratch := newLegend()
			if err := whiskered(p, scratch, g.label, pn.colors[i], d); err != nil {
				return nil, false, err
			}
			f.lineInLegend(g.label, lineThumb(pn.colors[i])...)
		}
		if !bamboo {
			continue
		}
		sc, err := plotter.NewScatter(plotter.XYs{{X: BambooMedianMin, Y: BambooBytesPerSec}})
		if err != nil {
			return nil, false, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}
		f.mark(p, sc)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: BambooMedianMin, Y: BambooBytesPerSec}}, Labels: []string{"Bamboo"}})
		if err != nil {
			return nil, false, err
		}
		// Above the mark, centred, so that it stays inside the plot
		// wherever 1.4 min falls on the axis.
		lb.TextStyle[0] = textStyle(9)
		lb.TextStyle[0].XAlign = draw.XCenter
		lb.Offset = vg.Point{Y: vg.Points(7)}
		f.mark(p, lb)
		f.lineInLegend(BambooLabel, sc)
		p.X.Min = math.Min(p.X.Min, BambooMedianMin/1.25)
		p.X.Max = math.Max(p.X.Max, BambooMedianMin*1.25)
		// A labelled tick at 1.4 min, unless a labelled one is so close
		// (within a factor 1.2, as valueTicks spaces them) that the labels
		// would run into each other.
		near := func(t plot.Tick) bool {
			return t.Label != "" && math.Max(t.Value, BambooMedianMin)/math.Min(t.Value, BambooMedianMin) < 1.2
		}
		if ticks, ok := p.X.Tick.Marker.(plot.ConstantTicks); ok && !slices.ContainsFunc(ticks, near) {
			p.X.Tick.Marker = append(ticks, plot.Tick{Value: BambooMedianMin, Label: fmtX(BambooMedianMin)})
		}
		hi = math.Max(hi, BambooBytesPerSec)
		lo = math.Min(lo, BambooBytesPerSec)
	}
	if !zero && hi > 0 && lo > 0 && hi/lo > 30 {
		f.setY(lo/1.5, hi*1.5, true)
	} else {
		f.setY(0, math.Max(hi*1.1, 1), false)
	}
	return f, true, nil
}

// distinctChurnX returns the distinct median sessions of pts, sorted.
func distinctChurnX(pts []*ChurnPoint) []float64 {
	seen := map[float64]bool{}
	var xs []float64
	for _, p := range pts {
		if x := medianX(p); !math.IsNaN(x) && !seen[x] {
			seen[x] = true
			xs = append(xs, x)
		}
	}
	sort.Float64s(xs)
	return xs
}

// churnRateFigure plots a lookup rate with Wilson intervals against the
// median session, a line per group, with the LNBK lines of each panel's
// points. The y axis starts just below the lowest interval when every
// interval is above 50%.
func churnRateFigure(s *Summary, title, ylabel string, rate func(*ChurnPoint) Rate) (*churnFigure, bool, error) {
	var pts []*ChurnPoint
	for _, p := range s.Churn.Points {
		if p.Lookups > 0 && !math.IsNaN(medianX(p)) {
			pts = append(pts, p)
		}
	}
	f := newChurnFigure(s, pts, title, ylabel)
	if f == nil {
		return nil, false, nil
	}
	lo := 100.0
	anyBound := false
	for _, pn := range f.panels {
		for i, g := range pn.groups {
			var all, bounds errXY
			for _, pt := range g.points {
				r := rate(pt)
				v := 100 * float64(r.Value)
				xy := plotter.XY{X: pn.shift(medianX(pt), i, len(pn.groups)), Y: v}
				bar := errAt(v, 100*float64(r.Lo), 100*float64(r.Hi))
				if r.Value == 1 {
					// No failure seen: the one-sided bound, as the DHT
					// figures draw it.
					b := 100 * zeroBound(pt.Lookups)
					bar = struct{ Low, High float64 }{b, 0}
					lo = math.Min(lo, 100-b)
					bounds.XYs = append(bounds.XYs, xy)
					anyBound = true
				} else {
					lo = math.Min(lo, 100*float64(r.Lo))
				}
				all.XYs = append(all.XYs, xy)
				all.YErrors = append(all.YErrors, bar)
			}
			scratch := newLegend()
			if err := boundedLine(pn.p, scratch, g.label, pn.colors[i], all, bounds.XYs); err != nil {
				return nil, false, err
			}
			f.lineInLegend(g.label, lineThumb(pn.colors[i])...)
		}
	}
	if anyBound {
		b, _ := plotter.NewScatter(plotter.XYs{{}})
		b.GlyphStyle = glyphStyle(neutral, true)
		f.leg.add("none failed; bar: one-sided 95% bound", b)
	}
	if lo > 50 {
		f.setY(math.Max(0, 5*math.Floor(lo/5)-5), 100.5, false)
	} else {
		f.setY(0, 100.5, false)
	}
	for _, pn := range f.panels {
		if err := addLNBK(f, pn.p, lnbkLines(pn.pts)); err != nil {
			return nil, false, err
		}
	}
	return f, true, nil
}

// asLayout turns a built figure into a layout.
func asLayout(f *churnFigure, ok bool, err error) (layout, bool, error) {
	if !ok || err != nil {
		return layout{}, ok, err
	}
	return f.layout(), true, nil
}

// churnLatencyNote says where the lookup latencies come from.
func churnLatencyNote(c *Churn) string {
	if c.LatencySource == "ops" {
		return "Lookup latencies p50 and p99 are the pooled quantiles of the lookups issued in the measurement window and answered ok, from the ops table, with 95% cluster-bootstrap intervals over runs."
	}
	return "No ops table: lookup latencies p50 and p99 are estimates, the mean over runs of each run's median and 99th percentile (churn_lookup_p50_ns, churn_lookup_p99_ns), with 95% bootstrap intervals over runs."
}

// churnFigureSpecs lists the churn figures that apply to s, and notes for
// those left out.
func churnFigureSpecs(s *Summary) (specs []figureSpec, notes []string) {
	c := s.Churn
	if c == nil {
		return nil, nil
	}
	if len(distinctChurnX(c.Points)) < 2 {
		return nil, []string{"The median session time does not vary, so the churn figures are left out; every number is in the table."}
	}
	skip := axesOfColumns(s, "churn_median_ns")
	by := ""
	if facet := churnFacetAxis(s, c.Points); facet != "" {
		skip = append(skip, facet)
		by = "a panel per " + facet + ", "
	}
	by += "one line per " + churnGroupNoun(churnGroupsBy(s, c.Points, skip))
	lnbk := " Dashed vertical lines: the condition of " + LNBKCitation + ", that stabilization run Ω(log N) times per half-life; for each stabilization period p the line stands at median session = log2(N)·p, where the ring gets exactly log2 N rounds per half-life, taking the half-life of the ring as about the median session time, which holds when arrivals balance departures, as they do here."
	specs = append(specs,
		figureSpec{"churn_maint_bytes", "Maintenance traffic per node against session time",
			"Maintenance bytes per second per live node (churn_maint_bytes / window seconds / mean live nodes, averaged over runs) against median session time on a log axis, " + by + ", with 95% bootstrap intervals over runs. The triangle marks Bamboo (" + bambooCitation + ").",
			func() (layout, bool, error) {
				return asLayout(churnMeanFigure(s, "Maintenance traffic per node", "maintenance bytes/s per node", func(p *ChurnPoint) Mean { return p.MaintBytes }, true))
			}},
		figureSpec{"churn_lookup_success", "Lookup success under churn",
			"Share of lookups issued in the measurement window that were answered ok, pooled over runs, against median session time (log axis), " + by + ", with 95% Wilson intervals." + lnbk,
			func() (layout, bool, error) {
				return asLayout(churnRateFigure(s, "Lookup success under churn", "lookups answered ok (%)", func(p *ChurnPoint) Rate { return p.LookupSuccess }))
			}},
		figureSpec{"churn_lookup_consistent", "Consistent lookups under churn",
			"Share of lookups issued in the measurement window whose answer named the key's true owner when it was sent, pooled over runs, against median session time (log axis), " + by + ", with 95% Wilson intervals." + lnbk,
			func() (layout, bool, error) {
				return asLayout(churnRateFigure(s, "Consistent lookups under churn", "lookups naming the true owner (%)", func(p *ChurnPoint) Rate { return p.Consistent }))
			}},
		figureSpec{"churn_keys_lost", "Keys lost under churn",
			"Keys with no live copy at the end check, mean per run, against median session time (log axis), " + by + " (r = workload.replicas, the successors keeping a copy), with 95% bootstrap intervals over runs.",
			func() (layout, bool, error) {
				return asLayout(churnMeanFigure(s, "Keys lost under churn", "keys lost per run", func(p *ChurnPoint) Mean { return p.KeysLostPerRun }, false))
			}},
	)
	return specs, nil
}

// churnGroupNoun says what a churn figure's lines stand for.
func churnGroupNoun(groups []churnGroup) string {
	if len(groups) == 0 {
		return labelNoun("")
	}
	return labelNoun(groups[0].label)
}

// broken reports whether a point's ring counts as broken: some run ended
// with a wrong ring or lost a key. Lookup success is reported beside it, not
// folded in: lookups routed through a node that has just crashed fail until
// the crash is found, so they stay a few percent short of 100 % even where
// the ring is always repaired and no key is lost.
func broken(p *ChurnPoint) bool {
	return p.RingCorrectRuns < p.Runs || p.LossRuns > 0
}

// churnFindings says, per line of the lookup figures, at which median
// session the measured ring starts to break (a wrong ring at the end or a
// key lost), coming from long sessions, and how that compares with the LNBK
// line of its stabilization period, with the lookup success there and at
// the longest sessions; and how the shortest sessions' maintenance compares
// with Bamboo's.
func churnFindings(s *Summary) []string {
	c := s.Churn
	if c == nil {
		return nil
	}
	var out []string
	groups := churnGroups(s, c.Points)
	const maxSentences = 12
	for gi, g := range groups {
		if gi == maxSentences {
			out = append(out, fmt.Sprintf("Churn: %d more lines of the lookup figures are in the churn table.", len(groups)-maxSentences))
			break
		}
		pts := g.points
		var at *ChurnPoint
		for i := len(pts) - 1; i >= 0; i-- {
			if broken(pts[i]) {
				at = pts[i]
				break
			}
		}
		lnbk := float64(pts[0].LNBKMedianNs) / float64(time.Minute)
		where := ""
		if !math.IsNaN(lnbk) {
			where = fmt.Sprintf(" (LNBK line, log2 N · %s, at %.2f min)", time.Duration(pts[0].StabilizeNs), lnbk)
		}
		longest := pts[len(pts)-1]
		lookups := func(p *ChurnPoint) string {
			if p.Lookups == 0 {
				return "no lookups"
			}
			return "lookups ok " + rateProse(p.LookupSuccess)
		}
		if at == nil {
			out = append(out, fmt.Sprintf("Churn, %s: the ring held at every median session from %s to %s min%s: every run's ring correct at the end and no key lost; %s at %s min and %s at %s min.",
				g.label, fmtX(medianX(pts[0])), fmtX(medianX(longest)), where, lookups(pts[0]), fmtX(medianX(pts[0])), lookups(longest), fmtX(medianX(longest))))
			continue
		}
		rel := ""
		if !math.IsNaN(lnbk) {
			switch x := medianX(at); {
			case x > lnbk*1.0001:
				rel = fmt.Sprintf(", ×%.2f the LNBK line's median (sessions longer than the line's)", x/lnbk)
			case x < lnbk*0.9999:
				rel = fmt.Sprintf(", ×%.2f the LNBK line's median (sessions shorter than the line's: the ring held past it)", x/lnbk)
			default:
				rel = ", at the LNBK line"
			}
		}
		tail := ""
		if at != longest {
			tail = fmt.Sprintf("; at %s min, %s", fmtX(medianX(longest)), lookups(longest))
		}
		out = append(out, fmt.Sprintf("Churn, %s: the ring starts to break (a wrong ring at the end or a key lost) at median session %s min%s%s; there, %d of %d runs ended with a correct ring, %d lost a key, and %s%s.",
			g.label, fmtX(medianX(at)), where, rel, at.RingCorrectRuns, at.Runs, at.LossRuns, lookups(at), tail))
	}
	// Maintenance at the shortest sessions against Bamboo's figure: the
	// cheapest and the dearest grid point there.
	shortest := math.Inf(1)
	for _, p := range c.Points {
		if !math.IsNaN(float64(p.MaintBytes.Value)) && medianX(p) < shortest {
			shortest = medianX(p)
		}
	}
	var lo, hi *ChurnPoint
	for _, p := range c.Points {
		if math.IsNaN(float64(p.MaintBytes.Value)) || medianX(p) != shortest {
			continue
		}
		if lo == nil || p.MaintBytes.Value < lo.MaintBytes.Value {
			lo = p
		}
		if hi == nil || p.MaintBytes.Value > hi.MaintBytes.Value {
			hi = p
		}
	}
	if lo != nil {
		one := func(p *ChurnPoint) string {
			m := p.MaintBytes
			whole := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
			return fmt.Sprintf("%s bytes/s per live node, 95 %% bootstrap %s, at %s", fmtFixed(m.Value, 0), boundsProse(m.Lo, m.Hi, whole), withoutMedian(s, p.Params))
		}
		what := one(lo)
		if hi != lo {
			what = "from " + what + " to " + one(hi)
		}
		out = append(out, fmt.Sprintf("Churn maintenance at the shortest median session, %s min: %s. Bamboo works at %.1f min with under %d bytes/s per node at 1,000 nodes (Rhea et al., USENIX ATC 2004).",
			fmtX(shortest), what, BambooMedianMin, BambooBytesPerSec))
	}
	return out
}

func fmtX(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

// rateProse writes a lookup rate with its Wilson interval to a tenth of a
// percent (hundredths within a point of 100 %), so that a rate below the
// 99 % threshold never prints as 99 %.
func rateProse(r Rate) string {
	prec := 1
	if r.Lo > 0.99 || r.Hi > 0.99 {
		prec = 2
	}
	f := func(v Num) string { return strconv.FormatFloat(100*float64(v), 'f', prec, 64) }
	return fmt.Sprintf("%s %% (95 %% Wilson %s–%s %%)", f(r.Value), f(r.Lo), f(r.Hi))
}

// withoutMedian names a point's parameters other than the median session.
func withoutMedian(s *Summary, ps trace.Params) string {
	skip := axesOfColumns(s, "churn_median_ns")
	var parts []string
	for _, q := range ps {
		if !slices.Contains(skip, q.Name) {
			parts = append(parts, shortAxis(q.Name)+"="+q.Value.Text)
		}
	}
	if len(parts) == 0 {
		return "all runs"
	}
	return strings.Join(parts, ", ")
}
