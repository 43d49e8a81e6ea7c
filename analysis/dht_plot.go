package analysis

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/trace"
)

// Runs-table columns that make up the ring size N = nodes + joiners.
const (
	colNodes   = "nodes"
	colJoiners = "joiners"
)

// maxCDFLines bounds the lookup latency CDF: past the palette's eight
// colours, lines in one panel stop being tellable apart.
const maxCDFLines = 8

// HopsReferenceLabel names the reference line of the hops figure.
const HopsReferenceLabel = "½·log2 N (Chord paper)"

// dhtGroup is one line of a DHT figure: points sharing every varying
// parameter but those the x axis is made of.
type dhtGroup struct {
	label  string
	points []*DHTPoint
}

// axesOfColumns returns the names of the sweep axes stored in the given
// runs-table columns.
func axesOfColumns(s *Summary, cols ...string) []string {
	var out []string
	for _, a := range s.Manifest.Axes {
		for _, c := range cols {
			if a.Column == c || a.Name == c {
				out = append(out, a.Name)
				break
			}
		}
	}
	return out
}

// groupDHT splits pts by their values of the varying axes other than
// skip, in order of first appearance.
func groupDHT(s *Summary, pts []*DHTPoint, skip []string) []dhtGroup {
	by := s.DHT.varyingExcept(skip...)
	var groups []dhtGroup
	index := map[string]int{}
	for _, p := range pts {
		parts := make([]string, len(by))
		for i, a := range by {
			parts[i] = a + "=" + paramText(p.Params, a)
		}
		label := strings.Join(parts, ", ")
		gi, ok := index[label]
		if !ok {
			gi = len(groups)
			index[label] = gi
			groups = append(groups, dhtGroup{label: label})
		}
		groups[gi].points = append(groups[gi].points, p)
	}
	for i := range groups {
		if groups[i].label == "" {
			groups[i].label = "all runs"
		}
	}
	return groups
}

