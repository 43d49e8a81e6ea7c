package sim

import (
	"os"
	"strconv"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
)

// TestPredlockStress runs the predlock variant across a grid of joiner counts, ring widths
// (tiny ones force wrap-around and crowded gaps), delay distributions, link orders and timing
// models, and requires every run to end with a correct ring and no safety violation at any
// event. CI runs 10,000 runs; DHTEXP_STRESS_RUNS=1000000 runs the full campaign.
func TestPredlockStress(t *testing.T) {
	for _, variant := range []string{"predlock", "predlock-retry"} {
		t.Run(variant, func(t *testing.T) { stress(t, variant, "ring") })
	}
}

func stressRuns(t *testing.T, short int) int {
	total := 10_000
	if v := os.Getenv("DHTEXP_STRESS_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DHTEXP_STRESS_RUNS=%q is not a positive number", v)
		}
		return n
	}
	if testing.Short() {
		return short
	}
	return total
}

func stress(t *testing.T, variant, routing string) {
	total := stressRuns(t, 1000)
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
		cfg.Protocol, cfg.Scenario, cfg.JoinRouting = variant, "random", routing
		cfg.Nodes, cfg.Joiners, cfg.Bits = sh.nodes, sh.joiners, sh.bits
		cfg.Delay = delays[(i/len(shapes))%len(delays)]
		if variant == "predlock-retry" && cfg.Delay.Kind == "lognormal" {
			// A variant with timeouts cannot tell a message delayed by seconds from a lost
			// one; keep the tail below its backoff (sigma 2 reaches seconds).
			cfg.Delay.Sigma = 1
		}
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
		if r.Outcome != observe.OutcomeOK || r.Violation != nil || r.JoinsSucceeded() != len(r.Joins) {
			failures++
			if failures <= 5 {
				t.Errorf("run %d (%+v): %s: %s", i, cfg, r.Outcome, r.Detail)
			}
		}
	}
	t.Logf("%d runs, %d failures", total, failures)
}

// TestRetryUnderFaults: with loss, duplication, reordering, delay spikes and crashes,
// predlock-retry never breaks a safety property among live nodes, and every join ends:
// success, a reported failure, or the newcomer's own crash. Never a silent hang.
func TestRetryUnderFaults(t *testing.T) {
	total := stressRuns(t, 500) / 5
	faults := []Faults{
		{Loss: 0.05},
		{Loss: 0.2},
		{Duplicate: 0.2, ReorderWindow: 20e6},
		{SpikeProb: 0.05, Spike: 300e6},
		{CrashNode: "random", CrashAt: 15e6},
		{CrashNode: "member", CrashAfter: "welcome"},
		{CrashNode: "joiner", CrashAfter: "welcome_ack", RestartAfter: 50e6},
		{PartitionFraction: 0.3, PartitionAt: 5e6, HealAt: 200e6},
		{Loss: 0.1, Duplicate: 0.1, CrashNode: "random", CrashAt: 30e6},
	}
	ended := map[string]bool{observe.JoinOK: true, observe.JoinFailed: true, observe.JoinCrashed: true}
	outcomes := map[string]int{}
	joins, failedJoins := 0, 0
	perFault := make([][3]int, len(faults)) // joins, reported failures, runs not ok
	for i := range total {
		cfg := DefaultConfig()
		cfg.Protocol, cfg.Scenario, cfg.Timing, cfg.Link = "predlock-retry", "random", "async", "reorder"
		cfg.Nodes, cfg.Joiners, cfg.Bits = 2+i%7, 1+i%24, uint(4+i%12)
		if cfg.Nodes+cfg.Joiners > 1<<cfg.Bits {
			cfg.Bits = 10
		}
		cfg.Delay = Delay{Kind: "lognormal", Median: 2e6, Sigma: 1}
		cfg.JoinWindow, cfg.Horizon, cfg.Seed = 20e6, 1e12, uint64(i)+1
		cfg.Faults = faults[i%len(faults)]
		r, err := Run(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		outcomes[r.Outcome]++
		if r.Violation != nil {
			t.Errorf("run %d (faults %+v): %s", i, cfg.Faults, r.Detail)
		}
		pf := &perFault[i%len(faults)]
		if r.Outcome != observe.OutcomeOK {
			pf[2]++
		}
		for _, j := range r.Joins {
			joins++
			pf[0]++
			if j.Outcome == observe.JoinFailed {
				failedJoins++
				pf[1]++
			}
			if !ended[j.Outcome] {
				t.Errorf("run %d (faults %+v): join of %v never ended (%s); run %s: %s", i, cfg.Faults, j.Joiner, j.Outcome, r.Outcome, r.Detail)
			}
		}
	}
	t.Logf("%d runs: outcomes %v; %d of %d joins reported failure", total, outcomes, failedJoins, joins)
	for k, f := range faults {
		pf := perFault[k]
		t.Logf("faults %+v: %.2f%% of %d joins reported failure; %.1f%% of runs not ok",
			f, 100*float64(pf[1])/float64(max(pf[0], 1)), pf[0], 100*float64(pf[2])/float64(max(total/len(faults), 1)))
	}
}
