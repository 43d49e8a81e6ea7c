package sim

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// TestPredlockStress runs the predlock variant across a grid of joiner counts, ring widths
// (tiny ones force wrap-around and crowded gaps), delay distributions, link orders and timing
// models, and requires every run to end with outcome ok: a correct ring, every join ok, and
// no safety property broken at any event or at any quiescent point. A fifth of the runs on
// rings with room to spare have members leaving gracefully while the joins go on. CI runs
// 10,000 runs; DHTEXP_STRESS_RUNS=1000000 runs the full campaign.
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
	var stats observe.CheckerStats
	quiet := int64(0)
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
		if i%5 == 1 && sh.nodes >= 3 && cfg.Timing == "async" {
			cfg.Leavers = sh.nodes / 3
		}
		s, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Run()
		if r.Outcome != observe.OutcomeOK || r.Violation != nil || r.JoinsSucceeded() != len(r.Joins) || r.Departed != cfg.Leavers {
			failures++
			if failures <= 5 {
				t.Errorf("run %d (%+v): %s: %s; %d of %d leavers departed", i, cfg, r.Outcome, r.Detail, r.Departed, cfg.Leavers)
			}
		}
		if cfg.Timing == "async" && s.quiet.checks == 0 {
			t.Errorf("run %d: never quiescent", i)
		}
		st := s.check.Stats()
		stats.Incremental += st.Incremental
		stats.Full += st.Full
		stats.Fallbacks += st.Fallbacks
		stats.Removed += st.Removed
		quiet += s.quiet.checks
	}
	t.Logf("%d runs, %d failures; checker: %d incremental checks, %d fallbacks to a full walk (%.3f%%), %d full walks in all, %d quiescent checks",
		total, failures, stats.Incremental, stats.Fallbacks, 100*float64(stats.Fallbacks)/float64(max(stats.Incremental, 1)), stats.Full, quiet)
}

// TestQuiescenceCounter: the count the simulator keeps to notice quiescence agrees with a
// scan of the event queue at every send and delivery, with and without faults.
func TestQuiescenceCounter(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		kv     bool
	}{
		{"no faults", Faults{}, false},
		{"loss and duplicates", Faults{Loss: 0.1, Duplicate: 0.2}, false},
		{"crash", Faults{CrashNode: "member", CrashAfter: "welcome"}, false},
		{"dht workload", Faults{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				cfg := joinWave("predlock-retry", 4, 12, 16, seed)
				if !tt.kv {
					cfg.Workload = Workload{}
				}
				cfg.Faults = tt.faults
				var s *Sim
				bad := ""
				trace := observe.TracerFunc(func(e *observe.Event) {
					if bad != "" || (e.Kind != observe.KindSend && e.Kind != observe.KindDeliver) {
						return
					}
					queued := int64(0)
					for i := range s.q.items {
						switch it := &s.q.items[i]; it.kind() {
						case evStart:
							queued++
						case evDeliver:
							if !protocol.IsDHTMessage(s.slots[it.idx()].msg.Type) {
								queued++
							}
						}
					}
					if queued != s.quiet.flight {
						bad = fmt.Sprintf("event %d (%s): counter %d, queue %d", e.Seq, e.Kind, s.quiet.flight, queued)
					}
				})
				var err error
				if s, err = New(cfg, trace); err != nil {
					t.Fatal(err)
				}
				s.Run()
				if bad != "" {
					t.Fatalf("seed %d: %s", seed, bad)
				}
			}
		})
	}
}

// TestCrashRunsKeepTheirClass: a member that crashes leaves its neighbours pointing at it.
// No variant repairs that, so it is reported in the run's detail, not as a violation: such
// runs end wrong_neighbours (or ok, join_failed when nothing pointed at the dead node), never
// invariant.
func TestCrashRunsKeepTheirClass(t *testing.T) {
	outcomes := map[string]int{}
	damage := 0
	for seed := uint64(1); seed <= 60; seed++ {
		cfg := DefaultConfig()
		cfg.Protocol, cfg.Scenario, cfg.Timing, cfg.Link = "predlock-retry", "random", "async", "reorder"
		cfg.Nodes, cfg.Joiners, cfg.Bits, cfg.Seed = 5, 6, 10, seed
		cfg.Delay = Delay{Kind: "lognormal", Median: 2e6, Sigma: 1}
		cfg.JoinWindow, cfg.Horizon = 20e6, 1e12
		cfg.Faults = Faults{CrashNode: "member", CrashAt: 10e6}
		r, err := Run(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		outcomes[r.Outcome]++
		switch r.Outcome {
		case observe.OutcomeWrongNeighbours:
			if !strings.Contains(r.Detail, "crashed node") {
				t.Errorf("seed %d: %s without the crash damage in its detail", seed, r.Detail)
			}
			damage++
		case observe.OutcomeOK, observe.OutcomeJoinFailed:
		default:
			t.Errorf("seed %d: %s: %s", seed, r.Outcome, r.Detail)
		}
	}
	t.Logf("outcomes %v", outcomes)
	if damage == 0 {
		t.Fatal("no run left a pointer to the crashed member")
	}
}

// TestRetryUnderFaults: with loss, duplication, reordering, delay spikes, partitions that
// heal and crash-restart, predlock-retry keeps its promise in every run (promiseBroken): the
// outcome is ok or join_failed, every join ends within its bound, nothing points at a
// newcomer that gave up, no lock is left. A node that crashes for good is outside the
// promise: nothing repairs the ring around it, so those runs may end wrong_neighbours,
// deadlock or timeout (an owner still retransmitting to it), but never with a safety
// violation among live nodes or a join that did not end.
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
		{CrashNode: "member", CrashAfter: "set_left", RestartAfter: 100e6},
	}
	ended := map[string]bool{observe.JoinOK: true, observe.JoinFailed: true, observe.JoinCrashed: true}
	promised := []string{observe.OutcomeOK, observe.OutcomeJoinFailed}
	forGood := []string{observe.OutcomeOK, observe.OutcomeJoinFailed, observe.OutcomeWrongNeighbours, observe.OutcomeDeadlock, observe.OutcomeTimeout}
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
		r, fails := runTraced(t, cfg)
		outcomes[r.Outcome]++
		permanent := cfg.Faults.CrashNode != "" && cfg.Faults.RestartAfter == 0
		switch {
		case !permanent:
			if why := promiseBroken(&cfg, r, fails); why != "" || !slices.Contains(promised, r.Outcome) {
				t.Errorf("run %d (faults %+v): outcome %s (%s): %s", i, cfg.Faults, r.Outcome, r.Detail, why)
			}
		case r.Violation != nil || !slices.Contains(forGood, r.Outcome):
			t.Errorf("run %d (faults %+v): outcome %s: %s", i, cfg.Faults, r.Outcome, r.Detail)
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
