package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

func init() {
	commands = append(commands, runCommand())
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "simulate one configuration for one seed (message log) or many (summary)",
		ArgsUsage: " ",
		Description: `With one seed, prints the message log, the final ring and the outcome.
With --seeds N, runs seeds seed..seed+N-1 on all cores and prints a summary.

Examples:
  dhtexp run --scenario simple --seed 7
  dhtexp run --scenario simple --seeds 1000
  dhtexp run --scenario random --nodes 64 --joiners 16 --timing async --delay uniform --delay-min 1ms --delay-max 20ms --seeds 500`,
		Flags:  simFlags(),
		Action: runAction,
	}
}

// simFlags names everything a simulated run has; run, replay and shrink share them. One flag
// per parameter comes from params.All, with the parameter's default and doc.
func simFlags() []cli.Flag {
	var flags []cli.Flag
	for i := range params.All {
		p := &params.All[i]
		if p.Flag == "-" {
			continue
		}
		d := p.Default()
		switch p.Kind {
		case params.KindString:
			flags = append(flags, &cli.StringFlag{Name: p.Flag, Value: d.Str, Usage: p.Doc})
		case params.KindInt:
			flags = append(flags, &cli.Int64Flag{Name: p.Flag, Value: d.Int, Usage: p.Doc})
		case params.KindDuration:
			flags = append(flags, &cli.DurationFlag{Name: p.Flag, Value: time.Duration(d.Int), Usage: p.Doc})
		case params.KindFloat:
			flags = append(flags, &cli.Float64Flag{Name: p.Flag, Value: d.Float, Usage: p.Doc})
		case params.KindBool:
			usage := p.Doc
			if p.Negated() {
				usage = "do not " + usage
			}
			flags = append(flags, &cli.BoolFlag{Name: p.Flag, Value: d.Bool != p.Negated(), Usage: usage})
		}
	}
	return append(flags,
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "run seed (the first seed with --seeds)"},
		&cli.IntFlag{Name: "seeds", Value: 1, Usage: "number of seeds; more than one prints a summary"},
		&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "parallel runs with --seeds"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "auto | always | never"},
	)
}

// configFromFlags starts from the parameters' defaults and sets those given on the command
// line through the parameters' own setters, as a spec's [base] would.
func configFromFlags(c *cli.Context) (sim.Config, error) {
	r := params.Default()
	for i := range params.All {
		p := &params.All[i]
		if p.Flag == "-" || !c.IsSet(p.Flag) {
			continue
		}
		v := params.Value{Kind: p.Kind}
		switch p.Kind {
		case params.KindString:
			v.Str = c.String(p.Flag)
		case params.KindInt:
			v.Int = c.Int64(p.Flag)
		case params.KindDuration:
			v.Int = int64(c.Duration(p.Flag))
		case params.KindFloat:
			v.Float = c.Float64(p.Flag)
		case params.KindBool:
			v.Bool = c.Bool(p.Flag) != p.Negated()
		}
		if err := p.Set(&r, v); err != nil {
			return r.Config, usagef("--%s: %v", p.Flag, err)
		}
	}
	cfg := r.Config
	cfg.Seed = c.Uint64("seed")
	if n := c.Int("seeds"); n < 1 {
		return cfg, usagef("--seeds must be at least 1, got %d", n)
	}
	if w := c.Int("workers"); w < 1 {
		return cfg, usagef("--workers must be at least 1, got %d", w)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

func runAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("run takes no arguments, got %q", c.Args().Slice())
	}
	cfg, err := configFromFlags(c)
	if err != nil {
		return err
	}
	color, err := wantColor(c.String("color"), c.App.Writer)
	if err != nil {
		return err
	}
	if c.Int("seeds") == 1 {
		return runOne(c.App.Writer, cfg, color)
	}
	return runMany(c.App.Writer, cfg, c.Int("seeds"), c.Int("workers"), color)
}

func wantColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, usagef("--color must be auto, always or never, got %q", mode)
}

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

