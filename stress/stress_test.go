package stress

import (
	"context"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/sim"
)

// TestSwarmPredlock: predlock on a perfect network keeps its promise on every drawn shape.
func TestSwarmPredlock(t *testing.T) {
	sum, err := Run(context.Background(), DefaultBounds("predlock"), Options{First: 1, Count: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != 3000 || sum.Kept != sum.Runs || sum.Outcomes[observe.OutcomeOK] != sum.Runs {
		t.Fatalf("%d runs, %d kept, outcomes %v, first failures %+v", sum.Runs, sum.Kept, sum.Outcomes, sum.Failures)
	}
}

// TestSwarmSeedFails is the checker's sanity check: the original protocol must fail the same
// swarm, and each failure must come back the same when its seed is drawn again.
func TestSwarmSeedFails(t *testing.T) {
	b := DefaultBounds("seed")
	b.MaxLeavers = 0
	sum, err := Run(context.Background(), b, Options{First: 1, Count: 2000, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != 2000 || sum.Kept == sum.Runs || len(sum.Failures) == 0 {
		t.Fatalf("seed kept every promise: %d runs, outcomes %v", sum.Runs, sum.Outcomes)
	}
	f := sum.Failures[0]
	if got := Draw(b, f.Seed); got != f.Config {
		t.Fatalf("seed %d draws %+v, failure recorded %+v", f.Seed, got, f.Config)
	}
}

// TestShardsPartitionSeeds: the shards of a swarm run every seed exactly once.
func TestShardsPartitionSeeds(t *testing.T) {
	b := DefaultBounds("seed")
	b.MaxLeavers = 0
	whole, err := Run(context.Background(), b, Options{First: 10, Count: 301, MaxFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var runs int64
	var fails []uint64
	for i := 0; i < 3; i++ {
		part, err := Run(context.Background(), b, Options{First: 10, Count: 301, ShardIndex: i, ShardCount: 3, MaxFailures: 1000})
		if err != nil {
			t.Fatal(err)
		}
		runs += part.Runs
		for _, f := range part.Failures {
			fails = append(fails, f.Seed)
		}
	}
	if runs != whole.Runs || len(fails) != len(whole.Failures) {
		t.Fatalf("shards ran %d runs with %d failures, whole %d with %d", runs, len(fails), whole.Runs, len(whole.Failures))
	}
}

// TestDrawValid: every drawn configuration is one the simulator accepts, at the bounds'
// extremes too, and the draws reach every layout, contact rule, start rule, leave target,
// link mode and delay kind.
func TestDrawValid(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range []Bounds{
		DefaultBounds("predlock"),
		{Protocol: "predlock-retry", MaxNodes: 12, MaxJoiners: 12, MaxLeavers: 3, MaxDelay: 20_000_000, Faults: true},
		{Protocol: "seed", MaxNodes: 1, MaxJoiners: 1, MaxDelay: 1, Faults: true},
		{Protocol: "predlock", MaxNodes: 3, MaxJoiners: 40, MaxLeavers: 2, MaxDelay: 3, Faults: true},
	} {
		for seed := uint64(1); seed <= 2000; seed++ {
			c := Draw(b, seed)
			if err := c.Validate(); err != nil {
				t.Fatalf("%+v seed %d: %v", b, seed, err)
			}
			for _, s := range []string{"layout " + c.Layout, "contacts " + c.Contacts, "starts " + c.Starts,
				"link " + c.Link, "delay " + c.Delay.Kind, "leave " + c.LeaveTarget} {
				seen[s] = true
			}
		}
	}
	var missing []string
	for kind, names := range map[string][]string{"layout ": sim.Layouts, "contacts ": sim.ContactRules,
		"starts ": sim.StartRules, "link ": sim.LinkModes, "delay ": sim.DelayKinds, "leave ": sim.LeaveTargets} {
		for _, n := range names {
			if !seen[kind+n] {
				missing = append(missing, kind+n)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("never drawn: %v", missing)
	}
}

// TestSwarmChurnRepair: the repair variant keeps its promise under guarded churn on every
// drawn run, and each run's configuration is the one its seed draws.
func TestSwarmChurnRepair(t *testing.T) {
	b := DefaultChurnBounds("repair")
	sum, err := Run(context.Background(), b, Options{First: 1, Count: 40, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != 40 || sum.Kept != sum.Runs || sum.RepairSeed == 0 {
		t.Fatalf("%d runs, %d kept, outcomes %v, first failures %+v", sum.Runs, sum.Kept, sum.Outcomes, sum.Failures)
	}
	c := Draw(b, 7)
	if !c.Churn.On() || c.Churn.CrashGuard != DefaultCrashGuard || c.Workload.Replicas < 2 || c.Workload.Replicas > 4 ||
		c.Nodes < 8 || c.Nodes > 64 || c.Joiners != 0 || c.Validate() != nil {
		t.Fatalf("seed 7 draws %+v (%v)", c, c.Validate())
	}
}

// TestSwarmChurnRegressions: seeds of the guarded churn swarm that once broke repair's
// promise, each for a reason docs/protocol.md names, keep it; the swarm draws each seed's
// configuration alone, so these are the same runs.
func TestSwarmChurnRegressions(t *testing.T) {
	b := DefaultChurnBounds("repair")
	for _, tc := range []struct {
		seed uint64
		was  string
	}{
		{11554, "keys_lost: a node whose successors all died kept pointing at a dead one"},
		{11066, "keys_lost: a copy trimmed while the predecessor was dead or its range had just grown"},
		{15758, "invariant: a predecessor displaced by rectify pointed at a node that then left"},
		{20345, "invariant: as 15758"},
		{44723, "invariant: a leaver kept handing its keys to a successor that ignored them"},
		{23416, "invariant: a late set_left of a newcomer that had left already"},
	} {
		sum, err := Run(context.Background(), b, Options{First: tc.seed, Count: 1, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Kept != 1 {
			t.Errorf("seed %d (was %s): outcomes %v, failures %+v", tc.seed, tc.was, sum.Outcomes, sum.Failures)
		}
	}
}

// TestSwarmChurnUnguarded is the churn judge's sanity check: without the crash guard, or with
// one replica, the same swarm breaks the promise.
func TestSwarmChurnUnguarded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Bounds)
	}{
		{"no guard", func(b *Bounds) { b.CrashGuard = 0 }},
		{"r = 1", func(b *Bounds) { b.MinReplicas, b.MaxReplicas = 1, 1 }},
	} {
		b := DefaultChurnBounds("repair")
		tc.change(&b)
		sum, err := Run(context.Background(), b, Options{First: 1, Count: 30, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Kept == sum.Runs || len(sum.Failures) == 0 {
			t.Fatalf("%s: every run kept the promise: outcomes %v", tc.name, sum.Outcomes)
		}
		if got := Draw(b, sum.Failures[0].Seed); got != sum.Failures[0].Config {
			t.Fatalf("%s: seed %d draws %+v, failure recorded %+v", tc.name, sum.Failures[0].Seed, got, sum.Failures[0].Config)
		}
	}
}
