package sim

import (
	"os"
	"strconv"
	"testing"
)

// TestPredlockStress runs the predlock variant across a grid of joiner counts, ring widths
// (tiny ones force wrap-around and crowded gaps), delay distributions, link orders and timing
// models, and requires every run to end with a correct ring and no safety violation at any
// event. CI runs 10,000 runs; DHTEXP_STRESS_RUNS=1000000 runs the full campaign.
func TestPredlockStress(t *testing.T) {
	total := 10_000
	if v := os.Getenv("DHTEXP_STRESS_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DHTEXP_STRESS_RUNS=%q is not a positive number", v)
		}
		total = n
	} else if testing.Short() {
		total = 1000
	}
	delays := []Delay{
		{Kind: "constant", Value: 1e6},
		{Kind: "uniform", Min: 1e5, Max: 20e6},
		{Kind: "exponential", Mean: 5e6},
		{Kind: "lognormal", Median: 2e6, Sigma: 2},
	}
	type shape struct {
		nodes, joiners int
		bits           uint
	}
	shapes := []shape{{1, 1, 2}, {1, 3, 2}, {2, 5, 3}, {3, 4, 16}, {3, 12, 4}, {8, 32, 6}, {16, 64, 62}, {4, 100, 7}}
	failures := 0
	for i := range total {
		sh := shapes[i%len(shapes)]
		cfg := DefaultConfig()
		cfg.Protocol, cfg.Scenario = "predlock", "random"
		cfg.Nodes, cfg.Joiners, cfg.Bits = sh.nodes, sh.joiners, sh.bits
		cfg.Delay = delays[(i/len(shapes))%len(delays)]
		cfg.Timing, cfg.Link = "async", "reorder"
		if i%3 == 0 {
			cfg.Link = "fifo"
		}
		if i%5 == 0 && sh.nodes+sh.joiners <= 16 {
			cfg.Timing = "seed"
			cfg.Delay = Delay{Kind: "uniform-int", Min: cfg.Unit, Max: 10 * cfg.Unit}
		}
		cfg.Horizon = 1e12
		if cfg.Timing == "seed" {
			// Idle nodes poll every unit until the horizon, so keep it near what joins need.
			cfg.Horizon = int64(100*(sh.joiners+sh.nodes)) * cfg.Unit
		}
		cfg.JoinWindow = int64(i%4) * 10e6
		cfg.Seed = uint64(i) + 1
		r, err := Run(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != OutcomeOK || r.Violation != nil || r.JoinsSucceeded() != len(r.Joins) {
			failures++
			if failures <= 5 {
				t.Errorf("run %d (%+v): %s: %s", i, cfg, r.Outcome, r.Detail)
			}
		}
	}
	t.Logf("%d runs, %d failures", total, failures)
}
