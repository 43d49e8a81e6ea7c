package analysis

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/trace"
)

// OutcomeOK is the runs-table outcome of a run that went right.
const OutcomeOK = observe.OutcomeOK

// knownOutcomes orders failure classes in tables and figures, so that a
// class keeps its column and colour across reports; classes not listed
// here (from result sets of other builds) follow in name order.
var knownOutcomes = observe.Outcomes[1:]

// Options tunes Analyze. The zero value picks defaults.
type Options struct {
	// X names the sweep axis for the x axis of figures. Empty picks the
	// first numeric axis, else the first axis.
	X string
	// ExactLatencies is how many join latencies each grid point keeps
	// exactly before switching to a histogram; 0 means
	// stats.DefaultExactCap.
	ExactLatencies int
}

// Num is a float64 that is written to JSON as null when it is NaN or
// infinite (no data), which encoding/json refuses to write as a number.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return appendFloat(nil, f), nil
}

// appendFloat formats like encoding/json: shortest round-trip digits,
// without an exponent unless the number is tiny or huge.
func appendFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// UnmarshalJSON implements json.Unmarshaler, reading null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Num(f)
	return err
}

// Rate is a proportion with its 95% Wilson interval. Value is NaN when
// there were no trials.
type Rate struct {
	Value Num `json:"value"`
	Lo    Num `json:"lo"`
	Hi    Num `json:"hi"`
}

func newRate(k, n int64) Rate {
	ci := stats.Wilson(k, n, stats.Z95)
	v := math.NaN()
	if n > 0 {
		v = float64(k) / float64(n)
	}
	return Rate{Num(v), Num(ci.Lo), Num(ci.Hi)}
}

// Interval is a confidence interval; NaN bounds mean unknown.
type Interval struct {
	Lo Num `json:"lo"`
	Hi Num `json:"hi"`
}

func unknownInterval() Interval { return Interval{Num(math.NaN()), Num(math.NaN())} }

// Known reports whether both bounds are known.
func (i Interval) Known() bool {
	return !math.IsNaN(float64(i.Lo)) && !math.IsNaN(float64(i.Hi))
}

// OutcomeCount is how many runs ended in one outcome class.
type OutcomeCount struct {
	Outcome string `json:"outcome"`
	Runs    int64  `json:"runs"`
}

// Point is the aggregate of one grid point.
type Point struct {
	Index  int          `json:"point"`
	Params trace.Params `json:"params"`
	// Series indexes Summary.Series; X is the position on the x axis (the
	// axis value, durations in milliseconds, or the value's index for a
	// categorical axis).
	Series int `json:"series"`
	X      Num `json:"x"` // NaN (null in JSON) for a point whose sweep group leaves the x axis out

	Runs       int64 `json:"runs"`
	RunsOK     int64 `json:"runs_ok"`
	RunSuccess Rate  `json:"run_success"`
	// Failures counts runs per outcome class other than ok, in the order
	// of Summary.Outcomes, omitting zero counts.
	Failures []OutcomeCount `json:"failures"`

	Joins       int64 `json:"joins"`
	JoinsOK     int64 `json:"joins_ok"`
	JoinSuccess Rate  `json:"join_success"`

	// Latency holds successful joins' latencies in nanoseconds: one value
	// per join from the joins table, or, without one, each run's median
	// (latency_p50_ns), which is coarser; LatencySource says which.
	Latency       *stats.Dist `json:"-"`
	LatencySource string      `json:"latency_source"`
	LatencyP50    Num         `json:"latency_p50_ns"`
	LatencyP90    Num         `json:"latency_p90_ns"`
	LatencyP99    Num         `json:"latency_p99_ns"`
	LatencyMax    Num         `json:"latency_max_ns"`
	LatencyExact  bool        `json:"latency_exact"`

	// MessagesPerJoin and HopsPerJoin average over joins from the joins
	// table, or divide the runs table's messages and redirects totals by
	// its joins when there is no joins table (so messages not sent on
	// behalf of a join count too).
	MessagesPerJoin Num `json:"messages_per_join"`
	HopsPerJoin     Num `json:"hops_per_join"`

	// 95% cluster-bootstrap intervals (runs resampled whole, seeded by the
	// point's index so that reports are byte-stable) for the latency median
	// and p99 and for messages per join; NaN when unknown.
	LatencyP50CI      Interval `json:"latency_p50_ci_ns"`
	LatencyP99CI      Interval `json:"latency_p99_ci_ns"`
	MessagesPerJoinCI Interval `json:"messages_per_join_ci"`

	Messages  int64 `json:"messages"`
	Redirects int64 `json:"redirects"`
	Events    int64 `json:"events"`
	WallNs    int64 `json:"wall_ns"`
	// EventsPerSecond is simulated events per second of wall time summed
	// over the point's runs: a throughput, not a latency.
	EventsPerSecond Num `json:"events_per_second"`

	joinRows, joinMsgs, joinHops int64
	// Per run, indexed by the run's seed number: what the bootstrap
	// resamples. slot maps a seed number to a dense cluster number over
	// the runs present (a shard holds only some).
	runMsgs, runJoins []float64
	runP50            []int64 // -1: the run has no median
	slot              []int32
	latClusters       *stats.Clustered
	runMax            int64 // largest latency_max_ns of the runs table
	hasRunMax         bool
	failures          map[string]int64
}