func runOne(w io.Writer, cfg sim.Config, color bool) error {
	p := newPalette(color)
	fmt.Fprintf(w, "%sscenario=%s protocol=%s timing=%s delay=%s seed=%d%s\n", p.bold,
		cfg.Scenario, cfg.Protocol, cfg.Timing, cfg.Delay, cfg.Seed, p.reset)
	r, err := sim.Run(cfg, &logTracer{w: w, cfg: &cfg, p: p, last: map[protocol.ID]string{}})
	if err != nil {
		return usagef("%v", err)
	}
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

type runSummary struct {
	outcome   string
	correct   bool
	joins     int
	joinsOK   int
	latencies []int64
	messages  int64
	events    int64
}

func runMany(w io.Writer, cfg sim.Config, seeds, workers int, color bool) error {
	p := newPalette(color)
	sums := make([]runSummary, seeds)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cfg
				c.Seed = cfg.Seed + uint64(i)
				r, err := sim.Run(c, nil)
				if err != nil {
					sums[i] = runSummary{outcome: "error: " + err.Error()}
					continue
				}
				s := runSummary{outcome: r.Outcome, correct: r.RingCorrect, joins: len(r.Joins),
					joinsOK: r.JoinsSucceeded(), messages: r.Messages, events: r.Events}
				for k := range r.Joins {
					if l := r.Joins[k].Latency(); l >= 0 && r.Joins[k].Outcome == observe.JoinOK {
						s.latencies = append(s.latencies, l)
					}
				}
				sums[i] = s
			}
		}()
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)

	classes := map[string]int{}
	var ok, correct, joins, joinsOK int
	var msgs, events int64
	var lat []int64
	for i := range sums {
		s := &sums[i]
		classes[s.outcome]++
		if s.outcome == observe.OutcomeOK {
			ok++
		}
		if s.correct {
			correct++
		}
		joins += s.joins
		joinsOK += s.joinsOK
		msgs += s.messages
		events += s.events
		lat = append(lat, s.latencies...)
	}
	slices.Sort(lat)
	fmt.Fprintf(w, "%s%d runs%s of scenario=%s protocol=%s timing=%s delay=%s, seeds %d..%d\n", p.bold, seeds, p.reset,
		cfg.Scenario, cfg.Protocol, cfg.Timing, cfg.Delay, cfg.Seed, cfg.Seed+uint64(seeds)-1)
	lo, hi := wilson(ok, seeds)
	fmt.Fprintf(w, "  run success (outcome ok):  %5.1f%%  95%% CI [%.1f%%, %.1f%%]  (%d/%d)\n", 100*frac(ok, seeds), 100*lo, 100*hi, ok, seeds)
	lo, hi = wilson(correct, seeds)
	fmt.Fprintf(w, "  correct final ring:        %5.1f%%  95%% CI [%.1f%%, %.1f%%]  (%d/%d)\n", 100*frac(correct, seeds), 100*lo, 100*hi, correct, seeds)
	lo, hi = wilson(joinsOK, joins)
	fmt.Fprintf(w, "  join success:              %5.1f%%  95%% CI [%.1f%%, %.1f%%]  (%d/%d)\n", 100*frac(joinsOK, joins), 100*lo, 100*hi, joinsOK, joins)
	fmt.Fprintf(w, "  outcomes:\n")
	for _, name := range append(slices.Clone(observe.Outcomes), sortedExtra(classes)...) {
		if n := classes[name]; n > 0 {
			col := p.red
			if name == observe.OutcomeOK {
				col = p.green
			}
			fmt.Fprintf(w, "    %s%-17s%s %7d  %5.1f%%\n", col, name, p.reset, n, 100*frac(n, seeds))
		}
	}
	if len(lat) > 0 {
		fmt.Fprintf(w, "  join latency:  p50 %s  p99 %s  max %s\n", formatTime(&cfg, quantile(lat, 0.5)),
			formatTime(&cfg, quantile(lat, 0.99)), formatTime(&cfg, lat[len(lat)-1]))
	}
	if joins > 0 {
		fmt.Fprintf(w, "  messages per join: %.2f\n", float64(msgs)/float64(joins))
	}
	fmt.Fprintf(w, "  %d events in %s (%.2f M events/s on %d workers)\n", events, wall.Round(time.Millisecond),
		float64(events)/wall.Seconds()/1e6, workers)
	return nil
}

// sortedExtra returns outcome names outside observe.Outcomes (errors), sorted, so output order
// never depends on map iteration.
func sortedExtra(classes map[string]int) []string {
	var extra []string
	for k := range classes {
		if !slices.Contains(observe.Outcomes, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return extra
}

func frac(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// wilson is the 95% Wilson score interval for k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	iv := stats.Wilson(int64(k), int64(n), stats.Z95)
	return iv.Lo, iv.Hi
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}
