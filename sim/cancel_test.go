package sim

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// bigConfig is a run of a few hundred thousand events: long enough to be cancelled while
// it runs.
func bigConfig() Config {
	cfg := DefaultConfig()
	cfg.Scenario, cfg.Timing, cfg.Bits = "random", "async", 32
	cfg.Nodes, cfg.Joiners = 4000, 2000
	cfg.Protocol = "predlock"
	cfg.Horizon = int64(600 * time.Second)
	cfg.MaxMessages = 100_000_000
	cfg.Seed = 3
	return cfg
}

func TestRunContext(t *testing.T) {
	// Not cancelled, a run is exactly Run's.
	small := bigConfig()
	small.Nodes, small.Joiners = 30, 10
	want, err := Run(small, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := RunContext(context.Background(), small, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("RunContext differs from Run: %v\n%+v\n%+v", err, got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := RunContext(ctx, small, nil); res != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before it started: %v, %v", res, err)
	}

	// Cancelled while it runs, a long run stops within a few milliseconds.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	const after = 50 * time.Millisecond
	time.AfterFunc(after, cancel)
	start := time.Now()
	res, err := RunContext(ctx, bigConfig(), nil)
	took := time.Since(start)
	if res != nil {
		t.Skipf("the run ended in %v, before it was cancelled", took)
	}
	if !errors.Is(err, context.Canceled) || took > after+500*time.Millisecond {
		t.Errorf("cancelled after %v: returned after %v with %v", after, took, err)
	}
}
