package sim

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// nodeIndex maps node IDs to positions in Sim.nodes. A hash map of a million IDs misses the
// cache on nearly every lookup, and every message delivered takes one or two lookups. Here
// the IDs are sorted once, with their positions beside them, and a table of buckets by the
// IDs' top bits says where each bucket's IDs start: with about one ID per bucket, a lookup
// reads one bucket boundary pair and then, mostly, the one entry it wants. It is deterministic
// and holds no pointers, so the collector never scans it.
//
// When the IDs are small and dense, as in the simple and advanced scenarios (1 .. n), a
// table indexed by the ID itself replaces the search: those scenarios look a node up for
// every message, and a search among a bucket's many IDs cost them more than the queue.
type nodeIndex struct {
	entries []indexEntry // sorted by ID
	start   []int32      // start[b]: the first entry whose ID's bucket is b or later
	shift   uint         // an ID's bucket is id >> shift
	dense   []int32      // when not empty, dense[id] is id's position + 1, or 0 for no node
	spare   []indexEntry // storage for the next build
}

type indexEntry struct {
	id  protocol.ID
	pos int32
}

// newNodeIndex indexes ids by their positions in it. An ID that occurs twice maps to its
// last position, as assigning positions to a map in order would.
func newNodeIndex(ids []protocol.ID, r protocol.Ring) nodeIndex {
	var x nodeIndex
	x.build(ids, r)
	return x
}

// build makes x the index of ids, reusing x's storage: a simulator reset for one small run
// after another builds an index per run.
func (x *nodeIndex) build(ids []protocol.ID, r protocol.Ring) {
	x.entries = grown(x.entries, len(ids))
	// Scenarios create the members first, in ID order, then the newcomers: sort only what
	// follows the sorted prefix and merge the two.
	prefix := 1
	for prefix < len(ids) && ids[prefix-1] < ids[prefix] {
		prefix++
	}
	prefix = min(prefix, len(ids))
	for i, id := range ids {
		x.entries[i] = indexEntry{id, int32(i)}
	}
	if prefix < len(ids) {
		byID := func(a, b indexEntry) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.pos, b.pos)) }
		tail := x.entries[prefix:]
		slices.SortFunc(tail, byID)
		merged := grown(x.spare, len(ids))[:0]
		head, rest := x.entries[:prefix], tail
		for len(head) > 0 && len(rest) > 0 {
			if byID(head[0], rest[0]) <= 0 {
				merged, head = append(merged, head[0]), head[1:]
			} else {
				merged, rest = append(merged, rest[0]), rest[1:]
			}
		}
		merged = append(append(merged, head...), rest...)
		// An ID that occurs twice keeps its last position.
		out := merged[:0]
		for _, e := range merged {
			if n := len(out); n > 0 && out[n-1].id == e.id {
				out[n-1] = e
				continue
			}
			out = append(out, e)
		}
		x.entries, x.spare = out, x.entries[:0]
	}
	// About one ID per bucket: 2^k buckets for the smallest 2^k at or above the count.
	k := uint(bits.Len(uint(max(len(ids), 1) - 1)))
	if k > r.Bits {
		k = r.Bits
	}
	x.shift = r.Bits - k
	buckets := 1 << k
	x.start = grown(x.start, buckets+1)
	e := 0
	for b := 0; b <= buckets; b++ {
		for e < len(x.entries) && int(uint64(x.entries[e].id)>>x.shift) < b {
			e++
		}
		x.start[b] = int32(e)
	}
	// A table of at most four slots per node, and never more than a small fixed size, keeps
	// a ring of millions on the bucketed search.
	x.dense = x.dense[:0]
	if n := len(x.entries); n > 0 && n <= denseMax {
		if top := uint64(x.entries[n-1].id); top < uint64(4*n+64) && top != uint64(protocol.None) {
			x.dense = grown(x.dense, int(top+1))
			clear(x.dense)
			for _, e := range x.entries {
				x.dense[e.id] = e.pos + 1
			}
		}
	}
}

// denseMax bounds the nodes of an index that may use a dense table.
const denseMax = 1 << 16

// get returns id's position, and false for an ID that is no node's.
func (x *nodeIndex) get(id protocol.ID) (int32, bool) {
	if len(x.dense) > 0 {
		if uint64(id) >= uint64(len(x.dense)) {
			return 0, false
		}
		if p := x.dense[id]; p > 0 {
			return p - 1, true
		}
		return 0, false
	}
	b := uint64(id) >> x.shift
	if b >= uint64(len(x.start)-1) {
		return 0, false // None, or outside the ring
	}
	lo, hi := int(x.start[b]), int(x.start[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch e := x.entries[m]; {
		case e.id == id:
			return e.pos, true
		case e.id < id:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// at is get for an ID known to be a node's.
func (x *nodeIndex) at(id protocol.ID) int32 {
	i, _ := x.get(id)
	return i
}

// asMap is the index as a map, for the per-event checker, which takes one; m, when not nil,
// is emptied and filled instead of a new map.
func (x *nodeIndex) asMap(m map[protocol.ID]int32) map[protocol.ID]int32 {
	// Emptying a map costs its size; one of a much larger run is dropped.
	if m == nil || len(m) > 2*len(x.entries)+64 {
		m = make(map[protocol.ID]int32, len(x.entries))
	}
	clear(m)
	for _, e := range x.entries {
		m[e.id] = e.pos
	}
	return m
}
