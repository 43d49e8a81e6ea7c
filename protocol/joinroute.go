package protocol

import (
	"math/bits"
	"slices"
)

// Join requests are routed along the ring by default: every hop goes to a neighbour, so a
// request crosses up to half the ring's members before it reaches the gap's owner. With
// finger routing (Config.FingerJoins) a node forwards a request the way the DHT layer
// forwards a lookup: to the finger that most closely precedes the newcomer's ID, so that a
// join into a ring of N members takes O(log N) hops.
//
// Fingers may be stale: a finger can have left the ring, and a newcomer may have joined
// between a node and its finger. Both only cost hops, as long as requests cannot circle
// forever between a stale finger and the nodes that redirect back to it; so a request
// carries how many hops it has taken, and past a budget it walks the ring as it does
// without fingers, which ends at the gap's owner whatever the fingers say.

// JoinHopBudget is how many hops a join request may take before it stops using fingers:
// four times the ring's width, far above the hops of a correct route (at most one per bit).
func JoinHopBudget(r Ring) uint16 { return uint16(max(4*r.Bits, 32)) }

// FreshFingers is the membership of a ring at its start, sorted, shared read-only by every
// member built from it. It stands for each member's exact fingers (the successors of id+2^i
// in it) without a copy of them per member, which a ring of millions could not afford.
type FreshFingers struct {
	ring Ring
	ids  []ID
}

// NewFreshFingers keeps sorted, which must be sorted and must not change afterwards.
func NewFreshFingers(r Ring, sorted []ID) *FreshFingers { return &FreshFingers{ring: r, ids: sorted} }

// successor is the first member at or clockwise after x.
func (t *FreshFingers) successor(x ID) ID {
	i, _ := slices.BinarySearch(t.ids, x)
	if i == len(t.ids) {
		i = 0
	}
	return t.ids[i]
}

// Fingers are id's exact fingers: the distinct successors of id+2^i over all levels i,
// nearest first, without the right neighbour (the successor of id+1), which nodes keep apart
// from their fingers.
func (t *FreshFingers) Fingers(id ID) []ID {
	r := t.ring
	var fs []ID
	for lvl := uint(0); lvl < r.Bits; {
		f := t.successor(ID((uint64(id) + uint64(1)<<lvl) & (r.Size() - 1)))
		if f == id {
			break // the rest of the ring up to id is empty
		}
		if lvl > 0 && (len(fs) == 0 || fs[len(fs)-1] != f) {
			fs = append(fs, f)
		}
		d := r.Distance(id, f)
		for lvl < r.Bits && uint64(1)<<lvl <= d {
			lvl++
		}
	}
	return fs
}

// closest is the finger of id that lies furthest along the way to x without reaching it, or
// None. Fingers of higher levels than the highest target before x are at or after x, so the
// search starts there and goes down until a level's successor precedes x: usually at once.
func (t *FreshFingers) closest(id, x ID) ID {
	r := t.ring
	want := r.Distance(id, x)
	if want < 2 {
		return None
	}
	for lvl := bits.Len64(want-1) - 1; lvl >= 1; lvl-- {
		f := t.successor(ID((uint64(id) + uint64(1)<<lvl) & (r.Size() - 1)))
		if d := r.Distance(id, f); f != id && d < want {
			return f
		}
	}
	return None
}

// redirect is the message that forwards k's join request from node id, whose gap (id, right)
// does not hold k. Under finger routing, while the request is within its budget, it goes
// clockwise only, as in Chord: to the closest preceding finger, else to the right neighbour.
// Mixing in the ring walk's steps to the left would let a finger carry a request back past
// where a left step took it from, round and round. Past the budget, or without finger
// routing, it walks the ring both ways (Ring.NextHop).
func (d *dht) redirect(id, left, right, k ID) Message {
	next := d.ring.NextHop(id, left, right, k)
	if d.fingerJoins && d.hops < JoinHopBudget(d.ring) && right != None {
		next = right
		if f := d.closestFinger(id, right, k); f != None {
			next = f
		}
	}
	return d.forwardJoin(id, next, k)
}

// forwardJoin is the message that passes k's join request on from id to to. Under finger
// routing it counts the hop on top of those the request had taken when it arrived (d.hops,
// set by the host), so that no path (through a node that has left, say) resets the count.
func (d *dht) forwardJoin(id, to, k ID) Message {
	m := Message{Type: ConnectRedirect, From: id, To: to, Joiner: k, Neighbour: None}
	if d.fingerJoins {
		m.Hops = d.hops
		if m.Hops < ^uint16(0) {
			m.Hops++
		}
	}
	return m
}

// closestFinger is the finger of node id that precedes k more closely than its right
// neighbour does, or None.
func (d *dht) closestFinger(id, right, k ID) ID {
	if right == None {
		return None
	}
	var f ID = None
	switch {
	case d.s != nil:
		if g := d.s.closest(view{id: id, right: right}, k); g != right {
			f = g
		}
	case d.fresh != nil:
		f = d.fresh.closest(id, k)
	}
	if f == None || f == right || d.ring.Distance(id, f) <= d.ring.Distance(id, right) {
		return None
	}
	return f
}
