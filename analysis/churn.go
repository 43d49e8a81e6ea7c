package analysis

import (
	"math"
	"slices"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/trace"
)

// churnColumns are the runs-table columns the churn section reads (runs
// schema version 7): the churn parameters in effect and what churn came to.
// A part that has churn_arrivals must have all of them.
var churnColumns = []colSpec{
	{"nodes", trace.Int64},
	{"stabilize_ns", trace.Int64},
	{"churn_session", trace.String},
	{"churn_median_ns", trace.Int64},
	{"churn_warmup_ns", trace.Int64},
	{"churn_arrivals", trace.Int64},
	{"churn_leaves", trace.Int64},
	{"churn_crashes", trace.Int64},
	{"churn_window_ns", trace.Int64},
	{"churn_live_mean", trace.Float64},
	{"churn_lookups", trace.Int64},
	{"churn_lookups_ok", trace.Int64},
	{"churn_lookups_consistent", trace.Int64},
	{"churn_lookup_p50_ns", trace.Int64},
	{"churn_lookup_p99_ns", trace.Int64},
	{"churn_maint_messages", trace.Int64},
	{"churn_maint_bytes", trace.Int64},
	{"churn_keys_lost", trace.Int64},
	{"churn_keys_under_replicated", trace.Int64},
	{"churn_ring_correct", trace.Bool},
	{"churn_repair_periods", trace.Float64},
}

// churnOptional are read when present.
var churnOptional = []colSpec{
	{"workload_replicas", trace.Int64},
}

// DefaultStabilizeNs is the stabilization period of a run whose stabilize
// parameter is 0 (sim.DefaultStabilize): the runs table records the 0.
const DefaultStabilizeNs = int64(1e9)

// ChurnPoint is the churn of one grid point, over its runs with churn.
type ChurnPoint struct {
	Index  int          `json:"point"`
	Params trace.Params `json:"params"`
	Runs   int64        `json:"runs"`
	// Nodes (N), MedianNs (the median session), StabilizeNs (the
	// stabilization period in effect) and Replicas (workload.replicas, r)
	// come from the runs table; each is -1 when the point's runs disagree.
	Nodes       int64 `json:"nodes"`
	MedianNs    int64 `json:"median_session_ns"`
	StabilizeNs int64 `json:"stabilize_ns"`
	Replicas    int64 `json:"replicas"`

	// Totals over the runs.
	Arrivals          int64 `json:"arrivals"`
	Leaves            int64 `json:"leaves"`
	Crashes           int64 `json:"crashes"`
	Lookups           int64 `json:"lookups"`
	LookupsOK         int64 `json:"lookups_ok"`
	LookupsConsistent int64 `json:"lookups_consistent"`
	// LookupSuccess is LookupsOK / Lookups and Consistent is
	// LookupsConsistent / Lookups, pooled over runs, with Wilson intervals.
	LookupSuccess Rate `json:"lookup_success"`
	Consistent    Rate `json:"consistent"`

	// LatencyP50 and LatencyP99 are in nanoseconds. With the ops table
	// (LatencyExact) they are the pooled quantiles of the window's lookups
	// answered ok, with cluster-bootstrap intervals over runs; without, the
	// mean over runs of churn_lookup_p50_ns and churn_lookup_p99_ns with
	// bootstrap intervals, an estimate.
	LatencyP50   Mean  `json:"lookup_p50_ns"`
	LatencyP99   Mean  `json:"lookup_p99_ns"`
	LatencyExact bool  `json:"lookup_latency_from_ops"`
	LatencyRuns  int64 `json:"latency_runs"`

	// KeysLost totals churn_keys_lost; KeysLostPerRun is its mean per run
	// (bootstrap interval), LossRuns the runs that lost any and LossShare
	// their share (Wilson).
	KeysLost        int64 `json:"keys_lost"`
	KeysLostPerRun  Mean  `json:"keys_lost_per_run"`
	LossRuns        int64 `json:"loss_runs"`
	LossShare       Rate  `json:"loss_share"`
	UnderReplicated int64 `json:"keys_under_replicated"`

	// RingCorrectRuns ended with a correct ring; RingCorrect is their
	// share. RepairPeriods is the mean churn_repair_periods over the
	// RepairedRuns that had a correct ring by the end check.
	RingCorrectRuns int64 `json:"ring_correct_runs"`
	RingCorrect     Rate  `json:"ring_correct"`
	RepairedRuns    int64 `json:"repaired_runs"`
	RepairPeriods   Mean  `json:"repair_periods"`

	// LiveMean is the mean over runs of churn_live_mean. MaintMsgs and
	// MaintBytes are maintenance messages and bytes per second per live
	// node, churn_maint_* / (churn_window_ns/1e9) / churn_live_mean per run,
	// averaged over the RateRuns runs with a window and live nodes.
	LiveMean   Num   `json:"live_mean"`
	MaintMsgs  Mean  `json:"maint_messages_per_node_s"`
	MaintBytes Mean  `json:"maint_bytes_per_node_s"`
	RateRuns   int64 `json:"rate_runs"`

	// LNBKMedianNs is log2(N)·stabilization period: the median session at
	// which the ring gets log2 N stabilization rounds per half-life
	// (Liben-Nowell, Balakrishnan and Karger); NaN when N or the period
	// is unknown.
	LNBKMedianNs Num `json:"lnbk_median_ns"`

	lost, repair, msgs, bytes, p50s, p99s, live []float64
	lat                                         *stats.Clustered
}

