package runlog

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/sim"
)

// Summary is one configuration over consecutive seeds.
type Summary struct {
	Config    sim.Config // Seed is the first seed
	Seeds     int
	Workers   int
	Outcomes  map[string]int // runs per outcome; a run the simulator refused counts under "error: ..."
	OK        int            // runs whose outcome is ok
	Correct   int            // runs that ended in a correct ring
	Joins     int
	JoinsOK   int
	Latencies []int64 // of the successful joins, sorted
	Messages  int64
	Events    int64
	Wall      time.Duration
}

// tally is what Summarize keeps of a worker's runs: sums and counts, which add up the same
// whichever worker ran which seed.
type tally struct {
	outcomes  map[string]int
	ok        int
	correct   int
	joins     int
	joinsOK   int
	latencies []int64
	messages  int64
	events    int64
}

func (t *tally) add(r *sim.Result) {
	t.outcomes[r.Outcome]++
	if r.Outcome == observe.OutcomeOK {
		t.ok++
	}
	if r.RingCorrect {
		t.correct++
	}
	t.joins += len(r.Joins)
	t.messages += r.Messages
	t.events += r.Events
	for k := range r.Joins {
		j := &r.Joins[k]
		if j.Outcome != observe.JoinOK {
			continue
		}
		t.joinsOK++
		if l := j.Latency(); l >= 0 {
			t.latencies = append(t.latencies, l)
		}
	}
}

// Summarize simulates cfg for seeds cfg.Seed .. cfg.Seed+seeds-1 on workers goroutines.
func Summarize(cfg sim.Config, seeds, workers int) *Summary {
	tallies := make([]tally, max(1, min(workers, seeds)))
	var wg sync.WaitGroup
	// Workers take the next seed from a counter: handing seeds over a channel woke a parked
	// worker for each, which cost a batch of small runs more CPU than some of its runs.
	var next atomic.Int64
	start := time.Now()
	for w := range tallies {
		t := &tallies[w]
		t.outcomes = map[string]int{}
		wg.Go(func() {
			// One simulator per worker, reset for each seed: a small run's setup costs as
			// much as the run, and most of it is storage Reset keeps.
			var sm sim.Sim
			sm.ReuseResults() // add keeps nothing of a result
			for {
				i := next.Add(1) - 1
				if i >= int64(seeds) {
					return
				}
				c := cfg
				c.Seed = cfg.Seed + uint64(i)
				if err := sm.Reset(c, nil); err != nil {
					t.outcomes["error: "+err.Error()]++
					continue
				}
				t.add(sm.Run())
			}
		})
	}
	wg.Wait()

	sum := &Summary{Config: cfg, Seeds: seeds, Workers: workers, Outcomes: map[string]int{}, Wall: time.Since(start)}
	for w := range tallies {
		t := &tallies[w]
		for k, n := range t.outcomes {
			sum.Outcomes[k] += n
		}
		sum.OK += t.ok
		sum.Correct += t.correct
		sum.Joins += t.joins
		sum.JoinsOK += t.joinsOK
		sum.Messages += t.messages
		sum.Events += t.events
		sum.Latencies = append(sum.Latencies, t.latencies...)
	}
	slices.Sort(sum.Latencies)
	return sum
}

// Many simulates cfg for seeds consecutive seeds from cfg.Seed and prints the summary.
func Many(w io.Writer, cfg sim.Config, seeds, workers int, color bool) {
	Summarize(cfg, seeds, workers).Print(w, color)
}

// Print writes the summary: success rates with 95% Wilson intervals, outcome classes,
// join latency and throughput.
func (s *Summary) Print(w io.Writer, color bool) {
	p := newPalette(color)
	cfg := &s.Config
	seeds := s.Seeds
	fmt.Fprintf(w, "%s%d runs%s of scenario=%s protocol=%s timing=%s delay=%s, seeds %d..%d\n", p.bold, seeds, p.reset,
		cfg.Scenario, cfg.Protocol, cfg.Timing, cfg.Delay, cfg.Seed, cfg.Seed+uint64(seeds)-1)
	for _, r := range []struct {
		label string
		k, n  int
	}{
		{"run success (outcome ok):", s.OK, seeds},
		{"correct final ring:", s.Correct, seeds},
		{"join success:", s.JoinsOK, s.Joins},
	} {
		iv := stats.Wilson(int64(r.k), int64(r.n), stats.Z95)
		fmt.Fprintf(w, "  %-26s %5.1f%%  95%% CI [%.1f%%, %.1f%%]  (%d/%d)\n", r.label, 100*frac(r.k, r.n), 100*iv.Lo, 100*iv.Hi, r.k, r.n)
	}
	fmt.Fprintf(w, "  outcomes:\n")
	for _, name := range append(slices.Clone(observe.Outcomes), sortedExtra(s.Outcomes)...) {
		if n := s.Outcomes[name]; n > 0 {
			col := p.red
			if name == observe.OutcomeOK {
				col = p.green
			}
			fmt.Fprintf(w, "    %s%-17s%s %7d  %5.1f%%\n", col, name, p.reset, n, 100*frac(n, seeds))
		}
	}
	if lat := s.Latencies; len(lat) > 0 {
		fmt.Fprintf(w, "  join latency:  p50 %s  p99 %s  max %s\n", formatTime(cfg, stats.NearestRank(lat, 50)),
			formatTime(cfg, stats.NearestRank(lat, 99)), formatTime(cfg, lat[len(lat)-1]))
	}
	if s.Joins > 0 {
		fmt.Fprintf(w, "  messages per join: %.2f\n", float64(s.Messages)/float64(s.Joins))
	}
	fmt.Fprintf(w, "  %d events in %s (%.2f M events/s on %d workers)\n", s.Events, s.Wall.Round(time.Millisecond),
		float64(s.Events)/s.Wall.Seconds()/1e6, s.Workers)
}

// sortedExtra returns outcome names outside observe.Outcomes (errors), sorted, so output
// order never depends on map iteration.
func sortedExtra(classes map[string]int) []string {
	var extra []string
	for k := range classes {
		if !slices.Contains(observe.Outcomes, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return extra
}

func frac(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}
