// Package runlog prints simulated runs for people: the message log, final ring and
// outcome of one run, and the summary of one configuration over many seeds.
package runlog

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

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
	return string(appendTime(nil, cfg, t))
}

// appendTime appends formatTime's text to b.
func appendTime(b []byte, cfg *sim.Config, t int64) []byte {
	if cfg.Timing == "seed" {
		return strconv.AppendInt(b, t/cfg.Unit, 10)
	}
	return append(strconv.AppendFloat(b, float64(t)/1e6, 'f', 3, 64), "ms"...)
}

// appendID appends id as protocol.ID's String does.
func appendID(b []byte, id protocol.ID) []byte {
	if id == protocol.None {
		return append(b, '-')
	}
	return strconv.AppendUint(b, uint64(id), 10)
}

// logTracer prints the run as the original did: one line per message sent, plus the
// state changes and violations a student needs to see why a join failed. A large run
// prints a line for nearly every event, so that each line is built in one buffer, without
// fmt.
type logTracer struct {
	w    io.Writer
	cfg  *sim.Config
	p    palette
	last map[protocol.ID]stateLine // last state line per node, to skip queue-only changes
	buf  []byte
}

// stateLine is what a state line shows besides its time.
type stateLine struct {
	left, right protocol.ID
	detail      string
}

func (l *logTracer) Event(e *observe.Event) {
	b := l.buf[:0]
	// stamp starts a line: colour, then the time in brackets.
	stamp := func(b []byte, col string) []byte {
		b = append(append(b, col...), '[')
		return append(appendTime(b, l.cfg, e.Time), ']')
	}
	// route appends " type from -> to".
	route := func(b []byte) []byte {
		b = append(append(b, ' '), e.MsgType.String()...)
		b = appendID(append(b, ' '), e.From)
		return appendID(append(b, " -> "...), e.To)
	}
	switch e.Kind {
	case observe.KindSend:
		switch {
		case protocol.IsDHTMessage(e.MsgType):
			b = appendID(append(route(stamp(b, l.p.dim)), " (for "...), e.Joiner)
			b = append(append(b, ')'), l.p.reset...)
		case e.Joiner != protocol.None:
			b = appendID(append(route(stamp(b, "")), " (joiner "...), e.Joiner)
			b = append(b, ')')
		default:
			b = route(stamp(b, ""))
		}
	case observe.KindState:
		st := stateLine{e.Left, e.Right, e.Detail}
		if old, ok := l.last[e.Node]; ok && old == st {
			return
		}
		l.last[e.Node] = st
		b = appendID(append(stamp(b, l.p.dim), "     "...), e.Node)
		b = appendID(append(b, ": left="...), e.Left)
		b = appendID(append(b, " right="...), e.Right)
		if e.Detail != "" {
			b = append(append(append(b, " ("...), e.Detail...), ')')
		}
		b = append(b, l.p.reset...)
	case observe.KindJoinEnd:
		b = appendID(append(stamp(b, l.p.green), ' '), e.Node)
		b = appendID(append(b, " joined: left="...), e.Left)
		b = appendID(append(b, " right="...), e.Right)
		b = append(b, l.p.reset...)
	case observe.KindDrop:
		b = append(append(b, l.p.yellow...), '[')
		b = appendTime(b, l.cfg, e.Time)
		b = append(route(append(b, "] drop"...)), l.p.reset...)
	case observe.KindFault:
		// Crashes, restarts, partitions and joins that failed: without them a message log
		// shows messages dropped at a node for no visible reason.
		b = appendID(append(stamp(b, l.p.yellow), " fault at "...), e.Node)
		if e.MsgType != 0 {
			b = route(append(b, ':'))
		}
		b = append(append(append(b, ": "...), e.Detail...), l.p.reset...)
	case observe.KindViolation:
		b = appendID(append(stamp(b, l.p.red), " VIOLATION at "...), e.Node)
		b = append(append(append(b, ": "...), e.Detail...), l.p.reset...)
	default:
		return
	}
	l.buf = append(b, '\n')
	l.w.Write(l.buf)
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
		tracer = &logTracer{w: w, cfg: &cfg, p: p, last: map[protocol.ID]stateLine{}}
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
