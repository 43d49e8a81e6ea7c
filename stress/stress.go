// Package stress is swarm testing for the join protocol: every seed draws its own small
// configuration (layout, contact rule, start rule, delay distribution, link model and fault
// mix, or a churn workload, within bounds), runs it in the simulator and judges the outcome against what the
// variant promises. A failure is reported with everything needed to rerun it exactly.
//
// Swarm testing (Groce et al., ISSTA 2012) finds more bugs than one large fixed
// configuration because each run leaves most features out, so rare interleavings of the
// remaining ones get room to happen.
package stress

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

// Bounds limit what a seed may draw.
type Bounds struct {
	Protocol   string
	MaxNodes   int   // initial members: 1..MaxNodes
	MaxJoiners int   // newcomers: 1..MaxJoiners
	MaxLeavers int   // graceful leavers (variants with a leave exchange): 0..MaxLeavers
	MaxDelay   int64 // the largest typical message delay, ns
	// Faults draws a fault mix per seed: loss, duplication, reordering, delay spikes, a
	// partition that heals, a crash followed by a restart. Off: a perfect network.
	Faults bool
	// Churn draws a churn workload per seed instead of a wave of joins (DrawChurn): members
	// MinNodes..MaxNodes, r in MinReplicas..MaxReplicas, crashes held by CrashGuard.
	Churn                    bool
	MinNodes                 int
	MinReplicas, MaxReplicas int
	CrashGuard               int // churn.crash_guard of every run (0: crashes unguarded)
}

// DefaultChurnBounds are churn swarms: rings of 8 to 64 nodes with 2 to 4 replicas under the
// crash guard of the repair variant's promise.
func DefaultChurnBounds(protocolName string) Bounds {
	return Bounds{Protocol: protocolName, Churn: true, MinNodes: 8, MaxNodes: 64, MinReplicas: 2, MaxReplicas: 4,
		CrashGuard: DefaultCrashGuard, MaxDelay: 20_000_000}
}

// DefaultCrashGuard is the crash guard of churn swarms, in stabilization periods: above the
// repair bound the repair variant promises (docs/protocol.md, "repair").
const DefaultCrashGuard = 8

// DefaultBounds are small rings, where interleavings are dense and runs are cheap.
func DefaultBounds(protocolName string) Bounds {
	return Bounds{Protocol: protocolName, MaxNodes: 8, MaxJoiners: 8, MaxLeavers: 3, MaxDelay: 10_000_000}
}

// Validate names the first bound that cannot be used.
func (b *Bounds) Validate() error {
	v, err := protocol.Lookup(b.Protocol)
	if err != nil {
		return fmt.Errorf("protocol: %w", err)
	}
	switch {
	case b.MaxNodes < 1:
		return fmt.Errorf("max-nodes must be at least 1, got %d", b.MaxNodes)
	case b.Churn:
		return b.validateChurn(v)
	case b.MaxJoiners < 1:
		return fmt.Errorf("max-joiners must be at least 1, got %d", b.MaxJoiners)
	case b.MaxLeavers < 0:
		return fmt.Errorf("max-leavers must not be negative, got %d", b.MaxLeavers)
	case b.MaxLeavers > 0 && !v.Leaves:
		return fmt.Errorf("max-leavers: protocol %q has no leave exchange", b.Protocol)
	case b.MaxDelay <= 0:
		return fmt.Errorf("max-delay must be positive")
	case b.MaxNodes+b.MaxJoiners > 4096:
		return fmt.Errorf("max-nodes + max-joiners: at most 4096 nodes per swarm run")
	}
	return nil
}

// validateChurn names the first churn bound that cannot be used.
func (b *Bounds) validateChurn(v protocol.Variant) error {
	switch {
	case !v.Leaves:
		return fmt.Errorf("churn: protocol %q has no leave exchange", b.Protocol)
	case b.MinNodes < 2 || b.MinNodes > b.MaxNodes:
		return fmt.Errorf("min-nodes must be in 2..max-nodes (%d), got %d", b.MaxNodes, b.MinNodes)
	case b.MaxNodes > 1024:
		return fmt.Errorf("max-nodes: at most 1024 members per churn run, got %d", b.MaxNodes)
	case b.MinReplicas < 0 || b.MinReplicas > b.MaxReplicas:
		return fmt.Errorf("min-replicas must be in 0..max-replicas (%d), got %d", b.MaxReplicas, b.MinReplicas)
	case b.MaxReplicas > 8:
		return fmt.Errorf("max-replicas: at most 8, got %d", b.MaxReplicas)
	case b.CrashGuard < 0:
		return fmt.Errorf("crash-guard must not be negative, got %d", b.CrashGuard)
	case b.MaxDelay <= 0:
		return fmt.Errorf("max-delay must be positive")
	case b.MaxDelay > protocol.DefaultTimeout/4:
		return fmt.Errorf("max-delay: churn swarms keep delays to a quarter of the failure detector's timeout (%v), got %v",
			time.Duration(protocol.DefaultTimeout), time.Duration(b.MaxDelay))
	case b.Faults:
		return fmt.Errorf("faults: churn swarms draw no fault mix (the churn brings the crashes)")
	}
	return nil
}

