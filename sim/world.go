package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// Spec is one node as a scenario creates it, in creation order.
type Spec struct {
	ID      protocol.ID
	Member  bool
	Left    protocol.ID // members only
	Right   protocol.ID // members only
	Contact protocol.ID // newcomers only
	Start   int64       // when the node's loop (or join) starts
}

// BuildScenario lays out the nodes of a run. Contacts are drawn among the initial members in
// creation order, start times after them, all from the topology stream.
func BuildScenario(c *Config, r *rand.Rand) ([]Spec, error) {
	// Members are the initial ring; every other node in the creation order is a newcomer.
	var members []protocol.ID
	var order []protocol.ID // creation order
	switch c.Scenario {
	case "simple":
		members = []protocol.ID{1, 49, 50}
		order = []protocol.ID{1, 2, 3, 49, 50}
	case "advanced":
		n := protocol.ID(c.Nodes)
		members = []protocol.ID{1, n - 2, n - 1}
		order = append(order, members...)
		for id := protocol.ID(2); id <= n-3; id++ {
			order = append(order, id)
		}
	case "random":
		space := (protocol.Ring{Bits: c.Bits}).Size()
		total := c.Nodes + c.Joiners
		seen := make(map[protocol.ID]struct{}, total)
		ids := make([]protocol.ID, 0, total)
		for len(ids) < total {
			id := protocol.ID(r.Uint64N(space))
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
		members = slices.Clone(ids[:c.Nodes])
		slices.Sort(members)
		order = append(slices.Clone(members), ids[c.Nodes:]...)
	default:
		return nil, fmt.Errorf("unknown scenario %q", c.Scenario)
	}

	sorted := slices.Clone(members)
	slices.Sort(sorted)
	specs := make([]Spec, 0, len(order))
	isMember := make(map[protocol.ID]int, len(sorted))
	for i, id := range sorted {
		isMember[id] = i
	}
	for _, id := range order {
		if i, ok := isMember[id]; ok {
			m := len(sorted)
			specs = append(specs, Spec{ID: id, Member: true,
				Left: sorted[(i+m-1)%m], Right: sorted[(i+1)%m]})
		} else {
			specs = append(specs, Spec{ID: id, Contact: protocol.None})
		}
	}
	for i := range specs {
		if !specs[i].Member {
			specs[i].Contact = members[r.IntN(len(members))]
		}
	}
	for i := range specs {
		if !specs[i].Member && c.JoinWindow > 0 {
			st := r.Int64N(c.JoinWindow + 1)
			if c.Timing == "seed" {
				st -= st % c.Unit // the original's loop runs on whole units
			}
			specs[i].Start = st
		}
	}
	return specs, nil
}

// Layout is the node layout a run of cfg has: the same IDs, contacts and start times that
// Run builds from cfg.Seed. Drivers of real nodes use it to run exactly the simulated layout.
func Layout(cfg Config) ([]Spec, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return BuildScenario(&cfg, newStream(cfg.Seed, streamTopology))
}
