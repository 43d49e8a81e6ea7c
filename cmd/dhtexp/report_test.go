package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
)

// runCLI runs the CLI and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"dhtexp"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeResults(t *testing.T, s *analysistest.Set) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "results")
	if err := analysistest.Write(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportFormats drives `dhtexp report --format` and compares its
// output with the analysis package's golden tables of the same set.
func TestReportFormats(t *testing.T) {
	dir := writeResults(t, analysistest.Small())
	for _, f := range []string{"text", "csv", "json", "markdown"} {
		t.Run(f, func(t *testing.T) {
			code, out, stderr := runCLI(t, "report", dir, "--format", f)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want, err := os.ReadFile(filepath.Join("..", "..", "analysis", "testdata", "table."+f))
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("stdout differs from analysis/testdata/table.%s:\n%s", f, out)
			}
		})
	}
	// --format alone prints and writes nothing.
	if _, err := os.Stat(filepath.Join(dir, "report")); !os.IsNotExist(err) {
		t.Errorf("--format without -o wrote a report: %v", err)
	}
}

func TestReportWrites(t *testing.T) {
	dir := writeResults(t, analysistest.Small())
	tests := []struct {
		name string
		args []string
		out  string
	}{
		{"default folder", []string{"report", dir}, filepath.Join(dir, "report")},
		{"flags after RESULTS", []string{"report", dir, "-o", "OUT", "--x", "protocol"}, "OUT"},
		{"flags before RESULTS", []string{"report", "--output=OUT", dir}, "OUT"},
		{"format and -o", []string{"report", dir, "--format", "csv", "-o", "OUT"}, "OUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out
			if out == "OUT" {
				out = filepath.Join(t.TempDir(), "rep")
			}
			args := append([]string(nil), tt.args...)
			for i := range args {
				args[i] = strings.Replace(args[i], "OUT", out, 1)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, f := range []string{"index.html", "summary.md", "table.csv", "figures/run_success.png", "figures/run_success.svg"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			if !strings.Contains(stdout+stderr, "wrote "+filepath.Join(out, "index.html")) {
				t.Errorf("no 'wrote' line: %q %q", stdout, stderr)
			}
		})
	}
}

// TestReportDHT: a result set with a DHT workload gets the DHT table after
// the main one on stdout, and says so when it writes the report.
func TestReportDHT(t *testing.T) {
	dir := writeResults(t, analysistest.DHT([]analysistest.Axis{{Name: "nodes", Values: []any{12, 60}}}, true))
	code, out, stderr := runCLI(t, "report", dir, "--format", "text", "-o", filepath.Join(t.TempDir(), "rep"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "\nDHT workload (2 grid points") || !strings.Contains(out, "hops/lookup (95% CI)") {
		t.Errorf("stdout lacks the DHT table:\n%s", out)
	}
	if !strings.Contains(stderr, "2 grid points, 6 runs; DHT workload at 2)") {
		t.Errorf("stderr %q", stderr)
	}
}

// TestBadInputExit2: unusable input exits 2 with an error naming the file
// and leaves no report behind.
func TestBadInputExit2(t *testing.T) {
	good := writeResults(t, analysistest.Small())
	baseline := filepath.Join(t.TempDir(), "base.json")
	if code, _, stderr := runCLI(t, "baseline", good, "-o", baseline); code != 0 {
		t.Fatalf("baseline: exit %d: %s", code, stderr)
	}
	truncated := writeResults(t, analysistest.Small())
	part := filepath.Join(truncated, "joins", "part-000000.parquet")
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(part, data[:len(data)-100], 0o644)
	empty := t.TempDir()
	other := analysistest.Small()
	other.Spec += "# edited\n"
	otherSpec := writeResults(t, other)
	partialSet := analysistest.Small()
	partialSet.Skip = func(point, _ int) bool { return point == 2 }
	partial := writeResults(t, partialSet)

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"not a result set", []string{"report", empty}, "no manifest.json"},
		{"truncated part", []string{"report", truncated}, part},
		{"truncated part, check", []string{"check", truncated, "--baseline", baseline}, part},
		{"another spec", []string{"check", otherSpec, "--baseline", baseline}, "another spec"},
		{"missing grid points", []string{"check", partial, "--baseline", baseline}, "protocol=seed, joiners=16"},
		{"missing baseline file", []string{"check", good, "--baseline", baseline + ".nope"}, baseline + ".nope"},
		{"baseline is not one", []string{"check", good, "--baseline", filepath.Join(good, "manifest.json")}, "not a baseline file"},
		{"no baseline flag", []string{"check", good}, "--baseline"},
		{"bad alpha", []string{"check", good, "--baseline", baseline, "--alpha", "1.5"}, "alpha"},
		{"unknown x", []string{"report", good, "--x", "nodes"}, `no sweep axis "nodes"`},
		{"unknown format", []string{"report", good, "--format", "yaml"}, "unknown format"},
		{"no arguments", []string{"report"}, "needs a result set"},
		{"unknown flag", []string{"report", good, "--colour"}, "colour"},
		{"baseline without -o", []string{"baseline", good}, "-o FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitBadInput {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitBadInput, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
		})
	}
	for _, dir := range []string{empty, truncated, good} {
		if _, err := os.Stat(filepath.Join(dir, "report")); !os.IsNotExist(err) {
			t.Errorf("a report was left in %s: %v", dir, err)
		}
	}
}

func TestCheckExitCodes(t *testing.T) {
	const seeds = 500
	same := func(int) float64 { return 0.15 }
	base := writeResults(t, analysistest.Random(100, seeds, same))
	baseline := filepath.Join(t.TempDir(), "smoke.json")
	if code, out, stderr := runCLI(t, "baseline", base, "-o", baseline); code != 0 || !strings.Contains(out, "6 grid points, 3000 runs") {
		t.Fatalf("baseline: exit %d: %s %s", code, out, stderr)
	}

	code, out, stderr := runCLI(t, "check", writeResults(t, analysistest.Random(9, seeds, same)), "--baseline", baseline)
	if code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Errorf("same rate: exit %d\n%s%s", code, out, stderr)
	}

	worse := writeResults(t, analysistest.Random(9, seeds, func(p int) float64 {
		if p == 3 {
			return 0.3
		}
		return 0.15
	}))
	code, out, stderr = runCLI(t, "check", worse, "--baseline", baseline)
	if code != exitFailure || !strings.Contains(out, "FAIL: 1 of 6") || !strings.Contains(out, "joiners=8, delay.max=10ms") || !strings.Contains(stderr, "regressed") {
		t.Errorf("doubled rate: exit %d\n%s%s", code, out, stderr)
	}
	// A larger minimum effect lets the same rise through.
	if code, out, _ := runCLI(t, "check", worse, "--baseline", baseline, "--min-effect", "0.5"); code != 0 {
		t.Errorf("min effect 0.5: exit %d\n%s", code, out)
	}
}
