package trace

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Damaged files must give errors, not crashes: flip bytes at random places
// of a valid file and read it back.
func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeEvents(t, dir, genEvents(3000, 8), ClockVirtual, Options{RowGroupRows: 1000})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	path := filepath.Join(dir, "bad.parquet")
	failed := 0
	for i := range 150 {
		bad := append([]byte(nil), data...)
		for range 1 + i%4 {
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if ReadEvents(path, func([]Event) error { return nil }) != nil {
			failed++
		}
	}
	t.Logf("%d of 150 damaged files were refused", failed)
}
