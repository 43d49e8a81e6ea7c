package runner

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// sweepSim replays a sweep on a fake clock: runs in id order, unitRuns at a time, each
// costing cost(point) of wall time, on workers in parallel. It asks the estimator every
// second and returns each estimate with the true time left then.
//
// keys gives each point's axis values (nil: none). Asks between two units' ends see the
// first unit only, as a sweep's progress goroutine does.
func sweepSim(points, seeds int, workers float64, keys func(point int) []string, cost func(point int) time.Duration) (est, truth []float64) {
	const unitRuns = 64
	e := &etaEstimator{}
	toGo := make([]int64, points)
	var plannedKeys [][]string
	var total float64 // seconds of wall-clock time for the whole sweep
	for p := range toGo {
		toGo[p] = int64(seeds)
		total += float64(seeds) * cost(p).Seconds() / workers
		if keys != nil {
			plannedKeys = append(plannedKeys, keys(p))
		}
	}
	e.plan(toGo, plannedKeys)
	start := time.Unix(0, 0)
	var clock float64
	nextAsk := 1.0
	ids := int64(points * seeds)
	for lo := int64(0); lo < ids; lo += unitRuns {
		hi := min(lo+unitRuns, ids)
		end := clock
		for id := lo; id < hi; id++ {
			end += cost(int(id/int64(seeds))).Seconds() / workers
		}
		for ; nextAsk < end; nextAsk++ {
			if d, ok := e.estimate(start.Add(seconds(nextAsk)), seconds(nextAsk)); ok {
				est = append(est, d.Seconds())
				truth = append(truth, total-nextAsk)
			}
		}
		// A unit's runs by grid point, as reportCosts groups them.
		for id := lo; id < hi; {
			p := int(id / int64(seeds))
			stop := min(hi, int64(p+1)*int64(seeds))
			e.ran(p, stop-id, time.Duration(stop-id)*cost(p))
			id = stop
		}
		clock = end
	}
	return est, truth
}

// The estimator against synthetic sweeps: once it has seen the grid's kinds of points, it
// stays within a factor of the truth, and it never jumps as a count of runs would.
func TestETAEstimator(t *testing.T) {
	// joiners is the concurrency grid's shape: 3 variants × 9 joiner counts × 4 delays, a
	// run's cost growing with the joiners (1 .. 256) and the delay index slowest.
	joiners := func(p int) time.Duration {
		j := math.Pow(2, float64(p/4%9))
		return time.Duration(20e3*j*j/8+20e3) * time.Nanosecond
	}
	concurrencyKeys := func(p int) []string {
		return []string{fmt.Sprint(p / 36), fmt.Sprint(p / 4 % 9), fmt.Sprint(p % 4)}
	}
	for _, tc := range []struct {
		name          string
		points, seeds int
		keys          func(int) []string
		cost          func(int) time.Duration
		settled       float64 // share of the estimates after which they must hold
		factor        float64 // largest ratio between estimate and truth once settled
	}{
		{"uniform", 10, 10000, nil, func(int) time.Duration { return time.Millisecond }, 0.05, 1.1},
		{"last point 100× dearer", 10, 1000, nil, func(p int) time.Duration {
			if p == 9 {
				return 100 * time.Millisecond
			}
			return time.Millisecond
		}, 0.5, 1.5},
		// Each variant's block is seen whole after the first third of the points.
		{"concurrency grid", 108, 1000, concurrencyKeys, joiners, 0.35, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			est, truth := sweepSim(tc.points, tc.seeds, 2, tc.keys, tc.cost)
			if len(est) < 20 {
				t.Fatalf("only %d estimates", len(est))
			}
			from := int(tc.settled * float64(len(est)))
			for i := from; i < len(est); i++ {
				// Near the end a second's rounding dominates.
				if truth[i] < 5 {
					break
				}
				if r := est[i] / truth[i]; r > tc.factor || r < 1/tc.factor {
					t.Errorf("at %d of %d: estimate %.1fs, truth %.1fs", i, len(est), est[i], truth[i])
				}
			}
			// Smoothed: one second later, the estimate has not moved by more than a fifth
			// beyond the second that passed.
			for i := from + 1; i < len(est); i++ {
				if d := math.Abs(est[i] - (est[i-1] - 1)); d > 0.2*est[i-1]+1 {
					t.Errorf("at %d: %.1fs after %.1fs", i, est[i], est[i-1])
				}
			}
		})
	}
}

// An estimator asked more or less often gives about the same estimates.
func TestETAEstimatorIndependentOfAskingRate(t *testing.T) {
	run := func(every time.Duration) float64 {
		e := &etaEstimator{}
		e.plan([]int64{1000, 1000}, nil)
		start := time.Unix(0, 0)
		var last time.Duration
		for i := 1; i <= 100; i++ {
			// 10 runs of point 0 per second at 50 ms each, then a slow burst.
			wall := 500 * time.Millisecond
			if i > 60 {
				wall = 2 * time.Second
			}
			e.ran(0, 10, wall)
			at := time.Duration(i) * time.Second
			if at%every == 0 {
				last, _ = e.estimate(start.Add(at), at)
			}
		}
		return last.Seconds()
	}
	a, b := run(time.Second), run(5*time.Second)
	if math.Abs(a-b) > 0.1*a {
		t.Errorf("asked every second: %.1fs; every 5 s: %.1fs", a, b)
	}
}

func TestETAEstimatorUnknownUntilRuns(t *testing.T) {
	e := &etaEstimator{}
	e.plan([]int64{10}, nil)
	if _, ok := e.estimate(time.Unix(5, 0), 5*time.Second); ok {
		t.Error("an estimate before any run was done")
	}
	e.ran(0, 10, time.Second)
	if d, ok := e.estimate(time.Unix(6, 0), 6*time.Second); !ok || d != 0 {
		t.Errorf("all done: %v, %v", d, ok)
	}
}

// pointRecorder records what a sweep tells a PointProgress.
type pointRecorder struct {
	planned, ran []int64
	keys         [][]string
}

func (r *pointRecorder) Start(total, skipped int64) {}
func (r *pointRecorder) Update(done, failed int64)  {}
func (r *pointRecorder) Finish(interrupted bool)    {}
func (r *pointRecorder) Plan(toGo []int64, keys [][]string) {
	r.planned, r.keys, r.ran = toGo, keys, make([]int64, len(toGo))
}
func (r *pointRecorder) Ran(point int, runs int64, wall time.Duration) { r.ran[point] += runs }

// A sweep plans every grid point's runs of its shard and reports each of them as done.
func TestSweepReportsCostsPerPoint(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	rec := &pointRecorder{}
	sweep(t, context.Background(), spec, Options{Dir: t.TempDir(), Workers: 2, Shard: Shard{1, 2}, Progress: rec})
	var planned int64
	for p := range rec.planned {
		planned += rec.planned[p]
		if rec.ran[p] != rec.planned[p] || len(rec.keys[p]) != len(spec.Axes) {
			t.Errorf("point %d: planned %d, ran %d, keys %v", p, rec.planned[p], rec.ran[p], rec.keys[p])
		}
	}
	if want := (Shard{1, 2}).runs(spec.Runs()); planned != want {
		t.Errorf("planned %d runs, the shard has %d", planned, want)
	}
}
