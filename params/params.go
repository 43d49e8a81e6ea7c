// Package params declares every run parameter once: its spec name, kind, runs table column,
// dhtexp run flag, documentation, and how it reads and writes a sim.Config. Spec parsing
// ([base] and [sweep] alike), the runs table's parameter columns, the command line flags,
// replay's command lines and the parameter table in docs/results.md are all made from All.
//
// It is a package of its own, between sim and runner, because both runner and the commands
// that run one configuration without a sweep (dhtexp run, replay, shrink) need the list, and
// replay must not depend on the sweep machinery to print a command line.
//
// Adding a parameter takes its sim.Config field with a check in sim.Config.Validate, and one
// entry in All; the spec tables, the runs column, the flag and the docs follow from it.
package params

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

// Kind is the type of a parameter as a spec writes it.
type Kind uint8

// Parameter kinds.
const (
	KindString   Kind = iota + 1
	KindInt           // TOML integer
	KindDuration      // TOML string parsed by time.ParseDuration, stored as nanoseconds
	KindBool
	KindFloat // TOML float or integer
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "a string"
	case KindInt:
		return "an integer"
	case KindDuration:
		return `a duration string such as "30ms"`
	case KindBool:
		return "a boolean"
	case KindFloat:
		return "a number"
	}
	return "?"
}

// typeName is the kind in the docs' parameter table.
func (k Kind) typeName() string {
	return [...]string{KindString: "string", KindInt: "integer", KindDuration: "duration",
		KindBool: "boolean", KindFloat: "number"}[k]
}

// Value is one parameter value. Only the field that matches Kind is meaningful; durations
// are held in Int as nanoseconds.
type Value struct {
	Kind  Kind
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// String is the canonical text of the value: it keys seed derivation and spec hashes and
// appears in manifests, so equal values always print the same way ("10ms" and "10000us"
// both print "10ms").
func (v Value) String() string {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindDuration:
		return time.Duration(v.Int).String()
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	}
	return ""
}

// JSON is the value as manifest.json holds it: numbers as numbers, durations as Go
// duration strings.
func (v Value) JSON() any {
	switch v.Kind {
	case KindInt:
		return v.Int
	case KindBool:
		return v.Bool
	case KindFloat:
		return v.Float
	}
	return v.String()
}

// ParseDuration reads a duration as specs and flags write it.
func ParseDuration(s string) (int64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a number with a unit such as \"30ms\" or \"1.5s\"", s)
	}
	return int64(d), nil
}

// Modes say what runs a configuration: the simulator, or real nodes on loopback sockets.
const (
	ModeSim     = "sim"
	ModeCluster = "cluster"
)

// Modes lists the values of the mode parameter, the default first.
var Modes = []string{ModeSim, ModeCluster}

// Run is everything the parameters set: the simulator's configuration and what runs it.
type Run struct {
	Mode   string
	Config sim.Config
}

// Default is what a spec or command line that sets nothing runs: sim.DefaultConfig in the
// simulator. Parameters have no defaults of their own; they are read from here.
func Default() Run { return Run{Mode: ModeSim, Config: sim.DefaultConfig()} }

// InEffect is the run with every default settled (sim.Config.InEffect) and, on real nodes,
// none of the simulator's timing, delays, budget or per-event checks: what a record of the
// run reports as its parameters.
func (r Run) InEffect() Run {
	r.Config = r.Config.InEffect()
	if r.Mode == ModeCluster {
		c := &r.Config
		c.Timing, c.Link, c.Delay = "real", "tcp", sim.Delay{Kind: "real"}
		c.MaxMessages, c.Unit, c.NoCheck = 0, 0, true
	}
	return r
}

// Param is one run parameter.
type Param struct {
	// Name is the spec key; parameters of the delay, faults and workload tables are dotted.
	Name string
	// Column is the runs table column: Name with dots as underscores, and "_ns" after a
	// duration.
	Column string
	Kind   Kind
	// Flag is the dhtexp run flag. Left empty in All it is derived from Name: the faults. and
	// workload. prefixes dropped, dots and underscores as dashes. "-": no flag. A boolean
	// whose flag starts with "no-" sets the parameter to false.
	Flag string
	// Nullable columns hold null where the value is the empty string.
	Nullable bool
	// Doc says what the parameter means, in one line: flag usage, column doc and docs.
	Doc string
	// Unit says what a number counts, when that is not obvious from Doc; durations are
	// nanoseconds in the runs table and Go duration strings elsewhere.
	Unit string

	field field
}

