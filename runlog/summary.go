package runlog

import (
	"fmt"
	"io"
	"slices"
	"sync"
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

// run is what Summarize keeps of one run.
type run struct {
	outcome   string
	correct   bool
	joins     int
	joinsOK   int
	latencies []int64
	messages  int64
	events    int64
}

// Summarize simulates cfg for seeds cfg.Seed .. cfg.Seed+seeds-1 on workers goroutines.
func Summarize(cfg sim.Config, seeds, workers int) *Summary {
	runs := make([]run, seeds)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			// One simulator per worker, reset for each seed: a small run's setup costs as
			// much as the run, and most of it is storage Reset keeps.
			var sm sim.Sim
			for i := range next {
				c := cfg
				c.Seed = cfg.Seed + uint64(i)
				if err := sm.Reset(c, nil); err != nil {
					runs[i] = run{outcome: "error: " + err.Error()}
					continue
				}
				r := sm.Run()
				s := run{outcome: r.Outcome, correct: r.RingCorrect, joins: len(r.Joins),
					joinsOK: r.JoinsSucceeded(), messages: r.Messages, events: r.Events}
				for k := range r.Joins {
					if l := r.Joins[k].Latency(); l >= 0 && r.Joins[k].Outcome == observe.JoinOK {
						s.latencies = append(s.latencies, l)
					}
				}
				runs[i] = s
			}
		})
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()

	sum := &Summary{Config: cfg, Seeds: seeds, Workers: workers, Outcomes: map[string]int{}, Wall: time.Since(start)}
	for i := range runs {
		s := &runs[i]
		sum.Outcomes[s.outcome]++
		if s.outcome == observe.OutcomeOK {
			sum.OK++
		}
		if s.correct {
			sum.Correct++
		}
		sum.Joins += s.joins
		sum.JoinsOK += s.joinsOK
		sum.Messages += s.messages
		sum.Events += s.events
		sum.Latencies = append(sum.Latencies, s.latencies...)
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