// Failed returns the number of runs whose outcome is not ok.
func (p *Point) Failed() int64 { return p.Runs - p.RunsOK }

// FailuresOf returns the number of runs that ended in outcome.
func (p *Point) FailuresOf(outcome string) int64 {
	for _, f := range p.Failures {
		if f.Outcome == outcome {
			return f.Runs
		}
	}
	return 0
}

// Series is the grid points that share every axis value but x's, in x
// order: one line in a figure.
type Series struct {
	Label  string       `json:"label"`
	Params trace.Params `json:"params"`
	Points []int        `json:"points"` // indexes into Summary.Points
}

// TableInfo describes one table of the result set.
type TableInfo struct {
	Parts int   `json:"parts"`
	Rows  int64 `json:"rows"`
}

// Summary is a whole result set, aggregated per grid point.
type Summary struct {
	Dir      string          `json:"dir"`
	Manifest *trace.Manifest `json:"manifest"`
	// XAxis is the axis figures use as x ("" when the sweep has no axes,
	// and x is the grid point index); XNumeric tells whether it has a
	// scale; XUnit is "ms" for a duration axis.
	XAxis    string `json:"x_axis"`
	XNumeric bool   `json:"x_numeric"`
	XUnit    string `json:"x_unit"`

	Points []*Point  `json:"points"`
	Series []*Series `json:"series"`
	// Outcomes lists every failure class seen, in display order.
	Outcomes []string `json:"outcomes"`

	RunsTable   TableInfo `json:"runs_table"`
	JoinsTable  TableInfo `json:"joins_table"`
	EventsTable TableInfo `json:"events_table"`
	Runs        int64     `json:"runs"`

	// DHT is the DHT workload, nil when no run had one.
	DHT *DHT `json:"dht,omitempty"`
	// Churn is the churn section, nil when no run had churn.
	Churn *Churn `json:"churn,omitempty"`

	// Examples holds one run per failure class, in the order of Outcomes.
	Examples []*FailureExample `json:"-"`
}

// XLabel returns the x axis title with its unit.
func (s *Summary) XLabel() string {
	switch {
	case s.XAxis == "":
		return "grid point"
	case s.XUnit != "":
		return s.XAxis + " (" + s.XUnit + ")"
	}
	return s.XAxis
}

// XTick returns the label of point p on the x axis: "base" for a point
// whose sweep group does not sweep the x axis.
func (s *Summary) XTick(p *Point) string {
	if s.XAxis == "" {
		return fmt.Sprint(p.Index)
	}
	v, ok := p.Params.Get(s.XAxis)
	if !ok {
		return "base"
	}
	return v.Text
}

