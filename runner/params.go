package runner

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/sim"
)

// Kind is the type of a simulator parameter as a spec writes it.
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

// Value is one parameter value. Only the field that matches Kind is meaningful; durations
// are held in Int as nanoseconds.
type Value struct {
	Kind  Kind
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// String is the canonical text of the value: it keys seed derivation and appears in
// manifests, so equal values always print the same way ("10ms" and "10000us" both print
// "10ms").
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

// jsonValue is the value as it appears in manifest.json: numbers as numbers, durations as
// Go duration strings.
func (v Value) jsonValue() any {
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

// param is one simulator parameter a spec may set in [base] or sweep in [sweep].
type param struct {
	name   string // as written in a spec; nested parameters are dotted
	column string // the runs table column that holds it
	kind   Kind
	set    func(c *sim.Config, v Value) error
	// point, when set, stores a parameter that is not the simulator's (mode) in the grid
	// point; set then only checks the value.
	point func(p *Point, v Value)
}

// Modes say what runs a grid point: the simulator, or real nodes on loopback sockets
// through Options.Real.
const (
	ModeSim     = "sim"
	ModeCluster = "cluster"
)

// Modes lists the values of the mode parameter, the default first.
var Modes = []string{ModeSim, ModeCluster}

var modeParam = param{name: "mode", column: "mode", kind: KindString,
	set: func(_ *sim.Config, v Value) error {
		if !slices.Contains(Modes, v.Str) {
			return fmt.Errorf("unknown mode %q (known: %s)", v.Str, strings.Join(Modes, ", "))
		}
		return nil
	},
	point: func(p *Point, v Value) { p.Mode = v.Str },
}

func intParam(name string, field func(c *sim.Config) *int) param {
	return param{name: name, column: column(name), kind: KindInt, set: func(c *sim.Config, v Value) error {
		if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
			return fmt.Errorf("%d is out of range", v.Int)
		}
		*field(c) = int(v.Int)
		return nil
	}}
}

func int64Param(name string, field func(c *sim.Config) *int64) param {
	return param{name: name, column: name, kind: KindInt, set: func(c *sim.Config, v Value) error {
		*field(c) = v.Int
		return nil
	}}
}

func durParam(name, column string, field func(c *sim.Config) *int64) param {
	return param{name: name, column: column, kind: KindDuration, set: func(c *sim.Config, v Value) error {
		*field(c) = v.Int
		return nil
	}}
}

func strParam(name, column string, field func(c *sim.Config) *string) param {
	return param{name: name, column: column, kind: KindString, set: func(c *sim.Config, v Value) error {
		*field(c) = v.Str
		return nil
	}}
}

// params lists every parameter in the order of the runs table's parameter columns. The
// [base] table's struct (baseTable) carries the same names; a test keeps the two in step.
var params = []param{
	modeParam,
	strParam("scenario", "scenario", func(c *sim.Config) *string { return &c.Scenario }),
	strParam("protocol", "protocol", func(c *sim.Config) *string { return &c.Protocol }),
	strParam("timing", "timing", func(c *sim.Config) *string { return &c.Timing }),
	strParam("link", "link", func(c *sim.Config) *string { return &c.Link }),
	strParam("delay.kind", "delay_kind", func(c *sim.Config) *string { return &c.Delay.Kind }),
	intParam("nodes", func(c *sim.Config) *int { return &c.Nodes }),
	intParam("joiners", func(c *sim.Config) *int { return &c.Joiners }),
	{name: "bits", column: "bits", kind: KindInt, set: func(c *sim.Config, v Value) error {
		if v.Int < 0 || v.Int > 64 {
			return fmt.Errorf("%d is out of range 0..64", v.Int)
		}
		c.Bits = uint(v.Int)
		return nil
	}},
	int64Param("max_messages", func(c *sim.Config) *int64 { return &c.MaxMessages }),
	{name: "check", column: "check", kind: KindBool, set: func(c *sim.Config, v Value) error {
		c.NoCheck = !v.Bool
		return nil
	}},
	durParam("join_window", "join_window_ns", func(c *sim.Config) *int64 { return &c.JoinWindow }),
	durParam("unit", "unit_ns", func(c *sim.Config) *int64 { return &c.Unit }),
	durParam("horizon", "horizon_ns", func(c *sim.Config) *int64 { return &c.Horizon }),
	durParam("delay.value", "delay_value_ns", func(c *sim.Config) *int64 { return &c.Delay.Value }),
	durParam("delay.min", "delay_min_ns", func(c *sim.Config) *int64 { return &c.Delay.Min }),
	durParam("delay.max", "delay_max_ns", func(c *sim.Config) *int64 { return &c.Delay.Max }),
	durParam("delay.step", "delay_step_ns", func(c *sim.Config) *int64 { return &c.Delay.Step }),
	durParam("delay.mean", "delay_mean_ns", func(c *sim.Config) *int64 { return &c.Delay.Mean }),
	durParam("delay.median", "delay_median_ns", func(c *sim.Config) *int64 { return &c.Delay.Median }),
	floatParam("delay.sigma", func(c *sim.Config) *float64 { return &c.Delay.Sigma }),
	floatParam("faults.loss", func(c *sim.Config) *float64 { return &c.Faults.Loss }),
	floatParam("faults.duplicate", func(c *sim.Config) *float64 { return &c.Faults.Duplicate }),
	durParam("faults.reorder_window", "faults_reorder_window_ns", func(c *sim.Config) *int64 { return &c.Faults.ReorderWindow }),
	floatParam("faults.spike_prob", func(c *sim.Config) *float64 { return &c.Faults.SpikeProb }),
	durParam("faults.spike", "faults_spike_ns", func(c *sim.Config) *int64 { return &c.Faults.Spike }),
	strParam("faults.crash_node", "faults_crash_node", func(c *sim.Config) *string { return &c.Faults.CrashNode }),
	durParam("faults.crash_at", "faults_crash_at_ns", func(c *sim.Config) *int64 { return &c.Faults.CrashAt }),
	strParam("faults.crash_after", "faults_crash_after", func(c *sim.Config) *string { return &c.Faults.CrashAfter }),
	durParam("faults.restart_after", "faults_restart_after_ns", func(c *sim.Config) *int64 { return &c.Faults.RestartAfter }),
	floatParam("faults.partition_fraction", func(c *sim.Config) *float64 { return &c.Faults.PartitionFraction }),
	durParam("faults.partition_at", "faults_partition_at_ns", func(c *sim.Config) *int64 { return &c.Faults.PartitionAt }),
	durParam("faults.heal_at", "faults_heal_at_ns", func(c *sim.Config) *int64 { return &c.Faults.HealAt }),
	durParam("timeout", "timeout_ns", func(c *sim.Config) *int64 { return &c.Timeout }),
	intParam("retries", func(c *sim.Config) *int { return &c.Retries }),
	intParam("workload.keys", func(c *sim.Config) *int { return &c.Workload.Keys }),
	floatParam("workload.rate", func(c *sim.Config) *float64 { return &c.Workload.Rate }),
	floatParam("workload.lookup", func(c *sim.Config) *float64 { return &c.Workload.Lookup }),
	floatParam("workload.get", func(c *sim.Config) *float64 { return &c.Workload.Get }),
	floatParam("workload.put", func(c *sim.Config) *float64 { return &c.Workload.Put }),
	strParam("workload.popularity", "workload_popularity", func(c *sim.Config) *string { return &c.Workload.Popularity }),
	floatParam("workload.zipf_s", func(c *sim.Config) *float64 { return &c.Workload.ZipfS }),
	durParam("workload.before", "workload_before_ns", func(c *sim.Config) *int64 { return &c.Workload.Before }),
	durParam("workload.after", "workload_after_ns", func(c *sim.Config) *int64 { return &c.Workload.After }),
	durParam("workload.finger_period", "workload_finger_period_ns", func(c *sim.Config) *int64 { return &c.Workload.FingerPeriod }),
	strParam("workload.fingers", "workload_fingers", func(c *sim.Config) *string { return &c.Workload.Fingers }),
	intParam("workload.hop_budget", func(c *sim.Config) *int { return &c.Workload.HopBudget }),
	durParam("workload.op_timeout", "workload_op_timeout_ns", func(c *sim.Config) *int64 { return &c.Workload.OpTimeout }),
	intParam("workload.replicas", func(c *sim.Config) *int { return &c.Workload.Replicas }),
	intParam("leavers", func(c *sim.Config) *int { return &c.Leavers }),
}

// clusterLimit is the most nodes a cluster-mode run starts: each is a listener plus
// goroutines and connections in this process, and beyond a few hundred the loopback
// latencies measure the machine's load rather than the protocol.
const clusterLimit = 256

// checkCluster says why a configuration cannot run on real nodes, in Validate's form (the
// parameter's name first, so that the error points at the line that set it).
func checkCluster(c *sim.Config) error {
	const why = "mode \"cluster\" "
	f := &c.Faults
	switch {
	case c.Scenario != "random":
		return fmt.Errorf("scenario: %sruns the random scenario only, got %q", why, c.Scenario)
	case c.Timing != "async":
		return fmt.Errorf("timing: %sneeds timing = \"async\": real nodes have no seed timing model", why)
	case c.Nodes+c.Joiners > clusterLimit:
		return fmt.Errorf("joiners: %sstarts at most %d nodes, got %d members + %d joiners", why, clusterLimit, c.Nodes, c.Joiners)
	case f.Loss > 0:
		return fmt.Errorf("faults.loss: %scannot inject faults", why)
	case f.Duplicate > 0:
		return fmt.Errorf("faults.duplicate: %scannot inject faults", why)
	case f.ReorderWindow > 0:
		return fmt.Errorf("faults.reorder_window: %scannot inject faults", why)
	case f.SpikeProb > 0:
		return fmt.Errorf("faults.spike_prob: %scannot inject faults", why)
	case f.CrashNode != "":
		return fmt.Errorf("faults.crash_node: %scannot inject faults", why)
	case f.PartitionFraction > 0:
		return fmt.Errorf("faults.partition_fraction: %scannot inject faults", why)
	case c.Workload.Active():
		return fmt.Errorf("workload: %sruns joins only, not a DHT workload", why)
	case c.Leavers > 0:
		return fmt.Errorf("leavers: %sruns joins only, not leaves", why)
	}
	return nil
}

// column is the runs table column of a parameter that is not a duration.
func column(name string) string { return strings.ReplaceAll(name, ".", "_") }

func floatParam(name string, field func(c *sim.Config) *float64) param {
	return param{name: name, column: column(name), kind: KindFloat, set: func(c *sim.Config, v Value) error {
		*field(c) = v.Float
		return nil
	}}
}

func lookupParam(name string) *param {
	for i := range params {
		if params[i].name == name {
			return &params[i]
		}
	}
	return nil
}

func paramNames() []string {
	names := make([]string, len(params))
	for i := range params {
		names[i] = params[i].name
	}
	return names
}

// blamedParams names the parameters a sim.Config.Validate message may be about, the likeliest
// first. Validate starts its messages with the parameter's spec name, which lets a spec error
// point at the line that set it; a name without a dot ("faults", "workload") stands for its
// whole table.
func blamedParams(msg string, c *sim.Config) []string {
	w := &c.Workload
	// Some messages cover several parameters: a negative one is the culprit, and when none
	// is, any of them will do.
	for _, m := range []struct {
		prefix string
		names  []string
		vals   []float64
	}{
		{"workload.lookup, get", []string{"workload.lookup", "workload.get", "workload.put"}, []float64{w.Lookup, w.Get, w.Put}},
		{"workload.before and workload.after", []string{"workload.before", "workload.after"}, []float64{float64(w.Before), float64(w.After)}},
	} {
		if !strings.HasPrefix(msg, m.prefix) {
			continue
		}
		var neg, rest []string
		for i, n := range m.names {
			if m.vals[i] < 0 {
				neg = append(neg, n)
			} else {
				rest = append(rest, n)
			}
		}
		return append(neg, rest...)
	}
	best := ""
	for i := range params {
		n := params[i].name
		if len(n) > len(best) && len(msg) > len(n) && msg[:len(n)] == n {
			switch msg[len(n)] {
			case ':', ' ':
				best = n
			}
		}
	}
	switch {
	case best != "":
	case strings.HasPrefix(msg, "unknown delay distribution"):
		best = "delay.kind"
	case strings.HasPrefix(msg, "fault"):
		best = "faults" // the [base.faults] table as a whole
	case strings.HasPrefix(msg, "workload"):
		best = "workload"
	default:
		return nil
	}
	return []string{best}
}