// Churn is the churn section of a result set, present when some run had
// churn.
type Churn struct {
	Points []*ChurnPoint `json:"points"`
	// Varying lists the sweep axes whose values differ between Points.
	Varying []string `json:"varying"`
	// LatencySource is trace.TableOps when lookup latencies come from the
	// ops table, trace.TableRuns when they are estimated from the per-run
	// columns.
	LatencySource string `json:"latency_source"`
	Runs          int64  `json:"runs"`
}

// churnAcc collects the churn columns while parts are read.
type churnAcc struct {
	points []*ChurnPoint
	// window holds each churn run's measurement window [from, stop), for
	// picking its lookups out of the ops table.
	window map[int64][2]int64
	run    map[int64]int // run id -> replica, for the latency clusters
	seeds  int
}

// churnPart returns the churn columns of a runs part to decode, nil when the
// part has none; a part with some must have them all.
func churnPart(r *trace.Reader) ([]string, error) {
	return columnGroup(r, "churn_arrivals", churnColumns, churnOptional)
}

// readChurn adds a row group's churn columns; rows were checked by readRuns.
func (a *aggregator) readChurn(c *trace.Chunk) {
	var (
		runID, gp          = c.Int64("run_id"), c.Int64("grid_point")
		nodes, stab        = c.Int64("nodes"), c.Int64("stabilize_ns")
		session, sessionOK = c.String("churn_session"), c.Valid("churn_session")
		median, warmup     = c.Int64("churn_median_ns"), c.Int64("churn_warmup_ns")
		arrivals, leaves   = c.Int64("churn_arrivals"), c.Int64("churn_leaves")
		crashes, window    = c.Int64("churn_crashes"), c.Int64("churn_window_ns")
		live               = c.Float64("churn_live_mean")
		lookups, ok        = c.Int64("churn_lookups"), c.Int64("churn_lookups_ok")
		consistent         = c.Int64("churn_lookups_consistent")
		p50, p99           = c.Int64("churn_lookup_p50_ns"), c.Int64("churn_lookup_p99_ns")
		p50OK, p99OK       = c.Valid("churn_lookup_p50_ns"), c.Valid("churn_lookup_p99_ns")
		msgs, bytes        = c.Int64("churn_maint_messages"), c.Int64("churn_maint_bytes")
		lost, under        = c.Int64("churn_keys_lost"), c.Int64("churn_keys_under_replicated")
		ring               = c.Bool("churn_ring_correct")
		repair, repairOK   = c.Float64("churn_repair_periods"), c.Valid("churn_repair_periods")
		replicas           []int64
		seeds              = int64(a.s.Manifest.Seeds)
		// A point whose runs disagree on a parameter has no single value.
		agree = func(v *int64, x int64) {
			if *v != x {
				*v = -1
			}
		}
	)
	if c.Has("workload_replicas") {
		replicas = c.Int64("workload_replicas")
	}
	for i := range c.NumRows() {
		if arrivals[i] <= 0 && !(valid(sessionOK, i) && session[i] != "") {
			continue
		}
		if a.churn == nil {
			a.churn = &churnAcc{points: make([]*ChurnPoint, len(a.s.Points)), window: map[int64][2]int64{},
				run: map[int64]int{}, seeds: int(seeds)}
		}
		p := a.churn.points[gp[i]]
		period := stab[i]
		if period <= 0 {
			period = DefaultStabilizeNs
		}
		var r int64
		if replicas != nil {
			r = replicas[i]
		}
		if p == nil {
			p = &ChurnPoint{Index: int(gp[i]), Params: a.s.Points[gp[i]].Params, lat: stats.NewClustered(int(seeds)),
				Nodes: nodes[i], MedianNs: median[i], StabilizeNs: period, Replicas: r}
			a.churn.points[gp[i]] = p
		} else {
			agree(&p.Nodes, nodes[i])
			agree(&p.MedianNs, median[i])
			agree(&p.StabilizeNs, period)
			agree(&p.Replicas, r)
		}
		p.Runs++
		a.churn.window[runID[i]] = [2]int64{warmup[i], warmup[i] + window[i]}
		a.churn.run[runID[i]] = int(runID[i] % seeds)
		p.Arrivals += arrivals[i]
		p.Leaves += leaves[i]
		p.Crashes += crashes[i]
		p.Lookups += lookups[i]
		p.LookupsOK += ok[i]
		p.LookupsConsistent += consistent[i]
		if valid(p50OK, i) {
			p.p50s = append(p.p50s, float64(p50[i]))
		}
		if valid(p99OK, i) {
			p.p99s = append(p.p99s, float64(p99[i]))
		}
		p.KeysLost += lost[i]
		p.lost = append(p.lost, float64(lost[i]))
		if lost[i] > 0 {
			p.LossRuns++
		}
		p.UnderReplicated += under[i]
		if ring[i] {
			p.RingCorrectRuns++
		}
		if valid(repairOK, i) && !math.IsNaN(repair[i]) {
			p.RepairedRuns++
			p.repair = append(p.repair, repair[i])
		}
		p.live = append(p.live, live[i])
		if window[i] > 0 && live[i] > 0 {
			secs := float64(window[i]) / 1e9
			p.msgs = append(p.msgs, float64(msgs[i])/secs/live[i])
			p.bytes = append(p.bytes, float64(bytes[i])/secs/live[i])
		}
	}
}

