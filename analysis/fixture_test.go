package analysis

import (
	"path/filepath"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
)

func smallSet() *analysistest.Set { return analysistest.Small() }

func randomSet(seed uint64, seeds int, failRate func(point int) float64) *analysistest.Set {
	return analysistest.Random(seed, seeds, failRate)
}

// writeSet writes s under a fresh temporary folder and returns its path.
func writeSet(t testing.TB, s *analysistest.Set) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "results")
	if err := analysistest.Write(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// analyze opens and analyzes a result set, failing the test on error.
func analyze(t testing.TB, dir string, opts Options) *Summary {
	t.Helper()
	s, err := Load(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
