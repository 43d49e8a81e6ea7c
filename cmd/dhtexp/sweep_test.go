package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/runner"
)

func dhtexp(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(append([]string{"dhtexp"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestSweepCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "smoke")
	// Flags after the spec, as the usage line writes them.
	code, stdout, stderr := dhtexp(t, "sweep", "../../experiments/smoke.toml", "-o", out, "--workers", "2", "--trace", "joins")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	spec, err := runner.Load("../../experiments/smoke.toml")
	if err != nil {
		t.Fatal(err)
	}
	runs := spec.Runs()
	if !strings.Contains(stdout, fmt.Sprintf("%d of %d runs in %s", runs, runs, out)) {
		t.Errorf("summary: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "joins", "part-000000.parquet")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(out, "events")); err == nil {
		t.Error("--trace joins wrote events")
	}

	// Asking again is refused; resuming a complete set does nothing.
	if code, _, stderr := dhtexp(t, "sweep", "-o", out, "../../experiments/smoke.toml"); code != exitBadInput || !strings.Contains(stderr, "--resume") {
		t.Errorf("second sweep: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := dhtexp(t, "sweep", "../../experiments/smoke.toml", "--resume", "-o", out, "--trace", "joins"); code != 0 || !strings.Contains(stdout, "0 runs in") {
		t.Errorf("resume of a complete sweep: exit %d: %s%s", code, stdout, stderr)
	}
	// A merge of one complete folder is a copy of it.
	merged := filepath.Join(dir, "merged")
	if code, stdout, stderr := dhtexp(t, "merge", out, "-o", merged); code != 0 || !strings.Contains(stdout, fmt.Sprintf("%d runs from 1 shard folders", runs)) {
		t.Errorf("merge: exit %d: %s%s", code, stdout, stderr)
	}
}

func TestSweepCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "../../runner/testdata/bad-unknown-key.toml"}, "bad-unknown-key.toml:6:1: base.nodez: unknown key"},
		{[]string{"sweep", "../../runner/testdata/bad-impossible.toml"}, "bad-impossible.toml:14:1: sweep.delay.max"},
		{[]string{"sweep", "no-such-spec.toml"}, "no-such-spec.toml"},
		{[]string{"sweep", "../../experiments/smoke.toml", "--shard", "3/3"}, "shards count from 0, so with 3 shards the index is 0..2"},
		{[]string{"sweep", "../../experiments/smoke.toml", "--trace", "everything"}, "unknown trace level"},
		{[]string{"sweep", "../../experiments/smoke.toml", "-o", filepath.Join(file, "out")}, "not a directory"},
		{[]string{"merge", dir}, "-o OUT is required"},
		{[]string{"merge", "-o", filepath.Join(dir, "m"), dir}, "manifest.json"},
	} {
		code, _, stderr := dhtexp(t, tc.args...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitBadInput, tc.want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m")); err == nil {
		t.Error("a failed merge created its output folder")
	}
}

func TestValidateCommand(t *testing.T) {
	code, stdout, stderr := dhtexp(t, "validate", "../../experiments/concurrency.toml", "../../experiments/seed-calibration.toml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var wants []string
	for _, path := range []string{"../../experiments/concurrency.toml", "../../experiments/seed-calibration.toml"} {
		spec, err := runner.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		wants = append(wants, fmt.Sprintf("%d points × %d seeds = %d runs", len(spec.Points), spec.Seeds, spec.Runs()))
	}
	for _, want := range append(wants, "of output", "of memory per run") {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "warning") {
		t.Errorf("warnings for the shipped specs:\n%s", stdout)
	}

	// A ring of 50 million nodes is accepted, with a warning about its memory.
	huge := filepath.Join(t.TempDir(), "huge.toml")
	if err := os.WriteFile(huge, []byte("name = \"huge\"\nseeds = 10\n[base]\nscenario = \"random\"\nbits = 32\ntiming = \"async\"\nnodes = 50000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := dhtexp(t, "validate", huge); code != 0 || !strings.Contains(stdout, "warning: a run of the largest grid point needs about 55 GB of memory") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
}
