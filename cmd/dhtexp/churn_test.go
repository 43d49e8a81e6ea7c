package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

// copiesLine reads the fewest live copies of a key from the cluster's keys line.
var copiesLine = regexp.MustCompile(`(?m)^keys: (\d+) put, (\d+) reachable, live copies min (\d+) max \d+ \(want (\d+)\)`)

// TestClusterChurn: a 32-node ring of repair node processes (r = 2) holding 64 keys loses a
// quarter of its nodes, killed with SIGKILL one at a time three stabilization periods
// apart; the survivors end as the correct ring and every key is reachable with its owner's
// copy and two more. With replicas 0 the ring cannot repair itself, which the run reports
// as its outcome, not as an error of the tool.
func TestClusterChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 32 node processes and kills 8")
	}
	t.Setenv(execEnv, "1")
	// 200 ms periods and 100 ms probes: the churn takes 8 x 0.6 s, the repair a few periods.
	common := []string{"cluster", "--protocol", "repair", "--joiners", "0", "--stabilize", "200ms", "--timeout", "100ms",
		"--keys", "64", "--seed", "3"}

	t.Run("repaired", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "c")
		code, stdout, stderr := dhtexp(t, append(common, "--nodes", "32", "--replicas", "2", "--churn-kill", "8",
			"--churn-interval", "600ms", "-o", out)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"outcome: ok\n", "churn: 8 killed (SIGKILL), 0 started, one event every 600ms", "ring correct "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		m := copiesLine.FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("no keys line:\n%s", stdout)
		}
		put, reachable, fewest, want := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3]), atoi(t, m[4])
		if put != 64 || reachable != 64 || want != 3 || fewest < want {
			t.Errorf("keys: %d put, %d reachable, fewest copies %d (want %d)\n%s", put, reachable, fewest, want, stdout)
		}
		t.Logf("\n%s", stdout)
		runsRow(t, out, "ok")
		// Every node started; the killed ones left logs but no readable trace.
		if logs, _ := filepath.Glob(filepath.Join(out, "nodes", "*.log")); len(logs) != 32 {
			t.Errorf("%d node logs, want 32", len(logs))
		}
	})

	t.Run("not_repaired", func(t *testing.T) {
		// With replicas 0 no key has a copy beyond its owner: the keys of the killed nodes
		// are gone. (The ring itself comes back: a node whose only successor was killed falls
		// back on the other nodes it knows.)
		out := filepath.Join(t.TempDir(), "c")
		code, stdout, stderr := dhtexp(t, append(common, "--nodes", "8", "--replicas", "0", "--churn-kill", "2",
			"--churn-settle", "10", "-o", out)...)
		if code != 1 || !strings.Contains(stdout, "outcome: keys_lost (") || !strings.Contains(stderr, "outcome keys_lost") {
			t.Fatalf("exit %d, want 1 with outcome keys_lost\n%s%s", code, stdout, stderr)
		}
		if m := copiesLine.FindStringSubmatch(stdout); m == nil || m[3] != "0" || m[4] != "1" {
			t.Errorf("keys line: want some key with no copy of the 1 wanted\n%s", stdout)
		}
		runsRow(t, out, "keys_lost")
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runsRow checks the outcome the run wrote in its runs table, and that the manifest is done.
func runsRow(t *testing.T, out, outcome string) {
	t.Helper()
	if m, err := trace.ReadManifest(out); err != nil || !m.Complete() {
		t.Fatalf("manifest: %v", err)
	}
	r, err := trace.Open(filepath.Join(out, "runs", "part-000000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.ReadColumns(0, "outcome", "timing", "protocol")
	if err != nil {
		t.Fatal(err)
	}
	if c.String("outcome")[0] != outcome || c.String("timing")[0] != "real" || c.String("protocol")[0] != "repair" {
		t.Errorf("runs row: %v %v %v, want outcome %s", c.String("outcome"), c.String("timing"), c.String("protocol"), outcome)
	}
	if _, err := os.Stat(filepath.Join(out, "events", "part-000000.parquet")); err != nil {
		t.Error(err)
	}
}
