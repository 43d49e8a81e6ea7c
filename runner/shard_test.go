package runner

import "testing"

// TestUnitSize: sweeps of at least 16 blocks keep block-sized units; smaller ones are cut so
// that there are about 16 units to share among the workers, and never an empty one.
func TestUnitSize(t *testing.T) {
	for _, tc := range []struct{ runs, want int64 }{
		{108_000, BlockRuns}, {16 * BlockRuns, BlockRuns}, {16*BlockRuns - 1, BlockRuns - 1},
		{54, 3}, {16, 1}, {3, 1}, {0, 1},
	} {
		if got := unitSize(tc.runs); got != tc.want {
			t.Errorf("unitSize(%d) = %d, want %d", tc.runs, got, tc.want)
		}
	}
}
