package main

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	cols := []string{"run_id", "outcome"}
	a := map[int64][]string{0: {"0", `"ok"`}, 1: {"1", `"deadlock"`}, 2: {"2", `"ok"`}}
	if d := compare(a, a, cols, cols); len(d) != 0 {
		t.Fatalf("same runs: %v", d)
	}
	b := map[int64][]string{0: {"0", `"ok"`}, 1: {"1", `"ok"`}, 3: {"3", `"ok"`}}
	got := strings.Join(compare(a, b, cols, cols), "\n")
	want := "run 1: outcome: A \"deadlock\", B \"ok\"\nrun 2: only in A\nrun 3: only in B"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if d := compare(a, a, cols, []string{"run_id", "seed"}); len(d) != 1 || !strings.HasPrefix(d[0], "columns differ") {
		t.Fatalf("different columns: %v", d)
	}
}
