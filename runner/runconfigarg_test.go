package runner

import (
	"strings"
	"testing"
)

func TestRunConfigArgRefusesBadIDs(t *testing.T) {
	for _, id := range []string{"x", "-1", "1.5", ""} {
		_, err := RunConfigArg(t.TempDir(), id)
		if want := "is not a run id (a non-negative integer)"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", id, err, want)
		}
	}
	if _, err := RunConfigArg(t.TempDir(), "3"); err == nil || strings.Contains(err.Error(), "is not a run id") {
		t.Errorf("a folder without a manifest: got %v", err)
	}
}
