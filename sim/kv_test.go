package sim

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
)

// stableRing is a ring of n members at rest with a lookup-only workload of about ops lookups.
func stableRing(n, ops int, fingers string, seed uint64) Config {
	c := DefaultConfig()
	c.Scenario, c.Nodes, c.Joiners, c.Bits, c.Timing, c.Protocol = "random", n, 0, 40, "async", "predlock"
	c.Delay = Delay{Kind: "constant", Value: int64(time.Millisecond)}
	c.Horizon = int64(time.Hour)
	c.Workload.Keys, c.Workload.Rate = 1000, 1e6
	c.Workload.Lookup, c.Workload.Get, c.Workload.Put = 1, 0, 0
	c.Workload.Fingers = fingers
	c.Workload.After = int64(ops) * 1000 // ops at 1e6/s
	c.Seed = seed
	return c
}

// TestLookupHopsStableRing holds the Chord paper's result on stable rings of 2^4 to 2^16
// nodes with fresh fingers: a lookup takes about ½·log2 N hops. Required: within 15 %. Small
// rings are averaged over many random layouts, as one layout of 16 nodes decides a lot.
func TestLookupHopsStableRing(t *testing.T) {
	for exp := 4; exp <= 16; exp++ {
		n := 1 << exp
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if testing.Short() && n > 4096 {
				t.Skip("large ring")
			}
			rings := max(1, 4096/n)
			var hops int64
			var lookups, ok int
			for seed := range rings {
				r, err := Run(stableRing(n, max(200, 2000/rings), "fresh", uint64(seed)), nil)
				if err != nil {
					t.Fatal(err)
				}
				k := r.KV
				hops += k.LookupHops
				lookups += k.Lookups
				ok += k.LookupsOK
				if k.FingersStale != 0 || k.Lost+k.Duplicated+k.Misplaced != 0 {
					t.Fatalf("stable ring: %d stale fingers, %d lost, %d duplicated, %d misplaced keys", k.FingersStale, k.Lost, k.Duplicated, k.Misplaced)
				}
			}
			if lookups < 1000 || ok != lookups {
				t.Fatalf("%d lookups, %d answered with the true owner", lookups, ok)
			}
			mean, want := float64(hops)/float64(ok), 0.5*float64(exp)
			t.Logf("N=%d: %.3f hops per lookup over %d lookups on %d rings, ½·log2 N = %.1f (%+.1f%%)", n, mean, lookups, rings, want, 100*(mean-want)/want)
			if math.Abs(mean-want) > 0.15*want {
				t.Errorf("mean hops %.3f is not within 15%% of ½·log2 N = %.1f", mean, want)
			}
		})
	}
}

// TestFingersLearntByRefresh starts members with no fingers: the periodic refresh, made of
// ordinary lookups, must find every exact finger, after which lookups take ½·log2 N hops.
func TestFingersLearntByRefresh(t *testing.T) {
	const n = 1024
	c := stableRing(n, 0, "empty", 3)
	c.Workload.Rate = 0
	c.Workload.After = int64(5 * time.Second) // 100 refresh periods of 50 ms
	r, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := Run(stableRing(n, 0, "fresh", 3), nil)
	if r.KV.FingersStale != 0 || r.KV.Fingers != exact.KV.Fingers {
		t.Fatalf("after refresh: %d fingers, %d stale; exact fingers: %d", r.KV.Fingers, r.KV.FingersStale, exact.KV.Fingers)
	}
	// With fingers off, routing follows right pointers: about N/2 hops.
	c = stableRing(64, 500, "empty", 4)
	c.Workload.FingerPeriod = 0
	r, _ = Run(c, nil)
	if mean := float64(r.KV.LookupHops) / float64(r.KV.LookupsOK); mean < 20 || r.KV.Fingers != 0 {
		t.Fatalf("no fingers: %.1f hops per lookup on 64 nodes, %d fingers", mean, r.KV.Fingers)
	}
}

