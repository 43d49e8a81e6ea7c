package stress

import (
	"context"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
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
