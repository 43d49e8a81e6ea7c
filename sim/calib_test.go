package sim

import (
	"testing"
)

// The original ended with a correct ring in about 76% of 1,000 simple-scenario runs.
func TestSeedCalibration(t *testing.T) {
	correct := 0
	classes := map[string]int{}
	const seeds = 1000
	for seed := uint64(1); seed <= seeds; seed++ {
		c := DefaultConfig()
		c.Seed = seed
		r, err := Run(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.RingCorrect {
			correct++
		}
		classes[r.Outcome]++
	}
	rate := float64(correct) / seeds
	t.Logf("correct ring in %d/%d runs (%.1f%%); outcomes %v", correct, seeds, 100*rate, classes)
	if rate < 0.72 || rate > 0.80 {
		t.Errorf("seed variant ends with a correct ring in %.1f%% of runs, want 72-80%%", 100*rate)
	}
}