// joinWave is a ring of members with joiners arriving while clients look up, get and put.
func joinWave(variant string, members, joiners int, bits uint, seed uint64) Config {
	c := DefaultConfig()
	c.Scenario, c.Protocol, c.Timing, c.Link = "random", variant, "async", "reorder"
	c.Nodes, c.Joiners, c.Bits = members, joiners, bits
	c.Delay = Delay{Kind: "exponential", Mean: 2e6}
	c.JoinWindow = int64(5 * time.Millisecond)
	c.Horizon = int64(time.Hour)
	c.Workload.Keys, c.Workload.Rate = 200, 20_000
	c.Workload.Before, c.Workload.After = int64(2*time.Millisecond), int64(5*time.Millisecond)
	c.Workload.FingerPeriod = int64(5 * time.Millisecond)
	c.Seed = seed
	return c
}

// TestKeySafetyUnderJoins is the DHT's safety campaign: with joins racing lookups, gets and
// puts, and no faults, no key is ever lost, duplicated or left at a node that does not own
// it (checked after every completed join and at the end), every get sees the owner's value
// and every lookup names the owner. CI runs 2,000 runs per variant; DHTEXP_STRESS_RUNS=100000
// runs the full campaign.
func TestKeySafetyUnderJoins(t *testing.T) {
	shapes := []struct {
		members, joiners int
		bits             uint
	}{{1, 1, 8}, {2, 6, 6}, {4, 16, 16}, {8, 32, 62}, {3, 40, 8}, {32, 64, 32}}
	for _, variant := range []string{"predlock", "predlock-retry"} {
		t.Run(variant, func(t *testing.T) {
			total := stressRuns(t, 200) / 20
			ops, checks := 0, 0
			for i := range total {
				sh := shapes[i%len(shapes)]
				c := joinWave(variant, sh.members, sh.joiners, sh.bits, uint64(i))
				if i%2 == 1 {
					c.Workload.Popularity = "zipf"
				}
				r, err := Run(c, nil)
				if err != nil {
					t.Fatal(err)
				}
				k := r.KV
				ops += k.Ops
				checks += k.KeyChecks
				if r.Outcome != observe.OutcomeOK || k.KeyFailures != 0 || k.Missing+k.Stale != 0 ||
					k.LookupsOK != k.Lookups || k.Answered != k.Ops || k.OpsOK != k.Ops {
					t.Fatalf("run %d (seed %d, %d+%d nodes, %d bits): outcome %s, %d key-safety failures (%s), %d missing, %d stale, %d/%d lookups right, %d/%d answered, %d ok",
						i, c.Seed, sh.members, sh.joiners, sh.bits, r.Outcome, k.KeyFailures, k.FirstFailure, k.Missing, k.Stale, k.LookupsOK, k.Lookups, k.Answered, k.Ops, k.OpsOK)
				}
			}
			t.Logf("%d runs, %d operations, %d key-safety checks, no failure", total, ops, checks)
		})
	}
}

