package analysis

import (
	"fmt"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// Completeness says how much of its experiment a result set holds. A sweep that was stopped,
// or one shard of several, still analyses cleanly, and its rates look like an experiment's:
// only the counts here tell that some grid points have no runs at all.
type Completeness struct {
	Runs    int64 // runs present
	Planned int64 // runs of the whole experiment: grid points × seeds
	Points  int   // grid points
	// Empty lists the grid points without a single run; Partial those with some runs but
	// fewer than the spec's seeds.
	Empty, Partial []int
	// Shard is the slice of a sharded sweep the result set holds (Count > 1), whose other
	// shards' runs are planned but never here.
	Shard trace.Shard
	// Finished is false when the sweep stopped before its last run.
	Finished bool
}

// CompletenessOf counts s's runs against its manifest's plan.
func CompletenessOf(s *Summary) Completeness {
	m := s.Manifest
	c := Completeness{Runs: s.Runs, Points: len(s.Points), Shard: m.Shard, Finished: m.Finished != ""}
	c.Planned = m.RunsTotal
	if c.Planned == 0 {
		c.Planned = int64(len(m.Grid)) * int64(m.Seeds)
	}
	seeds := int64(m.Seeds)
	for _, p := range s.Points {
		switch {
		case p.Runs == 0:
			c.Empty = append(c.Empty, p.Index)
		case p.Runs < seeds:
			c.Partial = append(c.Partial, p.Index)
		}
	}
	return c
}

// Complete reports whether every planned run is present.
func (c Completeness) Complete() bool {
	return c.Runs >= c.Planned && len(c.Empty) == 0 && len(c.Partial) == 0
}

// Banner is the warning a report and check print over an incomplete result set, "" for a
// complete one. It names the counts first, since they are what a reader must weigh every
// rate below against, and then the way to complete the set.
func (c Completeness) Banner() string {
	if c.Complete() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d planned runs present (%.1f %%); of %d grid points, %d %s no runs and %d only some.",
		c.Runs, c.Planned, 100*float64(c.Runs)/float64(max(c.Planned, 1)), c.Points,
		len(c.Empty), plural(len(c.Empty), "has", "have"), len(c.Partial))
	if len(c.Empty) > 0 {
		fmt.Fprintf(&b, " Empty grid points: %s.", listInts(c.Empty, 12))
	}
	b.WriteString(" Rates, tables and figures cover the runs present only.")
	switch {
	case c.Shard.Count > 1:
		fmt.Fprintf(&b, " This result set is shard %d/%d (%d-of-%d counting from 1; shards count from 0): combine all %d shards with dhtexp merge.",
			c.Shard.Index, c.Shard.Count, c.Shard.Index+1, c.Shard.Count, c.Shard.Count)
	case !c.Finished:
		b.WriteString(" The sweep stopped before its end: continue it with dhtexp sweep SPEC --resume -o RESULTS.")
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listInts writes at most limit numbers, then how many more there are: a grid of thousands
// of points must not turn the banner into a page.
func listInts(xs []int, limit int) string {
	var b strings.Builder
	for i, x := range xs {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(xs)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}
