package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
)

// ShrinkOptions bounds the search.
type ShrinkOptions struct {
	SeedsPerCandidate int // seeds tried for each smaller configuration (default 200)
	MaxRuns           int // total simulations allowed (default 200,000)
}

// ShrinkResult is the smallest failing configuration found.
type ShrinkResult struct {
	Config  sim.Config
	Outcome string
	Detail  string
	Steps   []string // what was reduced, in order
	Runs    int
}

// WriteText prints what was kept, each reduction, and the command that replays the result.
func (r *ShrinkResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "outcome %s kept through %d reduction(s) in %d runs:\n", r.Outcome, len(r.Steps), r.Runs)
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintf(w, "fails with: %s\nreplay with:\n  %s\n", r.Detail, CommandLine(r.Config))
}

// Shrink reduces a failing run greedily — fewer joiners, fewer members, a narrower delay
// spread, a shorter join window, fewer faults — keeping any reduction for which some seed
// still fails with the same outcome class. The result is deterministic for a given input.
func Shrink(cfg sim.Config, opt ShrinkOptions) (*ShrinkResult, error) {
	if opt.SeedsPerCandidate <= 0 {
		opt.SeedsPerCandidate = 200
	}
	if opt.MaxRuns <= 0 {
		opt.MaxRuns = 200_000
	}
	r, err := sim.Run(cfg, nil)
	if err != nil {
		return nil, err
	}
	if r.Outcome == observe.OutcomeOK {
		return nil, fmt.Errorf("seed %d of this configuration does not fail: nothing to shrink", cfg.Seed)
	}
	res := &ShrinkResult{Config: cfg, Outcome: r.Outcome, Detail: r.Detail, Runs: 1}
	for {
		improved := false
		for _, c := range candidates(res.Config) {
			if res.Runs >= opt.MaxRuns {
				return res, nil
			}
			if err := c.cfg.Validate(); err != nil {
				continue
			}
			found := false
			for k := 0; k < opt.SeedsPerCandidate && res.Runs < opt.MaxRuns; k++ {
				try := c.cfg
				try.Seed = c.cfg.Seed + uint64(k)
				rr, err := sim.Run(try, nil)
				res.Runs++
				if err != nil {
					break
				}
				if rr.Outcome == res.Outcome {
					res.Config, res.Detail = try, rr.Detail
					res.Steps = append(res.Steps, c.what)
					found = true
					break
				}
			}
			if found {
				improved = true
				break
			}
		}
		if !improved {
			return res, nil
		}
	}
}

type candidate struct {
	what string
	cfg  sim.Config
}

func candidates(c sim.Config) []candidate {
	var out []candidate
	add := func(what string, f func(*sim.Config)) {
		n := c
		f(&n)
		out = append(out, candidate{what, n})
	}
	switch c.Scenario {
	case "advanced":
		if c.Nodes > 5 {
			add(fmt.Sprintf("nodes %d -> %d", c.Nodes, c.Nodes-1), func(n *sim.Config) { n.Nodes-- })
		}
	case "random":
		if c.Joiners > 1 {
			half := c.Joiners / 2
			add(fmt.Sprintf("joiners %d -> %d", c.Joiners, half), func(n *sim.Config) { n.Joiners = half })
			add(fmt.Sprintf("joiners %d -> %d", c.Joiners, c.Joiners-1), func(n *sim.Config) { n.Joiners-- })
		}
		if c.Nodes > 1 {
			half := max(1, c.Nodes/2)
			add(fmt.Sprintf("nodes %d -> %d", c.Nodes, half), func(n *sim.Config) { n.Nodes = half })
			add(fmt.Sprintf("nodes %d -> %d", c.Nodes, c.Nodes-1), func(n *sim.Config) { n.Nodes-- })
		}
	}
	if c.JoinWindow > 0 {
		add("join_window -> 0", func(n *sim.Config) { n.JoinWindow = 0 })
	}
	d := c.Delay
	switch d.Kind {
	case "uniform", "uniform-int":
		if d.Max > d.Min {
			mid := d.Min + (d.Max-d.Min)/2
			if d.Kind == "uniform-int" {
				step := d.Step
				if step <= 0 {
					step = c.Unit
				}
				mid -= (mid - d.Min) % step
			}
			if mid < d.Max {
				add(fmt.Sprintf("delay.max %s -> %s", time.Duration(d.Max), time.Duration(mid)), func(n *sim.Config) { n.Delay.Max = mid })
			}
		}
	case "lognormal":
		if d.Sigma > 0.1 {
			add(fmt.Sprintf("delay.sigma %g -> %g", d.Sigma, d.Sigma/2), func(n *sim.Config) { n.Delay.Sigma = d.Sigma / 2 })
		}
	}
	f := c.Faults
	if f.Loss > 0 {
		add("faults.loss -> 0", func(n *sim.Config) { n.Faults.Loss = 0 })
	}
	if f.Duplicate > 0 {
		add("faults.duplicate -> 0", func(n *sim.Config) { n.Faults.Duplicate = 0 })
	}
	if f.ReorderWindow > 0 {
		add("faults.reorder_window -> 0", func(n *sim.Config) { n.Faults.ReorderWindow = 0 })
	}
	if f.SpikeProb > 0 {
		add("faults.spike_prob -> 0", func(n *sim.Config) { n.Faults.SpikeProb, n.Faults.Spike = 0, 0 })
	}
	if f.CrashNode != "" {
		add("no crash", func(n *sim.Config) {
			n.Faults.CrashNode, n.Faults.CrashAt, n.Faults.CrashAfter, n.Faults.RestartAfter = "", 0, "", 0
		})
	}
	if f.PartitionFraction > 0 {
		add("no partition", func(n *sim.Config) { n.Faults.PartitionFraction, n.Faults.PartitionAt, n.Faults.HealAt = 0, 0, 0 })
	}
	return out
}

// CommandLine spells the `dhtexp run` invocation that replays cfg, naming only the flags
// that differ from the defaults.
func CommandLine(cfg sim.Config) string {
	return "dhtexp run " + strings.Join(Args(cfg), " ")
}

// Args are the flags of `dhtexp run` (and `dhtexp replay`, which takes the same ones) that
// set cfg, one command line word each: only those that differ from the defaults, and the
// seed.
func Args(cfg sim.Config) []string {
	d := params.Default()
	r := params.Run{Mode: params.ModeSim, Config: cfg}
	var args []string
	for i := range params.All {
		p := &params.All[i]
		v := p.Get(&r)
		if p.Flag == "-" || v == p.Get(&d) {
			continue
		}
		switch {
		case p.Negated():
			args = append(args, "--"+p.Flag)
		case p.Kind == params.KindBool:
			args = append(args, fmt.Sprintf("--%s=%s", p.Flag, v))
		default:
			args = append(args, "--"+p.Flag, v.String())
		}
	}
	return append(args, "--seed", strconv.FormatUint(cfg.Seed, 10))
}