// TestSeedLosesKeys shows the checker failing where it must: the original protocol's broken
// rings misplace keys and serve inconsistent gets.
func TestSeedLosesKeys(t *testing.T) {
	failures, inconsistent := 0, 0
	for i := range 50 {
		r, err := Run(joinWave("seed", 8, 32, 16, uint64(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.KV.KeyFailures > 0 {
			failures++
		}
		inconsistent += r.KV.Missing + r.KV.Stale
	}
	if failures == 0 || inconsistent == 0 {
		t.Fatalf("seed, 50 runs of 32 joiners: %d runs with key-safety failures, %d inconsistent gets; expected some of both", failures, inconsistent)
	}
	t.Logf("seed: %d/50 runs broke key safety, %d inconsistent gets", failures, inconsistent)
}

// TestWorkloadDeterministic: a configuration and a seed give the same operations, answers
// and summary, whatever ran before.
func TestWorkloadDeterministic(t *testing.T) {
	c := joinWave("predlock-retry", 8, 16, 20, 42)
	c.Workload.Popularity = "zipf"
	a, _ := Run(c, nil)
	Run(joinWave("seed", 8, 16, 20, 1), nil)
	b, _ := Run(c, nil)
	if !reflect.DeepEqual(a.Ops, b.Ops) || !reflect.DeepEqual(a.KV, b.KV) || len(a.Ops) == 0 {
		t.Fatal("two runs of one configuration and seed differ")
	}
	phases := map[string]int{}
	for _, o := range a.Ops {
		phases[o.Phase]++
	}
	if phases[PhaseBefore] == 0 || phases[PhaseDuring] == 0 || phases[PhaseAfter] == 0 {
		t.Fatalf("operations by phase: %v; want some in each", phases)
	}
}

func TestWorkloadValidate(t *testing.T) {
	for _, tc := range []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.Workload.Keys = -1 }, "workload.keys"},
		{func(c *Config) { c.Workload.Keys, c.Workload.Rate = 0, 5 }, "workload.keys"},
		{func(c *Config) { c.Workload.Popularity = "pareto" }, "workload.popularity"},
		{func(c *Config) { c.Workload.Popularity, c.Workload.ZipfS = "zipf", 1 }, "workload.zipf_s"},
		{func(c *Config) { c.Workload.Lookup, c.Workload.Get, c.Workload.Put = 0, 0, 0 }, "workload.lookup"},
		{func(c *Config) { c.Workload.Fingers = "stale" }, "workload.fingers"},
		{func(c *Config) { c.Workload.HopBudget = 70000 }, "workload.hop_budget"},
		{func(c *Config) { c.Timing = "seed" }, "workload"},
	} {
		c := joinWave("predlock", 4, 4, 16, 1)
		tc.set(&c)
		err := c.Validate()
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error naming %s", err, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestLeavesUnderJoins: members leave gracefully while newcomers join and clients look up,
// get and put, in both variants with a leave exchange (125 runs each in CI). The ring ends right without the leavers, every leaver departs, and no key is
// lost, duplicated or misplaced at any completed join or leave, or at the end.
func TestLeavesUnderJoins(t *testing.T) {
	for _, variant := range []string{"predlock", "predlock-retry"} {
		t.Run(variant, func(t *testing.T) { leaves(t, variant) })
	}
}

func leaves(t *testing.T, variant string) {
	shapes := []struct {
		members, joiners, leavers int
		bits                      uint
	}{{2, 0, 1, 8}, {3, 2, 2, 6}, {8, 8, 4, 16}, {16, 16, 15, 62}, {32, 32, 16, 32}, {6, 20, 5, 8}}
	total := stressRuns(t, 200) / 80
	departed, ops := 0, 0
	for i := range total {
		sh := shapes[i%len(shapes)]
		c := joinWave(variant, sh.members, sh.joiners, sh.bits, uint64(i))
		c.Leavers = sh.leavers
		if variant == "predlock-retry" {
			c.Workload.Rate /= 4 // its chains of leavers wait on timers: seconds of operations
		}
		r, err := Run(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		k := r.KV
		departed += r.Departed
		ops += k.Ops
		if r.Outcome != observe.OutcomeOK || r.Departed != sh.leavers || k.KeyFailures != 0 || k.Missing+k.Stale != 0 || k.Answered != k.Ops {
			t.Fatalf("run %d (seed %d, %d members, %d joiners, %d leavers): outcome %s (%s), %d departed, %d key-safety failures (%s), %d missing, %d stale, %d/%d answered",
				i, c.Seed, sh.members, sh.joiners, sh.leavers, r.Outcome, r.Detail, r.Departed, k.KeyFailures, k.FirstFailure, k.Missing, k.Stale, k.Answered, k.Ops)
		}
	}
	t.Logf("%d runs, %d graceful leaves, %d operations, no failure", total, departed, ops)
}

// TestReplication: with r replicas, every key has a copy at each of its owner's r successors
// at the end, puts racing joins and leaves included. A stable ring holds no other copy;
// joins and leaves leave extra copies behind (counted, never served, not trimmed).
func TestReplication(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		members, joiners, leavers int
		replicas                  int
	}{
		{"stable", 16, 0, 0, 3},
		{"tiny", 2, 0, 0, 3},
		{"joins", 16, 16, 0, 2},
		{"leaves", 16, 0, 6, 2},
		{"both", 16, 16, 6, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			missing, extra, runs := 0, 0, 40
			for seed := range runs {
				c := joinWave("predlock", tc.members, tc.joiners, 32, uint64(seed))
				c.Leavers = tc.leavers
				c.Workload.Replicas = tc.replicas
				r, err := Run(c, nil)
				if err != nil {
					t.Fatal(err)
				}
				k := r.KV
				if r.Outcome != observe.OutcomeOK || k.KeyFailures != 0 || k.Missing+k.Stale != 0 {
					t.Fatalf("seed %d: outcome %s, %d key failures (%s), %d missing, %d stale", seed, r.Outcome, k.KeyFailures, k.FirstFailure, k.Missing, k.Stale)
				}
				missing += k.ReplicasMissing
				extra += k.ReplicasExtra
			}
			t.Logf("%d runs: %d replicas missing, %d extra", runs, missing, extra)
			if missing != 0 || (tc.joiners == 0 && tc.leavers == 0 && extra != 0) {
				t.Fatalf("%d replicas missing, %d extra", missing, extra)
			}
		})
	}
}

// TestRetryLeavesUnderLoss: predlock-retry's leave survives message loss: every leaver
// departs, the ring ends right (joins may report failure), and no key is lost, duplicated or
// misplaced at the end (a key whose handoff was lost is missing until it is resent).
func TestRetryLeavesUnderLoss(t *testing.T) {
	runs := stressRuns(t, 200) / 100
	outcomes := map[string]int{}
	for i := range runs {
		c := joinWave("predlock-retry", 16, 8, 32, uint64(i))
		c.Leavers = 4
		c.Faults.Loss = 0.05
		c.Workload.Rate = 5000
		c.Horizon = int64(120 * time.Second)
		r, err := Run(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		outcomes[r.Outcome]++
		k := r.KV
		if (r.Outcome != observe.OutcomeOK && r.Outcome != observe.OutcomeJoinFailed) || r.Departed != 4 || k.Lost+k.Duplicated+k.Misplaced != 0 {
			t.Fatalf("seed %d: outcome %s (%s), %d of 4 departed, %d lost, %d duplicated, %d misplaced",
				i, r.Outcome, r.Detail, r.Departed, k.Lost, k.Duplicated, k.Misplaced)
		}
	}
	t.Logf("%d runs with 5%% loss and 4 leavers: %v", runs, outcomes)
}

// keyCheckConfigs are runs whose key checks see keys lost, duplicated, misplaced and in
// transit: churn with and without crashes under a variant that does not repair them and one
// that does, and joins and leaves racing a workload.
func keyCheckConfigs() map[string]Config {
	cfgs := map[string]Config{"dht": determinismConfigs()["dht"]}
	for _, crash := range []float64{0, 0.5, 1} {
		for seed := uint64(1); seed <= 4; seed++ {
			c := churnConfig(seed, crash)
			c.Workload.Keys = 400 // ten keys a node: a change of the ring moves owners
			cfgs[fmt.Sprint("predlock-retry/crash=", crash, "/seed=", seed)] = c
			c.Protocol, c.Stabilize = "repair", int64(500*time.Millisecond)
			cfgs[fmt.Sprint("repair/crash=", crash, "/seed=", seed)] = c
		}
	}
	return cfgs
}

// TestKeyChecksIncremental: every key check during a run, made from the running account,
// gives the verdict (failed or not, and the first failure) of a count from scratch.
func TestKeyChecksIncremental(t *testing.T) {
	var checks, failures int
	for name, c := range keyCheckConfigs() {
		t.Run(name, func(t *testing.T) {
			s, err := New(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.kv.verifyKeys = true // panics on the first difference
			r := s.Run()
			if r.KV.KeyChecks < 10 {
				t.Errorf("only %d key checks", r.KV.KeyChecks)
			}
			checks += r.KV.KeyChecks
			failures += r.KV.KeyFailures
		})
	}
	if failures == 0 || failures == checks {
		t.Errorf("%d of %d key checks failed: both verdicts must be exercised", failures, checks)
	}
}
