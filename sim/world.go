package sim

import (
	"fmt"
	"math/bits"
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
	var sc scenarioScratch
	return sc.build(c, r)
}

// scenarioScratch is BuildScenario's working storage, which a Sim keeps from run to run so
// that laying out a short run allocates nothing. The specs it returns live in it until the
// next build.
type scenarioScratch struct {
	members, order, sorted, ids, joiners []protocol.ID
	seen                                 idSet
	specs                                []Spec
}

func (sc *scenarioScratch) build(c *Config, r *rand.Rand) ([]Spec, error) {
	// Members are the initial ring; every other node in the creation order is a newcomer.
	members := sc.members[:0]
	order := sc.order[:0] // creation order
	switch c.Scenario {
	case "simple":
		members = append(members, 1, 49, 50)
		order = append(order, 1, 2, 3, 49, 50)
	case "advanced":
		n := protocol.ID(c.Nodes)
		members = append(members, 1, n-2, n-1)
		order = append(order, members...)
		for id := protocol.ID(2); id <= n-3; id++ {
			order = append(order, id)
		}
	case "random":
		ids := sc.randomIDs(c, r)
		members = append(members, ids[:c.Nodes]...)
		slices.Sort(members)
		order = append(append(room(order, len(ids)), members...), ids[c.Nodes:]...)
	default:
		return nil, fmt.Errorf("unknown scenario %q", c.Scenario)
	}
	sc.members, sc.order = members, order

	sorted := append(sc.sorted[:0], members...)
	slices.Sort(sorted)
	sc.sorted = sorted
	specs := room(sc.specs, len(order))
	for _, id := range order {
		if i, ok := slices.BinarySearch(sorted, id); ok {
			m := len(sorted)
			specs = append(specs, Spec{ID: id, Member: true,
				Left: sorted[(i+m-1)%m], Right: sorted[(i+1)%m]})
		} else {
			specs = append(specs, Spec{ID: id, Contact: protocol.None})
		}
	}
	sc.specs = specs
	sc.joiners = assignContacts(c, r, specs, sorted, sc.joiners[:0])
	if c.Scenario == "random" && c.Churn.On() {
		var err error
		if specs, err = churnArrivals(c, specs); err != nil {
			return nil, err
		}
	}
	same := int64(-1) // starts = "same": the one instant every newcomer starts at
	for i := range specs {
		if !specs[i].Member && c.JoinWindow > 0 {
			if same >= 0 {
				specs[i].Start = same
				continue
			}
			st := r.Int64N(c.JoinWindow + 1)
			if c.Timing == "seed" {
				st -= st % c.Unit // the original's loop runs on whole units
			}
			specs[i].Start = st
			if c.Starts == "same" {
				same = st
			}
		}
	}
	return specs, nil
}

// randomIDs draws the random scenario's distinct IDs: the members first, then the newcomers.
// The uniform layout draws them exactly as it always has, so default runs keep their traces.
func (sc *scenarioScratch) randomIDs(c *Config, r *rand.Rand) []protocol.ID {
	space := (protocol.Ring{Bits: c.Bits}).Size()
	total := c.Nodes + c.Joiners
	sc.seen = sc.seen.emptied(total)
	seen := &sc.seen
	ids := room(sc.ids, total)
	// draw adds n distinct IDs from pick, which must be able to produce them.
	draw := func(n int, pick func() protocol.ID) {
		for end := len(ids) + n; len(ids) < end; {
			if id := pick(); seen.add(id) {
				ids = append(ids, id)
			}
		}
	}
	switch c.Layout {
	case "clustered", "wrap":
		// Every newcomer lands in one window of 2·joiners IDs that no member may take, so all
		// of them share one gap; "wrap" centres the window on ID 0, so the gap crosses the
		// wrap-around.
		w := uint64(2 * c.Joiners)
		start := space - uint64(c.Joiners)
		if c.Layout == "clustered" {
			start = r.Uint64N(space)
		}
		inWindow := func(id uint64) bool { return (id+space-start)%space < w }
		draw(c.Nodes, func() protocol.ID {
			for {
				if id := r.Uint64N(space); !inWindow(id) {
					return protocol.ID(id)
				}
			}
		})
		draw(c.Joiners, func() protocol.ID { return protocol.ID((start + r.Uint64N(w)) % space) })
	case "full":
		// Every ID is taken: each newcomer's gap is one ID wide, and its neighbours may be
		// newcomers too.
		perm := make([]protocol.ID, space)
		for i := range perm {
			perm[i] = protocol.ID(i)
		}
		r.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		ids = append(ids, perm...)
	default:
		draw(total, func() protocol.ID { return protocol.ID(r.Uint64N(space)) })
	}
	sc.ids = ids
	return ids
}

