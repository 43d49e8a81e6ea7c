package analysis

import (
	"runtime"
	"sync"

	"github.com/dhtexp/dhtexp/analysis/stats"
)

// Intervals on estimates come from a cluster bootstrap over runs: the joins
// of one run are not independent of each other, and a run is the unit the
// sweep repeats.

// bootstrapSeed fixes each point's resampling, so that the same result set
// always gives the same intervals, and points do not share draws.
func bootstrapSeed(point int) uint64 { return 0x6468746578700000 ^ uint64(point)*0x9E3779B97F4A7C15 }

// addRun records one run's runs-table totals under its seed number.
func (p *Point) addRun(seed, seeds, msgs, joins int64) {
	if p.runMsgs == nil {
		p.runMsgs = make([]float64, seeds)
		p.runJoins = make([]float64, seeds)
		p.runP50 = make([]int64, seeds)
		for i := range p.runP50 {
			p.runP50[i] = -1
		}
	}
	p.runMsgs[seed] = float64(msgs)
	p.runJoins[seed] = float64(joins)
}

// clusters numbers the runs present at each point densely once the runs
// table is read. With a joins table, messages and joins per run are
// counted again from it (as the point's messages per join is); without
// one, the runs table's totals and medians are what there is.
func (a *aggregator) clusters(hasJoins bool) {
	seeds := int64(a.s.Manifest.Seeds)
	for _, p := range a.s.Points {
		p.slot = make([]int32, seeds)
		var msgs, joins []float64
		var p50 []int64
		for k := range seeds {
			p.slot[k] = -1
			if !a.seen.test(int64(p.Index)*seeds + k) {
				continue
			}
			p.slot[k] = int32(len(msgs))
			msgs = append(msgs, p.runMsgs[k])
			joins = append(joins, p.runJoins[k])
			p50 = append(p50, p.runP50[k])
		}
		p.latClusters = stats.NewClustered(len(msgs))
		if hasJoins {
			clear(msgs)
			clear(joins)
		} else {
			for k, v := range p50 {
				if v >= 0 {
					p.latClusters.Add(k, v)
				}
			}
		}
		p.runMsgs, p.runJoins, p.runP50 = msgs, joins, nil
	}
}

// bootstrap computes every point's intervals, two points at a time at
// most: each point has its own seed, so the order does not matter.
func (s *Summary) bootstrap() {
	work := make(chan *Point)
	var wg sync.WaitGroup
	for range min(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				p.bootstrap()
			}
		}()
	}
	for _, p := range s.Points {
		work <- p
	}
	close(work)
	wg.Wait()
}

func (p *Point) bootstrap() {
	p.LatencyP50CI, p.LatencyP99CI, p.MessagesPerJoinCI = unknownInterval(), unknownInterval(), unknownInterval()
	seed := bootstrapSeed(p.Index)
	if p.latClusters != nil {
		cis := p.latClusters.QuantileCIs([]float64{0.5, 0.99}, 0.95, stats.DefaultResamples, seed)
		p.LatencyP50CI = Interval{Num(cis[0].Lo), Num(cis[0].Hi)}
		p.LatencyP99CI = Interval{Num(cis[1].Lo), Num(cis[1].Hi)}
	}
	if len(p.runMsgs) > 0 {
		ci := stats.RatioCI(p.runMsgs, p.runJoins, 0.95, stats.DefaultResamples, seed+1)
		p.MessagesPerJoinCI = Interval{Num(ci.Lo), Num(ci.Hi)}
	}
	// The per-run data is needed only here; a large result set should not
	// keep it for the rest of the report.
	p.latClusters, p.runMsgs, p.runJoins, p.slot = nil, nil, nil, nil
}

// zeroBound is the one-sided exact (Clopper–Pearson) 95% upper bound on a
// rate of which n trials showed no event.
func zeroBound(n int64) float64 { return stats.ClopperPearsonUpper(0, n, 0.95) }
