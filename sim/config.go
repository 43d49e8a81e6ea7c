package sim

import (
	"fmt"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// Scenarios lists the scenario names a Config may use.
var Scenarios = []string{"simple", "advanced", "random"}

// Timing models. "seed" is the original program's loop: a sender is blocked for the delay of
// each message it sends, one sender's messages arrive in order, idle nodes poll once per unit.
// "async" is a message-passing network: sends return at once, each message arrives after its
// own delay, and a node handles a message the instant it arrives.
var TimingModels = []string{"seed", "async"}

// Link delivery orders for the async timing model.
var LinkModes = []string{"fifo", "reorder"}

// Config is everything one run needs. All durations are nanoseconds of virtual time.
type Config struct {
	Scenario   string // simple | advanced | random
	Nodes      int    // advanced: n (the scenario has n-1 nodes); random: initial ring members
	Joiners    int    // random: newcomers
	JoinWindow int64  // newcomers start at times spread uniformly over [0, JoinWindow]
	Bits       uint   // ID space is 2^Bits (random scenario IDs and wrap-around)
	Protocol   string // protocol variant name
	Timing     string // seed | async
	Unit       int64  // the seed timing model's time unit
	Delay      Delay
	Link       string // fifo | reorder (async timing)
	Horizon    int64  // nothing scheduled at or after the horizon happens
	// MaxMessages ends the run as a livelock when more messages than this are sent.
	MaxMessages int64
	Seed        uint64
	Faults      Faults
	// Timeout and Retries tune variants that retry (zero: the variant's defaults).
	Timeout int64
	Retries int
	// NoCheck turns the per-event safety checker off (the end-of-run checks always run).
	NoCheck bool
	// Workload is the DHT traffic: keys, lookups, gets and puts (zero: none).
	Workload Workload
	// Leavers initial members leave gracefully at times spread over the join window (random
	// scenario, variants with a leave exchange).
	Leavers int
	// Layout, Contacts, Starts and LeaveTarget shape the random scenario for hostile tests;
	// their zero values ("" or the first name of each list) are the uniform defaults.
	Layout      string // uniform | clustered | wrap | full
	Contacts    string // random | shared | gap-left | gap-right | joiner
	Starts      string // window | same
	LeaveTarget string // random | contacts | gap-ends | adjacent
	// JoinRouting is how join requests travel to the gap's owner: "ring" (from neighbour to
	// neighbour, the default) or "fingers" (by the DHT layer's fingers, O(log N) hops).
	JoinRouting string
	// Churn is a workload of arrivals and departures (zero: none).
	Churn Churn
	// Stabilize is how often repairing variants stabilize (0: the variant's default).
	Stabilize int64
}

// JoinRoutings lists the values of JoinRouting, the default first.
var JoinRoutings = []string{"ring", "fingers"}

// Layouts, ContactRules, StartRules and LeaveTargets list the values of the hostile-scenario
// parameters, the default first. docs/experiments.md says what each one does.
var (
	Layouts      = []string{"uniform", "clustered", "wrap", "full"}
	ContactRules = []string{"random", "shared", "gap-left", "gap-right", "joiner"}
	StartRules   = []string{"window", "same"}
	LeaveTargets = []string{"random", "contacts", "gap-ends", "adjacent"}
)

// DefaultConfig is the original program's simple scenario under its own timing model.
func DefaultConfig() Config {
	unit := int64(time.Millisecond)
	return Config{
		Scenario:    "simple",
		Nodes:       30,
		Joiners:     2,
		Bits:        16,
		Protocol:    "seed",
		Timing:      "seed",
		Unit:        unit,
		Delay:       Delay{Kind: "uniform-int", Min: unit, Max: 10 * unit},
		Link:        "fifo",
		Horizon:     200 * unit,
		MaxMessages: 1_000_000,
		Layout:      "uniform", Contacts: "random", Starts: "window", LeaveTarget: "random",
		JoinRouting: "ring",
		Churn: Churn{Median: int64(time.Minute), Shape: 2, CrashFraction: 1, Warmup: int64(10 * time.Second),
			Duration: int64(time.Minute)},
		Workload: Workload{Lookup: 1, Get: 1, Put: 1, Popularity: "uniform", ZipfS: 1.2,
			FingerPeriod: int64(50 * time.Millisecond), Fingers: "fresh"},
	}
}

// InEffect is the configuration with every default settled as a run settles it: the delay
// parameters its distribution reads (the uniform-int step the unit when left 0), and the
// workload as it runs (none, or the protocol's hop budget and operation timeout when left
// 0). Records of a run show these values, so that they are computed here, once, and not
// guessed again by each reader.
func (c Config) InEffect() Config {
	c.Delay = c.Delay.inEffect(c.Unit)
	c.Workload = c.Workload.inEffect()
	c.Churn = c.churnInEffect()
	return c
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// Validate names the first field that makes the configuration unusable.
func (c *Config) Validate() error {
	if !oneOf(c.Scenario, Scenarios) {
		return fmt.Errorf("scenario: unknown scenario %q (known: %v)", c.Scenario, Scenarios)
	}
	if _, err := protocol.Lookup(c.Protocol); err != nil {
		return fmt.Errorf("protocol: %w", err)
	}
	if !oneOf(c.Timing, TimingModels) {
		return fmt.Errorf("timing: unknown timing model %q (known: %v)", c.Timing, TimingModels)
	}
	if !oneOf(c.Link, LinkModes) {
		return fmt.Errorf("link: unknown link mode %q (known: %v)", c.Link, LinkModes)
	}
	if err := (protocol.Ring{Bits: c.Bits}).Validate(); err != nil {
		return fmt.Errorf("bits: %w", err)
	}
	if c.Unit <= 0 {
		return fmt.Errorf("unit must be positive")
	}
	if c.Horizon <= 0 {
		return fmt.Errorf("horizon must be positive")
	}
	if c.JoinWindow < 0 {
		return fmt.Errorf("join_window must not be negative")
	}
	if c.MaxMessages <= 0 {
		return fmt.Errorf("max_messages must be positive")
	}
	if err := c.Delay.Validate(); err != nil {
		return err
	}
	if c.Timeout < 0 || c.Retries < 0 {
		return fmt.Errorf("timeout and retries must not be negative")
	}
	if err := c.Faults.Validate(); err != nil {
		return err
	}
	if err := c.Workload.Validate(); err != nil {
		return err
	}
	if c.Workload.Active() && c.Timing != "async" {
		return fmt.Errorf("workload: a DHT workload needs timing = \"async\"")
	}
	if c.Leavers != 0 {
		v, _ := protocol.Lookup(c.Protocol)
		switch {
		case c.Leavers < 0:
			return fmt.Errorf("leavers must not be negative, got %d", c.Leavers)
		case !v.Leaves:
			return fmt.Errorf("leavers: protocol %q has no leave exchange", c.Protocol)
		case c.Scenario != "random" || c.Timing != "async":
			return fmt.Errorf("leavers: leaves need scenario = \"random\" and timing = \"async\"")
		case c.Leavers >= c.Nodes:
			return fmt.Errorf("leavers: %d of %d members leaving would leave no ring", c.Leavers, c.Nodes)
		}
	}
	if err := c.validateHostile(); err != nil {
		return err
	}
	if err := c.validateJoinRouting(); err != nil {
		return err
	}
	if err := c.validateChurn(); err != nil {
		return err
	}
	if c.Faults.Active() && c.Timing != "async" {
		return fmt.Errorf("faults: fault injection needs timing = \"async\"")
	}
	if c.Nodes+c.Joiners > MaxNodes {
		return fmt.Errorf("nodes: at most %d nodes per run", MaxNodes)
	}
	space := (protocol.Ring{Bits: c.Bits}).Size()
	switch c.Scenario {
	case "advanced":
		if c.Nodes < 5 {
			return fmt.Errorf("nodes: the advanced scenario needs n >= 5 (ring 1, n-2, n-1 and newcomers 2..n-3), got %d", c.Nodes)
		}
		if uint64(c.Nodes) > space {
			return fmt.Errorf("nodes: %d IDs do not fit a %d-bit ID space", c.Nodes, c.Bits)
		}
	case "random":
		if c.Nodes < 1 {
			return fmt.Errorf("nodes: the random scenario needs at least one ring member, got %d", c.Nodes)
		}
		if c.Joiners < 0 {
			return fmt.Errorf("joiners must not be negative, got %d", c.Joiners)
		}
		if uint64(c.Nodes)+uint64(c.Joiners) > space {
			return fmt.Errorf("joiners: %d members + %d joiners do not fit a %d-bit ID space (%d IDs)", c.Nodes, c.Joiners, c.Bits, space)
		}
	case "simple":
		if space < 51 {
			return fmt.Errorf("bits: the simple scenario uses ID 50 and needs at least 6 bits")
		}
	}
	return nil
}

// fingerJoins reports whether join requests are routed by fingers.
func (c *Config) fingerJoins() bool { return c.JoinRouting == "fingers" }

func (c *Config) validateJoinRouting() error {
	if c.JoinRouting != "" && !oneOf(c.JoinRouting, JoinRoutings) {
		return fmt.Errorf("join_routing: unknown value %q (known: %v)", c.JoinRouting, JoinRoutings)
	}
	if c.fingerJoins() && c.Protocol == "seed" {
		return fmt.Errorf("join_routing: the seed variant walks the ring as the original program does; \"fingers\" needs predlock or predlock-retry")
	}
	return nil
}

// hostile reports whether any hostile-scenario parameter differs from its default.
func (c *Config) hostile() bool {
	return (c.Layout != "" && c.Layout != Layouts[0]) || (c.Contacts != "" && c.Contacts != ContactRules[0]) ||
		(c.Starts != "" && c.Starts != StartRules[0]) || (c.LeaveTarget != "" && c.LeaveTarget != LeaveTargets[0])
}

func (c *Config) validateHostile() error {
	for _, p := range []struct {
		name, v string
		set     []string
	}{{"layout", c.Layout, Layouts}, {"contacts", c.Contacts, ContactRules},
		{"starts", c.Starts, StartRules}, {"leave_target", c.LeaveTarget, LeaveTargets}} {
		if p.v != "" && !oneOf(p.v, p.set) {
			return fmt.Errorf("%s: unknown value %q (known: %v)", p.name, p.v, p.set)
		}
	}
	if !c.hostile() {
		return nil
	}
	if c.Scenario != "random" {
		return fmt.Errorf("layout: layout, contacts, starts and leave_target shape the random scenario only, got scenario %q", c.Scenario)
	}
	space := (protocol.Ring{Bits: c.Bits}).Size()
	switch c.Layout {
	case "full":
		if uint64(c.Nodes)+uint64(c.Joiners) != space {
			return fmt.Errorf("layout: \"full\" uses every ID of the ring: nodes + joiners must be 2^bits = %d, got %d + %d",
				space, c.Nodes, c.Joiners)
		}
	case "clustered", "wrap":
		// The joiners share one gap of at least 2·joiners IDs, which the members must leave free.
		if uint64(c.Nodes)+2*uint64(c.Joiners)+2 > space {
			return fmt.Errorf("layout: %q needs room for a gap of 2·joiners IDs: nodes + 2·joiners + 2 must be at most 2^bits = %d",
				c.Layout, space)
		}
	}
	if c.LeaveTarget != "" && c.LeaveTarget != LeaveTargets[0] && c.Leavers == 0 {
		return fmt.Errorf("leave_target: %q chooses leavers, but leavers = 0", c.LeaveTarget)
	}
	if c.Contacts == "joiner" && c.Joiners < 2 {
		return fmt.Errorf("contacts: \"joiner\" needs at least 2 joiners (the first one enters through a member)")
	}
	return nil
}
