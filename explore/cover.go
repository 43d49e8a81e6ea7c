package explore

import (
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// coverSet is what Config.Subsume keeps: per core of a state (its nodes, started newcomers
// and timers: everything but what is in flight), the flights of the states explored with that
// core that no other explored flight of it contains. Under loss a state whose flight is
// contained in one of them has no future of its own: its extra messages may stay undelivered
// for ever.
//
// With renumbered counters the core and the flight are compared as the key encodes them:
// insertion numbers replaced by their rank among those of the core and the flight together.
// That stays sound. If state 1 has the same renumbered core as state 2 and its renumbered
// flight is contained in state 2's, then mapping each number of state 1 to the number of
// state 2 with the same rank is an order-preserving injection that turns state 1's nodes and
// timers into state 2's and its flight into part of state 2's; the protocol only compares
// these numbers, and a new one is above all of its owner's in both, so state 2 has every
// future of state 1 up to that renaming, which changes no pointer. Two states whose cores
// are equal before renumbering but whose flights hold different numbers get different
// renumbered cores, which costs sharing, not soundness; and the state checkCore searches
// from, the core with nothing in flight, is the same up to such a renaming for every state
// with that renumbered core.
type coverSet struct {
	ids map[copyOf]uint16
	// cores holds, per core fingerprint, its flights one after another, each as its length
	// followed by its sorted message numbers.
	cores map[uint64][]uint16
	buf   []uint16
}

func newCoverSet() *coverSet {
	return &coverSet{ids: map[copyOf]uint16{}, cores: map[uint64][]uint16{}}
}

// copyOf names the n-th copy of a message in a flight (without timers, a message sent again
// while a copy is in flight is a second copy): a flight with one copy does not contain one
// with two.
type copyOf struct {
	m protocol.Message
	n int
}

// numbers returns the sorted numbers of the message copies of flight (sorted, so copies are
// adjacent), numbering new ones.
func (c *coverSet) numbers(flight []protocol.Message) ([]uint16, bool) {
	b := c.buf[:0]
	n := 0
	for i, m := range flight {
		if i > 0 && m == flight[i-1] {
			n++
		} else {
			n = 0
		}
		id, ok := c.ids[copyOf{m, n}]
		if !ok {
			if len(c.ids) == 1<<16-1 {
				return nil, false
			}
			id = uint16(len(c.ids))
			c.ids[copyOf{m, n}] = id
		}
		b = append(b, id)
	}
	slices.Sort(b)
	c.buf = b
	return b, true
}

// covered reports whether flight is contained in a flight explored with core; if not, it
// records flight for core, drops the flights it contains, and says whether core is new. A
// flight with more messages than the set can number is never covered nor recorded.
func (c *coverSet) covered(core uint64, flight []protocol.Message) (covered, newCore bool) {
	list := c.cores[core]
	f, ok := c.numbers(flight)
	if !ok {
		return false, list == nil
	}
	for i := 0; i < len(list); {
		n := int(list[i])
		if subset(f, list[i+1:i+1+n]) {
			return true, false
		}
		i += 1 + n
	}
	// Compact in place: what is kept never overtakes what is read.
	kept := list[:0]
	for i := 0; i < len(list); {
		n := int(list[i])
		g := list[i : i+1+n]
		if !subset(g[1:], f) {
			kept = append(kept, g...)
		}
		i += 1 + n
	}
	kept = append(kept, uint16(len(f)))
	c.cores[core] = append(kept, f...)
	return false, list == nil
}

// subset reports whether sorted a is contained in sorted b.
func subset(a, b []uint16) bool {
	if len(a) > len(b) {
		return false
	}
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// checkCore runs the end check for the core of t, met for the first time: an end must be
// reachable from the same state with nothing in flight (z), or it is a no_end finding; path
// leads to t. That one search per core is the whole end check under Subsume, and it is
// exact: z is reachable (from t, by losing everything), so an end must be reachable from it;
// and any state with that core has every future of z (its messages may stay undelivered), so
// an end reachable from z is reachable from each of them. Every core reachable is met, since
// every reachable state has its core in a state explored.
func (e *explorer) checkCore(t *state, path []Step) {
	e.rep.Cores++
	z := t
	if len(t.flight) > 0 {
		z = &state{nodes: t.nodes, hashes: t.hashes, started: t.started, timers: t.timers, quiet: t.quiet}
		path = append(path, Step{Start: protocol.None, LoseAll: true})
	}
	if e.witness(z) {
		return
	}
	e.rep.Violations++
	e.rep.NoEnd++
	e.report("no_end", noEndDetail, z.nodes, path)
}

// witness searches depth-first from z, on the full model (nothing subsumed), for a state
// judged as an end, or one shown to reach an end by an earlier search; it marks every state
// on the path it finds as shown. It is exhaustive if it has to be: false means that no end is
// reachable from z. A state that breaks a safety property counts as an end, as in the
// search's own end check (the search reports it).
func (e *explorer) witness(z *state) bool {
	rep := e.rep
	pruned := rep.Pruned // what the witness search forgets is counted by the search itself
	defer func() { rep.Pruned = pruned }()
	type frame struct {
		s     *state
		fp    uint64
		moves []Step
		next  int
	}
	fp := canon(fingerprint(e.key(z)))
	if _, ok := e.proven.get(fp); ok {
		return true
	}
	proved := func(stack []frame) bool {
		for _, f := range stack {
			e.proven.put(f.fp, 0)
			e.stored++ // a fingerprint too, for the collision bound
			rep.WitnessProven++
		}
		return true
	}
	end := func(s *state) bool {
		judge, _ := e.assess(s)
		return judge || e.safety(s) != nil
	}
	rep.WitnessStates++
	if end(z) {
		return proved([]frame{{fp: fp}})
	}
	seen := map[uint64]bool{fp: true}
	stack := []frame{{s: z, fp: fp, moves: e.moves(z, nil)}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == len(f.moves) {
			stack = stack[:len(stack)-1]
			continue
		}
		step := f.moves[f.next]
		f.next++
		t, _, err := e.apply(f.s, step)
		if err != nil {
			continue // a crash, which the search reports
		}
		fp := canon(fingerprint(e.key(t)))
		if _, ok := e.proven.get(fp); ok {
			return proved(stack)
		}
		if seen[fp] {
			continue
		}
		seen[fp] = true
		rep.WitnessStates++
		moves := e.moves(t, nil)
		if end(t) || len(moves) == 0 {
			return proved(append(stack, frame{fp: fp}))
		}
		stack = append(stack, frame{s: t, fp: fp, moves: moves})
	}
	return false
}