// groupColors gives each line of a DHT figure its protocol's colour; lines
// of one protocol that differ in other parameters step through the
// protocol's lightness ramp in the order the sweep lists them.
func groupColors(s *Summary, groups []dhtGroup) []color.RGBA {
	proto := make([]string, len(groups))
	count := map[string]int{}
	for i, g := range groups {
		if len(g.points) > 0 {
			proto[i] = protocolOf(s, g.points[0].Params)
		}
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

// distinctX reports whether x takes two or more values over pts, and
// returns them sorted.
func distinctX(pts []*DHTPoint, x func(*DHTPoint) float64) []float64 {
	seen := map[float64]bool{}
	var xs []float64
	for _, p := range pts {
		v := x(p)
		if math.IsNaN(v) || seen[v] {
			continue
		}
		seen[v] = true
		xs = append(xs, v)
	}
	sort.Float64s(xs)
	return xs
}

func ringX(p *DHTPoint) float64 {
	if p.RingSize <= 0 {
		return math.NaN()
	}
	return float64(p.RingSize)
}

func joinersX(p *DHTPoint) float64 { return float64(p.Joiners) }

// ringGroups groups points for the figures against ring size: by every
// varying parameter except nodes and joiners, taking joiners (then nodes)
// back in when that would put two points of a line at the same N.
func ringGroups(s *Summary, pts []*DHTPoint) []dhtGroup {
	nodes, joiners := axesOfColumns(s, colNodes), axesOfColumns(s, colJoiners)
	for _, skip := range [][]string{append(append([]string(nil), nodes...), joiners...), nodes, nil} {
		groups := groupDHT(s, pts, skip)
		clash := false
		for _, g := range groups {
			seen := map[int64]bool{}
			for _, p := range g.points {
				if seen[p.RingSize] {
					clash = true
				}
				seen[p.RingSize] = true
			}
		}
		if !clash || skip == nil {
			return groups
		}
	}
	return nil
}

// dhtXAxis sets up a DHT figure's x axis over the values xs: logarithmic
// when log is set or the values are spread geometrically, labelled with
// the values themselves when there are few. It returns the sideways shift
// of line i of n, as xScale does.
func dhtXAxis(p *plot.Plot, label string, xs []float64, log bool) func(x float64, i, n int) float64 {
	p.X.Label.Text = label
	lo, hi := xs[0], xs[len(xs)-1]
	log = log || geometric(xs)
	// The values themselves mark the axis when they are few; those too
	// close to the last labelled one for their labels not to collide keep
	// an unlabelled tick.
	ticks := valueTicks(xs, log)
	if ticks != nil {
		p.X.Tick.Marker = ticks
	}
	if log {
		p.X.Scale = plot.LogScale{}
		if ticks == nil {
			p.X.Tick.Marker = powersOfTwo{}
		}
		p.X.Min, p.X.Max = lo/1.25, hi*1.25
		span := math.Log(p.X.Max / p.X.Min)
		return func(x float64, i, n int) float64 { return x * math.Exp(dodge(i, n)*span) }
	}
	pad := math.Max((hi-lo)*0.06, 0.5)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	span := p.X.Max - p.X.Min
	return func(x float64, i, n int) float64 { return x + dodge(i, n)*span }
}

// valueTicks marks each of up to 12 values, labelling those at least a
// fifteenth of the range (on a log axis, a factor 1.2) past the previous
// label; nil when there are more values, or fewer than two would be
// labelled.
func valueTicks(xs []float64, log bool) plot.ConstantTicks {
	if len(xs) > 12 {
		return nil
	}
	var ticks plot.ConstantTicks
	labelled, last := 0, math.NaN()
	for _, x := range xs {
		t := plot.Tick{Value: x}
		far := math.IsNaN(last) || !log && x-last >= (xs[len(xs)-1]-xs[0])/15 || log && x/last >= 1.2
		if far {
			t.Label = strconv.FormatFloat(x, 'g', -1, 64)
			labelled, last = labelled+1, x
		}
		ticks = append(ticks, t)
	}
	if labelled < 2 {
		return nil
	}
	return ticks
}

// powersOfTwo labels a log2 axis at every power of two in range.
type powersOfTwo struct{}

func (powersOfTwo) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Ceil(math.Log2(lo)); math.Exp2(e) <= hi; e++ {
		v := math.Exp2(e)
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
	}
	return ticks
}

// whiskered adds a line with markers and asymmetric error bars; points
// whose interval is unknown get no bar.
func whiskered(p *plot.Plot, leg *legend, label string, c color.Color, d errXY) error {
	line, err := plotter.NewLine(d.XYs)
	if err != nil {
		return err
	}
	line.LineStyle = lineStyle(c)
	sc, err := plotter.NewScatter(d.XYs)
	if err != nil {
		return err
	}
	sc.GlyphStyle = glyphStyle(c, false)
	eb, err := plotter.NewYErrorBars(d)
	if err != nil {
		return err
	}
	eb.LineStyle = barStyle(c)
	eb.CapWidth = vg.Points(6)
	p.Add(line, eb, sc)
	leg.add(label, line, sc)
	return nil
}

// boundedLine draws a line of rates whose points in bounds saw no failure:
// those get a hollow marker and no line through them.
func boundedLine(p *plot.Plot, leg *legend, label string, c color.Color, all errXY, bounds plotter.XYs) error {
	for _, seg := range measuredRuns(all.XYs, bounds) {
		line, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		line.LineStyle = lineStyle(c)
		p.Add(line)
	}
	eb, err := plotter.NewYErrorBars(all)
	if err != nil {
		return err
	}
	eb.LineStyle = barStyle(c)
	eb.CapWidth = vg.Points(6)
	p.Add(eb)
	var measured plotter.XYs
	for _, xy := range all.XYs {
		if !slices.Contains(bounds, xy) {
			measured = append(measured, xy)
		}
	}
	for _, g := range []struct {
		xys   plotter.XYs
		bound bool
	}{{measured, false}, {bounds, true}} {
		if len(g.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(g.xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle = glyphStyle(c, g.bound)
		p.Add(sc)
	}
	line, sc, _ := plotter.NewLinePoints(plotter.XYs{{}})
	line.LineStyle = lineStyle(c)
	sc.GlyphStyle = glyphStyle(c, false)
	leg.add(label, line, sc)
	return nil
}

// errAt returns the error bar lengths of an estimate and its interval,
// none where the interval is unknown.
func errAt(v, lo, hi float64) struct{ Low, High float64 } {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return struct{ Low, High float64 }{}
	}
	return struct{ Low, High float64 }{math.Max(v-lo, 0), math.Max(hi-v, 0)}
}

// hopsFigure plots mean hops per successful lookup against ring size on a
// log2 axis, a line per group, with the ½·log2 N reference.
func hopsFigure(s *Summary) (layout, bool, error) {
	pts := withRing(s.DHT.Points, func(p *DHTPoint) bool { return !math.IsNaN(float64(p.HopsPerLookup.Value)) })
	xs := distinctX(pts, ringX)
	if len(xs) < 2 {
		return layout{}, false, nil
	}
	p := newPlot("Lookup path length against ring size", "", "forwards per successful lookup")
	shift := dhtXAxis(p, "ring size N (nodes + joiners, log2 scale)", xs, true)
	leg := newLegend()
	groups := ringGroups(s, pts)
	colors := groupColors(s, groups)
	ymax := 0.0
	for i, g := range groups {
		var d errXY
		sortByX(g.points, ringX)
		for _, pt := range g.points {
			h := pt.HopsPerLookup
			v := float64(h.Value)
			d.XYs = append(d.XYs, plotter.XY{X: shift(ringX(pt), i, len(groups)), Y: v})
			d.YErrors = append(d.YErrors, errAt(v, float64(h.Lo), float64(h.Hi)))
			ymax = math.Max(ymax, math.Max(v, nanTo(float64(h.Hi), v)))
		}
		if err := whiskered(p, leg, g.label, colors[i], d); err != nil {
			return layout{}, false, err
		}
	}
	// The reference is straight on a log axis; a few dozen points draw it.
	var ref plotter.XYs
	for k := 0; k <= 48; k++ {
		x := p.X.Min * math.Pow(p.X.Max/p.X.Min, float64(k)/48)
		ref = append(ref, plotter.XY{X: x, Y: 0.5 * math.Log2(x)})
	}
	ymax = math.Max(ymax, ref[len(ref)-1].Y)
	line, err := plotter.NewLine(ref)
	if err != nil {
		return layout{}, false, err
	}
	line.LineStyle = draw.LineStyle{Color: color.Gray{0x55}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	p.Add(line)
	leg.add(HopsReferenceLabel, line)
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.08, 1)
	return withLegend(figW, figH, leg, p.Draw), true, nil
}

func nanTo(v, alt float64) float64 {
	if math.IsNaN(v) {
		return alt
	}
	return v
}

// withRing keeps the points with a known ring size that pass keep.
func withRing(pts []*DHTPoint, keep func(*DHTPoint) bool) []*DHTPoint {
	var out []*DHTPoint
	for _, p := range pts {
		if p.RingSize > 0 && keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func sortByX(pts []*DHTPoint, x func(*DHTPoint) float64) {
	sort.SliceStable(pts, func(i, j int) bool { return x(pts[i]) < x(pts[j]) })
}

// dhtRateFigure plots a rate with Wilson intervals against x, a line per
// group. With zoom (success rates) the y axis spans 0-100% unless every
// interval is above 50%, when it starts just below the lowest, so that
// rates near 100% stay tellable apart; without (rare events) it spans 0
// to just above the highest interval.
func dhtRateFigure(s *Summary, title, xlabel, ylabel string, groups []dhtGroup, x func(*DHTPoint) float64, xs []float64, log bool, rate func(*DHTPoint) Rate, trials func(*DHTPoint) int64, zoom bool) (layout, error) {
	p := newPlot(title, "", ylabel)
	shift := dhtXAxis(p, xlabel, xs, log)
	leg := newLegend()
	colors := groupColors(s, groups)
	lo, hi := 100.0, 0.0
	anyBound := false
	for i, g := range groups {
		var all, bounds errXY
		sortByX(g.points, x)
		for _, pt := range g.points {
			r := rate(pt)
			if math.IsNaN(float64(r.Value)) || math.IsNaN(x(pt)) {
				continue
			}
			v := 100 * float64(r.Value)
			xy := plotter.XY{X: shift(x(pt), i, len(groups)), Y: v}
			bar := errAt(v, 100*float64(r.Lo), 100*float64(r.Hi))
			// No failure seen (every lookup ok, no get inconsistent):
			// draw the one-sided bound, as the main figures do.
			if n := trials(pt); n > 0 && (zoom && r.Value == 1 || !zoom && r.Value == 0) {
				b := 100 * zeroBound(n)
				if zoom {
					bar = struct{ Low, High float64 }{b, 0}
					lo = math.Min(lo, 100-b)
				} else {
					bar = struct{ Low, High float64 }{0, b}
					hi = math.Max(hi, b)
				}
				bounds.XYs = append(bounds.XYs, xy)
				anyBound = true
			} else {
				lo, hi = math.Min(lo, 100*float64(r.Lo)), math.Max(hi, 100*float64(r.Hi))
			}
			all.XYs = append(all.XYs, xy)
			all.YErrors = append(all.YErrors, bar)
		}
		if len(all.XYs) == 0 {
			continue
		}
		if err := boundedLine(p, leg, g.label, colors[i], all, bounds.XYs); err != nil {
			return layout{}, err
		}
	}
	if anyBound {
		b, _ := plotter.NewScatter(plotter.XYs{{}})
		b.GlyphStyle = glyphStyle(neutral, true)
		leg.add("none failed; bar: one-sided 95% bound", b)
	}
	switch {
	case zoom && lo > 50:
		p.Y.Min, p.Y.Max = math.Max(0, 5*math.Floor(lo/5)-5), 100
	case zoom:
		p.Y.Min, p.Y.Max = 0, 100
	default:
		// Inconsistency is rare: scale to the data rather than to 100%.
		p.Y.Min, p.Y.Max = 0, math.Min(100, math.Max(hi*1.1, 1))
	}
	return withLegend(figW, figH, leg, p.Draw), nil
}

// cdfGroups picks the lines of the lookup latency CDF and says how: a line
// per grid point when there are at most maxCDFLines, else per combination
// of the varying parameters other than ring size and joiners (pooling
// those), else per protocol, else the first maxCDFLines grid points.
func cdfGroups(s *Summary) (groups []dhtGroup, how string) {
	var pts []*DHTPoint
	for _, p := range s.DHT.Points {
		if p.LookupLatency.N() > 0 {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return nil, ""
	}
	perPoint := groupDHT(s, pts, nil)
	if len(perPoint) == len(pts) && len(pts) <= maxCDFLines {
		return perPoint, "one line per grid point"
	}
	skip := append(axesOfColumns(s, colNodes), axesOfColumns(s, colJoiners)...)
	if len(skip) > 0 {
		if g := groupDHT(s, pts, skip); len(g) <= maxCDFLines {
			return g, "one line per " + strings.Join(s.DHT.varyingExcept(skip...), " × ") + ", pooling " + strings.Join(skip, " and ")
		}
	}
	protocol := axesOfColumns(s, "protocol")
	if len(protocol) == 1 && len(s.DHT.varyingExcept()) > 1 {
		rest := s.DHT.varyingExcept(protocol[0])
		if g := groupDHT(s, pts, rest); len(g) > 1 && len(g) <= maxCDFLines {
			return g, "one line per protocol, pooling " + strings.Join(rest, ", ")
		}
	}
	if len(perPoint) > maxCDFLines {
		perPoint = perPoint[:maxCDFLines]
	}
	return perPoint, fmt.Sprintf("one line for each of the first %d grid points of %d; the table has the rest", len(perPoint), len(pts))
}

// latencyCDFFigure draws the empirical distribution of successful lookups'
// latency, one line per group of cdfGroups.
func latencyCDFFigure(s *Summary, groups []dhtGroup) (layout, bool, error) {
	if len(groups) == 0 {
		return layout{}, false, nil
	}
	p := newPlot("Lookup latency CDF (successful lookups)", "lookup latency (ms)", "fraction of lookups")
	p.Y.Min, p.Y.Max = 0, 1
	leg := newLegend()
	colors := groupColors(s, groups)
	xmax := 0.0
	for i, g := range groups {
		var d stats.Dist
		for _, pt := range g.points {
			d.Merge(pt.LookupLatency)
		}
		cdf := d.CDF(400)
		if len(cdf) == 0 {
			continue
		}
		line, err := cdfLine(cdf, &xmax)
		if err != nil {
			return layout{}, false, err
		}
		line.LineStyle = lineStyle(colors[i])
		p.Add(line)
		leg.add(g.label, line)
	}
	p.X.Min = 0
	p.X.Max = math.Max(xmax*1.03, 1e-6)
	return withLegend(figW, figH, leg, p.Draw), true, nil
}

// dhtFigureSpecs lists the DHT figures that apply to s, and notes for the
// ones left out.
func dhtFigureSpecs(s *Summary) (specs []figureSpec, notes []string) {
	d := s.DHT
	if d == nil {
		return nil, nil
	}
	ringXs := distinctX(d.Points, ringX)
	if len(ringXs) >= 2 {
		groups := ringGroups(s, withRing(d.Points, func(*DHTPoint) bool { return true }))
		by := "one line per " + groupNoun(groups)
		specs = append(specs,
			figureSpec{"dht_lookup_hops", "Lookup hops against ring size",
				"Mean forwards per successful lookup against ring size N on a log2 axis, " + by + ", with 95% intervals over runs; the dashed line is " + HopsReferenceLabel + ".",
				func() (layout, bool, error) { return hopsFigure(s) }},
			figureSpec{"dht_lookup_success", "Lookup success against ring size",
				"Share of lookups answered ok and naming the key's owner against ring size N (log2 axis), " + by + ", with 95% Wilson intervals. When every interval is above 50% the y axis starts just below the lowest.",
				func() (layout, bool, error) {
					pts := withRing(d.Points, func(p *DHTPoint) bool { return p.Lookups > 0 })
					xs := distinctX(pts, ringX)
					if len(xs) < 2 {
						return layout{}, false, nil
					}
					l, err := dhtRateFigure(s, "Lookup success against ring size", "ring size N (nodes + joiners, log2 scale)", "lookups ok (%)",
						ringGroups(s, pts), ringX, xs, true, func(p *DHTPoint) Rate { return p.LookupSuccess }, func(p *DHTPoint) int64 { return p.Lookups }, true)
					return l, true, err
				}})
	} else {
		notes = append(notes, "The ring size does not vary, so lookup hops and success are in the table only.")
	}
	switch groups, how := cdfGroups(s); {
	case d.LatencySource != trace.TableOps:
		notes = append(notes, "No ops table, so there is no lookup latency CDF.")
	case len(groups) == 0:
		notes = append(notes, "No lookup succeeded, so there is no lookup latency CDF.")
	default:
		specs = append(specs, figureSpec{"dht_lookup_latency_cdf", "Lookup latency CDF",
			"Empirical distribution of successful lookups' latency from the ops table, " + how + ".",
			func() (layout, bool, error) { return latencyCDFFigure(s, groups) }})
	}
	var withGets []*DHTPoint
	for _, p := range d.Points {
		if p.Gets > 0 {
			withGets = append(withGets, p)
		}
	}
	if xs := distinctX(withGets, joinersX); len(xs) >= 2 {
		groups := groupDHT(s, withGets, axesOfColumns(s, colJoiners))
		specs = append(specs, figureSpec{"dht_inconsistency", "Inconsistent gets against join concurrency",
			"Share of gets answered missing or stale against the number of joiners, one line per " + groupNoun(groups) + ", with 95% Wilson intervals.",
			func() (layout, bool, error) {
				l, err := dhtRateFigure(s, "Inconsistent gets against join concurrency", "joiners", "gets missing or stale (%)",
					groups, joinersX, xs, false, func(p *DHTPoint) Rate { return p.Inconsistency }, func(p *DHTPoint) int64 { return p.Gets }, false)
				return l, true, err
			}})
	} else if len(withGets) > 0 {
		notes = append(notes, "The number of joiners does not vary, so inconsistent gets are in the table only.")
	}
	return specs, notes
}

// groupNoun says what a figure's lines stand for.
func groupNoun(groups []dhtGroup) string {
	if len(groups) == 0 {
		return labelNoun("")
	}
	return labelNoun(groups[0].label)
}

// labelNoun names the axes a line's label is made of ("r=2, stabilize=10s":
// "r × stabilize"); "result set" when the lines are not split by any.
func labelNoun(label string) string {
	if label == "" || label == "all runs" {
		return "result set"
	}
	var names []string
	for _, part := range strings.Split(label, ", ") {
		name, _, _ := strings.Cut(part, "=")
		names = append(names, name)
	}
	return strings.Join(names, " × ")
}
