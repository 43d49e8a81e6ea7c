package runner

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

// A result set a sweep wrote at manifest format 1, before the manifest moved to trace,
// still merges: its manifest, part list and run ids read as they were written.
func TestMergeFormat1(t *testing.T) {
	in := filepath.Join("..", "trace", "testdata", "resultset-format1")
	old, err := readManifest(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	m, err := Merge(out, []string{in})
	if err != nil {
		t.Fatal(err)
	}
	back, err := trace.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	// Merge brings the file-bytes hash earlier builds recorded to this build's hash of the
	// parsed spec.
	if back.SpecHash != UpgradeSpecHash(old.SpecPath, old.Spec, old.SpecHash) || !back.Complete() || back.RunsDone() != 8 || len(back.Grid) != len(old.Grid) ||
		!slices.Equal(back.MergedFrom, []string{in}) || m.RunsDone() != back.RunsDone() {
		t.Errorf("merged manifest %+v", back)
	}
	for i := range old.Grid {
		if got, want := back.Params(i).Key(), old.Params(i).Key(); got != want {
			t.Errorf("point %d: %s, was %s", i, got, want)
		}
	}
	for _, p := range back.Done {
		if err := checkRunIDs(filepath.Join(out, trace.TableRuns, p.Part), p); err != nil {
			t.Error(err)
		}
		if err := checkOpRunIDs(filepath.Join(out, trace.TableOps, p.Part), p); err != nil {
			t.Error(err)
		}
	}
}
