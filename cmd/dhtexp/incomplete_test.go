package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// incompleteSpec sweeps in well under a second: 3 grid points × 100 seeds.
const incompleteSpec = `name = "incomplete"
seeds = 100
trace = "none"

[base]
scenario = "random"
nodes = 8
timing = "async"
horizon = "10s"

[sweep]
joiners = [1, 2, 3]
`

// A single shard of two is an incomplete result set: report says so on stderr and at the
// top of its pages, and check refuses it unless asked to compare what is there.
func TestIncompleteResultSetIsLoud(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "incomplete.toml")
	if err := os.WriteFile(spec, []byte(incompleteSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, shard := filepath.Join(dir, "whole"), filepath.Join(dir, "shard")
	for _, args := range [][]string{
		{"sweep", spec, "-o", whole},
		{"sweep", spec, "--shard", "0/2", "-o", shard},
	} {
		if code, stdout, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	baseline := filepath.Join(dir, "base.json")
	if code, _, stderr := runCLI(t, "baseline", whole, "-o", baseline); code != 0 {
		t.Fatalf("baseline: exit %d: %s", code, stderr)
	}

	code, _, stderr := runCLI(t, "report", whole)
	if code != 0 || strings.Contains(stderr, "incomplete") {
		t.Errorf("report of a complete set: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "report", shard)
	// Blocks of 64 runs alternate between the shards: shard 0 holds runs 0..63, 128..191
	// and 256..299.
	for _, want := range []string{"incomplete result set", "172 of 300 planned runs", "shard 0/2"} {
		if code != 0 || !strings.Contains(stderr, want) {
			t.Errorf("report of a shard: exit %d, stderr lacks %q: %s", code, want, stderr)
		}
	}
	page, err := os.ReadFile(filepath.Join(shard, "report", "index.html"))
	if err != nil || !strings.Contains(string(page), `<p class="incomplete" role="alert">`) {
		t.Errorf("index.html has no banner (%v)", err)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"check", whole, "--baseline", baseline}, 0, ""},
		{[]string{"check", shard, "--baseline", baseline}, exitBadInput, "--allow-incomplete"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.stderr, stdout, stderr)
		}
	}
	// Asked to, check compares the runs present: whatever it finds, the input is usable.
	if code, stdout, stderr := runCLI(t, "check", shard, "--baseline", baseline, "--allow-incomplete"); code == exitBadInput || !strings.Contains(stderr, "incomplete result set") {
		t.Errorf("--allow-incomplete: exit %d\n%s%s", code, stdout, stderr)
	}
}

// A second cluster run into the same folder is pointed at -o.
func TestClusterNonEmptyFolderSuggestsOut(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "cluster", "--members", "2", "--joiners", "1", "-o", out)
	if code != exitBadInput || !strings.Contains(stderr, "exists and is not empty") || !strings.Contains(stderr, "-o DIR") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
