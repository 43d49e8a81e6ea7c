package analysistest

import (
	"math"
	"math/rand/v2"
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
				r.Outcome = "not_joined"
			case seed && joiners == 16 && replica == 2:
				r.Outcome = "wrong_neighbours"
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
	classes := []string{"wrong_neighbours", "not_joined", "deadlock"}
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
