package runner

import (
	"context"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/sim"
)

// Ctrl-C stops a sweep within a second even when its runs in flight do not look at the
// context (a huge ring spends seconds being built before its first event), and what it
// committed resumes to the complete result set.
func TestCancelDoesNotWaitForStuckRuns(t *testing.T) {
	spec := load(t, "testdata/tiny.toml")
	dir := t.TempDir()
	stuck := func(cfg sim.Config, tr observe.Tracer) (*sim.Result, error) {
		time.Sleep(3 * time.Second)
		return sim.Run(cfg, tr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	sum, err := Sweep(ctx, spec, Options{Dir: dir, Workers: 2, simulate: stuck})
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancelled after 100ms, Sweep returned after %v", took)
	}
	if err != nil || !sum.Interrupted {
		t.Fatalf("interrupted sweep: %+v, %v", sum, err)
	}
	sweep(t, context.Background(), spec, Options{Dir: dir, Workers: 2, Resume: true})
	checkComplete(t, dir)
}

// Long simulations stop at the cancellation too (sim.RunContext; sim's own test times it).
func TestCancelStopsLongSimulations(t *testing.T) {
	spec, err := Parse("long.toml", []byte(`name = "long"
seeds = 4
trace = "none"

[base]
scenario = "random"
nodes = 4000
joiners = 2000
bits = 32
timing = "async"
protocol = "predlock"
horizon = "600s"
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	sum, err := Sweep(ctx, spec, Options{Dir: t.TempDir(), Workers: 2})
	if took := time.Since(start); err != nil || !sum.Interrupted || took > time.Second {
		t.Errorf("cancelled after 100ms: returned after %v (%+v, %v)", took, sum, err)
	}
}