// Draw is the configuration seed runs: a pure function of the bounds and the seed.
func Draw(b Bounds, seed uint64) sim.Config {
	r := rand.New(rand.NewPCG(seed, 0x737761726d)) // "swarm"
	if b.Churn {
		return drawChurn(b, seed, r)
	}
	c := sim.DefaultConfig()
	c.Scenario, c.Timing, c.Protocol, c.Seed = "random", "async", b.Protocol, seed
	c.Nodes = 1 + r.IntN(b.MaxNodes)
	c.Joiners = 1 + r.IntN(b.MaxJoiners)
	c.Layout = sim.Layouts[r.IntN(len(sim.Layouts))]
	total := c.Nodes + c.Joiners
	if c.Layout == "full" {
		// Every ID taken: the ring's size is the node count, so round the count up to a power
		// of two by adding members.
		c.Bits = 1
		for 1<<c.Bits < total {
			c.Bits++
		}
		c.Nodes = 1<<c.Bits - c.Joiners
	} else {
		// Small spaces make neighbouring IDs and crowded gaps common.
		c.Bits = uint(bitsFor(total) + r.IntN(6))
	}
	c.Contacts = sim.ContactRules[r.IntN(len(sim.ContactRules))]
	if c.Contacts == "joiner" && c.Joiners < 2 {
		c.Contacts = "random"
	}
	c.Starts = sim.StartRules[r.IntN(len(sim.StartRules))]
	c.Link = sim.LinkModes[r.IntN(len(sim.LinkModes))]
	d := 1 + r.Int64N(b.MaxDelay)
	switch kind := sim.DelayKinds[r.IntN(len(sim.DelayKinds))]; kind {
	case "constant":
		c.Delay = sim.Delay{Kind: kind, Value: d}
	case "uniform":
		c.Delay = sim.Delay{Kind: kind, Min: max(d/4, 1), Max: d}
	case "uniform-int":
		unit := max(d/8, 1)
		c.Unit = unit
		c.Delay = sim.Delay{Kind: kind, Min: unit, Max: 8 * unit}
	case "exponential":
		c.Delay = sim.Delay{Kind: kind, Mean: d}
	case "lognormal":
		c.Delay = sim.Delay{Kind: kind, Median: d, Sigma: 0.25 + r.Float64()*1.5}
	}
	c.JoinWindow = r.Int64N(4 * b.MaxDelay)
	if v, _ := protocol.Lookup(b.Protocol); v.Leaves && b.MaxLeavers > 0 {
		c.Leavers = r.IntN(min(b.MaxLeavers, c.Nodes-1) + 1)
		if c.Leavers > 0 {
			c.LeaveTarget = sim.LeaveTargets[r.IntN(len(sim.LeaveTargets))]
		}
	}
	c.Horizon = 1000 * int64(time.Second)
	c.MaxMessages = 2_000_000
	if b.Faults {
		drawFaults(&c, r, b.MaxDelay)
	}
	return c
}

