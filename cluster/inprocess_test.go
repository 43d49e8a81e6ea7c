package cluster

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// A real run must lay out the ring the simulator lays out for the same seed.
func TestRealLayoutMatchesSimulator(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Timing, cfg.Protocol = "random", "async", "predlock"
	cfg.Nodes, cfg.Joiners, cfg.JoinWindow = 6, 9, 5_000_000
	for seed := range uint64(5) {
		cfg.Seed = seed*7919 + 1
		res, err := sim.Run(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := sim.Layout(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var ids []protocol.ID
		var joins []sim.JoinRecord
		for _, sp := range specs {
			ids = append(ids, sp.ID)
			if !sp.Member {
				joins = append(joins, sim.JoinRecord{Joiner: sp.ID, Contact: sp.Contact, Start: sp.Start})
			}
		}
		slices.Sort(ids)
		var final []protocol.ID
		for _, st := range res.Final {
			final = append(final, st.ID)
		}
		slices.Sort(final)
		if !slices.Equal(ids, final) || len(joins) != len(res.Joins) {
			t.Fatalf("seed %d: IDs %v, simulator %v", cfg.Seed, ids, final)
		}
		for k, j := range res.Joins {
			if j.Joiner != joins[k].Joiner || j.Contact != joins[k].Contact || j.Start != joins[k].Start {
				t.Errorf("seed %d join %d: %v via %v at %d, simulator %v via %v at %d", cfg.Seed, k,
					joins[k].Joiner, joins[k].Contact, joins[k].Start, j.Joiner, j.Contact, j.Start)
			}
		}
	}
}

// One sweep with both modes: two real runs on in-process nodes next to two simulated ones.
func TestSweepClusterMode(t *testing.T) {
	spec, err := runner.Parse("mixed.toml", []byte(`name = "mixed"
seeds = 2
trace = "joins"

[base]
scenario = "random"
protocol = "predlock-retry"
nodes = 4
joiners = 6
join_window = "2ms"
timing = "async"
horizon = "5s"

[base.delay]
kind = "uniform"
min = "50us"
max = "600us"

[sweep]
mode = ["sim", "cluster"]
`))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	sum, err := runner.Sweep(context.Background(), spec, runner.Options{Dir: out, Workers: 2, Real: InProcess{}})
	if err != nil || sum.Done != 4 {
		t.Fatalf("sweep: %v, %+v", err, sum)
	}
	modes := map[string]int{}
	err = trace.ForEachRowGroup(filepath.Join(out, "runs", "part-000000.parquet"), nil, func(c *trace.Chunk) error {
		for i := range c.NumRows() {
			mode := c.String("mode")[i]
			modes[mode]++
			if c.String("outcome")[i] != observe.OutcomeOK || c.Int64("joins_ok")[i] != 6 || !c.Bool("ring_correct")[i] {
				t.Errorf("%s run %d: %s (%s), %d joins ok", mode, c.Int64("run_id")[i], c.String("outcome")[i], c.String("detail")[i], c.Int64("joins_ok")[i])
			}
			if mode == "cluster" && (c.String("delay_kind")[i] != "real" || c.Int64("messages")[i] == 0 || c.Int64("latency_max_ns")[i] <= 0) {
				t.Errorf("cluster run %d: delay_kind %s, %d messages", c.Int64("run_id")[i], c.String("delay_kind")[i], c.Int64("messages")[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if modes["sim"] != 2 || modes["cluster"] != 2 {
		t.Errorf("runs per mode %v", modes)
	}
}

// A cancelled context stops a real run and every node it started.
func TestRunRealCancelled(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Timing, cfg.Protocol = "random", "async", "predlock"
	cfg.Nodes, cfg.Joiners, cfg.Horizon = 3, 2, int64(60e9)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (InProcess{}).RunReal(ctx, cfg); err == nil {
		t.Error("cancelled run returned no error")
	}
}
