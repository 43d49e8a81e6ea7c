package sim

import (
	"fmt"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
)

// TestResetAllocatesNothing holds a sweep worker's Sim to its promise: Reset for one short
// run after another, with ReuseResults, it allocates nothing per run once its storage has
// grown to the runs' size. Only runs that keep their promise are held to it: a failure's
// sentence is a string of its own.
func TestResetAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		joiners  int
		link     string
	}{
		{"predlock", 1, "reorder"},
		{"predlock", 3, "fifo"},
		{"predlock-retry", 2, "reorder"},
	} {
		t.Run(fmt.Sprintf("%s/%s/joiners=%d", tc.protocol, tc.link, tc.joiners), func(t *testing.T) {
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
				if r := s.Run(); r.Outcome != observe.OutcomeOK {
					t.Fatalf("seed %d: %s: %s", seed, r.Outcome, r.Detail)
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
