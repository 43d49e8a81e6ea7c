package sim

import (
	"fmt"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// SessionKinds lists the session-length distributions of churn; "" (no churn) is the default.
var SessionKinds = []string{"", "exponential", "weibull", "pareto"}

// DefaultStabilize is the stabilization period a repairing variant uses when Config.Stabilize
// is 0; churn measures its repair times in these periods.
const DefaultStabilize = int64(time.Second)

// SettlePeriods is how many stabilization periods churn.settle is when left 0.
const SettlePeriods = 20

// Churn is a workload of arrivals and departures in the random scenario (async timing):
// every node lives for a session drawn from a distribution, newcomers arrive as a Poisson
// process that keeps the ring near Nodes, and a departing node crashes or leaves gracefully.
// Churn stops Warmup+Duration into the run; Settle later the ring and the keys are judged.
type Churn struct {
	Session       string  // "" (off) | exponential | weibull | pareto
	Median        int64   // median session length
	Shape         float64 // weibull: k; pareto: alpha (> 1)
	CrashFraction float64 // share of departures that are crashes; the rest leave gracefully
	Warmup        int64   // measurements start this far into the run
	Duration      int64   // churn stops Duration after the warm-up
	Settle        int64   // the end check comes Settle after churn stops (0: 20 stabilization periods)
	// CrashGuard, when positive, postpones a crash while a node that crashed within the last
	// CrashGuard stabilization periods lies among the crashing node's r nearest live ring
	// neighbours on either side (r = max(workload.replicas, 1)): the condition under which
	// a repairing variant promises a correct ring and no lost key (crashGuardUntil).
	CrashGuard int
}

// On reports whether the run has churn.
func (c *Churn) On() bool { return c.Session != "" }

// Stop is when churn stops: no arrival or departure happens at or after it.
func (c *Churn) Stop() int64 { return c.Warmup + c.Duration }

// stabilizePeriod is the stabilization period in effect.
func (c *Config) stabilizePeriod() int64 {
	if c.Stabilize > 0 {
		return c.Stabilize
	}
	return DefaultStabilize
}

// churnInEffect is the churn as a run carries it out: all zero when off, no shape for
// exponential sessions, and the settle time computed when left 0.
func (c *Config) churnInEffect() Churn {
	ch := c.Churn
	if !ch.On() {
		return Churn{}
	}
	if ch.Session == "exponential" {
		ch.Shape = 0
	}
	if ch.Settle == 0 {
		ch.Settle = SettlePeriods * c.stabilizePeriod()
	}
	return ch
}

// validateChurn names the first churn field that makes the configuration unusable.
func (c *Config) validateChurn() error {
	ch := &c.Churn
	if c.Stabilize < 0 {
		return fmt.Errorf("stabilize must not be negative")
	}
	if !oneOf(ch.Session, SessionKinds) {
		return fmt.Errorf("churn.session: unknown distribution %q (known: exponential, weibull, pareto; empty: no churn)", ch.Session)
	}
	if !ch.On() {
		return nil
	}
	v, _ := protocol.Lookup(c.Protocol)
	eff := c.churnInEffect()
	switch {
	case c.Scenario != "random" || c.Timing != "async":
		return fmt.Errorf("churn.session: churn needs scenario = \"random\" and timing = \"async\"")
	case ch.Median <= 0:
		return fmt.Errorf("churn.median must be positive, got %v", time.Duration(ch.Median))
	case ch.Session == "weibull" && !(ch.Shape > 0):
		return fmt.Errorf("churn.shape: a weibull shape k must be positive, got %g", ch.Shape)
	case ch.Session == "pareto" && !(ch.Shape > 1):
		return fmt.Errorf("churn.shape: a pareto shape alpha must be greater than 1 for the mean session to exist, got %g", ch.Shape)
	case !(ch.CrashFraction >= 0 && ch.CrashFraction <= 1):
		return fmt.Errorf("churn.crash_fraction must be in [0, 1], got %g", ch.CrashFraction)
	case ch.CrashFraction < 1 && !v.Leaves:
		return fmt.Errorf("churn.crash_fraction: protocol %q has no leave exchange, so every departure is a crash: set 1", c.Protocol)
	case ch.Warmup < 0:
		return fmt.Errorf("churn.warmup must not be negative")
	case ch.Duration <= 0:
		return fmt.Errorf("churn.duration must be positive")
	case ch.Settle < 0:
		return fmt.Errorf("churn.settle must not be negative")
	case ch.CrashGuard < 0:
		return fmt.Errorf("churn.crash_guard must not be negative, got %d", ch.CrashGuard)
	case c.Joiners != 0:
		return fmt.Errorf("joiners: churn brings its own newcomers; set joiners = 0")
	case c.Leavers != 0:
		return fmt.Errorf("leavers: churn makes its own departures; set leavers = 0")
	case c.Faults.CrashNode != "" || c.Faults.RestartAfter != 0:
		return fmt.Errorf("faults.crash_node: churn crashes nodes itself; leave faults.crash_node and faults.restart_after unset")
	case c.Workload.Before != 0 || c.Workload.After != 0:
		return fmt.Errorf("workload.before: under churn the workload runs from the start until the end check; leave workload.before and workload.after at 0")
	case c.hostile():
		return fmt.Errorf("layout: churn runs the uniform random scenario; leave layout, contacts, starts and leave_target at their defaults")
	case ch.Stop()+eff.Settle >= c.Horizon:
		return fmt.Errorf("horizon: churn stops at %v and is judged at %v, which must come before the horizon %v",
			time.Duration(ch.Stop()), time.Duration(ch.Stop()+eff.Settle), time.Duration(c.Horizon))
	}
	return nil
}
