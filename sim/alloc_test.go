package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
)

// TestResetAllocatesNothing holds a sweep worker's Sim to its promise: Reset for one short
// run after another, with ReuseResults, it allocates nothing per run once its storage has
// grown to the runs' size, run by Run or, as a sweep's workers run it, by RunContext under a
// context that can be cancelled. Only runs that keep their promise are held to it: a
// failure's sentence is a string of its own.
func TestResetAllocatesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		protocol   string
		joiners    int
		link       string
		runContext bool
	}{
		{"predlock", 1, "reorder", false},
		{"predlock", 3, "fifo", false},
		{"predlock-retry", 2, "reorder", false},
		{"predlock", 1, "reorder", true},
		{"predlock-retry", 2, "fifo", true},
	} {
		name := fmt.Sprintf("%s/%s/joiners=%d", tc.protocol, tc.link, tc.joiners)
		if tc.runContext {
			name += "/RunContext"
		}
		t.Run(name, func(t *testing.T) {
			cfg := benchConfigs()["tiny"]
			cfg.Protocol, cfg.Joiners, cfg.Link = tc.protocol, tc.joiners, tc.link
			var s Sim
			s.ReuseResults()
			seed := uint64(0)
			run := func() {
				seed++
				cfg.Seed = seed
				if err := s.Reset(cfg, nil); err != nil {
					t.Fatal(err)
				}
				r := s.Run
				if tc.runContext {
					r = func() *Result {
						res, err := s.RunContext(ctx)
						if err != nil {
							t.Fatal(err)
						}
						return res
					}
				}
				if res := r(); res.Outcome != observe.OutcomeOK {
					t.Fatalf("seed %d: %s: %s", seed, res.Outcome, res.Detail)
				}
			}
			for range 200 {
				run() // the storage grows to the largest of these runs
			}
			if a := testing.AllocsPerRun(500, run); a != 0 {
				t.Errorf("%.2f allocations per run, want 0", a)
			}
		})
	}
}