// drawChurn draws a churn run: a ring of MinNodes..MaxNodes members with keys and r
// replicas, sessions from one of the three distributions with a median of 5 s to 2 min, a
// share of crashes, uniform delays up to MaxDelay, a stabilization period of 0.5 to 2 s, and
// the crash guard of the bounds. Churn runs 10 to 40 s after a warm-up of 2 to 5 s; the end
// check comes 20 stabilization periods later.
func drawChurn(b Bounds, seed uint64, r *rand.Rand) sim.Config {
	c := sim.DefaultConfig()
	c.Scenario, c.Timing, c.Protocol, c.Seed = "random", "async", b.Protocol, seed
	c.Nodes = b.MinNodes + r.IntN(b.MaxNodes-b.MinNodes+1)
	c.Joiners = 0
	c.Bits = 32
	d := 1 + r.Int64N(b.MaxDelay)
	c.Delay = sim.Delay{Kind: "uniform", Min: max(d/4, 1), Max: d}
	c.Stabilize = int64(500*time.Millisecond) + r.Int64N(int64(1500*time.Millisecond)+1)
	w := &c.Workload
	w.Replicas = b.MinReplicas + r.IntN(b.MaxReplicas-b.MinReplicas+1)
	w.Keys = 10 + r.IntN(91)
	w.Rate = 5 + 20*r.Float64()
	w.FingerPeriod = []int64{0, int64(500 * time.Millisecond)}[r.IntN(2)]
	ch := &c.Churn
	ch.Session = sim.SessionKinds[1+r.IntN(len(sim.SessionKinds)-1)]
	// log-uniform median in [5 s, 120 s]
	ch.Median = int64(float64(5*time.Second) * math.Pow(24, r.Float64()))
	switch ch.Session {
	case "weibull":
		ch.Shape = 0.5 + 1.5*r.Float64()
	case "pareto":
		ch.Shape = 1.2 + 1.8*r.Float64()
	default:
		ch.Shape = 0
	}
	switch r.IntN(4) {
	case 0:
		ch.CrashFraction = 1
	case 1:
		ch.CrashFraction = 0
	default:
		ch.CrashFraction = r.Float64()
	}
	ch.Warmup = int64(2*time.Second) + r.Int64N(int64(3*time.Second)+1)
	ch.Duration = int64(10*time.Second) + r.Int64N(int64(30*time.Second)+1)
	ch.CrashGuard = b.CrashGuard
	ch.Settle = 0
	c.Horizon = ch.Warmup + ch.Duration + int64(sim.SettlePeriods+5)*c.Stabilize
	c.MaxMessages = 50_000_000
	return c
}

func bitsFor(n int) int {
	b := 1
	for 1<<b < 2*n+4 {
		b++
	}
	return b
}

// drawFaults adds each fault with probability one half, so that most runs mix a few.
func drawFaults(c *sim.Config, r *rand.Rand, maxDelay int64) {
	f := &c.Faults
	coin := func() bool { return r.IntN(2) == 0 }
	if coin() {
		f.Loss = r.Float64() * 0.5
	}
	if coin() {
		f.Duplicate = r.Float64() * 0.3
	}
	if coin() {
		f.ReorderWindow = r.Int64N(4 * maxDelay)
	}
	if coin() {
		f.SpikeProb, f.Spike = r.Float64()*0.2, r.Int64N(50*maxDelay)+1
	}
	if coin() {
		f.PartitionFraction = 0.1 + r.Float64()*0.4
		f.PartitionAt = r.Int64N(4 * maxDelay)
		f.HealAt = f.PartitionAt + 1 + r.Int64N(100*maxDelay)
	}
	if coin() {
		f.CrashNode = []string{"random", "member", "joiner"}[r.IntN(3)]
		f.CrashAt = r.Int64N(4 * maxDelay)
		f.RestartAfter = 1 + r.Int64N(100*maxDelay)
		if coin() {
			f.CrashAfter = []string{"welcome", "set_left", "left_set", "welcome_ack", "connect"}[r.IntN(5)]
		}
	}
}

// Verdict is whether a run kept the variant's promise.
type Verdict struct {
	Kept bool
	Why  string // when not kept
}

// Judge holds a run's result against what its variant promises (README's variant table):
// predlock, on a perfect network, ends every run ok; predlock-retry, under every fault the
// swarm draws, ends every join (ok or a reported failure) with a correct ring among the live
// nodes that joined; repair, under churn with the crash guard, ends every run ok at the end
// check (correct ring, every key with its live copies, no safety violation). seed promises
// nothing, so every bad ring counts against it: that makes it the checker's sanity check.
func Judge(c *sim.Config, r *sim.Result) Verdict {
	switch {
	case r.Violation != nil:
		return Verdict{Why: fmt.Sprintf("%s: %s", r.Outcome, r.Detail)}
	case r.Outcome == observe.OutcomeOK:
		return Verdict{Kept: true}
	case r.Outcome == observe.OutcomeJoinFailed && c.Faults.Active() && c.Protocol == "predlock-retry":
		return Verdict{Kept: true} // a reported failure under faults is within the promise
	}
	if c.Churn.On() {
		// The end check failed: name what the promise is about.
		return Verdict{Why: fmt.Sprintf("%s: %s (ring correct %v, %d keys lost, %d under-replicated, %d crashes, %d postponed)",
			r.Outcome, r.Detail, r.Churn.RingCorrect, r.Churn.KeysLost, r.Churn.KeysUnderReplicated, r.Churn.Crashes, r.Churn.CrashesPostponed)}
	}
	return Verdict{Why: fmt.Sprintf("%s: %s", r.Outcome, r.Detail)}
}

