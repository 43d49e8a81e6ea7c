package explore

import (
	"encoding/binary"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// Counter renumbering. A variant that numbers its insertions and timers (protocol.CounterKeyer,
// protocol/counters.go) reaches the same situation after any number of earlier welcomes or
// timers with different numbers, and each would be a new state. The renumbered key replaces
// each counter by its rank among the values of its family present in the whole state: the
// nodes' fields, the Op of the messages in flight and the tags of the armed timers. Ranks
// keep every equality and order among those values, which is all the protocol compares,
// so states with equal renumbered keys have equal futures (protocol/counters.go has the
// argument); states that differ in the order of their counters keep different keys.

// counterSet holds the values of each family present in one state.
type counterSet struct {
	shared []uint64                                  // protocol.FamilyOp
	local  [][protocol.FamilyLeaveEpoch + 1][]uint64 // per node, indexed by family
	// flightOnly holds, when the cores are ranked alone (coverSet.embeds), the insertion
	// numbers in flight that no node holds.
	flightOnly []uint64
}

// relative codes insertion number v of a message in flight when the core's numbers (shared)
// are ranked without the flight's: a number of the core as (rank, 1), any other as (gap, 0,
// its rank among the numbers only in flight), the gap being how many of the core's numbers
// are below it, so that codes sort as the numbers do. gap is that gap for a number only in
// flight, and -1 for a number of the core.
func (c *counterSet) relative(v uint64) (code uint64, gap int32) {
	r, in := slices.BinarySearch(c.shared, v)
	if in {
		return uint64(r)<<33 | 1<<32, -1
	}
	return uint64(r)<<33 | uint64(rank(c.flightOnly, v)), int32(r)
}

func (c *counterSet) reset(nodes int) {
	c.shared = c.shared[:0]
	if len(c.local) != nodes {
		c.local = make([][protocol.FamilyLeaveEpoch + 1][]uint64, nodes)
	}
	for i := range c.local {
		for f := range c.local[i] {
			c.local[i][f] = c.local[i][f][:0]
		}
	}
}

func (c *counterSet) list(node int, f protocol.CounterFamily) *[]uint64 {
	if !f.PerNode() {
		return &c.shared
	}
	return &c.local[node][f]
}

func sortUnique(s []uint64) []uint64 {
	slices.Sort(s)
	return slices.Compact(s)
}

// rank is v's position among the sorted distinct values vs (v is among them).
func rank(vs []uint64, v uint64) uint64 {
	i, _ := slices.BinarySearch(vs, v)
	return uint64(i)
}

// countersOf reports whether every node of the explorer's scope exposes its counters.
func countersOf(nodes []protocol.Node) bool {
	for _, n := range nodes {
		ck, ok := n.(protocol.CounterKeyer)
		if !ok {
			return false
		}
		if _, ok := ck.AppendCounterKey(nil, nil); !ok {
			return false
		}
	}
	return len(nodes) > 0
}

// counterKey is key with the counters renumbered (only when e.counters).
func (e *explorer) counterKey(s *state) []byte {
	c := &e.cset
	c.reset(len(s.nodes))
	oracle := s.nodes[0].(protocol.CounterKeyer)
	if e.collect == nil {
		// Made once: a closure made per call escapes to the heap.
		e.collect = func(f protocol.CounterFamily, v uint64) uint64 {
			l := e.cset.list(e.cnode, f)
			*l = append(*l, v)
			return v
		}
		e.renumber = func(f protocol.CounterFamily, v uint64) uint64 { return rank(*e.cset.list(e.cnode, f), v) }
	}
	for i, n := range s.nodes {
		e.cnode = i
		e.pbuf, _ = n.(protocol.CounterKeyer).AppendCounterKey(e.pbuf[:0], e.collect)
	}
	if !e.cover.embeds() {
		for _, m := range s.flight {
			if f, ok := oracle.OpFamily(m); ok {
				l := c.list(0, f)
				*l = append(*l, m.Op)
			}
		}
	}
	for _, te := range s.timers {
		if f, ok := oracle.TimerFamily(te.t); ok {
			l := c.list(e.index(te.node), f)
			*l = append(*l, te.t.Tag)
		}
	}
	c.shared = sortUnique(c.shared)
	for i := range c.local {
		for f := range c.local[i] {
			c.local[i][f] = sortUnique(c.local[i][f])
		}
	}
	b := e.kbuf[:0]
	for i, n := range s.nodes {
		e.cnode = i
		e.pbuf, _ = n.(protocol.CounterKeyer).AppendCounterKey(e.pbuf[:0], e.renumber)
		b = binary.LittleEndian.AppendUint64(b, fingerprint(e.pbuf))
	}
	b = append(b, byte(s.started), byte(s.started>>8))
	for _, te := range s.timers {
		tag := te.t.Tag
		if f, ok := oracle.TimerFamily(te.t); ok {
			tag = rank(*c.list(e.index(te.node), f), tag)
		}
		b = append(b, te.t.Kind)
		for _, x := range []uint64{tag, uint64(te.node), uint64(te.t.After)} {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
	}
	e.coreLen = len(b)
	e.rflight, e.rgap = e.rflight[:0], e.rgap[:0]
	embeds := e.cover.embeds()
	if embeds {
		c.flightOnly = c.flightOnly[:0]
		for _, m := range s.flight {
			if _, ok := oracle.OpFamily(m); ok {
				if _, in := slices.BinarySearch(c.shared, m.Op); !in {
					c.flightOnly = append(c.flightOnly, m.Op)
				}
			}
		}
		c.flightOnly = sortUnique(c.flightOnly)
	}
	b = append(b, 0xfe)
	for _, m := range s.flight {
		op, gap := m.Op, int32(-1)
		if _, ok := oracle.OpFamily(m); ok {
			if embeds {
				op, gap = c.relative(op)
			} else {
				op = rank(c.shared, op)
			}
		}
		if embeds {
			rm := m
			rm.Op = op
			e.rflight, e.rgap = append(e.rflight, rm), append(e.rgap, gap)
		}
		b = append(b, byte(m.Type))
		for _, id := range []protocol.ID{m.From, m.To, m.Joiner, m.Neighbour, protocol.ID(op)} {
			b = binary.LittleEndian.AppendUint64(b, uint64(id))
		}
	}
	// Only a cover set that embeds reads the flight as coded (without one, nothing does).
	e.keyFlight, e.keyGap = s.flight, nil
	if embeds {
		e.keyFlight, e.keyGap = e.rflight, e.rgap
	}
	e.kbuf = b
	return b
}
