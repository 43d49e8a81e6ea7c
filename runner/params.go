package runner

import (
	"fmt"
	"strings"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
)

// The parameter types are package params'; runner names them for its callers.
type (
	Kind  = params.Kind
	Value = params.Value
)

// Parameter kinds.
const (
	KindString   = params.KindString
	KindInt      = params.KindInt
	KindDuration = params.KindDuration
	KindBool     = params.KindBool
	KindFloat    = params.KindFloat
)

// Modes say what runs a grid point: the simulator, or real nodes on loopback sockets
// through Options.Real.
const (
	ModeSim     = params.ModeSim
	ModeCluster = params.ModeCluster
)

// Modes lists the values of the mode parameter, the default first.
var Modes = params.Modes

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
	case c.JoinRouting == "fingers":
		return fmt.Errorf("join_routing: %sroutes joins along the ring: real nodes start without fingers", why)
	case c.Churn.On():
		return fmt.Errorf("churn.session: %sruns joins only, not churn", why)
	case c.Stabilize != 0:
		return fmt.Errorf("stabilize: %sruns nodes with the variant's own stabilization period", why)
	}
	return nil
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
	for i := range params.All {
		n := params.All[i].Name
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
