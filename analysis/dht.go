package analysis

import (
	"math"
	"slices"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/trace"
)

// OpKindLookup and OpStatusOK identify a successful lookup in the ops
// table.
const (
	OpKindLookup = "lookup"
	OpStatusOK   = "ok"
)

// colSpec is a column a part must have, and its type; the same type as
// the column lists of aggregate.go.
type colSpec = struct {
	name string
	typ  trace.ColumnType
}

// kvColumns are the runs-table columns of a DHT workload (runs schema
// version 3). A part that has kv_ops must have all of them; kvOptional
// are read when present.
var kvColumns = []colSpec{
	{"nodes", trace.Int64},
	{"joiners", trace.Int64},
	{"kv_keys", trace.Int64},
	{"kv_ops", trace.Int64},
	{"kv_answered", trace.Int64},
	{"kv_ops_ok", trace.Int64},
	{"kv_lookups", trace.Int64},
	{"kv_lookups_answered", trace.Int64},
	{"kv_lookups_ok", trace.Int64},
	{"kv_lookup_hops", trace.Int64},
	{"kv_gets", trace.Int64},
	{"kv_missing", trace.Int64},
	{"kv_stale", trace.Int64},
	{"kv_key_checks", trace.Int64},
	{"kv_key_failures", trace.Int64},
	{"kv_lost", trace.Int64},
	{"kv_duplicated", trace.Int64},
	{"kv_misplaced", trace.Int64},
	{"kv_fingers", trace.Int64},
	{"kv_fingers_stale", trace.Int64},
}

var kvOptional = []colSpec{
	{"kv_first_failure", trace.String},
	{"kv_lookup_latency_p50_ns", trace.Int64},
	{"leavers", trace.Int64},
	{"departed", trace.Int64},
	{"workload_replicas", trace.Int64},
	{"kv_replicas_missing", trace.Int64},
	{"kv_replicas_extra", trace.Int64},
}

var opColumns = []colSpec{
	{"run_id", trace.Int64},
	{"kind", trace.String},
	{"start_ns", trace.Int64},
	{"end_ns", trace.Int64},
	{"status", trace.String},
	{"correct", trace.Bool},
}

// Mean is an estimate with its 95% confidence interval; NaN where unknown.
type Mean struct {
	Value Num `json:"value"`
	Lo    Num `json:"lo"`
	Hi    Num `json:"hi"`
}

// DHTPoint is the DHT workload of one grid point, over its runs that had
// one (kv_keys or kv_ops above 0).
type DHTPoint struct {
	// Index indexes Summary.Points.
	Index  int          `json:"point"`
	Params trace.Params `json:"params"`
	Runs   int64        `json:"runs"`
	// Nodes and Joiners come from the runs table, as does RingSize, their
	// sum; RingSize is 0 when the point's runs disagree.
	Nodes    int64 `json:"nodes"`
	Joiners  int64 `json:"joiners"`
	RingSize int64 `json:"ring_size"`

	// Keys, Ops, Answered and OpsOK, like every count below, are totals
	// over the runs of their kv_ columns.
	Keys     int64 `json:"keys"`
	Ops      int64 `json:"ops"`
	Answered int64 `json:"answered"`
	OpsOK    int64 `json:"ops_ok"`

	Lookups         int64 `json:"lookups"`
	LookupsAnswered int64 `json:"lookups_answered"`
	LookupsOK       int64 `json:"lookups_ok"`
	// LookupSuccess is LookupsOK / Lookups: answered ok, naming the key's
	// true owner.
	LookupSuccess Rate  `json:"lookup_success"`
	LookupHops    int64 `json:"lookup_hops"`
	// HopsPerLookup is LookupHops / LookupsOK, with an interval from the
	// spread between runs (stats.Ratio) over HopRuns runs with a
	// successful lookup.
	HopsPerLookup Mean  `json:"hops_per_lookup"`
	HopRuns       int64 `json:"hop_runs"`
	// HopsReference is ½·log2 RingSize, Chord's expected lookup path.
	HopsReference Num `json:"hops_reference"`

	// Gets, and those answered inconsistently: not found although the
	// owner holds the key (Missing), or another value than the owner's
	// (Stale). Inconsistency is (Missing + Stale) / Gets.
	Gets          int64 `json:"gets"`
	Missing       int64 `json:"missing"`
	Stale         int64 `json:"stale"`
	Inconsistency Rate  `json:"inconsistency"`

	// KeyChecks and KeyFailures are the key-safety checks made during the
	// runs and those that failed; Lost, Duplicated and Misplaced are keys
	// wrong at the runs' ends, and UnsafeRuns the runs with any.
	KeyChecks   int64 `json:"key_checks"`
	KeyFailures int64 `json:"key_failures"`
	Lost        int64 `json:"lost"`
	Duplicated  int64 `json:"duplicated"`
	Misplaced   int64 `json:"misplaced"`
	UnsafeRuns  int64 `json:"unsafe_runs"`
	// FirstKeyFailure is the lowest-numbered run's kv_first_failure, for
	// people; FirstKeyFailureRun is that run (-1 without one).
	FirstKeyFailure    string `json:"first_key_failure,omitempty"`
	FirstKeyFailureRun int64  `json:"first_key_failure_run"`

	Fingers      int64 `json:"fingers"`
	FingersStale int64 `json:"fingers_stale"`
	// Leavers and Departed total the graceful leaves asked for and completed; Replicated
	// counts runs that kept copies, ReplicasMissing and ReplicasExtra the copies missing
	// at, or held beyond, the owners' successors at the end.
	Leavers         int64 `json:"leavers,omitempty"`
	Departed        int64 `json:"departed,omitempty"`
	Replicated      int64 `json:"replicated_runs,omitempty"`
	ReplicasMissing int64 `json:"replicas_missing,omitempty"`
	ReplicasExtra   int64 `json:"replicas_extra,omitempty"`
	// StaleFingers is FingersStale / Fingers.
	StaleFingers Num `json:"stale_fingers"`

	// LookupLatency holds successful lookups' latencies in nanoseconds: one
	// per lookup from the ops table, or, without one, each run's median
	// (kv_lookup_latency_p50_ns).
	LookupLatency *stats.Dist `json:"-"`
	LatencyP50    Num         `json:"lookup_latency_p50_ns"`
	LatencyP99    Num         `json:"lookup_latency_p99_ns"`
	LatencyMax    Num         `json:"lookup_latency_max_ns"`
	LatencyExact  bool        `json:"lookup_latency_exact"`

	hops      stats.Ratio
	ringMixed bool
}