// field reads and writes a parameter in a Run. set refuses what the Go field cannot hold;
// whether the value makes sense is sim.Config.Validate's business, whose messages start
// with the parameter's name.
type field struct {
	kind Kind
	get  func(r *Run) Value
	set  func(r *Run, v Value) error
}

// Get reads the parameter from r.
func (p *Param) Get(r *Run) Value { return p.field.get(r) }

// Set writes v, which must be of the parameter's kind, into r.
func (p *Param) Set(r *Run, v Value) error {
	if v.Kind != p.Kind {
		return fmt.Errorf("want %s", p.Kind)
	}
	return p.field.set(r, v)
}

// Default is the parameter's value in Default().
func (p *Param) Default() Value {
	d := Default()
	return p.Get(&d)
}

// Negated reports whether the flag sets the opposite of the parameter (--no-check).
func (p *Param) Negated() bool { return p.Kind == KindBool && strings.HasPrefix(p.Flag, "no-") }

func strs(f func(c *sim.Config) *string) field {
	return field{KindString,
		func(r *Run) Value { return Value{Kind: KindString, Str: *f(&r.Config)} },
		func(r *Run, v Value) error { *f(&r.Config) = v.Str; return nil }}
}

func ints(f func(c *sim.Config) *int) field {
	return field{KindInt,
		func(r *Run) Value { return Value{Kind: KindInt, Int: int64(*f(&r.Config))} },
		func(r *Run, v Value) error {
			if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
				return fmt.Errorf("%d is out of range", v.Int)
			}
			*f(&r.Config) = int(v.Int)
			return nil
		}}
}

func int64s(f func(c *sim.Config) *int64) field {
	return field{KindInt,
		func(r *Run) Value { return Value{Kind: KindInt, Int: *f(&r.Config)} },
		func(r *Run, v Value) error { *f(&r.Config) = v.Int; return nil }}
}

func durations(f func(c *sim.Config) *int64) field {
	return field{KindDuration,
		func(r *Run) Value { return Value{Kind: KindDuration, Int: *f(&r.Config)} },
		func(r *Run, v Value) error { *f(&r.Config) = v.Int; return nil }}
}

func floats(f func(c *sim.Config) *float64) field {
	return field{KindFloat,
		func(r *Run) Value { return Value{Kind: KindFloat, Float: *f(&r.Config)} },
		func(r *Run, v Value) error { *f(&r.Config) = v.Float; return nil }}
}