// runColumns are the runs-table columns Analyze reads; the rest are never
// decoded.
var runColumns = []struct {
	name string
	typ  trace.ColumnType
}{
	{"run_id", trace.Int64},
	{"grid_point", trace.Int64},
	{"outcome", trace.String},
	{"joins", trace.Int64},
	{"joins_ok", trace.Int64},
	{"latency_p50_ns", trace.Int64},
	{"latency_max_ns", trace.Int64},
	{"messages", trace.Int64},
	{"redirects", trace.Int64},
	{"events", trace.Int64},
	{"wall_ns", trace.Int64},
}

var joinColumns = []struct {
	name string
	typ  trace.ColumnType
}{
	{"run_id", trace.Int64},
	{"start_ns", trace.Int64},
	{"end_ns", trace.Int64},
	{"hops", trace.Int64},
	{"messages", trace.Int64},
	{"outcome", trace.String},
}

// Analyze reads every part of rs and aggregates it per grid point.
func Analyze(rs *ResultSet, opts Options) (*Summary, error) {
	m := rs.Manifest
	s := &Summary{Dir: rs.Dir, Manifest: m}
	if err := s.chooseX(opts.X); err != nil {
		return nil, err
	}
	s.Points = make([]*Point, len(m.Grid))
	for i := range m.Grid {
		s.Points[i] = &Point{
			Index:    i,
			Params:   m.Params(i),
			Latency:  &stats.Dist{Cap: opts.ExactLatencies},
			failures: map[string]int64{},
		}
	}
	a := &aggregator{s: s, seen: newBitset(int64(len(m.Grid)) * int64(m.Seeds)), exact: opts.ExactLatencies, hasOps: len(rs.Ops) > 0}
	hasJoins := len(rs.Joins) > 0
	for _, path := range rs.Runs {
		if err := a.readRuns(path, !hasJoins); err != nil {
			return nil, err
		}
	}
	a.clusters(hasJoins)
	for _, path := range rs.Joins {
		if err := a.readJoins(path); err != nil {
			return nil, err
		}
	}
	for _, path := range rs.Events {
		n, err := countRows(path, trace.EventSchema.Name)
		if err != nil {
			return nil, err
		}
		s.EventsTable.Parts++
		s.EventsTable.Rows += n
	}
	for _, path := range rs.Ops {
		if err := a.readOps(path); err != nil {
			return nil, err
		}
	}
	s.finish(hasJoins)
	for _, o := range s.Outcomes {
		if ex := a.examples[o]; ex != nil {
			s.Examples = append(s.Examples, ex)
		}
	}
	s.finishDHT(a.dht, len(rs.Ops) > 0)
	s.finishChurn(a.churn, len(rs.Ops) > 0)
	return s, nil
}

// chooseX picks the x axis and lays the grid points out in series.
func (s *Summary) chooseX(name string) error {
	m := s.Manifest
	var x *trace.Axis
	switch {
	case name != "":
		ax, ok := m.Axis(name)
		if !ok {
			names := make([]string, len(m.Axes))
			for i, a := range m.Axes {
				names[i] = a.Name
			}
			return &InputError{Err: fmt.Errorf("no sweep axis %q (axes: %v)", name, names)}
		}
		x = ax
	default:
		for i := range m.Axes {
			if m.Axes[i].Numeric() {
				x = &m.Axes[i]
				break
			}
		}
		if x == nil && len(m.Axes) > 0 {
			x = &m.Axes[0]
		}
	}
	if x != nil {
		s.XAxis = x.Name
		s.XNumeric = x.Numeric()
		if s.XNumeric && x.Values[0].Kind == trace.KindDuration {
			s.XUnit = "ms"
		}
	}
	return nil
}

