package sim

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
)

// hashResult fingerprints a run's trace and result as hashRun does, for a run made by fn.
func hashResult(t *testing.T, fn func(observe.Tracer) *Result) string {
	t.Helper()
	h := sha256.New()
	r := fn(observe.TracerFunc(func(e *observe.Event) { writeEvent(h, e) }))
	fmt.Fprintf(h, "%s|%s|%v|%d|%d|%+v|%v|%v\n", r.Outcome, r.Detail, r.RingCorrect, r.Messages, r.Events, r.KV, r.Final, r.Crashed)
	for _, o := range r.Ops {
		fmt.Fprintf(h, "%+v\n", o)
	}
	for _, j := range r.Joins {
		fmt.Fprintf(h, "%+v\n", j)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// A Sim reset for run after run, of every kind and size in turn, runs each exactly as a new
// one would, and leaves earlier results as they were; so does one that reuses its results
// and its nodes (ReuseResults), whose earlier results are not kept.
func TestResetMatchesNew(t *testing.T) {
	cfgs := determinismConfigs()
	fifo := cfgs["random-async"]
	fifo.Link, fifo.Seed = "fifo", 3
	faulty := fifo
	faulty.Faults.Loss, faulty.Faults.Duplicate, faulty.Faults.CrashNode, faulty.Faults.CrashAt = 0.05, 0.05, "random", 3e6
	big := fifo
	big.Nodes, big.Joiners, big.Delay = 64, 128, Delay{Kind: "uniform", Min: 1e6, Max: 20e6}
	cfgs["fifo"], cfgs["faults"], cfgs["big"] = fifo, faulty, big
	fingers := big
	fingers.Protocol, fingers.JoinRouting, fingers.NoCheck = "predlock", "fingers", true
	seedFIFO := cfgs["advanced"]
	seedFIFO.Link, seedFIFO.Delay = "fifo", Delay{Kind: "uniform", Min: 1e6, Max: 20e6}
	cfgs["fingers"], cfgs["seed-fifo"] = fingers, seedFIFO
	cfgs["churn"] = churnConfig(1, 0.5)
	noKV := churnConfig(2, 0.3)
	noKV.Workload = Workload{}
	cfgs["churn-no-workload"] = noKV
	names := make([]string, 0, len(cfgs))
	for name := range cfgs {
		names = append(names, name)
	}
	slices.Sort(names)

	var s Sim
	// reusing runs the same as a sweep worker's Sim, whose results and nodes are reused.
	var reusing Sim
	reusing.ReuseResults()
	var kept []*Result
	var keptHashes []string
	for round := range 3 {
		for k, name := range names {
			cfg := cfgs[name]
			cfg.Seed += uint64(round)
			want := hashResult(t, func(tr observe.Tracer) *Result {
				r, err := Run(cfg, tr)
				if err != nil {
					t.Fatal(err)
				}
				return r
			})
			var r *Result
			got := hashResult(t, func(tr observe.Tracer) *Result {
				if err := s.Reset(cfg, tr); err != nil {
					t.Fatal(err)
				}
				r = s.Run()
				return r
			})
			if got != want {
				t.Errorf("round %d, %s: a reset Sim ran differently from a new one", round, name)
			}
			if got := hashResult(t, func(tr observe.Tracer) *Result {
				if err := reusing.Reset(cfg, tr); err != nil {
					t.Fatal(err)
				}
				return reusing.Run()
			}); got != want {
				t.Errorf("round %d, %s: a Sim that reuses its results and nodes ran differently from a new one", round, name)
			}
			if round == 0 && k < 3 {
				kept = append(kept, r)
				keptHashes = append(keptHashes, hashResult(t, func(observe.Tracer) *Result { return r }))
			}
		}
	}
	for i, r := range kept {
		if hashResult(t, func(observe.Tracer) *Result { return r }) != keptHashes[i] {
			t.Errorf("result %d changed when the Sim was reset", i)
		}
	}
}

// A reset Sim honours its context as RunContext does, and runs the next configuration as a
// new Sim would after a cancelled run.
func TestResetRunContext(t *testing.T) {
	small := bigConfig()
	small.Nodes, small.Joiners = 30, 10
	want := hashResult(t, func(tr observe.Tracer) *Result {
		r, err := Run(small, tr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
	var s Sim
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Reset(small, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := s.RunContext(ctx); res != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before it started: %v, %v", res, err)
	}
	got := hashResult(t, func(tr observe.Tracer) *Result {
		if err := s.Reset(small, tr); err != nil {
			t.Fatal(err)
		}
		r, err := s.RunContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
	if got != want {
		t.Error("after a cancelled run, a reset Sim ran differently from a new one")
	}
}
