package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// retryConfig is a predlock-retry run on the random scenario with async timing.
func retryConfig(nodes, joiners int, seed uint64) Config {
	c := DefaultConfig()
	c.Protocol, c.Scenario, c.Timing = "predlock-retry", "random", "async"
	c.Nodes, c.Joiners, c.Seed = nodes, joiners, seed
	c.Horizon = int64(1000 * time.Second)
	return c
}

// promiseBroken checks predlock-retry's promise on one finished run and says how it broke
// ("" when it holds):
//   - no safety violation among live nodes during the run;
//   - every join ended (ok, reported failure, or the newcomer itself crashed), within
//     protocol.JoinBound of its start (failures are read off the trace: fails);
//   - no live node points at a live newcomer that gave up;
//   - no live node ends locked or holding requests;
//   - no key lost, duplicated or misplaced.
func promiseBroken(cfg *Config, r *Result, fails map[protocol.ID]int64) string {
	if r.Violation != nil {
		return "safety: " + r.Detail
	}
	bound := protocol.JoinBound(cfg.Timeout, cfg.Retries)
	// A newcomer that was down spent that time outside its own clock, and its restart
	// re-arms the timer period the crash interrupted.
	if cfg.Faults.RestartAfter > 0 {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = protocol.DefaultTimeout
		}
		bound += cfg.Faults.RestartAfter + timeout<<4
	}
	for _, j := range r.Joins {
		switch j.Outcome {
		case observe.JoinOK:
			if j.Latency() > bound {
				return fmt.Sprintf("join of %v took %v, beyond the bound %v", j.Joiner, time.Duration(j.Latency()), time.Duration(bound))
			}
		case observe.JoinFailed:
			at, ok := fails[j.Joiner]
			if !ok || at-j.Start > bound {
				return fmt.Sprintf("join of %v reported failure %v after its start, beyond the bound %v", j.Joiner, time.Duration(at-j.Start), time.Duration(bound))
			}
		case observe.JoinCrashed:
		default:
			return fmt.Sprintf("join of %v never ended (%s)", j.Joiner, j.Outcome)
		}
	}
	failed := map[protocol.ID]bool{}
	for _, st := range r.Final {
		if st.Failed && !slices.Contains(r.Crashed, st.ID) {
			failed[st.ID] = true
		}
	}
	for _, st := range r.Final {
		if slices.Contains(r.Crashed, st.ID) || st.Departed || failed[st.ID] {
			continue
		}
		if failed[st.Left] || failed[st.Right] {
			return fmt.Sprintf("node %v points at a newcomer that gave up (left %v, right %v)", st.ID, st.Left, st.Right)
		}
		if st.Locked || st.Queue > 0 {
			return fmt.Sprintf("node %v ends locked or holding %d request(s)", st.ID, st.Queue)
		}
	}
	if k := r.KV; k.Lost+k.Duplicated+k.Misplaced > 0 {
		return fmt.Sprintf("keys: %d lost, %d duplicated, %d misplaced", k.Lost, k.Duplicated, k.Misplaced)
	}
	return ""
}

