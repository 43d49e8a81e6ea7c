package sim

import (
	"fmt"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// hostileConfig is a small random-scenario run under predlock with the given shape.
func hostileConfig(layout, contacts, starts, target string, seed uint64) Config {
	c := DefaultConfig()
	c.Scenario, c.Protocol, c.Timing, c.Link = "random", "predlock", "async", "reorder"
	c.Nodes, c.Joiners, c.Bits = 6, 6, 7
	if layout == "full" {
		c.Nodes, c.Joiners, c.Bits = 10, 6, 4
	}
	c.JoinWindow = 3_000_000
	c.Delay = Delay{Kind: "exponential", Mean: 2_000_000}
	c.Horizon = 100_000_000_000
	c.Layout, c.Contacts, c.Starts, c.LeaveTarget = layout, contacts, starts, target
	if target != "random" {
		c.Leavers = 2
	}
	c.Seed = seed
	return c
}

// TestHostileLayouts attacks predlock with every layout, contact rule and start rule: every
// run must end with outcome ok, every join ok, and a correct ring.
func TestHostileLayouts(t *testing.T) {
	seeds := uint64(60)
	if testing.Short() {
		seeds = 10
	}
	for _, layout := range Layouts {
		for _, contacts := range ContactRules {
			for _, starts := range StartRules {
				name := fmt.Sprintf("%s/%s/%s", layout, contacts, starts)
				t.Run(name, func(t *testing.T) {
					for seed := uint64(1); seed <= seeds; seed++ {
						c := hostileConfig(layout, contacts, starts, "random", seed)
						r, err := Run(c, nil)
						if err != nil {
							t.Fatal(err)
						}
						if r.Outcome != observe.OutcomeOK || !r.RingCorrect || r.JoinsSucceeded() != c.Joiners {
							t.Fatalf("seed %d: outcome %s (%s), ring correct %v, %d of %d joins ok",
								seed, r.Outcome, r.Detail, r.RingCorrect, r.JoinsSucceeded(), c.Joiners)
						}
					}
				})
			}
		}
	}
}

// TestHostileLeaves aims graceful leaves at the joiners' contacts, the ends of their gaps and
// runs of adjacent members, racing the joins: predlock must still end every run ok.
func TestHostileLeaves(t *testing.T) {
	for _, target := range LeaveTargets {
		for _, layout := range []string{"uniform", "clustered"} {
			t.Run(target+"/"+layout, func(t *testing.T) {
				for seed := uint64(1); seed <= 40; seed++ {
					c := hostileConfig(layout, "random", "window", target, seed)
					c.Leavers = 2
					r, err := Run(c, nil)
					if err != nil {
						t.Fatal(err)
					}
					if r.Outcome != observe.OutcomeOK || !r.RingCorrect || r.Departed != c.Leavers {
						t.Fatalf("seed %d: outcome %s (%s), ring correct %v, %d of %d departed",
							seed, r.Outcome, r.Detail, r.RingCorrect, r.Departed, c.Leavers)
					}
				}
			})
		}
	}
}

// TestHostileShapes checks that each layout, contact rule and start rule builds what it
// promises, so the attacks above attack what they claim to.
func TestHostileShapes(t *testing.T) {
	between := func(ring protocol.Ring, a, x, b protocol.ID) bool { return ring.Between(a, x, b) }
	for seed := uint64(1); seed <= 50; seed++ {
		for _, layout := range Layouts {
			c := hostileConfig(layout, "random", "same", "random", seed)
			specs, err := Layout(c)
			if err != nil {
				t.Fatal(err)
			}
			var members, joiners []Spec
			for _, sp := range specs {
				if sp.Member {
					members = append(members, sp)
				} else {
					joiners = append(joiners, sp)
				}
			}
			ring := protocol.Ring{Bits: c.Bits}
			switch layout {
			case "full":
				if uint64(len(specs)) != ring.Size() {
					t.Fatalf("full: %d IDs on a ring of %d", len(specs), ring.Size())
				}
			case "clustered", "wrap":
				// One gap holds every joiner: the members around the first joiner enclose all.
				l, r := gapOf(members, joiners[0].ID)
				for _, j := range joiners {
					if !between(ring, l, j.ID, r) {
						t.Fatalf("%s seed %d: joiner %v outside the gap (%v, %v)", layout, seed, j.ID, l, r)
					}
				}
				if layout == "wrap" && !(l > r) {
					t.Fatalf("wrap seed %d: gap (%v, %v) does not cross the wrap-around", seed, l, r)
				}
			}
			for _, j := range joiners[1:] {
				if j.Start != joiners[0].Start {
					t.Fatalf("starts=same seed %d: starts %d and %d", seed, joiners[0].Start, j.Start)
				}
			}
		}
		for _, rule := range ContactRules[1:] {
			c := hostileConfig("uniform", rule, "window", "random", seed)
			specs, err := Layout(c)
			if err != nil {
				t.Fatal(err)
			}
			var members []Spec
			isJoiner := map[protocol.ID]bool{}
			for _, sp := range specs {
				if sp.Member {
					members = append(members, sp)
				} else {
					isJoiner[sp.ID] = true
				}
			}
			first := protocol.None
			n := 0
			for _, sp := range specs {
				if sp.Member {
					continue
				}
				l, r := gapOf(members, sp.ID)
				switch rule {
				case "shared":
					if first == protocol.None {
						first = sp.Contact
					}
					if sp.Contact != first {
						t.Fatalf("shared seed %d: contacts %v and %v", seed, first, sp.Contact)
					}
				case "gap-left":
					if sp.Contact != l {
						t.Fatalf("gap-left seed %d: joiner %v contacts %v, gap (%v, %v)", seed, sp.ID, sp.Contact, l, r)
					}
				case "gap-right":
					if sp.Contact != r {
						t.Fatalf("gap-right seed %d: joiner %v contacts %v, gap (%v, %v)", seed, sp.ID, sp.Contact, l, r)
					}
				case "joiner":
					if n > 0 && !isJoiner[sp.Contact] {
						t.Fatalf("joiner seed %d: newcomer %d contacts member %v", seed, n, sp.Contact)
					}
				}
				n++
			}
		}
	}
}

// gapOf is the pair of members around id.
func gapOf(members []Spec, id protocol.ID) (l, r protocol.ID) {
	for _, m := range members {
		if m.Left < m.ID && m.Left < id && id < m.ID || m.Left >= m.ID && (id > m.Left || id < m.ID) {
			return m.Left, m.ID
		}
	}
	return protocol.None, protocol.None
}
