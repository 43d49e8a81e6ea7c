package observe

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// Safety properties, after the verdi Chord proofs, read on the right (successor) pointers.
const (
	PropAtLeastOneRing      = "at_least_one_ring"
	PropAtMostOneRing       = "at_most_one_ring"
	PropOrderedRing         = "ordered_ring"
	PropConnectedAppendages = "connected_appendages"
)

// Checker is the global observer's per-event safety check. It mirrors every node's pointers in flat arrays, so a check
// after a pointer change is one linear pass with no allocation.
//
// A walk along right pointers starts at every connected node. A newcomer whose right pointer
// is still unset ends a walk as "pending": its handshake is in flight and the protocol has
// not finished placing it, which is not by itself a broken ring. Every other shape counts:
// two cycles, a cycle whose IDs are not in ring order, a walk that ends anywhere but on the
// cycle or at a pending newcomer, and no cycle with nothing pending.
type Checker struct {
	enabled   bool
	dirty     bool
	ring      protocol.Ring
	ids       []protocol.ID
	right     []int32 // index of the right neighbour, -1 unset, -2 unknown ID
	connected []bool
	down      []bool
	mark      []uint32 // walk number that visited the node
	term      []int32  // what a finished walk led to: cycle number, or termPending/termBroken
	epoch     uint32
	path      []int32
	index     map[protocol.ID]int32
}

// Dirty reports whether a pointer changed since the last Run (always false when disabled).
func (c *Checker) Dirty() bool { return c.dirty }

const (
	termPending int32 = -1
	termBroken  int32 = -2
	ptrUnset    int32 = -1
	ptrUnknown  int32 = -2
)

// Init mirrors the nodes whose IDs are ids and whose states are states (same order); index
// maps IDs to positions (the driver's own map, shared, not copied). enabled false makes
// Dirty always false, so a driver can leave the per-event check off.
func (c *Checker) Init(ids []protocol.ID, states []protocol.State, index map[protocol.ID]int32, ring protocol.Ring, enabled bool) {
	n := len(ids)
	c.enabled, c.ring = enabled, ring
	c.ids = make([]protocol.ID, n)
	ints := make([]int32, 2*n) // one allocation for both int32 arrays
	c.right, c.term = ints[:n:n], ints[n:]
	flags := make([]bool, 2*n)
	c.connected, c.down = flags[:n:n], flags[n:]
	c.mark = make([]uint32, n)
	copy(c.ids, ids)
	c.index = index
	for i := range states {
		c.Update(int32(i), &states[i])
	}
	c.dirty = false
}

// Update mirrors node i's new state.
func (c *Checker) Update(i int32, st *protocol.State) {
	c.connected[i] = st.Connected
	switch {
	case st.Right == protocol.None:
		c.right[i] = ptrUnset
	default:
		if j, ok := c.index[st.Right]; ok {
			c.right[i] = j
		} else {
			c.right[i] = ptrUnknown
		}
	}
	c.dirty = c.enabled
}

// SetDown marks node i crashed (true) or back up (false).
func (c *Checker) SetDown(i int32, down bool) {
	c.down[i] = down
	c.dirty = c.enabled
}

// Run checks the four properties and returns the first one that fails, or nil.
func (c *Checker) Run() *Violation {
	c.dirty = false
	n := len(c.ids)
	if c.epoch > ^uint32(0)-uint32(n)-1 {
		clear(c.mark)
		c.epoch = 0
	}
	base := c.epoch
	walk := base
	cycles := 0
	firstCycle := int32(-1)
	pending := false
	for s := 0; s < n; s++ {
		if !c.connected[s] || c.down[s] || c.mark[s] > base {
			continue
		}
		walk++
		c.path = c.path[:0]
		i := int32(s)
		var result int32
		for {
			if c.mark[i] == walk {
				result = int32(cycles)
				if cycles == 0 {
					firstCycle = i
				}
				cycles++
				break
			}
			if c.mark[i] > base {
				result = c.term[i]
				break
			}
			c.mark[i] = walk
			c.path = append(c.path, i)
			next := c.right[i]
			if next >= 0 && c.down[next] {
				// A pointer to a crashed node: repair, if the protocol has any, is pending.
				result = termPending
				break
			}
			if next == ptrUnset && !c.connected[i] {
				result = termPending
				break
			}
			if next < 0 {
				result = termBroken
				break
			}
			i = next
		}
		for _, j := range c.path {
			c.term[j] = result
		}
		c.epoch = walk
		switch {
		case result == termPending:
			pending = true
		case result == termBroken:
			return &Violation{Property: PropConnectedAppendages, Node: c.ids[s],
				Detail: fmt.Sprintf("walking right from %v ends at a node with no usable right pointer", c.ids[s])}
		case cycles > 1:
			return &Violation{Property: PropAtMostOneRing, Node: c.ids[s],
				Detail: fmt.Sprintf("a second ring through %v", c.ids[i])}
		}
	}
	if cycles == 0 {
		if pending || n == 0 {
			return nil
		}
		return &Violation{Property: PropAtLeastOneRing, Node: c.ids[0], Detail: "no ring among connected nodes"}
	}
	// Going right around the ring, the ID may decrease only once: where the ring wraps from
	// its largest ID back to its smallest.
	descents := 0
	i := firstCycle
	for {
		j := c.right[i]
		if c.ids[j] <= c.ids[i] {
			descents++
		}
		i = j
		if i == firstCycle {
			break
		}
	}
	if descents > 1 {
		return &Violation{Property: PropOrderedRing, Node: c.ids[firstCycle],
			Detail: fmt.Sprintf("the ring through %v wraps around %d times", c.ids[firstCycle], descents)}
	}
	return nil
}

// finalRing compares every node with its true ring neighbours.
func finalRing(states []protocol.State) (correct bool, detail string) {
	ids := make([]protocol.ID, len(states))
	for i := range states {
		ids[i] = states[i].ID
	}
	slices.Sort(ids)
	// A binary search over the sorted IDs, not a map: a million inserts into a map cost more
	// than the sort.
	m := len(ids)
	for i := range states {
		st := &states[i]
		k, _ := slices.BinarySearch(ids, st.ID)
		for k+1 < m && ids[k+1] == st.ID {
			k++ // a repeated ID: its last place, as a map from IDs to places would say
		}
		wantL, wantR := ids[(k+m-1)%m], ids[(k+1)%m]
		if st.Left != wantL || st.Right != wantR {
			return false, fmt.Sprintf("node %v has left=%v right=%v, want left=%v right=%v",
				st.ID, st.Left, st.Right, wantL, wantR)
		}
	}
	return true, ""
}