type aggregator struct {
	s     *Summary
	seen  bitset // run ids read from the runs table
	exact int    // Options.ExactLatencies
	dht   *dhtAcc
	churn *churnAcc
	// hasOps: lookup latencies come from the ops table, not from the runs
	// table's per-run medians.
	hasOps   bool
	examples map[string]*FailureExample
}

// need checks that a part has the schema and columns expected of it.
func need(r *trace.Reader, schemaName string, cols []struct {
	name string
	typ  trace.ColumnType
}) error {
	sc := r.Schema()
	if sc.Name != schemaName {
		return inputErrorf(r.Path(), "schema is %s, want %s", sc.Name, schemaName)
	}
	for _, c := range cols {
		i := sc.ColumnIndex(c.name)
		if i < 0 {
			return inputErrorf(r.Path(), "%s has no column %q", schemaName, c.name)
		}
		got := sc.Columns[i].Type
		if got != c.typ && !(c.typ == trace.String && got == trace.Text) {
			return inputErrorf(r.Path(), "column %q is %s, want %s", c.name, got, c.typ)
		}
	}
	return nil
}

func names(cols []struct {
	name string
	typ  trace.ColumnType
}) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// openPart opens a part, turning the reader's errors into input errors.
func openPart(path string) (*trace.Reader, error) {
	r, err := trace.Open(path)
	if err != nil {
		return nil, &InputError{Path: path, Err: err}
	}
	return r, nil
}