// Failure is one run that broke its promise.
type Failure struct {
	Seed    uint64
	Config  sim.Config
	Outcome string
	Why     string
}

// Summary counts a swarm's runs.
type Summary struct {
	Protocol    string
	Want        int64 // the runs this shard was to do; an interrupted swarm did fewer
	Runs, Kept  int64
	Outcomes    map[string]int64
	Failures    []Failure // the first MaxFailures, in seed order
	Elapsed     time.Duration
	Interrupted bool
	// Churn runs that kept the promise: the longest time from churn stopping to the first
	// correct ring, in stabilization periods, and its seed (RepairSeed 0: none).
	Repair     float64
	RepairSeed uint64
}

// Progress is told how a swarm advances (runner.NewProgress makes one).
type Progress interface {
	Start(total, skipped int64)
	Update(done, failed int64)
	Finish(interrupted bool)
}

// Options say which seeds run where.
type Options struct {
	First, Count uint64 // seeds First .. First+Count-1
	// ShardIndex/ShardCount take the seeds s with (s-First) mod ShardCount == ShardIndex.
	ShardIndex, ShardCount int
	Workers                int
	MaxFailures            int // failures kept for the report (all are counted)
	Progress               Progress
}

// Run runs the swarm. Cancelling ctx stops it within one run per worker.
func Run(ctx context.Context, b Bounds, o Options) (*Summary, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if o.ShardCount < 1 {
		o.ShardCount = 1
	}
	if o.ShardIndex < 0 || o.ShardIndex >= o.ShardCount {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= index < count", o.ShardIndex, o.ShardCount)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 20
	}
	mine := o.Count / uint64(o.ShardCount)
	if uint64(o.ShardIndex) < o.Count%uint64(o.ShardCount) {
		mine++
	}
	start := time.Now()
	if o.Progress != nil {
		o.Progress.Start(int64(mine), 0)
	}
	var next atomic.Uint64 // the next of this shard's seeds, counted 0..mine-1
	var done, failed atomic.Int64
	var mu sync.Mutex
	sum := &Summary{Protocol: b.Protocol, Want: int64(mine), Outcomes: map[string]int64{}}
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes := map[string]int64{}
			var fails []Failure
			var kept int64
			var repair float64
			var repairSeed uint64
			// One simulator per worker, reset for each seed: a swarm run's setup costs about
			// as much as the run. Judge and the tallies keep nothing of a result.
			var sm sim.Sim
			sm.ReuseResults()
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= mine {
					break
				}
				seed := o.First + k*uint64(o.ShardCount) + uint64(o.ShardIndex)
				c := Draw(b, seed)
				var res *sim.Result
				err := sm.Reset(c, nil)
				if err == nil {
					res = sm.Run()
				} else {
					res = &sim.Result{Outcome: "error", Detail: err.Error()}
				}
				outcomes[res.Outcome]++
				v := Judge(&c, res)
				if err != nil {
					v = Verdict{Why: "error: " + err.Error()}
				}
				if v.Kept {
					kept++
					if c.Churn.On() && (repairSeed == 0 || res.Churn.RepairPeriods > repair) {
						repair, repairSeed = res.Churn.RepairPeriods, seed
					}
				} else {
					failed.Add(1)
					// A worker meets its seeds in increasing order, so its first failures
					// include every one of the swarm's first MaxFailures that it ran.
					if len(fails) < o.MaxFailures {
						fails = append(fails, Failure{Seed: seed, Config: c, Outcome: res.Outcome, Why: v.Why})
					}
				}
				if d := done.Add(1); o.Progress != nil {
					o.Progress.Update(d, failed.Load())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			sum.Kept += kept
			if repairSeed != 0 && (sum.RepairSeed == 0 || repair > sum.Repair || repair == sum.Repair && repairSeed < sum.RepairSeed) {
				sum.Repair, sum.RepairSeed = repair, repairSeed
			}
			for k, v := range outcomes {
				sum.Outcomes[k] += v
			}
			sum.Failures = append(sum.Failures, fails...)
		}()
	}
	wg.Wait()
	sum.Runs = done.Load()
	sum.Interrupted = ctx.Err() != nil
	sum.Elapsed = time.Since(start)
	slices.SortFunc(sum.Failures, func(a, b Failure) int { return cmpU(a.Seed, b.Seed) })
	if len(sum.Failures) > o.MaxFailures {
		sum.Failures = sum.Failures[:o.MaxFailures]
	}
	if o.Progress != nil {
		o.Progress.Finish(sum.Interrupted)
	}
	return sum, nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
