package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

const clusterSpec = `name = "mixed"
seeds = 3
base_seed = 7
trace = "joins"

[base]
scenario = "random"
nodes = 4
timing = "async"
horizon = "5s"

[base.delay]
kind = "uniform"
min = "100us"
max = "2ms"

[sweep]
protocol = ["predlock-retry", "predlock"]
joiners = [2, 3]
mode = ["sim", "cluster"]
`

// fakeReal stands in for real nodes without a network: a result derived from the
// configuration alone, with one join per joiner that takes 1000 + seed%1000 ns. It records
// the configurations it ran and notices real runs that overlap.
type fakeReal struct {
	mu      sync.Mutex
	seeds   map[uint64]sim.Config
	running atomic.Int32
	overlap atomic.Bool
}

func (f *fakeReal) run(_ context.Context, cfg sim.Config) (*sim.Result, error) {
	if f.running.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.running.Add(-1)
	f.mu.Lock()
	f.seeds[cfg.Seed] = cfg
	f.mu.Unlock()
	res := &sim.Result{Outcome: observe.OutcomeOK, RingCorrect: true, Messages: int64(10 * cfg.Joiners), SimTime: 1}
	for k := range cfg.Joiners {
		res.Joins = append(res.Joins, sim.JoinRecord{Joiner: protocol.ID(k + 100), Contact: 1,
			Start: 0, End: 1000 + int64(cfg.Seed%1000), Messages: 10, Outcome: observe.JoinOK})
	}
	return res, nil
}