func (a *aggregator) readRuns(path string, runLatencies bool) error {
	r, err := openPart(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := need(r, trace.RunsSchemaName, runColumns); err != nil {
		return err
	}
	kvCols, err := kvPart(r)
	if err != nil {
		return err
	}
	kv := kvCols != nil
	churnCols, err := churnPart(r)
	if err != nil {
		return err
	}
	s, seeds := a.s, int64(a.s.Manifest.Seeds)
	cols := append(names(runColumns), kvCols...)
	for _, c := range churnCols {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	var c trace.Chunk
	for g := 0; g < r.NumRowGroups(); g++ {
		if err := r.ReadColumnsInto(&c, g, cols...); err != nil {
			return &InputError{Path: path, Err: err}
		}
		var (
			runID, gp       = c.Int64("run_id"), c.Int64("grid_point")
			outcome         = c.String("outcome")
			joins, joinsOK  = c.Int64("joins"), c.Int64("joins_ok")
			p50, lmax       = c.Int64("latency_p50_ns"), c.Int64("latency_max_ns")
			p50ok, lmaxOK   = c.Valid("latency_p50_ns"), c.Valid("latency_max_ns")
			msgs, redirects = c.Int64("messages"), c.Int64("redirects")
			events, wall    = c.Int64("events"), c.Int64("wall_ns")
		)
		for i := range c.NumRows() {
			if gp[i] < 0 || gp[i] >= int64(len(s.Points)) {
				return inputErrorf(path, "row group %d row %d: grid_point %d is not in the manifest grid (%d points)", g, i, gp[i], len(s.Points))
			}
			if runID[i]/seeds != gp[i] || runID[i] < 0 {
				return inputErrorf(path, "row group %d row %d: run_id %d does not belong to grid point %d with %d seeds", g, i, runID[i], gp[i], seeds)
			}
			// Merging a shard twice would silently double its runs.
			if a.seen.testAndSet(runID[i]) {
				return inputErrorf(path, "run_id %d appears more than once in the runs table (a part copied or merged twice?)", runID[i])
			}
			p := s.Points[gp[i]]
			p.Runs++
			p.addRun(runID[i]%seeds, seeds, msgs[i], joins[i])
			if outcome[i] == OutcomeOK {
				p.RunsOK++
			} else {
				p.failures[outcome[i]]++
				a.noteExample(outcome[i], runID[i], gp[i], events[i])
			}
			p.Joins += joins[i]
			p.JoinsOK += joinsOK[i]
			p.Messages += msgs[i]
			p.Redirects += redirects[i]
			p.Events += events[i]
			p.WallNs += wall[i]
			if runLatencies && valid(p50ok, i) {
				p.Latency.Add(p50[i])
				p.runP50[runID[i]%seeds] = p50[i]
			}
			if valid(lmaxOK, i) && (!p.hasRunMax || lmax[i] > p.runMax) {
				p.runMax, p.hasRunMax = lmax[i], true
			}
		}
		if kv {
			a.readKV(&c, !a.hasOps)
		}
		if churnCols != nil {
			a.readChurn(&c)
		}
		s.RunsTable.Rows += int64(c.NumRows())
	}
	s.RunsTable.Parts++
	return nil
}

func valid(v []bool, i int) bool { return v == nil || v[i] }

func (a *aggregator) readJoins(path string) error {
	r, err := openPart(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := need(r, trace.JoinSchema.Name, joinColumns); err != nil {
		return err
	}
	s, seeds := a.s, int64(a.s.Manifest.Seeds)
	cols := names(joinColumns)
	var c trace.Chunk
	for g := 0; g < r.NumRowGroups(); g++ {
		if err := r.ReadColumnsInto(&c, g, cols...); err != nil {
			return &InputError{Path: path, Err: err}
		}
		var (
			runID        = c.Int64("run_id")
			start, end   = c.Int64("start_ns"), c.Int64("end_ns")
			endOK        = c.Valid("end_ns")
			hops, msgs   = c.Int64("hops"), c.Int64("messages")
			outcome      = c.String("outcome")
			npts         = int64(len(s.Points))
			lastID, last = int64(-1), (*Point)(nil)
		)
		for i := range c.NumRows() {
			if runID[i] != lastID {
				if runID[i] < 0 || runID[i]/seeds >= npts || !a.seen.test(runID[i]) {
					return inputErrorf(path, "row group %d row %d: run_id %d is not in the runs table", g, i, runID[i])
				}
				lastID, last = runID[i], s.Points[runID[i]/seeds]
			}
			p := last
			p.joinRows++
			p.joinMsgs += msgs[i]
			p.joinHops += hops[i]
			k := int(p.slot[runID[i]%seeds])
			p.runMsgs[k] += float64(msgs[i])
			p.runJoins[k]++
			if outcome[i] == OutcomeOK && valid(endOK, i) {
				p.Latency.Add(end[i] - start[i])
				p.latClusters.Add(k, end[i]-start[i])
			}
		}
		s.JoinsTable.Rows += int64(c.NumRows())
	}
	s.JoinsTable.Parts++
	return nil
}

// countRows checks that a part opens as the named schema and returns its
// row count from the footer, without reading any data.
func countRows(path, schemaName string) (int64, error) {
	r, err := openPart(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if sc := r.Schema(); sc.Name != schemaName {
		return 0, inputErrorf(path, "schema is %s, want %s", sc.Name, schemaName)
	}
	return r.NumRows(), nil
}

func ratio(a, b int64) Num {
	if b == 0 {
		return Num(math.NaN())
	}
	return Num(float64(a) / float64(b))
}

// finish computes the derived columns and the series layout.
func (s *Summary) finish(hasJoins bool) {
	seen := map[string]bool{}
	for _, p := range s.Points {
		s.Runs += p.Runs
		p.RunSuccess = newRate(p.RunsOK, p.Runs)
		p.JoinSuccess = newRate(p.JoinsOK, p.Joins)
		if hasJoins && p.joinRows > 0 {
			p.MessagesPerJoin = ratio(p.joinMsgs, p.joinRows)
			p.HopsPerJoin = ratio(p.joinHops, p.joinRows)
		} else {
			p.MessagesPerJoin = ratio(p.Messages, p.Joins)
			p.HopsPerJoin = ratio(p.Redirects, p.Joins)
		}
		p.LatencySource = trace.TableRuns
		if hasJoins {
			p.LatencySource = trace.TableJoins
		}
		d := p.Latency
		p.LatencyP50 = Num(d.Quantile(0.50))
		p.LatencyP90 = Num(d.Quantile(0.90))
		p.LatencyP99 = Num(d.Quantile(0.99))
		p.LatencyExact = d.Exact()
		// The runs table's latency_max_ns is exact even without a joins
		// table; per-join latencies give the same number when present.
		switch {
		case hasJoins && d.N() > 0:
			p.LatencyMax = Num(d.Max())
		case p.hasRunMax:
			p.LatencyMax = Num(p.runMax)
		default:
			p.LatencyMax = Num(math.NaN())
		}
		p.EventsPerSecond = Num(math.NaN())
		if p.WallNs > 0 {
			p.EventsPerSecond = Num(float64(p.Events) / (float64(p.WallNs) / 1e9))
		}
		for o, n := range p.failures {
			if n > 0 {
				seen[o] = true
			}
		}
	}
	for _, o := range knownOutcomes {
		if seen[o] {
			s.Outcomes = append(s.Outcomes, o)
			delete(seen, o)
		}
	}
	var rest []string
	for o := range seen {
		rest = append(rest, o)
	}
	sort.Strings(rest)
	s.Outcomes = append(s.Outcomes, rest...)
	for _, p := range s.Points {
		p.Failures = []OutcomeCount{}
		for _, o := range s.Outcomes {
			if n := p.failures[o]; n > 0 {
				p.Failures = append(p.Failures, OutcomeCount{o, n})
			}
		}
	}
	s.layoutSeries()
	s.bootstrap()
}

// layoutSeries groups points into series by their non-x parameters and
// places each on the x axis.
func (s *Summary) layoutSeries() {
	var xAxis *trace.Axis
	if s.XAxis != "" {
		xAxis, _ = s.Manifest.Axis(s.XAxis)
	}
	byKey := map[string]int{}
	for _, p := range s.Points {
		var rest trace.Params
		for _, q := range p.Params {
			if q.Name != s.XAxis {
				rest = append(rest, q)
			}
		}
		k := rest.Key()
		si, ok := byKey[k]
		if !ok {
			si = len(s.Series)
			byKey[k] = si
			label := rest.String()
			if label == "" {
				label = s.Manifest.Experiment
				if label == "" {
					label = "all runs"
				}
			}
			s.Series = append(s.Series, &Series{Label: label, Params: rest})
		}
		p.Series = si
		s.Series[si].Points = append(s.Series[si].Points, p.Index)
		xv, hasX := p.Params.Get(s.XAxis)
		switch {
		case xAxis == nil:
			p.X = Num(p.Index)
		case !hasX:
			// The point's sweep group does not sweep x: it has no place
			// on the x axis, and figures leave it out.
			p.X = Num(math.NaN())
		case s.XNumeric:
			p.X = Num(xv.Num)
			if xv.Kind == trace.KindDuration {
				p.X = Num(xv.Num / 1e6)
			}
		default:
			p.X = Num(len(xAxis.Values))
			for i, av := range xAxis.Values {
				if av.Text == xv.Text {
					p.X = Num(i)
					break
				}
			}
		}
	}
	for _, sr := range s.Series {
		sort.SliceStable(sr.Points, func(i, j int) bool {
			a, b := float64(s.Points[sr.Points[i]].X), float64(s.Points[sr.Points[j]].X)
			return a < b || !math.IsNaN(a) && math.IsNaN(b)
		})
	}
}

// bitset marks run ids; one bit per possible run keeps duplicate detection
// within a few megabytes even for very large sweeps.
type bitset []uint64

func newBitset(n int64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) test(i int64) bool {
	return i >= 0 && i/64 < int64(len(b)) && b[i/64]&(1<<(i%64)) != 0
}

func (b bitset) set(i int64) { b[i/64] |= 1 << (i % 64) }

func (b bitset) testAndSet(i int64) bool {
	w, m := i/64, uint64(1)<<(i%64)
	was := b[w]&m != 0
	b[w] |= m
	return was
}
