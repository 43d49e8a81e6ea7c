package runner

import (
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

func TestEstimate(t *testing.T) {
	spec := func(seeds, nodes, joiners string) *Spec {
		t.Helper()
		s, err := Parse("e.toml", []byte(`name = "e"
seeds = `+seeds+`
trace = "joins"

[base]
scenario = "random"
bits = 32
timing = "async"
nodes = `+nodes+`
joiners = `+joiners+`
`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		s        *Spec
		level    trace.Level
		out, mem [2]float64 // bounds
		warn     []string
	}{
		// concurrency.toml's output was 65.6 MB for 108,000 runs of 1..256 joiners.
		{"64 nodes, 100 joiners", spec("100000", "64", "100"), 0, [2]float64{1e8, 2e8}, [2]float64{1e5, 3e5}, nil},
		{"none", spec("100000", "64", "100"), trace.LevelNone, [2]float64{3e6, 4e6}, [2]float64{1e5, 3e5}, nil},
		{"messages", spec("1000", "64", "100"), trace.LevelMessages, [2]float64{1e7, 1e8}, [2]float64{1e5, 1e7}, nil},
		{"huge ring", spec("10", "50000000", "10"), 0, [2]float64{0, 1e4}, [2]float64{5e10, 6e10}, []string{"memory"}},
		{"many runs", spec("400000000", "64", "1"), 0, [2]float64{1e10, 1e11}, [2]float64{0, 1e6}, []string{"400000000 runs", "disk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.s.Estimate(tc.level)
			if e.OutputBytes < tc.out[0] || e.OutputBytes > tc.out[1] || e.RunMemory < tc.mem[0] || e.RunMemory > tc.mem[1] {
				t.Errorf("estimate %s (%.3g B, %.3g B)", e, e.OutputBytes, e.RunMemory)
			}
			if len(e.Warnings) != len(tc.warn) {
				t.Fatalf("warnings %q, want %d", e.Warnings, len(tc.warn))
			}
			all := strings.Join(e.Warnings, "\n")
			for _, w := range tc.warn {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", e.Warnings, w)
				}
			}
		})
	}
}
