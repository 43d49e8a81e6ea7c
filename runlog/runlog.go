// Package runlog prints simulated runs for people: the message log, final ring and
// outcome of one run, and the summary of one configuration over many seeds.
package runlog

import (
	"bufio"
	"fmt"
	"io"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

// palette holds ANSI sequences, empty when colour is off.
type palette struct{ dim, bold, red, green, yellow, cyan, reset string }

func newPalette(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{dim: "\x1b[2m", bold: "\x1b[1m", red: "\x1b[31m", green: "\x1b[32m",
		yellow: "\x1b[33m", cyan: "\x1b[36m", reset: "\x1b[0m"}
}

// formatTime prints virtual time in the seed model's units, or in milliseconds otherwise.
func formatTime(cfg *sim.Config, t int64) string {
	if cfg.Timing == "seed" {
		return fmt.Sprintf("%d", t/cfg.Unit)
	}
	return fmt.Sprintf("%.3fms", float64(t)/1e6)
}

// logTracer prints the run as the original did: one line per message sent, plus the
// state changes and violations a student needs to see why a join failed.
type logTracer struct {
	w    io.Writer
	cfg  *sim.Config
	p    palette
	last map[protocol.ID]string // last state line per node, to skip queue-only changes
}

func (l *logTracer) Event(e *observe.Event) {
	t := formatTime(l.cfg, e.Time)
	switch e.Kind {
	case observe.KindSend:
		line := fmt.Sprintf("[%s] %s %v -> %v", t, e.MsgType, e.From, e.To)
		if protocol.IsDHTMessage(e.MsgType) {
			line = fmt.Sprintf("%s[%s] %s %v -> %v (for %v)%s", l.p.dim, t, e.MsgType, e.From, e.To, e.Joiner, l.p.reset)
		} else if e.Joiner != protocol.None {
			line += fmt.Sprintf(" (joiner %v)", e.Joiner)
		}
		fmt.Fprintln(l.w, line)
	case observe.KindState:
		flags := ""
		if e.Detail != "" {
			flags = " (" + e.Detail + ")"
		}
		line := fmt.Sprintf("%v: left=%v right=%v%s", e.Node, e.Left, e.Right, flags)
		if l.last[e.Node] == line {
			return
		}
		l.last[e.Node] = line
		fmt.Fprintf(l.w, "%s[%s]     %s%s\n", l.p.dim, t, line, l.p.reset)
	case observe.KindJoinEnd:
		fmt.Fprintf(l.w, "%s[%s] %v joined: left=%v right=%v%s\n", l.p.green, t, e.Node, e.Left, e.Right, l.p.reset)
	case observe.KindDrop:
		fmt.Fprintf(l.w, "%s[%s] drop %s %v -> %v%s\n", l.p.yellow, t, e.MsgType, e.From, e.To, l.p.reset)
	case observe.KindViolation:
		fmt.Fprintf(l.w, "%s[%s] VIOLATION at %v: %s%s\n", l.p.red, t, e.Node, e.Detail, l.p.reset)
	}
}

// Options say how One prints.
type Options struct {
	Color bool // ANSI colour
	Quiet bool // the header and the outcome only: no message log, no final ring
}

// One simulates cfg and prints its message log, final ring and outcome, in colour when
// color is set. Its error is the simulator's refusal of cfg.
func One(w io.Writer, cfg sim.Config, color bool) error {
	return OneWith(w, cfg, Options{Color: color})
}

// OneWith is One with its options. The log is buffered, as a large run writes one line
// per event; whatever was printed is flushed before it returns, error or not.
func OneWith(w io.Writer, cfg sim.Config, o Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	return one(bw, cfg, o)
}

func one(w io.Writer, cfg sim.Config, o Options) error {
	p := newPalette(o.Color)
	fmt.Fprintf(w, "%sscenario=%s protocol=%s timing=%s delay=%s seed=%d%s\n", p.bold,
		cfg.Scenario, cfg.Protocol, cfg.Timing, cfg.Delay, cfg.Seed, p.reset)
	var tracer observe.Tracer
	if !o.Quiet {
		tracer = &logTracer{w: w, cfg: &cfg, p: p, last: map[protocol.ID]string{}}
	}
	r, err := sim.Run(cfg, tracer)
	if err != nil {
		return err
	}
	if !o.Quiet {
		printRing(w, r, p)
	}
	col := p.green
	if r.Outcome != observe.OutcomeOK {
		col = p.red
	}
	fmt.Fprintf(w, "\noutcome: %s%s%s", col, r.Outcome, p.reset)
	if r.Detail != "" {
		fmt.Fprintf(w, " (%s)", r.Detail)
	}
	fmt.Fprintf(w, "\njoins: %d/%d  messages: %d  redirects: %d  events: %d  time: %s\n",
		r.JoinsSucceeded(), len(r.Joins), r.Messages, r.Redirects, r.Events, formatTime(&cfg, r.SimTime))
	if cfg.Leavers > 0 {
		fmt.Fprintf(w, "leaves: %d/%d departed\n", r.Departed, r.Leaves)
	}
	if cfg.Workload.Active() {
		printDHT(w, &r.KV, p)
	}
	return nil
}

// printRing prints the final ring, one node a line.
func printRing(w io.Writer, r *sim.Result, p palette) {
	fmt.Fprintf(w, "\n%sfinal ring%s (left <- node -> right):\n", p.bold, p.reset)
	for _, st := range r.Final {
		flags := ""
		if !st.Connected {
			flags += " not-connected"
		}
		if st.Locked {
			flags += " locked"
		}
		if st.Queue > 0 {
			flags += fmt.Sprintf(" queue=%d", st.Queue)
		}
		fmt.Fprintf(w, "  %v <- %v -> %v%s\n", st.Left, st.ID, st.Right, flags)
	}
}

// printDHT summarises a run's DHT workload: what the operations met, and key safety.
func printDHT(w io.Writer, k *sim.KVSummary, p palette) {
	hops := "-"
	if k.LookupsOK > 0 {
		hops = fmt.Sprintf("%.2f", float64(k.LookupHops)/float64(k.LookupsOK))
	}
	fmt.Fprintf(w, "dht: %d keys, %d operations (%d answered, %d ok), %d DHT messages\n", k.Keys, k.Ops, k.Answered, k.OpsOK, k.Messages)
	fmt.Fprintf(w, "     lookups %d/%d named the true owner, %s hops each; gets %d, %d missing, %d stale\n",
		k.LookupsOK, k.Lookups, hops, k.Gets, k.Missing, k.Stale)
	col := p.green
	if k.KeyFailures > 0 || k.Lost+k.Duplicated+k.Misplaced > 0 {
		col = p.red
	}
	fmt.Fprintf(w, "     key safety: %s%d of %d checks failed%s; at the end %d lost, %d duplicated, %d misplaced\n",
		col, k.KeyFailures, k.KeyChecks, p.reset, k.Lost, k.Duplicated, k.Misplaced)
	if k.FirstFailure != "" {
		fmt.Fprintf(w, "     first failure: %s\n", k.FirstFailure)
	}
	fmt.Fprintf(w, "     fingers %d, %d stale", k.Fingers, k.FingersStale)
	if k.ReplicasMissing+k.ReplicasExtra > 0 {
		fmt.Fprintf(w, "; replicas %d missing, %d extra", k.ReplicasMissing, k.ReplicasExtra)
	}
	fmt.Fprintln(w)
}