// churnOp adds one operation of the ops table: a lookup issued in its run's
// measurement window and answered ok counts in the latency quantiles, as
// churn_lookup_p50_ns counts it.
func (a *churnAcc) op(runID int64, kind, status string, statusOK bool, start, end int64, endOK bool) {
	w, ok := a.window[runID]
	if !ok || kind != OpKindLookup || !statusOK || status != OpStatusOK || !endOK || start < w[0] || start >= w[1] {
		return
	}
	if p := a.points[runID/int64(a.seeds)]; p != nil {
		p.lat.Add(a.run[runID], end-start)
	}
}

// meanCI is the mean of per-run values with its percentile bootstrap
// interval over runs (unknown with fewer than two).
func meanCI(v []float64, seed uint64) Mean {
	if len(v) == 0 {
		return Mean{Num(math.NaN()), Num(math.NaN()), Num(math.NaN())}
	}
	ones := make([]float64, len(v))
	sum := 0.0
	for i, x := range v {
		ones[i] = 1
		sum += x
	}
	ci := stats.RatioCI(v, ones, 0.95, stats.DefaultResamples, seed)
	return Mean{Num(sum / float64(len(v))), Num(ci.Lo), Num(ci.Hi)}
}

// finishChurn derives the churn figures once every part is read; s.Churn
// stays nil when no run had churn.
func (s *Summary) finishChurn(acc *churnAcc, hasOps bool) {
	if acc == nil {
		return
	}
	ch := &Churn{LatencySource: trace.TableRuns}
	if hasOps {
		ch.LatencySource = trace.TableOps
	}
	for _, p := range acc.points {
		if p == nil {
			continue
		}
		seed := bootstrapSeed(p.Index)
		p.LookupSuccess = newRate(p.LookupsOK, p.Lookups)
		p.Consistent = newRate(p.LookupsConsistent, p.Lookups)
		p.KeysLostPerRun = meanCI(p.lost, seed)
		p.LossShare = newRate(p.LossRuns, p.Runs)
		p.RingCorrect = newRate(p.RingCorrectRuns, p.Runs)
		p.RepairPeriods = meanCI(p.repair, seed+1)
		p.MaintMsgs = meanCI(p.msgs, seed+2)
		p.MaintBytes = meanCI(p.bytes, seed+3)
		p.RateRuns = int64(len(p.msgs))
		p.LiveMean = meanCI(p.live, seed).Value
		if hasOps {
			p.LatencyExact = true
			p.LatencyRuns = p.Runs
			q := []float64{0.5, 0.99}
			cis := p.lat.QuantileCIs(q, 0.95, stats.DefaultResamples, seed+4)
			p.LatencyP50 = Mean{Num(p.lat.Quantile(0.5)), Num(cis[0].Lo), Num(cis[0].Hi)}
			p.LatencyP99 = Mean{Num(p.lat.Quantile(0.99)), Num(cis[1].Lo), Num(cis[1].Hi)}
		} else {
			p.LatencyRuns = int64(len(p.p50s))
			p.LatencyP50 = meanCI(p.p50s, seed+4)
			p.LatencyP99 = meanCI(p.p99s, seed+5)
		}
		p.LNBKMedianNs = Num(math.NaN())
		if p.Nodes > 1 && p.StabilizeNs > 0 {
			p.LNBKMedianNs = Num(math.Log2(float64(p.Nodes)) * float64(p.StabilizeNs))
		}
		ch.Points = append(ch.Points, p)
		ch.Runs += p.Runs
	}
	if len(ch.Points) == 0 {
		return
	}
	ch.Varying = []string{}
	for _, a := range s.Manifest.Axes {
		for _, p := range ch.Points[1:] {
			if paramText(p.Params, a.Name) != paramText(ch.Points[0].Params, a.Name) {
				ch.Varying = append(ch.Varying, a.Name)
				break
			}
		}
	}
	s.Churn = ch
}

// varyingExcept returns the varying axes other than those in skip.
func (c *Churn) varyingExcept(skip ...string) []string {
	var out []string
	for _, a := range c.Varying {
		if !slices.Contains(skip, a) {
			out = append(out, a)
		}
	}
	return out
}

// point returns the churn point of grid point i, or nil.
func (c *Churn) point(i int) *ChurnPoint {
	for _, p := range c.Points {
		if p.Index == i {
			return p
		}
	}
	return nil
}
