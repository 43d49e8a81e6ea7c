package runlog

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

// fmtTracer is the message log as it was first written, with fmt: the reference the
// faster logTracer must match byte for byte.
type fmtTracer struct {
	w    io.Writer
	cfg  *sim.Config
	p    palette
	last map[protocol.ID]string
}

func (l *fmtTracer) Event(e *observe.Event) {
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
	case observe.KindFault:
		what := ""
		if e.MsgType != 0 {
			what = fmt.Sprintf(": %s %v -> %v", e.MsgType, e.From, e.To)
		}
		fmt.Fprintf(l.w, "%s[%s] fault at %v%s: %s%s\n", l.p.yellow, t, e.Node, what, e.Detail, l.p.reset)
	case observe.KindViolation:
		fmt.Fprintf(l.w, "%s[%s] VIOLATION at %v: %s%s\n", l.p.red, t, e.Node, e.Detail, l.p.reset)
	}
}

// The message log is the same, byte for byte, as the fmt version printed, for every kind of
// line: sends with and without a joiner, DHT traffic, state changes, joins, drops, faults and
// violations, in both timing models, with colour and without.
func TestLogTracerMatchesFmt(t *testing.T) {
	advanced := simple(3)
	advanced.Scenario, advanced.Nodes = "advanced", 40
	async := simple(5)
	async.Scenario, async.Nodes, async.Joiners, async.Timing = "random", 40, 10, "async"
	async.Delay = sim.Delay{Kind: "uniform", Min: 1e6, Max: 20e6}
	dht := async
	dht.Protocol, dht.Workload.Keys, dht.Workload.Rate, dht.Workload.After = "predlock", 50, 2000, 100e6
	faults := async
	faults.Protocol = "predlock-retry"
	faults.Faults.PartitionFraction, faults.Faults.PartitionAt, faults.Faults.HealAt = 0.3, 5e6, 60e6
	faults.Faults.CrashNode, faults.Faults.CrashAt = "member", 10e6
	kinds := map[string]bool{}
	for name, cfg := range map[string]sim.Config{"simple": simple(2), "advanced": advanced, "async": async, "dht": dht, "faults": faults} {
		for _, color := range []bool{false, true} {
			for seed := range uint64(4) {
				cfg.Seed = seed + 1
				var got, want bytes.Buffer
				p := newPalette(color)
				if _, err := sim.Run(cfg, &logTracer{w: &got, cfg: &cfg, p: p, last: map[protocol.ID]stateLine{}}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if _, err := sim.Run(cfg, &fmtTracer{w: &want, cfg: &cfg, p: p, last: map[protocol.ID]string{}}); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
					for i := range min(len(g), len(w)) {
						if g[i] != w[i] {
							t.Fatalf("%s seed %d colour %v, line %d:\n got %q\nwant %q", name, cfg.Seed, color, i+1, g[i], w[i])
						}
					}
					t.Fatalf("%s seed %d colour %v: %d lines, want %d", name, cfg.Seed, color, len(g), len(w))
				}
				for _, k := range []string{" drop ", "VIOLATION", " joined: ", " (for ", " (joiner ", "ms] "} {
					if strings.Contains(want.String(), k) {
						kinds[k] = true
					}
				}
			}
		}
	}
	for _, k := range []string{" drop ", "VIOLATION", " joined: ", " (for ", " (joiner ", "ms] "} {
		if !kinds[k] {
			t.Errorf("no run printed a line with %q: the comparison misses it", k)
		}
	}
}

// BenchmarkMessageLog prints the message log of one run of advanced n = 999 to 10,000 units
// (about 226,000 lines), the log's largest yardstick, to a discarding writer.
func BenchmarkMessageLog(b *testing.B) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Nodes, cfg.Horizon, cfg.Seed = "advanced", 999, 10_000*cfg.Unit, 1
	for i := 0; i < b.N; i++ {
		if err := OneWith(io.Discard, cfg, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
