package trace

import (
	"os"
	"path/filepath"
	"testing"
)

// A staged file is invisible at its path until Commit, which replaces what was there; Discard
// leaves the path as it was; either way no temporary file stays behind.
func TestStageFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ManifestName)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	temps := func() int {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if IsManifestTemp(e.Name()) {
				n++
			}
		}
		return n
	}

	st, err := StageFile(path, []byte("discarded"))
	if err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "old" || temps() != 1 {
		t.Fatalf("staged: path holds %q with %d temporary files, want the old file and one", got, temps())
	}
	st.Discard()
	if got := read(); got != "old" || temps() != 0 {
		t.Fatalf("discarded: path holds %q with %d temporary files", got, temps())
	}

	if st, err = StageFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "new" || temps() != 0 {
		t.Fatalf("committed: path holds %q with %d temporary files", got, temps())
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("committed file: %v, %v; want mode 0644", info, err)
	}

	if _, err := StageFile(filepath.Join(dir, "missing", ManifestName), []byte("x")); err == nil {
		t.Fatal("staging into a missing folder succeeded")
	}
}
