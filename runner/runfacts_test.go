package runner

import (
	"path/filepath"
	"testing"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// A real-node run's row has the parameter columns in effect for cluster mode, from the
// registry, and the results it was given.
func TestWriteRunsFile(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Protocol, cfg.Nodes, cfg.Joiners, cfg.Retries = "random", "predlock-retry", 5, 3, 4
	path := filepath.Join(t.TempDir(), "runs.parquet")
	f := RunFacts{Outcome: "ok", RingCorrect: true, Joins: 3, Latencies: []int64{10, 20, 30}, Messages: 40, Events: 90, Wall: 7}
	if err := WriteRunsFile(path, trace.Options{}, params.ModeCluster, cfg, 11, f); err != nil {
		t.Fatal(err)
	}
	rows := 0
	err := trace.ForEachRowGroup(path, nil, func(c *trace.Chunk) error {
		rows += c.NumRows()
		for _, s := range []struct{ col, want string }{
			{"mode", "cluster"}, {"timing", "real"}, {"link", "tcp"}, {"delay_kind", "real"},
			{"protocol", "predlock-retry"}, {"scenario", "random"}, {"outcome", "ok"}, {"layout", "uniform"},
		} {
			if got := c.String(s.col)[0]; got != s.want {
				t.Errorf("%s = %q, want %q", s.col, got, s.want)
			}
		}
		for _, n := range []struct {
			col  string
			want int64
		}{
			{"seed", 11}, {"nodes", 5}, {"joiners", 3}, {"retries", 4}, {"max_messages", 0}, {"unit_ns", 0},
			{"joins", 3}, {"joins_ok", 3}, {"latency_p50_ns", 20}, {"latency_max_ns", 30}, {"messages", 40}, {"events", 90}, {"wall_ns", 7},
		} {
			if got := c.Int64(n.col)[0]; got != n.want {
				t.Errorf("%s = %d, want %d", n.col, got, n.want)
			}
		}
		return nil
	})
	if err != nil || rows != 1 {
		t.Fatalf("%d rows, %v", rows, err)
	}
}