// All lists every parameter, in the order of the runs table's parameter columns.
var All = []Param{
	{Name: "mode", Flag: "-", Doc: "sim (the simulator) or cluster (real nodes on loopback sockets)",
		field: field{KindString,
			func(r *Run) Value { return Value{Kind: KindString, Str: r.Mode} },
			func(r *Run, v Value) error {
				if !slices.Contains(Modes, v.Str) {
					return fmt.Errorf("unknown mode %q (known: %s)", v.Str, strings.Join(Modes, ", "))
				}
				r.Mode = v.Str
				return nil
			}}},
	{Name: "scenario", Doc: "simple, advanced or random",
		field: strs(func(c *sim.Config) *string { return &c.Scenario })},
	{Name: "protocol", Doc: "protocol variant",
		field: strs(func(c *sim.Config) *string { return &c.Protocol })},
	{Name: "timing", Doc: "seed (the original's blocking sends and polling) or async (message passing); real in cluster mode",
		field: strs(func(c *sim.Config) *string { return &c.Timing })},
	{Name: "link", Doc: "async links: fifo or reorder; tcp in cluster mode",
		field: strs(func(c *sim.Config) *string { return &c.Link })},
	{Name: "delay.kind", Flag: "delay", Doc: "message delay distribution: " + strings.Join(sim.DelayKinds, ", ") + "; real in cluster mode",
		field: strs(func(c *sim.Config) *string { return &c.Delay.Kind })},
	{Name: "nodes", Doc: "advanced: n (the scenario has n-1 nodes); random: initial ring members",
		field: ints(func(c *sim.Config) *int { return &c.Nodes })},
	{Name: "joiners", Doc: "random: newcomers",
		field: ints(func(c *sim.Config) *int { return &c.Joiners })},
	{Name: "bits", Doc: "the ID space is 2^bits", field: field{KindInt,
		func(r *Run) Value { return Value{Kind: KindInt, Int: int64(r.Config.Bits)} },
		func(r *Run, v Value) error {
			if v.Int < 0 || v.Int > 64 {
				return fmt.Errorf("%d is out of range 0..64", v.Int)
			}
			r.Config.Bits = uint(v.Int)
			return nil
		}}},
	{Name: "max_messages", Doc: "message budget: more messages end the run as a livelock (0 in cluster mode)",
		field: int64s(func(c *sim.Config) *int64 { return &c.MaxMessages })},
	{Name: "check", Flag: "no-check", Doc: "check safety properties after every event (the end-of-run checks always run)",
		field: field{KindBool,
			func(r *Run) Value { return Value{Kind: KindBool, Bool: !r.Config.NoCheck} },
			func(r *Run, v Value) error { r.Config.NoCheck = !v.Bool; return nil }}},
	{Name: "join_window", Doc: "newcomers start at times spread uniformly over [0, join_window]",
		field: durations(func(c *sim.Config) *int64 { return &c.JoinWindow })},
	{Name: "unit", Doc: "the seed timing model's time unit (0 in cluster mode)",
		field: durations(func(c *sim.Config) *int64 { return &c.Unit })},
	{Name: "horizon", Doc: "nothing at or after this virtual time happens",
		field: durations(func(c *sim.Config) *int64 { return &c.Horizon })},
	{Name: "delay.value", Doc: "constant: the delay",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Value })},
	{Name: "delay.min", Doc: "uniform, uniform-int: smallest delay",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Min })},
	{Name: "delay.max", Doc: "uniform, uniform-int: largest delay",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Max })},
	{Name: "delay.step", Doc: "uniform-int: granularity (0: the unit)",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Step })},
	{Name: "delay.mean", Doc: "exponential: mean delay",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Mean })},
	{Name: "delay.median", Doc: "lognormal: median delay",
		field: durations(func(c *sim.Config) *int64 { return &c.Delay.Median })},
	{Name: "delay.sigma", Doc: "lognormal: shape",
		field: floats(func(c *sim.Config) *float64 { return &c.Delay.Sigma })},
	{Name: "faults.loss", Unit: "probability", Doc: "faults: probability that a message is lost",
		field: floats(func(c *sim.Config) *float64 { return &c.Faults.Loss })},
	{Name: "faults.duplicate", Unit: "probability", Doc: "faults: probability that a message is delivered twice",
		field: floats(func(c *sim.Config) *float64 { return &c.Faults.Duplicate })},
	{Name: "faults.reorder_window", Doc: "faults: extra uniform delay in [0, window] per message",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.ReorderWindow })},
	{Name: "faults.spike_prob", Unit: "probability", Doc: "faults: probability of a delay spike",
		field: floats(func(c *sim.Config) *float64 { return &c.Faults.SpikeProb })},
	{Name: "faults.spike", Doc: "faults: extra delay of a spike",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.Spike })},
	{Name: "faults.crash_node", Nullable: true, Doc: "faults: the node that crashes: random, member, joiner or a node ID (empty: none)",
		field: strs(func(c *sim.Config) *string { return &c.Faults.CrashNode })},
	{Name: "faults.crash_at", Doc: "faults: when the node crashes",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.CrashAt })},
	{Name: "faults.crash_after", Nullable: true, Doc: "faults: crash right after first sending this message type instead",
		field: strs(func(c *sim.Config) *string { return &c.Faults.CrashAfter })},
	{Name: "faults.restart_after", Doc: "faults: the crashed node comes back after this long (0: never)",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.RestartAfter })},
	{Name: "faults.partition_fraction", Unit: "probability", Doc: "faults: probability that a node lands on the minority side of a partition",
		field: floats(func(c *sim.Config) *float64 { return &c.Faults.PartitionFraction })},
	{Name: "faults.partition_at", Doc: "faults: when the partition starts",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.PartitionAt })},
	{Name: "faults.heal_at", Doc: "faults: when the partition heals (0: never)",
		field: durations(func(c *sim.Config) *int64 { return &c.Faults.HealAt })},
	{Name: "timeout", Doc: "variants that retry: how long a node waits for an answer (0: the variant's own)",
		field: durations(func(c *sim.Config) *int64 { return &c.Timeout })},
	{Name: "retries", Doc: "variants that retry: attempts without progress before giving up (0: the variant's own)",
		field: ints(func(c *sim.Config) *int { return &c.Retries })},
	{Name: "workload.keys", Doc: "DHT workload: distinct keys stored from the start (keys and rate 0: no workload, and every workload column 0 or empty)",
		field: ints(func(c *sim.Config) *int { return &c.Workload.Keys })},
	{Name: "workload.rate", Unit: "1/s", Doc: "DHT workload: client operations per second of virtual time over the ring",
		field: floats(func(c *sim.Config) *float64 { return &c.Workload.Rate })},
	{Name: "workload.lookup", Doc: "DHT workload: relative weight of lookups in the mix",
		field: floats(func(c *sim.Config) *float64 { return &c.Workload.Lookup })},
	{Name: "workload.get", Doc: "DHT workload: relative weight of gets in the mix",
		field: floats(func(c *sim.Config) *float64 { return &c.Workload.Get })},
	{Name: "workload.put", Doc: "DHT workload: relative weight of puts in the mix",
		field: floats(func(c *sim.Config) *float64 { return &c.Workload.Put })},
	{Name: "workload.popularity", Doc: "DHT workload: uniform or zipf key popularity",
		field: strs(func(c *sim.Config) *string { return &c.Workload.Popularity })},
	{Name: "workload.zipf_s", Doc: "DHT workload: zipf exponent, > 1 (0 in effect under uniform popularity)",
		field: floats(func(c *sim.Config) *float64 { return &c.Workload.ZipfS })},
	{Name: "workload.before", Doc: "DHT workload: operations start this long before the joins",
		field: durations(func(c *sim.Config) *int64 { return &c.Workload.Before })},
	{Name: "workload.after", Doc: "DHT workload: operations go on this long after the last join ended",
		field: durations(func(c *sim.Config) *int64 { return &c.Workload.After })},
	{Name: "workload.finger_period", Doc: "DHT workload: how often a node refreshes one finger (0: no fingers)",
		field: durations(func(c *sim.Config) *int64 { return &c.Workload.FingerPeriod })},
	{Name: "workload.fingers", Doc: "DHT workload: fresh (exact) or empty fingers at the initial members",
		field: strs(func(c *sim.Config) *string { return &c.Workload.Fingers })},
	{Name: "workload.hop_budget", Doc: fmt.Sprintf("DHT workload: forwards before an operation fails (0: the protocol's, %d)", protocol.DefaultHopBudget),
		field: ints(func(c *sim.Config) *int { return &c.Workload.HopBudget })},
	{Name: "workload.op_timeout", Doc: fmt.Sprintf("DHT workload: how long a client waits for an answer (0: the protocol's, %s)", time.Duration(protocol.DefaultOpTimeout)),
		field: durations(func(c *sim.Config) *int64 { return &c.Workload.OpTimeout })},
	{Name: "workload.replicas", Doc: "DHT workload: successors of a key's owner that keep a copy (0: no replication)",
		field: ints(func(c *sim.Config) *int { return &c.Workload.Replicas })},
	{Name: "leavers", Doc: "random scenario, variants with a leave exchange: initial members that leave gracefully during the join window",
		field: ints(func(c *sim.Config) *int { return &c.Leavers })},
	{Name: "layout", Doc: "random scenario: where IDs fall: " + strings.Join(sim.Layouts, ", ") + " (docs/experiments.md, hostile shapes)",
		field: strs(func(c *sim.Config) *string { return &c.Layout })},
	{Name: "contacts", Doc: "random scenario: whom newcomers ask: " + strings.Join(sim.ContactRules, ", "),
		field: strs(func(c *sim.Config) *string { return &c.Contacts })},
	{Name: "starts", Doc: "random scenario: when newcomers start: window (spread over join_window) or same (one instant in it)",
		field: strs(func(c *sim.Config) *string { return &c.Starts })},
	{Name: "leave_target", Doc: "which members leave: " + strings.Join(sim.LeaveTargets, ", "),
		field: strs(func(c *sim.Config) *string { return &c.LeaveTarget })},
	{Name: "join_routing", Doc: "how join requests reach the gap's owner: ring (neighbour to neighbour) or fingers (predlock variants: O(log N) hops; docs/protocol.md)",
		field: strs(func(c *sim.Config) *string { return &c.JoinRouting })},
	{Name: "stabilize", Doc: fmt.Sprintf("repairing variants: time between stabilization rounds (0: the variant's own, %s)", time.Duration(sim.DefaultStabilize)),
		field: durations(func(c *sim.Config) *int64 { return &c.Stabilize })},
	{Name: "churn.session", Nullable: true, Doc: "churn: session length distribution: exponential, weibull or pareto (empty: no churn, and every churn column 0 or null)",
		field: strs(func(c *sim.Config) *string { return &c.Churn.Session })},
	{Name: "churn.median", Doc: "churn: median session length",
		field: durations(func(c *sim.Config) *int64 { return &c.Churn.Median })},
	{Name: "churn.shape", Doc: "churn: weibull k or pareto alpha (> 1); 0 in effect for exponential sessions",
		field: floats(func(c *sim.Config) *float64 { return &c.Churn.Shape })},
	{Name: "churn.crash_fraction", Unit: "probability", Doc: "churn: share of departures that crash; the rest leave gracefully (1 for variants without a leave exchange)",
		field: floats(func(c *sim.Config) *float64 { return &c.Churn.CrashFraction })},
	{Name: "churn.warmup", Doc: "churn: measurements (lookups, maintenance traffic, live nodes) start this far into the run",
		field: durations(func(c *sim.Config) *int64 { return &c.Churn.Warmup })},
	{Name: "churn.duration", Doc: "churn: arrivals and departures stop this long after the warm-up",
		field: durations(func(c *sim.Config) *int64 { return &c.Churn.Duration })},
	{Name: "churn.settle", Doc: fmt.Sprintf("churn: the ring and keys are judged this long after churn stops (0: %d stabilization periods)", sim.SettlePeriods),
		field: durations(func(c *sim.Config) *int64 { return &c.Churn.Settle })},
	{Name: "churn.crash_guard", Unit: "stabilization periods", Doc: "churn: postpone a crash while a node among the crashing node's max(workload.replicas, 1) nearest live ring neighbours on either side crashed within this many stabilization periods (0: off)",
		field: ints(func(c *sim.Config) *int { return &c.Churn.CrashGuard })},
}

func init() {
	for i := range All {
		p := &All[i]
		p.Kind = p.field.kind
		p.Column = strings.ReplaceAll(p.Name, ".", "_")
		if p.Kind == KindDuration {
			p.Column += "_ns"
		}
		if p.Flag == "" {
			f := strings.TrimPrefix(strings.TrimPrefix(p.Name, "faults."), "workload.")
			p.Flag = strings.Map(flagRune, f)
		}
	}
}

// flagRune spells a spec name's rune in a flag name: dots and underscores are dashes. It
// replaced a strings.Replacer built for each parameter at every command's start.
func flagRune(r rune) rune {
	if r == '.' || r == '_' {
		return '-'
	}
	return r
}

// Lookup returns the parameter a spec names, or nil.
func Lookup(name string) *Param {
	for i := range All {
		if All[i].Name == name {
			return &All[i]
		}
	}
	return nil
}

// Names lists the parameters' names in order.
func Names() []string {
	names := make([]string, len(All))
	for i := range All {
		names[i] = All[i].Name
	}
	return names
}

// Tables lists the spec tables that group parameters ("delay", "faults", "workload").
func Tables() []string {
	var out []string
	for i := range All {
		if t, _, ok := strings.Cut(All[i].Name, "."); ok && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