// assignContacts gives every newcomer the member (or, with contacts = "joiner", the earlier
// newcomer) it asks to join through. sorted is the initial members in ID order; joiners is
// storage for the newcomers so far, returned for the next call.
func assignContacts(c *Config, r *rand.Rand, specs []Spec, sorted, joiners []protocol.ID) []protocol.ID {
	shared := protocol.None
	for i := range specs {
		sp := &specs[i]
		if sp.Member {
			continue
		}
		switch c.Contacts {
		case "shared":
			if shared == protocol.None {
				shared = sorted[r.IntN(len(sorted))]
			}
			sp.Contact = shared
		case "gap-left", "gap-right":
			// The members on either side of the newcomer's ID: the ends of the gap it joins.
			k, _ := slices.BinarySearch(sorted, sp.ID)
			m := len(sorted)
			if c.Contacts == "gap-left" {
				sp.Contact = sorted[(k+m-1)%m]
			} else {
				sp.Contact = sorted[k%m]
			}
		case "joiner":
			// A newcomer that is itself still joining: the first one must enter through a
			// member, since nobody else is in the ring yet.
			if len(joiners) == 0 {
				sp.Contact = sorted[r.IntN(len(sorted))]
			} else {
				sp.Contact = joiners[r.IntN(len(joiners))]
			}
		default:
			sp.Contact = sorted[r.IntN(len(sorted))]
		}
		joiners = append(joiners, sp.ID)
	}
	return joiners
}

// Layout is the node layout a run of cfg has: the same IDs, contacts and start times that
// Run builds from cfg.Seed. Drivers of real nodes use it to run exactly the simulated layout.
func Layout(cfg Config) ([]Spec, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return BuildScenario(&cfg, newStream(cfg.Seed, streamTopology))
}

// idSet is a set of IDs by open addressing, for drawing a million distinct IDs: half the
// memory of a map and one probe into a flat table per draw, mostly.
type idSet struct {
	slots []protocol.ID // None: empty
	mask  uint64
}

// emptied returns an empty set for n IDs, in s's storage when it has the size n needs.
func (s idSet) emptied(n int) idSet {
	if len(s.slots) != 1<<bits.Len(uint(2*max(n, 1))) {
		return newIDSet(n)
	}
	for i := range s.slots {
		s.slots[i] = protocol.None
	}
	return s
}

func newIDSet(n int) idSet {
	size := 1 << bits.Len(uint(2*max(n, 1)))
	s := idSet{slots: make([]protocol.ID, size), mask: uint64(size - 1)}
	for i := range s.slots {
		s.slots[i] = protocol.None
	}
	return s
}

// add inserts id and reports whether it was not in the set yet. None must not be added.
func (s *idSet) add(id protocol.ID) bool {
	for h := (uint64(id) * 0x9E3779B97F4A7C15) >> 20 & s.mask; ; h = (h + 1) & s.mask {
		switch s.slots[h] {
		case id:
			return false
		case protocol.None:
			s.slots[h] = id
			return true
		}
	}
}
