package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
)

// TestRunWithWorkload: one run with a DHT workload and leaves prints the operations' summary
// and key safety; bad workload flags name the field and exit 2.
func TestRunWithWorkload(t *testing.T) {
	base := []string{"run", "--scenario", "random", "--nodes", "8", "--joiners", "4", "--join-window", "5ms",
		"--timing", "async", "--delay", "uniform", "--delay-min", "1ms", "--delay-max", "3ms", "--horizon", "10s",
		"--keys", "50", "--rate", "2000", "--before", "5ms", "--after", "5ms", "--color", "never"}
	code, out, errOut := runCLI(t, append(base, "--protocol", "predlock", "--leavers", "2", "--replicas", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"outcome: ok", "leaves: 2/2 departed", "dht: 50 keys", "key safety: 0 of ", "0 lost, 0 duplicated, 0 misplaced", "replicas 0 missing", "lookup "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "predlock", "--popularity", "pareto"}, "workload.popularity"},
		{[]string{"--protocol", "seed", "--leavers", "1"}, "no leave exchange"},
		{[]string{"--protocol", "predlock", "--timing", "seed"}, "workload"},
	} {
		code, _, errOut := runCLI(t, append(base, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", tc.args, code, errOut, tc.want)
		}
	}
}

// A flag's help states one default: urfave/cli appends the flag's value, so a usage text
// must not name another.
func TestFlagsStateOneDefault(t *testing.T) {
	for _, cmd := range commands {
		code, out, errOut := runCLI(t, cmd.Name, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d: %s", cmd.Name, code, errOut)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "default") > 1 {
				t.Errorf("%s: %s", cmd.Name, strings.TrimSpace(line))
			}
		}
	}
}

// Every parameter keeps the flag it had before the flags came from the registry.
func TestRunFlagNames(t *testing.T) {
	want := "scenario protocol timing link delay nodes joiners bits max-messages no-check join-window unit horizon " +
		"delay-value delay-min delay-max delay-step delay-mean delay-median delay-sigma loss duplicate reorder-window " +
		"spike-prob spike crash-node crash-at crash-after restart-after partition-fraction partition-at heal-at " +
		"timeout retries keys rate lookup get put popularity zipf-s before after finger-period fingers hop-budget " +
		"op-timeout replicas leavers layout contacts starts leave-target join-routing stabilize churn-session churn-median " +
		"churn-shape churn-crash-fraction churn-warmup churn-duration churn-settle churn-crash-guard seed seeds workers color"
	var got []string
	for _, f := range simFlags() {
		got = append(got, f.Names()[0])
	}
	if strings.Join(got, " ") != want {
		t.Errorf("flags\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}

// check compares specs by meaning across builds: a result set or a baseline that records
// the SHA-256 of the spec file's bytes, as earlier builds did, matches the same spec's
// hash of its parsed content.
func TestCheckAcceptsFileHashes(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "tiny.toml")
	text := "seeds = 3\ntrace = \"none\"\n[base]\nscenario = \"random\"\nnodes = 6\ntiming = \"async\"\n[sweep]\njoiners = [1, 2]\n"
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	if code, _, stderr := runCLI(t, "sweep", spec, "-o", results); code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	baseline := filepath.Join(dir, "base.json")
	if code, _, stderr := runCLI(t, "baseline", results, "-o", baseline); code != 0 {
		t.Fatalf("baseline: exit %d: %s", code, stderr)
	}
	sum := sha256.Sum256([]byte(text))
	fileHash := hex.EncodeToString(sum[:])
	rewrite := func(path string) (restore func()) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		v["spec_hash"] = fileHash
		out, _ := json.Marshal(v)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return func() { os.WriteFile(path, data, 0o644) }
	}
	for _, file := range []string{filepath.Join(results, "manifest.json"), baseline} {
		restore := rewrite(file)
		if code, out, stderr := runCLI(t, "check", results, "--baseline", baseline); code != 0 {
			t.Errorf("%s with the file hash: exit %d\n%s%s", filepath.Base(file), code, out, stderr)
		}
		restore()
	}
}

// --quiet keeps a single run's outcome and counts and drops the log and the final ring;
// without it the same counts come after the log.
func TestRunQuiet(t *testing.T) {
	args := []string{"run", "--scenario", "advanced", "--nodes", "9", "--seed", "4", "--color", "never"}
	code, loud, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, quiet, errOut := runCLI(t, append(args, "--quiet")...)
	if code != 0 {
		t.Fatalf("--quiet: exit %d: %s", code, errOut)
	}
	if strings.Contains(quiet, "final ring") || strings.Contains(quiet, "->") {
		t.Errorf("--quiet printed the log or the ring:\n%s", quiet)
	}
	tail := quiet[strings.Index(quiet, "\noutcome:"):]
	if !strings.HasSuffix(loud, tail) {
		t.Errorf("--quiet summary %q is not the end of the full output:\n%s", tail, loud)
	}
}

// run's flags, which name themselves once (namedOnce), print the same help and read the same
// values as the plain flags they wrap, and their names are worked out without allocating.
func TestRunFlagsNamedOnce(t *testing.T) {
	plain, named := runCommand(), runCommand()
	plain.Flags = append(simFlags(), &cli.BoolFlag{Name: "quiet"})
	named.Flags = namedOnce(append(simFlags(), &cli.BoolFlag{Name: "quiet"}))
	ours := named.Flags // running the command adds --help, which is urfave/cli's
	args := []string{"dhtexp", "run", "--scenario", "advanced", "--nodes", "40", "--seed", "3", "--horizon", "2s",
		"--delay-max", "4ms", "--quiet", "--color", "never"}
	var outputs [2]string
	for k, cmd := range []*cli.Command{plain, named} {
		var help, out, errb bytes.Buffer
		app := cliutil.NewApp("dhtexp", "", []*cli.Command{cmd}, &help, &errb)
		if err := app.Run([]string{"dhtexp", "run", "--help"}); err != nil {
			t.Fatal(err)
		}
		cmd.Action = func(c *cli.Context) error {
			cfg, err := configFromFlags(c)
			fmt.Fprintf(&out, "%+v %v %v", cfg, c.Bool("quiet"), err)
			return err
		}
		app = cliutil.NewApp("dhtexp", "", []*cli.Command{cmd}, &out, &errb)
		if err := app.Run(args); err != nil {
			t.Fatal(err, errb.String())
		}
		outputs[k] = help.String() + "\n" + out.String()
	}
	if outputs[0] != outputs[1] {
		t.Fatalf("plain flags:\n%s\nnamed once:\n%s", outputs[0], outputs[1])
	}
	for _, f := range ours {
		if a := testing.AllocsPerRun(10, func() { f.Names() }); a != 0 {
			t.Errorf("--%s: %v allocations to name it", f.Names()[0], a)
		}
	}
}
