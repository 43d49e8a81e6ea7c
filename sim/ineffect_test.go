package sim

import (
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// InEffect keeps what a run reads and settles what it defaults, and nothing else.
func TestInEffect(t *testing.T) {
	const ms = int64(1e6)
	all := Delay{Value: 2 * ms, Min: 3 * ms, Max: 4 * ms, Step: 5 * ms, Mean: 6 * ms, Median: 7 * ms, Sigma: 0.5}
	for _, tc := range []struct {
		kind string
		step int64 // uniform-int's step as set
		want Delay
	}{
		{"constant", 0, Delay{Kind: "constant", Value: 2 * ms}},
		{"uniform", 0, Delay{Kind: "uniform", Min: 3 * ms, Max: 4 * ms}},
		{"uniform-int", 5 * ms, Delay{Kind: "uniform-int", Min: 3 * ms, Max: 4 * ms, Step: 5 * ms}},
		{"uniform-int", 0, Delay{Kind: "uniform-int", Min: 3 * ms, Max: 4 * ms, Step: 9 * ms}}, // the unit
		{"exponential", 0, Delay{Kind: "exponential", Mean: 6 * ms}},
		{"lognormal", 0, Delay{Kind: "lognormal", Median: 7 * ms, Sigma: 0.5}},
	} {
		c := DefaultConfig()
		c.Unit = 9 * ms
		c.Delay = all
		c.Delay.Kind, c.Delay.Step = tc.kind, tc.step
		if got := c.InEffect().Delay; got != tc.want {
			t.Errorf("%s step %d: %+v, want %+v", tc.kind, tc.step, got, tc.want)
		}
	}

	c := DefaultConfig()
	if w := c.InEffect().Workload; w != (Workload{}) {
		t.Errorf("no workload: %+v", w)
	}
	c.Workload.Keys = 10
	w := c.InEffect().Workload
	if w.HopBudget != protocol.DefaultHopBudget || w.OpTimeout != protocol.DefaultOpTimeout || w.ZipfS != 0 || w.Keys != 10 {
		t.Errorf("workload left to its defaults: %+v", w)
	}
	c.Workload.Popularity, c.Workload.HopBudget, c.Workload.OpTimeout = "zipf", 7, 3*ms
	if w := c.InEffect().Workload; w.ZipfS != c.Workload.ZipfS || w.HopBudget != 7 || w.OpTimeout != 3*ms {
		t.Errorf("workload set: %+v", w)
	}
}