func TestClusterModeRows(t *testing.T) {
	spec, err := Parse("mixed.toml", []byte(clusterSpec))
	if err != nil {
		t.Fatal(err)
	}
	if !spec.HasCluster() || len(spec.Points) != 8 {
		t.Fatalf("%d points, cluster %v", len(spec.Points), spec.HasCluster())
	}
	// The mode does not enter the seed: a configuration's simulated and real runs share
	// their seeds, hence their layouts.
	for i := 0; i < len(spec.Points); i += 2 {
		a, b := &spec.Points[i], &spec.Points[i+1]
		if a.Mode != ModeSim || b.Mode != ModeCluster || a.Hash != b.Hash || a.Config != b.Config {
			t.Errorf("points %d and %d: modes %s %s, hashes %x %x", i, i+1, a.Mode, b.Mode, a.Hash, b.Hash)
		}
	}

	dir := t.TempDir()
	if _, err := Sweep(context.Background(), spec, Options{Dir: filepath.Join(dir, "none")}); err == nil || !isInputError(err) {
		t.Errorf("sweep without a Real hook: %v", err)
	}

	runWith := func(name string, workers int) (string, *fakeReal) {
		f := &fakeReal{seeds: map[uint64]sim.Config{}}
		out := filepath.Join(dir, name)
		sum := sweep(t, context.Background(), spec, Options{Dir: out, Workers: workers, PartRuns: 5, Real: RealFunc(f.run)})
		if sum.Done != spec.Runs() || sum.Failed != 0 {
			t.Errorf("%s: %+v", name, sum)
		}
		if f.overlap.Load() {
			t.Errorf("%s: real runs overlapped", name)
		}
		checkComplete(t, out)
		return out, f
	}
	a, fa := runWith("w1", 1)
	b, _ := runWith("w2", 2)
	sameResults(t, a, b, trace.LevelJoins)
	if int64(len(fa.seeds)) != spec.Runs()/2 {
		t.Errorf("real hook saw %d seeds, want %d", len(fa.seeds), spec.Runs()/2)
	}

	m := checkComplete(t, a)
	rows := 0
	for _, part := range m.Parts {
		err := trace.ForEachRowGroup(filepath.Join(a, trace.TableRuns, part), nil, func(c *trace.Chunk) error {
			for i := range c.NumRows() {
				rows++
				id := c.Int64("run_id")[i]
				p, _, seed := spec.Run(id)
				mode := c.String("mode")[i]
				if mode != p.Mode || uint64(c.Int64("seed")[i]) != seed {
					return fmt.Errorf("run %d: mode %s seed %d, want %s %d", id, mode, c.Int64("seed")[i], p.Mode, seed)
				}
				if c.String("protocol")[i] != p.Config.Protocol || c.Int64("joiners")[i] != int64(p.Config.Joiners) {
					return fmt.Errorf("run %d: parameter columns wrong", id)
				}
				switch mode {
				case ModeCluster:
					cfg, ok := fa.seeds[seed]
					if !ok || cfg.Protocol != p.Config.Protocol || cfg.Joiners != p.Config.Joiners {
						return fmt.Errorf("run %d: the hook did not run seed %d with the point's configuration", id, seed)
					}
					want := 1000 + int64(seed%1000)
					if c.String("timing")[i] != "real" || c.String("delay_kind")[i] != "real" || c.Int64("delay_max_ns")[i] != 0 ||
						c.Int64("latency_p50_ns")[i] != want || c.Int64("messages")[i] != int64(10*p.Config.Joiners) {
						return fmt.Errorf("run %d: cluster row %s %s p50 %d", id, c.String("timing")[i], c.String("delay_kind")[i], c.Int64("latency_p50_ns")[i])
					}
				case ModeSim:
					if c.String("timing")[i] != "async" || c.String("delay_kind")[i] != "uniform" || c.Int64("events")[i] == 0 {
						return fmt.Errorf("run %d: sim row not from the simulator", id)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rows != int(spec.Runs()) {
		t.Errorf("%d rows, want %d", rows, spec.Runs())
	}
	// Joins of real runs are written by the same code as the simulator's.
	if n := len(tableRows(t, a, trace.TableJoins)); n != 3*(2+3)*2*2 {
		t.Errorf("%d join rows", n)
	}
}

// A real run that fails is the sweep's error, naming the run; one cut short by a
// cancellation only interrupts it.
func TestClusterModeErrors(t *testing.T) {
	spec, err := Parse("mixed.toml", []byte(clusterSpec))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	boom := func(context.Context, sim.Config) (*sim.Result, error) { return nil, errors.New("no sockets") }
	_, err = Sweep(context.Background(), spec, Options{Dir: filepath.Join(dir, "a"), Real: RealFunc(boom)})
	if err == nil || !strings.Contains(err.Error(), "no sockets") || !strings.Contains(err.Error(), "mode=cluster") {
		t.Errorf("failing hook: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(ctx context.Context, _ sim.Config) (*sim.Result, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	sum, err := Sweep(ctx, spec, Options{Dir: filepath.Join(dir, "b"), Real: RealFunc(stop)})
	if err != nil || !sum.Interrupted {
		t.Errorf("cancelled hook: %v, %+v", err, sum)
	}
}

func TestClusterModeSpecErrors(t *testing.T) {
	base := "[base]\nscenario = \"random\"\nnodes = 8\njoiners = 4\ntiming = \"async\"\n"
	for _, tc := range []struct {
		name, text, key, msg string
	}{
		{"mode", base + "mode = \"real\"\n", "base.mode", `unknown mode "real"`},
		{"axis", base + "[sweep]\nmode = [\"sim\", \"nodes\"]\n", "sweep.mode", `unknown mode "nodes"`},
		{"scenario", "[base]\nmode = \"cluster\"\nscenario = \"simple\"\n", "base.scenario", "random scenario only"},
		{"timing", base + "[sweep]\nmode = [\"sim\", \"cluster\"]\ntiming = [\"seed\"]\n", "sweep.timing", `needs timing = "async"`},
		{"size", base + "mode = \"cluster\"\n[sweep]\njoiners = [8, 300]\n", "sweep.joiners", "at most 256 nodes"},
		{"faults", base + "mode = \"cluster\"\n[base.faults]\nloss = 0.1\n", "base.faults.loss", "cannot inject faults"},
		{"join_routing", base + "mode = \"cluster\"\nprotocol = \"predlock\"\njoin_routing = \"fingers\"\n", "base.join_routing", "real nodes start without fingers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.text))
			var se *SpecError
			if !errors.As(err, &se) || se.Key != tc.key || !strings.Contains(err.Error(), tc.msg) || se.Line == 0 {
				t.Errorf("got %v (key %q), want key %s and %q", err, keyOf(se), tc.key, tc.msg)
			}
		})
	}
}

func keyOf(se *SpecError) string {
	if se == nil {
		return ""
	}
	return se.Key
}