// DHT is the DHT workload of a result set, present when some run had one.
type DHT struct {
	// Points holds the grid points with workload runs, in grid order.
	Points []*DHTPoint `json:"points"`
	// Varying lists the sweep axes whose values differ between Points, in
	// axis order: what series and labels are made of.
	Varying []string `json:"varying"`
	// LatencySource is trace.TableOps when lookup latencies come from the ops
	// table, trace.TableRuns when from the runs table's per-run medians.
	LatencySource string    `json:"latency_source"`
	OpsTable      TableInfo `json:"ops_table"`

	// Totals over Points.
	Runs       int64 `json:"runs"`
	UnsafeRuns int64 `json:"unsafe_runs"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	Misplaced  int64 `json:"misplaced"`
}

// point returns the DHT point of grid point i, or nil.
func (d *DHT) point(i int) *DHTPoint {
	for _, p := range d.Points {
		if p.Index == i {
			return p
		}
	}
	return nil
}

// dhtAcc collects the DHT columns while parts are read.
type dhtAcc struct {
	points   []*DHTPoint // by grid point, nil where no run had a workload
	claimed  bitset      // runs whose operations an earlier ops file held
	exact    int
	opsTable TableInfo
}

func (a *aggregator) dhtPoint(gp int) *DHTPoint {
	if a.dht == nil {
		a.dht = &dhtAcc{points: make([]*DHTPoint, len(a.s.Points)), exact: a.exact}
	}
	p := a.dht.points[gp]
	if p == nil {
		p = &DHTPoint{Index: gp, Params: a.s.Points[gp].Params, RingSize: -1, FirstKeyFailureRun: -1,
			LookupLatency: &stats.Dist{Cap: a.dht.exact}}
		a.dht.points[gp] = p
	}
	return p
}

// kvPart reports whether a runs part carries the DHT columns, checking
// that it has all the required ones if it has any, and returns the DHT
// columns to decode: the required ones and the optional ones it has.
func kvPart(r *trace.Reader) ([]string, error) {
	return columnGroup(r, "kv_ops", kvColumns, kvOptional)
}

// columnGroup returns the columns of a group to decode from a runs part:
// nil when the part lacks marker, else every required column (a part with
// the marker must have them all) and the optional ones it has.
func columnGroup(r *trace.Reader, marker string, required, optional []colSpec) ([]string, error) {
	sc := r.Schema()
	if sc.ColumnIndex(marker) < 0 {
		return nil, nil
	}
	if err := need(r, trace.RunsSchemaName, required); err != nil {
		return nil, err
	}
	cols := names(required)
	for _, c := range optional {
		if sc.ColumnIndex(c.name) < 0 {
			continue
		}
		if err := need(r, trace.RunsSchemaName, []colSpec{c}); err != nil {
			return nil, err
		}
		cols = append(cols, c.name)
	}
	return cols, nil
}

// readKV adds a row group's DHT columns; rows were checked by readRuns.
func (a *aggregator) readKV(c *trace.Chunk, runLatencies bool) {
	var (
		runID, gp             = c.Int64("run_id"), c.Int64("grid_point")
		nodes, joiners        = c.Int64("nodes"), c.Int64("joiners")
		keys, ops             = c.Int64("kv_keys"), c.Int64("kv_ops")
		answered, opsOK       = c.Int64("kv_answered"), c.Int64("kv_ops_ok")
		lookups, lAnswered    = c.Int64("kv_lookups"), c.Int64("kv_lookups_answered")
		lookupsOK, lHops      = c.Int64("kv_lookups_ok"), c.Int64("kv_lookup_hops")
		gets, missing, stale  = c.Int64("kv_gets"), c.Int64("kv_missing"), c.Int64("kv_stale")
		checks, checkFails    = c.Int64("kv_key_checks"), c.Int64("kv_key_failures")
		lost, dup, misplaced  = c.Int64("kv_lost"), c.Int64("kv_duplicated"), c.Int64("kv_misplaced")
		fingers, fingersStale = c.Int64("kv_fingers"), c.Int64("kv_fingers_stale")
		first                 []string
		p50                   []int64
		p50Valid, firstValid  []bool
	)
	if c.Has("kv_first_failure") {
		first, firstValid = c.String("kv_first_failure"), c.Valid("kv_first_failure")
	}
	if runLatencies && c.Has("kv_lookup_latency_p50_ns") {
		p50, p50Valid = c.Int64("kv_lookup_latency_p50_ns"), c.Valid("kv_lookup_latency_p50_ns")
	}
	optional := func(name string) []int64 {
		if c.Has(name) {
			return c.Int64(name)
		}
		return nil
	}
	leavers, departed, replicas := optional("leavers"), optional("departed"), optional("workload_replicas")
	repMissing, repExtra := optional("kv_replicas_missing"), optional("kv_replicas_extra")
	at := func(col []int64, i int) int64 {
		if col == nil {
			return 0
		}
		return col[i]
	}
	for i := range c.NumRows() {
		if ops[i] <= 0 && keys[i] <= 0 {
			continue
		}
		p := a.dhtPoint(int(gp[i]))
		p.Runs++
		if n := nodes[i] + joiners[i]; p.RingSize < 0 {
			p.Nodes, p.Joiners, p.RingSize = nodes[i], joiners[i], n
		} else if n != p.RingSize || joiners[i] != p.Joiners {
			p.ringMixed = true
		}
		p.Keys += keys[i]
		p.Ops += ops[i]
		p.Answered += answered[i]
		p.OpsOK += opsOK[i]
		p.Lookups += lookups[i]
		p.LookupsAnswered += lAnswered[i]
		p.LookupsOK += lookupsOK[i]
		p.LookupHops += lHops[i]
		if lookupsOK[i] > 0 {
			p.hops.Add(float64(lHops[i]), float64(lookupsOK[i]))
		}
		p.Gets += gets[i]
		p.Missing += missing[i]
		p.Stale += stale[i]
		p.KeyChecks += checks[i]
		p.KeyFailures += checkFails[i]
		p.Lost += lost[i]
		p.Duplicated += dup[i]
		p.Misplaced += misplaced[i]
		if lost[i]+dup[i]+misplaced[i] > 0 {
			p.UnsafeRuns++
		}
		if first != nil && valid(firstValid, i) && first[i] != "" &&
			(p.FirstKeyFailureRun < 0 || runID[i] < p.FirstKeyFailureRun) {
			p.FirstKeyFailure, p.FirstKeyFailureRun = first[i], runID[i]
		}
		p.Fingers += fingers[i]
		p.FingersStale += fingersStale[i]
		p.Leavers += at(leavers, i)
		p.Departed += at(departed, i)
		if at(replicas, i) > 0 {
			p.Replicated++
		}
		p.ReplicasMissing += at(repMissing, i)
		p.ReplicasExtra += at(repExtra, i)
		if p50 != nil && valid(p50Valid, i) {
			p.LookupLatency.Add(p50[i])
		}
	}
}

// readOps adds an ops table's successful lookups to their points' latency
// distributions.
func (a *aggregator) readOps(path string) error {
	r, err := openPart(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := need(r, trace.OpSchema.Name, opColumns); err != nil {
		return err
	}
	s, seeds := a.s, int64(a.s.Manifest.Seeds)
	if a.dht == nil {
		a.dht = &dhtAcc{points: make([]*DHTPoint, len(s.Points)), exact: a.exact}
	}
	if a.dht.claimed == nil {
		a.dht.claimed = newBitset(int64(len(s.Points)) * seeds)
	}
	var (
		c    trace.Chunk
		runs []int64 // runs this file holds operations of
		cols = names(opColumns)
	)
	for g := 0; g < r.NumRowGroups(); g++ {
		if err := r.ReadColumnsInto(&c, g, cols...); err != nil {
			return &InputError{Path: path, Err: err}
		}
		var (
			runID        = c.Int64("run_id")
			kind, status = c.String("kind"), c.String("status")
			statusOK     = c.Valid("status")
			start, end   = c.Int64("start_ns"), c.Int64("end_ns")
			endOK        = c.Valid("end_ns")
			correct      = c.Bool("correct")
			lastID, last = int64(-1), (*DHTPoint)(nil)
		)
		for i := range c.NumRows() {
			if runID[i] != lastID {
				id := runID[i]
				if id < 0 || id/seeds >= int64(len(s.Points)) || !a.seen.test(id) {
					return inputErrorf(path, "row group %d row %d: run_id %d is not in the runs table", g, i, id)
				}
				// Two files with one run's operations would count them
				// twice: a part copied, or the same ops under two names.
				if a.dht.claimed.test(id) {
					return inputErrorf(path, "the operations of run %d are in another ops file too", id)
				}
				if len(runs) == 0 || runs[len(runs)-1] != id {
					runs = append(runs, id)
				}
				lastID, last = id, a.dht.points[id/seeds]
			}
			if a.churn != nil {
				a.churn.op(runID[i], kind[i], status[i], valid(statusOK, i), start[i], end[i], valid(endOK, i))
			}
			if last == nil {
				// The runs table says this run had no workload.
				continue
			}
			if kind[i] == OpKindLookup && valid(statusOK, i) && status[i] == OpStatusOK && correct[i] && valid(endOK, i) {
				last.LookupLatency.Add(end[i] - start[i])
			}
		}
		a.dht.opsTable.Rows += int64(c.NumRows())
	}
	for _, id := range runs {
		a.dht.claimed.set(id)
	}
	a.dht.opsTable.Parts++
	return nil
}

// finishDHT derives the DHT figures once every part is read; s.DHT stays
// nil when no run had a workload.
func (s *Summary) finishDHT(acc *dhtAcc, hasOps bool) {
	if acc == nil {
		return
	}
	d := &DHT{LatencySource: trace.TableRuns, OpsTable: acc.opsTable}
	if hasOps {
		d.LatencySource = trace.TableOps
	}
	for _, p := range acc.points {
		if p == nil || p.Runs == 0 {
			continue
		}
		d.Points = append(d.Points, p)
		if p.ringMixed {
			p.RingSize = 0
		}
		p.LookupSuccess = newRate(p.LookupsOK, p.Lookups)
		p.HopRuns = p.hops.N()
		ci := p.hops.CI(0.95)
		p.HopsPerLookup = Mean{ratio(p.LookupHops, p.LookupsOK), Num(ci.Lo), Num(ci.Hi)}
		p.HopsReference = Num(math.NaN())
		if p.RingSize > 0 {
			p.HopsReference = Num(0.5 * math.Log2(float64(p.RingSize)))
		}
		p.Inconsistency = newRate(p.Missing+p.Stale, p.Gets)
		p.StaleFingers = ratio(p.FingersStale, p.Fingers)
		l := p.LookupLatency
		p.LatencyP50 = Num(l.Quantile(0.50))
		p.LatencyP99 = Num(l.Quantile(0.99))
		p.LatencyMax = Num(math.NaN())
		if l.N() > 0 {
			p.LatencyMax = Num(l.Max())
		}
		p.LatencyExact = l.Exact()
		d.Runs += p.Runs
		d.UnsafeRuns += p.UnsafeRuns
		d.Lost += p.Lost
		d.Duplicated += p.Duplicated
		d.Misplaced += p.Misplaced
	}
	if len(d.Points) == 0 {
		return
	}
	for _, a := range s.Manifest.Axes {
		var first string
		for i, p := range d.Points {
			v := paramText(p.Params, a.Name)
			if i == 0 {
				first = v
			} else if v != first {
				d.Varying = append(d.Varying, a.Name)
				break
			}
		}
	}
	if d.Varying == nil {
		d.Varying = []string{}
	}
	s.DHT = d
}

// paramText is a parameter's value as text, "base" where the point's sweep
// group does not sweep it.
func paramText(ps trace.Params, name string) string {
	if v, ok := ps.Get(name); ok {
		return v.Text
	}
	return "base"
}

// varyingExcept returns the varying axes other than those in skip.
func (d *DHT) varyingExcept(skip ...string) []string {
	var out []string
	for _, a := range d.Varying {
		if !slices.Contains(skip, a) {
			out = append(out, a)
		}
	}
	return out
}
