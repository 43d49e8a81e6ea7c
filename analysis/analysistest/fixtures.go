package analysistest

import (
	"math"
	"math/rand/v2"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/trace"
)

const fixtureSpec = `name = "concurrency"
scenario = "random"
nodes = 32

[sweep]
protocol = ["seed", "locked"]
joiners = [1, 4, 16]
`

// Small is a hand-checkable result set: 2 protocols × 3 joiner counts, 4
// seeds each, with fixed outcomes and latencies; analysis/testdata holds
// its tables.
func Small() *Set {
	return &Set{
		Experiment: "concurrency",
		Spec:       fixtureSpec,
		Axes: []Axis{
			{Name: "protocol", Values: []any{"seed", "locked"}},
			{Name: "joiners", Values: []any{1, 4, 16}},
		},
		Seeds: 4,
		Run: func(point, replica int) Run {
			joiners := []int{1, 4, 16}[point%3]
			seed := point < 3
			r := Run{Events: int64(100 * joiners), WallNs: 1_000_000, SimTimeNs: 50_000_000}
			for j := 0; j < joiners; j++ {
				lat := int64((j+1)*1_000_000 + replica*250_000)
				join := Join{LatencyNs: lat, Hops: int64(j % 3), Messages: int64(4 + j%3)}
				// The seed protocol loses the last join of replica 3 at
				// four or more joiners.
				if seed && joiners >= 4 && replica == 3 && j == joiners-1 {
					join.LatencyNs = -1
				}
				r.Joins = append(r.Joins, join)
			}
			switch {
			case seed && joiners >= 4 && replica == 3:
				r.Outcome = observe.OutcomeNotJoined
			case seed && joiners == 16 && replica == 2:
				r.Outcome = observe.OutcomeWrongNeighbours
			}
			return r
		},
	}
}

// Random is a larger set whose failures are binomial draws: each run of
// grid point i fails with probability failRate(i), drawn from a source
// seeded by seed, the grid point and the replica, so that the same
// arguments always give the same set.
func Random(seed uint64, seeds int, failRate func(point int) float64) *Set {
	classes := []string{observe.OutcomeWrongNeighbours, observe.OutcomeNotJoined, observe.OutcomeDeadlock}
	return &Set{
		Experiment: "smoke",
		Spec:       "name = \"smoke\"\n",
		Axes: []Axis{
			{Name: "joiners", Values: []any{2, 8, 32}},
			{Name: "delay.max", Values: []any{"1ms", "10ms"}},
		},
		Seeds: seeds,
		Run: func(point, replica int) Run {
			rng := rand.New(rand.NewPCG(seed, uint64(point)<<32|uint64(replica)))
			r := Run{Events: 1000, WallNs: 200_000}
			for j := 0; j < 4; j++ {
				lat := int64(math.Exp(rng.NormFloat64()*0.6+15) + 1)
				r.Joins = append(r.Joins, Join{LatencyNs: lat, Hops: int64(rng.IntN(3)), Messages: 5})
			}
			if rng.Float64() < failRate(point) {
				r.Outcome = classes[rng.IntN(len(classes))]
				r.Joins[0].LatencyNs = -1
			}
			return r
		},
	}
}

// DHT is a result set with a DHT workload over the given axes (any of
// protocol, nodes, joiners; the others keep protocol seed, 12 nodes and 4
// joiners), 3 seeds a point, the runs table at version 3 and, with ops, an
// ops table. Every number follows from the point and the replica r, so
// tests can work aggregates out by hand; with N = nodes + joiners,
// h = round(½·log2 N) and seed = 1 for protocol seed, 0 otherwise:
//
//   - 10 lookups, of which the first 10 - seed·r succeed (status ok, the
//     true owner), latency (j+1) ms + r·0.1 ms for lookup j, h forwards
//     each and one more for the first r; the others go unanswered;
//   - 20 gets: seed·r·joiners/4 (integer division) missing, then one stale
//     when seed and r = 2; 5 puts;
//   - 50 keys; one lost when seed, r = 2 and N >= 256;
//   - 100 fingers, 10·seed stale.
func DHT(axes []Axis, ops bool) *Set {
	s := &Set{
		Experiment: "dht",
		Spec:       "name = \"dht\"\nscenario = \"random\"\n\n[workload]\nkeys = 50\nrate = 100.0\n",
		Axes:       axes,
		Seeds:      3,
		KV:         true,
		Ops:        ops,
	}
	grid := s.Grid()
	s.Run = func(point, r int) Run {
		g := grid[point]
		nodes, joiners, seed := 12, 4, 1
		if v, ok := g["nodes"].(int); ok {
			nodes = v
		}
		if v, ok := g["joiners"].(int); ok {
			joiners = v
		}
		if v, ok := g["protocol"].(string); ok && v != "seed" {
			seed = 0
		}
		n := nodes + joiners
		h := int64(math.Round(0.5 * math.Log2(float64(n))))
		run := Run{Nodes: nodes, Events: 1000, WallNs: 1_000_000, SimTimeNs: 100_000_000}
		for j := range joiners {
			run.Joins = append(run.Joins, Join{LatencyNs: int64(j+1) * 1_000_000, Messages: 5})
		}
		kv := &KV{Keys: 50, Lookups: 10, Gets: 20, Fingers: 100, FingersStale: int64(10 * seed), KeyChecks: int64(joiners + 1)}
		kv.LookupsOK = int64(10 - seed*r)
		kv.Missing = int64(seed * r * joiners / 4)
		if seed == 1 && r == 2 {
			kv.Stale = 1
		}
		if seed == 1 && r == 2 && n >= 256 {
			kv.Lost, kv.KeyFailures = 1, 1
			kv.FirstFailure = "key k7 lost: stored nowhere after the join of node 99"
		}
		t := int64(0)
		op := func(o trace.Op) {
			o.StartNs, t = t, t+1_000_000
			if o.EndNs >= 0 {
				o.EndNs += o.StartNs
			}
			run.Ops = append(run.Ops, o)
		}
		for j := range int64(10) {
			if j >= kv.LookupsOK {
				op(trace.Op{Kind: "lookup", EndNs: -1, Owner: -1})
				continue
			}
			hops := h
			if j < int64(r) {
				hops++
			}
			kv.LookupHops += hops
			op(trace.Op{Kind: "lookup", EndNs: (j+1)*1_000_000 + int64(r)*100_000, Hops: hops, Status: "ok", Owner: 1, Correct: true})
		}
		for j := range int64(20) {
			class := ""
			switch {
			case j < kv.Missing:
				class = "missing"
			case j < kv.Missing+kv.Stale:
				class = "stale"
			}
			op(trace.Op{Kind: "get", EndNs: 500_000, Hops: h, Status: "ok", Owner: 1, Correct: class == "", Class: class})
		}
		for range 5 {
			op(trace.Op{Kind: "put", EndNs: 500_000, Hops: h, Status: "ok", Owner: 1, Correct: true})
		}
		kv.Ops = 35
		kv.LookupsAnswered = kv.LookupsOK
		kv.Answered = kv.LookupsOK + 25
		kv.OpsOK = kv.Answered - kv.Missing - kv.Stale
		for _, o := range run.Ops {
			kv.Hops += o.Hops
		}
		run.KV = kv
		return run
	}
	return s
}