// runTraced runs cfg and returns when each newcomer reported a failed join.
func runTraced(t *testing.T, cfg Config) (*Result, map[protocol.ID]int64) {
	t.Helper()
	fails := map[protocol.ID]int64{}
	r, err := Run(cfg, observe.TracerFunc(func(e *observe.Event) {
		if e.Kind == observe.KindFault && strings.HasPrefix(e.Detail, "join failed:") {
			fails[e.Node] = e.Time
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	return r, fails
}

// TestRetryRegressions replays runs that broke predlock-retry's promise. Each named the
// outcome it ended with before the fix.
func TestRetryRegressions(t *testing.T) {
	cases := []struct {
		name   string
		before string // the outcome before the fix
		cfg    func() Config
		want   []string
	}{
		{"newcomer gives up after the commit, 50% loss", "wrong_neighbours", func() Config {
			c := retryConfig(1, 1, 15)
			c.Delay = Delay{Kind: "constant", Value: int64(time.Millisecond)}
			c.Faults.Loss = 0.5
			return c
		}, []string{observe.OutcomeOK, observe.OutcomeJoinFailed}},
		{"delays far above the timeout, no loss", "wrong_neighbours", func() Config {
			c := retryConfig(1, 1, 7)
			c.Delay = Delay{Kind: "lognormal", Median: 2e6, Sigma: 2}
			c.Link, c.Timeout, c.Retries = "reorder", int64(time.Millisecond), 1
			return c
		}, []string{observe.OutcomeOK, observe.OutcomeJoinFailed}},
		{"keys handed to a newcomer that gave up", "wrong_neighbours, 25 of 50 keys lost", func() Config {
			c := retryConfig(1, 1, 29)
			c.Delay = Delay{Kind: "constant", Value: int64(time.Millisecond)}
			c.Faults.Loss = 0.5
			c.Horizon = int64(200 * time.Second)
			c.Workload.Keys, c.Workload.Rate = 50, 200
			c.Workload.Before, c.Workload.After = int64(20*time.Millisecond), int64(50*time.Millisecond)
			return c
		}, []string{observe.OutcomeOK, observe.OutcomeJoinFailed}},
		{"owner restarted while locked", "deadlock", func() Config {
			c := retryConfig(2, 3, 33)
			c.Delay = Delay{Kind: "exponential", Mean: 5e6}
			c.Link, c.MaxMessages = "reorder", 5_000_000
			c.Faults = Faults{CrashNode: "random", CrashAfter: "left_set", RestartAfter: int64(300 * time.Millisecond)}
			return c
		}, []string{observe.OutcomeOK}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg()
			r, fails := runTraced(t, cfg)
			if !slices.Contains(tc.want, r.Outcome) {
				t.Errorf("outcome %s (%s), want one of %v (before the fix: %s)", r.Outcome, r.Detail, tc.want, tc.before)
			}
			if why := promiseBroken(&cfg, r, fails); why != "" {
				t.Errorf("promise broken: %s", why)
			}
		})
	}
}

// TestRetryPromiseUnderFaultMix: random mixes of loss, duplication, reordering, delay
// spikes, a partition that heals and a crash-restart, with a DHT workload on a third of
// the runs (1,000 runs; DHTEXP_STRESS_RUNS for more); predlock-retry keeps its promise (promiseBroken) in every run.
func TestRetryPromiseUnderFaultMix(t *testing.T) {
	runs := stressRuns(t, 1000)
	if runs == 10_000 { // the default of the stress campaigns; a second or two here
		runs = 1000
	}
	outcomes := map[string]int{}
	for i := range runs {
		seed := uint64(i) + 1
		cfg := faultMix(seed)
		res, fails := runTraced(t, cfg)
		outcomes[res.Outcome]++
		if why := promiseBroken(&cfg, res, fails); why != "" {
			t.Errorf("seed %d (%d members, %d joiners, timeout %v, retries %d, faults %+v): outcome %s: %s",
				seed, cfg.Nodes, cfg.Joiners, time.Duration(cfg.Timeout), cfg.Retries, cfg.Faults, res.Outcome, why)
		}
	}
	t.Logf("%d runs: %v", runs, outcomes)
}

// faultMix draws one configuration of TestRetryPromiseUnderFaultMix from its seed.
func faultMix(seed uint64) Config {
	r := newStream(seed, 99)
	cfg := retryConfig(1+r.IntN(5), 1+r.IntN(8), seed)
	cfg.Bits = 16
	cfg.Link = "reorder"
	cfg.JoinWindow = int64(20 * time.Millisecond)
	cfg.Horizon = int64(600 * time.Second)
	cfg.Delay = Delay{Kind: "exponential", Mean: int64(1+r.IntN(5)) * 1e6}
	cfg.Timeout, cfg.Retries = int64(10+r.IntN(40))*1e6, 1+r.IntN(4)
	f := &cfg.Faults
	f.Loss = []float64{0, 0.05, 0.2, 0.4}[r.IntN(4)]
	f.Duplicate = []float64{0, 0.1, 0.3}[r.IntN(3)]
	f.ReorderWindow = int64(r.IntN(3)) * 10e6
	if r.IntN(2) == 0 {
		f.SpikeProb, f.Spike = 0.05, int64(100+r.IntN(400))*1e6
	}
	if r.IntN(3) == 0 {
		f.PartitionFraction, f.PartitionAt, f.HealAt = 0.3, 5e6, int64(50+r.IntN(500))*1e6
	}
	if r.IntN(2) == 0 {
		f.CrashNode = []string{"random", "member", "joiner"}[r.IntN(3)]
		f.CrashAfter = []string{"welcome", "welcome_ack", "set_left", "left_set", "abort", "unlink", ""}[r.IntN(7)]
		f.CrashAt = int64(r.IntN(30)) * 1e6
		f.RestartAfter = int64(10+r.IntN(300)) * 1e6
	}
	if r.IntN(3) == 0 {
		cfg.Workload.Keys, cfg.Workload.Rate = 30, 500
		cfg.Workload.Before, cfg.Workload.After = int64(5*time.Millisecond), int64(20*time.Millisecond)
	}
	return cfg
}
