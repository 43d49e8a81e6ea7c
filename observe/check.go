package observe

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// Safety properties. The first four, after the verdi Chord proofs, read the right (successor)
// pointers; the others read left pointers and flags. docs/protocol.md states them precisely.
const (
	PropAtLeastOneRing      = "at_least_one_ring"
	PropAtMostOneRing       = "at_most_one_ring"
	PropOrderedRing         = "ordered_ring"
	PropConnectedAppendages = "connected_appendages"
	// PropMembersOnRing: a cycle node has not departed, and a connected node whose walk
	// reaches the cycle is on it unless it is leaving.
	PropMembersOnRing = "members_on_ring"
	// PropLeftPointers: a cycle node's left neighbour is on the cycle, and every cycle node
	// between the two is in transit (not connected yet, or leaving).
	PropLeftPointers = "left_pointers"
	// PropNoPointerToFailed (at quiescence): no live connected node points at a node that
	// gave up its join or has departed.
	PropNoPointerToFailed = "no_pointer_to_failed"
	// PropNoPointerToCrashed (at quiescence): no live connected node points at a crashed node.
	PropNoPointerToCrashed = "no_pointer_to_crashed"
)

// walkLimit bounds the steps of one local walk of the incremental check; a longer one hands
// the event to a full check.
const walkLimit = 64

const (
	termPending int32 = -1
	termBroken  int32 = -2
	termOther   int32 = -3 // a cycle that is not the ring (incremental walks only)
	termRing    int32 = 0  // the one cycle (full walks number cycles from 0)
	ptrUnset    int32 = -1
	ptrUnknown  int32 = -2
)

const (
	fConnected uint8 = 1 << iota
	fLeaving
	fDeparted
	fFailed
	fDown
)

// touch is a node's mirrored state before the first change since the last Run.
type touch struct {
	i, left, right int32
	flags          uint8
}

// CheckerStats counts the checker's work, for benchmarks and reports.
type CheckerStats struct {
	Incremental int64 // Runs settled locally
	Full        int64 // full walks (first Run, fallbacks, explicit, after a violation)
	Fallbacks   int64 // incremental Runs that handed over to a full walk
	Removed     int64 // cycle nodes dropped by splices (a splice costs this many steps)
	// Open counts the Runs of a tolerant checker settled while the ring waits for repairs
	// (a crashed node on it), which are also counted in Incremental.
	Open int64
}

// Checker is the global observer's per-event safety check. It mirrors every node's pointers
// and flags in flat arrays and keeps the ring (the one cycle of right pointers) as a set
// ordered by ID, so a Run after an event costs about the nodes the event touched: a change
// that would need a long walk to judge falls back to a full check, which is linear.
//
// A crashed node keeps its last pointers here: to its neighbours it is indistinguishable
// from a stalled one, so the shape of the ring through it is still checked; only its own
// left pointer, which can no longer follow insertions, is exempt while it is down. Pointers
// to crashed nodes and to nodes that gave up are judged only at quiescence (Dangling).
//
// After a violation the next Run is a full check again, so the checker never relies on a
// state it has not verified.
type Checker struct {
	enabled  bool
	dirty    bool
	needFull bool
	ringOnly bool // CheckSafety: the right-pointer properties only
	// tolerant: crashed nodes are expected to be repaired around (TolerateCrashed).
	tolerant bool
	// open: a tolerant checker's last Run found no ring, and cyc holds a cycle of right
	// pointers through at least one crashed node (downOnCyc of them), which every walk that
	// reaches it ends on as pending (openIncremental).
	open      bool
	downOnCyc int
	// fullWalks makes every Run a full walk (FullWalks).
	fullWalks bool
	ring      protocol.Ring
	ids       []protocol.ID
	index     map[protocol.ID]int32
	rank      []int32 // position in ID order
	byRank    []int32
	left      []int32 // index of the neighbour, ptrUnset or ptrUnknown
	right     []int32
	flags     []uint8

	// The ring as of the last good Run, by rank; settled is the ring's connected,
	// non-leaving nodes. leftRefs counts the ring nodes whose left pointer names a node;
	// rightRefs counts all nodes whose right pointer names it.
	cyc       bitset
	settled   bitset
	leftRefs  []int32
	rightRefs []int32

	touched []touch
	tmark   []uint32
	// ints and marks hold the int32 and uint32 arrays above, kept from Init to Init.
	ints    []int32
	marks   []uint32
	tepoch  uint32
	changed []int32

	mark  []uint32 // full walks: walk number that visited the node
	term  []int32  // full walks: what the node's walk led to
	epoch uint32
	wmark []uint32 // local walks
	wep   uint32
	path  []int32

	stats CheckerStats
}

// Dirty reports whether a node changed since the last Run (always false when disabled).
func (c *Checker) Dirty() bool { return c.dirty }

// Stats reports the work done so far.
func (c *Checker) Stats() CheckerStats { return c.stats }

// Disable stops per-event checking: Dirty stays false. A driver that keeps only the first
// violation calls it once it has one.
func (c *Checker) Disable() { c.enabled, c.dirty = false, false }

// Init mirrors the nodes whose IDs are ids and whose states are states (same order); index
// maps IDs to positions (the driver's own map, shared, not copied). enabled false makes
// Dirty always false, so a driver can leave the per-event check off.
func (c *Checker) Init(ids []protocol.ID, states []protocol.State, index map[protocol.ID]int32, ring protocol.Ring, enabled bool) {
	n := len(ids)
	// The storage of an earlier Init is kept: a driver that checks one short run after
	// another then allocates nothing here.
	keep := Checker{ids: c.ids[:0], ints: c.ints, marks: c.marks, flags: c.flags[:0], cyc: c.cyc, settled: c.settled,
		touched: c.touched[:0], changed: c.changed[:0], path: c.path[:0]}
	*c = keep
	c.enabled, c.ring, c.index, c.needFull = enabled, ring, index, true
	c.ids = append(c.ids, ids...)
	c.ints = zeroed(c.ints, 7*n) // one allocation for every int32 array
	ints := c.ints
	c.rank, c.byRank, c.left, c.right = ints[:n:n], ints[n:2*n:2*n], ints[2*n:3*n:3*n], ints[3*n:4*n:4*n]
	c.leftRefs, c.rightRefs, c.term = ints[4*n:5*n:5*n], ints[5*n:6*n:6*n], ints[6*n:7*n:7*n]
	c.marks = zeroed(c.marks, 3*n)
	marks := c.marks
	c.mark, c.wmark, c.tmark = marks[:n:n], marks[n:2*n:2*n], marks[2*n:]
	c.flags = zeroed(c.flags, n)
	for i := range c.byRank {
		c.byRank[i] = int32(i)
	}
	slices.SortFunc(c.byRank, func(a, b int32) int {
		switch {
		case c.ids[a] < c.ids[b]:
			return -1
		case c.ids[a] > c.ids[b]:
			return 1
		}
		return 0
	})
	for r, i := range c.byRank {
		c.rank[i] = int32(r)
	}
	c.cyc, c.settled = c.cyc.emptied(n), c.settled.emptied(n)
	for i := range c.left {
		c.left[i], c.right[i] = ptrUnset, ptrUnset
	}
	c.tepoch = 1
	for i := range states {
		c.Update(int32(i), &states[i])
	}
	c.touched = c.touched[:0]
	c.dirty = false
}

// zeroed returns b with length n and every element zero, in b's storage when it has room.
// A new slice comes zeroed from the system, where slices.Grow would clear it again: at a
// million nodes that clearing was a tenth of a run.
func zeroed[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func (c *Checker) resolve(id protocol.ID) int32 {
	if id == protocol.None {
		return ptrUnset
	}
	if j, ok := c.index[id]; ok {
		return j
	}
	return ptrUnknown
}

// joining reports whether i is a newcomer in transit: not connected yet, not given up, not
// departed.
func (c *Checker) joining(i int32) bool {
	return i >= 0 && c.flags[i]&(fConnected|fDeparted|fFailed) == 0
}

func (c *Checker) member(i int32) bool { return c.flags[i]&(fConnected|fDeparted) == fConnected }
func (c *Checker) isSettled(i int32) bool {
	return c.flags[i]&(fConnected|fDeparted|fLeaving) == fConnected
}
func (c *Checker) onRing(i int32) bool { return c.cyc.has(int(c.rank[i])) }

// Update mirrors node i's new state.
func (c *Checker) Update(i int32, st *protocol.State) {
	l, r := c.resolve(st.Left), c.resolve(st.Right)
	f := c.flags[i] & fDown
	if st.Connected {
		f |= fConnected
	}
	if st.Leaving {
		f |= fLeaving
	}
	if st.Departed {
		f |= fDeparted
	}
	// A newcomer that gave up but still waits (predlock-retry's unlinking after an ack) may
	// still be pointed at until its owner confirms the undo: it stays in transit until then.
	if st.Failed && !st.Waiting {
		f |= fFailed
	}
	if l == c.left[i] && r == c.right[i] && f == c.flags[i] {
		return
	}
	if c.enabled && c.tmark[i] != c.tepoch {
		c.tmark[i] = c.tepoch
		c.touched = append(c.touched, touch{i: i, left: c.left[i], right: c.right[i], flags: c.flags[i]})
	}
	if old := c.right[i]; old >= 0 {
		c.rightRefs[old]--
	}
	if r >= 0 {
		c.rightRefs[r]++
	}
	if c.onRing(i) {
		if old := c.left[i]; old >= 0 {
			c.leftRefs[old]--
		}
		if l >= 0 {
			c.leftRefs[l]++
		}
	}
	c.left[i], c.right[i], c.flags[i] = l, r, f
	if c.onRing(i) {
		if c.isSettled(i) {
			c.settled.set(int(c.rank[i]))
		} else {
			c.settled.unset(int(c.rank[i]))
		}
	}
	c.dirty = c.enabled
}

// TolerateCrashed makes the checker judge a ring whose live nodes repair crashes by
// themselves (variants with protocol.Variant.Repairs) while crashes go on: a crashed node
// is left out of the ring, a walk right that reaches one waits for the repair as it waits
// for a newcomer in transit, and a left pointer at one, or none (a predecessor found dead),
// is not judged, nor is a live node off the ring or a left pointer at one (a node skipped for
// a moment: its predecessor fell back past a crashed successor to a list entry beyond it).
// Everything else still holds among the live nodes: at most one ring, ordered, no pointer
// to a node that does not exist, connected appendages, no departed node on the ring, left
// pointers onto the ring skip no settled node.
//
// While a crashed node is still on the cycle of right pointers (the ring waits for its
// repair, which under churn is nearly always), there is no ring to judge: only broken walks
// and new cycles can fail, and a Run costs about the nodes the event touched
// (openIncremental). A Run that finds a ring (none of its nodes crashed), a Run after
// which the cycle cannot be followed locally, and every suspected violation are full checks,
// linear in the nodes; a violation is always the one the full check reports.
func (c *Checker) TolerateCrashed() {
	c.tolerant = true
	c.needFull = true
}

// FullWalks makes every Run a full check, whatever changed: the reference the incremental
// check is tested against.
func (c *Checker) FullWalks() {
	c.fullWalks = true
	c.needFull = true
}

func (c *Checker) down(i int32) bool { return c.flags[i]&fDown != 0 }

// walker reports whether a full check walks right from i.
func (c *Checker) walker(i int32) bool { return c.member(i) && !(c.tolerant && c.down(i)) }

// SetDown marks node i crashed (true) or back up (false). A crash changes no pointer, and
// only exempts the node's own left pointer; a node that comes back is checked again.
func (c *Checker) SetDown(i int32, down bool) {
	if down == (c.flags[i]&fDown != 0) {
		return
	}
	if down {
		if c.tolerant && c.enabled && c.tmark[i] != c.tepoch {
			c.tmark[i] = c.tepoch
			c.touched = append(c.touched, touch{i: i, left: c.left[i], right: c.right[i], flags: c.flags[i]})
		}
		c.flags[i] |= fDown
		if c.onRing(i) {
			c.downOnCyc++
		}
		if c.tolerant {
			c.dirty = c.enabled // the ring may now be pending on it
		}
		return
	}
	if c.enabled && c.tmark[i] != c.tepoch {
		c.tmark[i] = c.tepoch
		c.touched = append(c.touched, touch{i: i, left: c.left[i], right: c.right[i], flags: c.flags[i]})
	}
	c.flags[i] &^= fDown
	if c.onRing(i) {
		c.downOnCyc--
	}
	c.dirty = c.enabled
}

// Run checks every per-event property after the changes since the last Run and returns the
// first that fails, or nil.
func (c *Checker) Run() *Violation {
	c.dirty = false
	var v *Violation
	switch {
	case c.needFull || c.fullWalks || c.tolerant && !c.open:
		v = c.full()
	case c.tolerant:
		if ok := c.openIncremental(); !ok {
			c.stats.Fallbacks++
			v = c.full()
		}
	default:
		var ok bool
		if v, ok = c.incremental(); !ok {
			c.stats.Fallbacks++
			v = c.full()
		}
	}
	c.touched = c.touched[:0]
	if c.tepoch++; c.tepoch == 0 {
		clear(c.tmark)
		c.tepoch = 1
	}
	if v != nil {
		c.needFull = true
	}
	return v
}

// Recheck makes the next Run a full check (and makes the checker dirty, when enabled).
func (c *Checker) Recheck() {
	c.needFull = true
	c.dirty = c.enabled
}

// RunFull checks every per-event property from scratch, whatever changed.
func (c *Checker) RunFull() *Violation {
	c.needFull = true
	return c.Run()
}

func (c *Checker) violation(prop string, i int32, format string, args ...any) *Violation {
	return &Violation{Property: prop, Node: c.ids[i], Detail: fmt.Sprintf(format, args...)}
}

func (c *Checker) addToRing(i int32) {
	c.cyc.set(int(c.rank[i]))
	if c.down(i) {
		c.downOnCyc++
	}
	if c.isSettled(i) {
		c.settled.set(int(c.rank[i]))
	}
	if l := c.left[i]; l >= 0 {
		c.leftRefs[l]++
	}
}

func (c *Checker) dropFromRing(i int32) {
	c.cyc.unset(int(c.rank[i]))
	if c.down(i) {
		c.downOnCyc--
	}
	c.settled.unset(int(c.rank[i]))
	if l := c.left[i]; l >= 0 {
		c.leftRefs[l]--
	}
}

// full walks right from every connected node, rebuilds the ring and checks everything.
func (c *Checker) full() *Violation {
	c.stats.Full++
	c.needFull = true
	c.open = false
	n := len(c.ids)
	if c.epoch > ^uint32(0)-uint32(n)-1 {
		clear(c.mark)
		c.epoch = 0
	}
	base := c.epoch
	walk := base
	cycles := 0
	first := int32(-1)
	pending, members := false, false
	for s := int32(0); s < int32(n); s++ {
		if !c.walker(s) || c.mark[s] > base {
			members = members || c.walker(s)
			continue
		}
		members = true
		walk++
		c.path = c.path[:0]
		i := s
		var result int32
		for {
			if c.mark[i] == walk {
				result = int32(cycles)
				if cycles == 0 {
					first = i
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
			if next == ptrUnset && !c.member(i) || c.tolerant && next >= 0 && c.down(next) {
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
			return c.violation(PropConnectedAppendages, s, "walking right from %v ends at a node with no usable right pointer", c.ids[s])
		case cycles > 1:
			return c.violation(PropAtMostOneRing, s, "a second ring through %v", c.ids[i])
		}
	}
	c.cyc.reset()
	c.settled.reset()
	clear(c.leftRefs)
	c.downOnCyc = 0
	if cycles == 0 {
		if pending || !members {
			if c.tolerant && c.frozenCycle() {
				c.open, c.needFull = true, false
			}
			return nil // without such a cycle nothing is kept incrementally: the next Run is full again
		}
		return c.violation(PropAtLeastOneRing, 0, "no ring among connected nodes")
	}
	// Going right around the ring, the ID may decrease only once: where the ring wraps from
	// its largest ID back to its smallest.
	descents := 0
	for i := first; ; {
		j := c.right[i]
		if c.ids[j] <= c.ids[i] {
			descents++
		}
		c.addToRing(i)
		if i = j; i == first {
			break
		}
	}
	if descents > 1 {
		return c.violation(PropOrderedRing, first, "the ring through %v wraps around %d times", c.ids[first], descents)
	}
	if c.ringOnly {
		return nil
	}
	for s := int32(0); s < int32(n); s++ {
		switch {
		case c.onRing(s):
			if v := c.checkRingNode(s); v != nil {
				return v
			}
		case c.walker(s) && c.flags[s]&fLeaving == 0 && c.term[s] == termRing && !c.tolerant:
			return c.violation(PropMembersOnRing, s, "connected node %v is off the ring and not leaving", c.ids[s])
		}
	}
	c.needFull = false
	return nil
}

// checkRingNode checks a node of the ring: not departed, and a left pointer onto the ring
// with no settled node in between.
func (c *Checker) checkRingNode(i int32) *Violation {
	if c.flags[i]&fDeparted != 0 {
		return c.violation(PropMembersOnRing, i, "departed node %v is still on the ring", c.ids[i])
	}
	if c.flags[i]&fDown != 0 {
		// A crashed node's left pointer cannot follow an insertion any more; it is checked
		// again if the node comes back.
		return nil
	}
	u := c.left[i]
	if c.tolerant && (u == ptrUnset || u >= 0 && c.down(u)) {
		// A left pointer at a crashed node waits for its repair; an unset one is a
		// predecessor found dead, waiting for the next live one to notify.
		return nil
	}
	if u == ptrUnset && c.flags[i]&fConnected == 0 || c.joining(u) {
		// A newcomer in transit may be linked in before it knows its left neighbour, and a
		// node may point left at a newcomer before the newcomer is on the ring: the
		// original handshake changes either neighbour first (change_neighbour) and tells
		// the newcomer last (new_neighbour). Such pointers are in transit, like the
		// newcomers a left pointer may skip; a left pointer between settled nodes must be
		// right, and at quiescence none may name a newcomer that gave up.
		return nil
	}
	if c.tolerant && u >= 0 && !c.onRing(u) && c.flags[u]&fDeparted == 0 {
		// A live node skipped for a moment: its predecessor fell back past a crashed
		// successor to a list entry beyond it, and links it back once it hears of it.
		return nil
	}
	if u < 0 || !c.onRing(u) {
		what := "unset"
		if u >= 0 {
			what = c.ids[u].String() + ", which is off the ring"
		} else if u == ptrUnknown {
			what = "an unknown node"
		}
		return c.violation(PropLeftPointers, i, "ring node %v has left pointer %s", c.ids[i], what)
	}
	if s := c.settled.after(int(c.rank[u])); s >= 0 {
		if w := c.byRank[s]; w != i && c.ring.Between(c.ids[u], c.ids[w], c.ids[i]) {
			return c.violation(PropLeftPointers, i, "ring node %v has left pointer %v, but connected node %v lies between them",
				c.ids[i], c.ids[u], c.ids[w])
		}
	}
	return nil
}

// localWalk follows right pointers from i until the ring, a pending newcomer, a broken
// pointer or a cycle; ok is false when that takes more than walkLimit steps.
func (c *Checker) localWalk(i int32) (term int32, ok bool) {
	if c.wep++; c.wep == 0 {
		clear(c.wmark)
		c.wep = 1
	}
	for steps := 0; steps <= walkLimit; steps++ {
		switch {
		case c.onRing(i):
			return termRing, true
		case c.wmark[i] == c.wep:
			return termOther, true
		}
		c.wmark[i] = c.wep
		next := c.right[i]
		if next == ptrUnset && !c.member(i) {
			return termPending, true
		}
		if next < 0 {
			return termBroken, true
		}
		i = next
	}
	return 0, false
}

// incremental checks what the touched nodes can have changed, given that every property held
// at the last Run. ok false hands the Run to a full check.
func (c *Checker) incremental() (v *Violation, ok bool) {
	c.stats.Incremental++
	splice := int32(-1)
	c.changed = c.changed[:0]
	for _, t := range c.touched {
		c.changed = append(c.changed, t.i)
		if c.right[t.i] != t.right && c.onRing(t.i) {
			if splice >= 0 {
				return nil, false
			}
			splice = t.i
		}
	}
	nTouched := len(c.changed)
	if splice >= 0 {
		if v, ok := c.splice(splice); v != nil || !ok {
			return v, ok
		}
	}
	if c.settled.next(0) < 0 {
		// No settled node on the ring: whether any connected node still reaches it, and
		// so whether it is the ring at all, needs the full walk.
		return nil, false
	}
	for k, i := range c.changed {
		if (k >= nTouched || !c.joining(i)) && !c.onRing(i) && c.leftRefs[i] > 0 {
			// A node the splice dropped from the ring, or a newcomer off it that stopped
			// being in transit (it connected, gave up or departed), is still some ring
			// node's left. Rare, so the scan is affordable.
			for j := range c.left {
				if c.left[j] == i && c.onRing(int32(j)) && c.flags[j]&fDown == 0 && !c.joining(i) {
					return c.violation(PropLeftPointers, int32(j), "ring node %v has left pointer %v, which is off the ring",
						c.ids[j], c.ids[i]), true
				}
			}
		}
		if k < nTouched && c.leftRefs[i] > 0 && !c.joining(i) && c.touched[k].flags&(fConnected|fDeparted|fFailed) == 0 {
			// A newcomer stopped being in transit: a left pointer at it was let pass
			// (checkRingNode) and must be judged now. It is normally its successor's.
			if r := c.right[i]; c.leftRefs[i] == 1 && r >= 0 && c.left[r] == i {
				if c.onRing(r) && c.flags[r]&fDown == 0 {
					if v := c.checkRingNode(r); v != nil {
						return v, true
					}
				}
			} else {
				for j := range c.left {
					if c.left[j] == i && c.onRing(int32(j)) && c.flags[j]&fDown == 0 {
						if v := c.checkRingNode(int32(j)); v != nil {
							return v, true
						}
					}
				}
			}
		}
		if k < nTouched && i != splice && c.rightRefs[i] > 0 {
			// Whoever points at a node whose walk changed may now be judged differently:
			// only a walk that now ends pending cannot hurt them. The rest is rare, and the
			// full check decides it.
			t := &c.touched[k]
			if t.right != c.right[i] || (c.right[i] == ptrUnset && (t.flags^c.flags[i])&(fConnected|fDeparted) != 0) {
				if c.onRing(i) {
					if c.rightRefs[i] > 1 {
						return nil, false // more than its predecessor on the splice
					}
				} else if term, ok := c.localWalk(i); !ok || term != termPending {
					return nil, false
				}
			}
		}
		if c.onRing(i) {
			if v := c.checkRingNode(i); v != nil {
				return v, true
			}
			if c.isSettled(i) {
				if v, ok := c.forward(i); v != nil || !ok {
					return v, ok
				}
			}
			continue
		}
		if c.member(i) {
			term, ok := c.localWalk(i)
			switch {
			case !ok:
				return nil, false
			case term == termBroken:
				return c.violation(PropConnectedAppendages, i, "walking right from %v ends at a node with no usable right pointer", c.ids[i]), true
			case term == termOther:
				return c.violation(PropAtMostOneRing, i, "walking right from %v reaches a second ring", c.ids[i]), true
			case term == termRing && c.flags[i]&fLeaving == 0:
				return c.violation(PropMembersOnRing, i, "connected node %v is off the ring and not leaving", c.ids[i]), true
			}
		}
	}
	return nil, true
}

// splice moves the ring after ring node v changed its right pointer: the nodes the new
// pointer leads through, up to the first ring node w, replace the ring nodes between v and w.
// The new nodes must lie in ID order between v and w, which keeps the whole ring ordered.
func (c *Checker) splice(v int32) (*Violation, bool) {
	if c.wep++; c.wep == 0 {
		clear(c.wmark)
		c.wep = 1
	}
	c.path = c.path[:0]
	i := c.right[v]
	for {
		if i < 0 || len(c.path) > walkLimit {
			return nil, false // the ring is cut or far-reaching: the full check judges it
		}
		if c.onRing(i) {
			break
		}
		if c.wmark[i] == c.wep {
			return nil, false
		}
		c.wmark[i] = c.wep
		c.path = append(c.path, i)
		i = c.right[i]
	}
	w := i
	prev := v
	for _, x := range c.path {
		if !c.ring.Between(c.ids[prev], c.ids[x], c.ids[w]) {
			return c.violation(PropOrderedRing, v, "the ring through %v no longer runs in ID order (%v after %v, before %v)",
				c.ids[v], c.ids[x], c.ids[prev], c.ids[w]), true
		}
		prev = x
	}
	for {
		x := c.byRank[c.cyc.after(int(c.rank[v]))]
		if x == w {
			break
		}
		c.dropFromRing(x)
		c.changed = append(c.changed, x)
		c.stats.Removed++
	}
	for _, x := range c.path {
		c.addToRing(x)
		c.changed = append(c.changed, x)
	}
	return nil, true
}

// forward checks the ring nodes after a settled ring node z whose left interval could now
// contain z: those reached through nodes in transit, and the first settled one.
func (c *Checker) forward(z int32) (*Violation, bool) {
	y := z
	for steps := 0; steps <= walkLimit; steps++ {
		y = c.byRank[c.cyc.after(int(c.rank[y]))]
		if y == z {
			return nil, true
		}
		if v := c.checkRingNode(y); v != nil {
			return v, true
		}
		if c.isSettled(y) {
			return nil, true
		}
	}
	return nil, false
}

// Dangling is the check at quiescence: the first live, connected, non-leaving node with a
// pointer to a crashed node, and the first with a pointer to a node that gave up its join or
// departed. A leaver is exempt: once bypassed its pointers route nothing, and one still
// waiting for its goodbye has that exchange (on a timer) under way.
func (c *Checker) Dangling() (toCrashed, toFailed *Violation) {
	for i := range c.ids {
		if !c.isSettled(int32(i)) || c.flags[i]&fDown != 0 {
			continue
		}
		for _, j := range [2]int32{c.left[i], c.right[i]} {
			if j < 0 {
				continue
			}
			f := c.flags[j]
			switch {
			case f&fDown != 0:
				if toCrashed == nil {
					toCrashed = c.violation(PropNoPointerToCrashed, int32(i), "%v points at crashed node %v", c.ids[i], c.ids[j])
				}
			case f&fDeparted != 0 || f&(fFailed|fConnected) == fFailed:
				if toFailed == nil {
					toFailed = c.violation(PropNoPointerToFailed, int32(i), "%v points at %v, which gave up or departed", c.ids[i], c.ids[j])
				}
			}
		}
	}
	return toCrashed, toFailed
}

// finalRing compares every node with its true ring neighbours and returns the first that is
// wrong.
// ids is storage for the sorted IDs, returned for the next call.
func finalRing(states []protocol.State, ids []protocol.ID) (_ []protocol.ID, wrong ringFault) {
	if cap(ids) < len(states) {
		ids = make([]protocol.ID, len(states))
	}
	ids = ids[:len(states)]
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
			return ids, ringFault{at: i, wantL: wantL, wantR: wantR}
		}
	}
	return ids, ringFault{at: -1}
}

// ringFault is the first node that finalRing found with the wrong neighbours, at its index in
// the states (-1 when the ring is right), and the neighbours it should have.
type ringFault struct {
	at           int
	wantL, wantR protocol.ID
}

// appendTo appends the sentence that says what is wrong with node f.at of states.
func (f ringFault) appendTo(b []byte, states []protocol.State) []byte {
	st := &states[f.at]
	b = append(b, "node "...)
	b = st.ID.AppendTo(b)
	b = append(b, " has left="...)
	b = st.Left.AppendTo(b)
	b = append(b, " right="...)
	b = st.Right.AppendTo(b)
	b = append(b, ", want left="...)
	b = f.wantL.AppendTo(b)
	b = append(b, " right="...)
	return f.wantR.AppendTo(b)
}

// frozenCycle finds, after a full check that found no ring, a cycle of right pointers that
// runs through at least one crashed node and that some live member's pointers lead to
// (walking through crashed nodes as if they were up), and makes it cyc. Under churn it is
// the ring waiting for its repairs. It reports false when there is none.
func (c *Checker) frozenCycle() bool {
	n := len(c.ids)
	if c.epoch > ^uint32(0)-uint32(n)-1 {
		clear(c.mark)
		c.epoch = 0
	}
	base := c.epoch
	walk := base
	for s := int32(0); s < int32(n); s++ {
		if !c.walker(s) || c.mark[s] > base {
			continue
		}
		walk++
		i := s
		for c.mark[i] <= base {
			c.mark[i] = walk
			if i = c.right[i]; i < 0 {
				break
			}
		}
		if i < 0 || c.mark[i] != walk {
			continue // a broken end, or a walk already followed
		}
		down := 0
		for j := i; ; {
			if c.down(j) {
				down++
			}
			if j = c.right[j]; j == i {
				break
			}
		}
		if down == 0 {
			continue // a cycle of live nodes reached only through a crashed one
		}
		for j := i; ; {
			c.addToRing(j)
			if j = c.right[j]; j == i {
				break
			}
		}
		c.epoch = walk
		return true
	}
	c.epoch = walk
	return false
}

// openIncremental settles a tolerant Run while cyc is a cycle through crashed nodes and the
// last Run found every walk from a live member pending and no ring. A walk that reaches
// cyc follows it to a crashed node and ends pending, so only walks through the touched
// nodes can have changed: each must still end pending, at cyc, at a crashed node or at a
// newcomer in transit, within walkLimit steps. A cycle node that moved its right pointer
// is spliced first (the nodes its new pointer leads through, up to cyc, replace those it
// skips). Anything else, including a ring that closes (no crashed node left on the
// cycle), a walk that may break and a new cycle, is for the full check: ok false.
func (c *Checker) openIncremental() (ok bool) {
	c.stats.Incremental++
	c.stats.Open++
	splice, oldRight := int32(-1), int32(-1)
	for k := range c.touched {
		t := &c.touched[k]
		if c.right[t.i] != t.right && c.onRing(t.i) {
			if splice >= 0 {
				return false
			}
			splice, oldRight = t.i, t.right
		}
	}
	if splice >= 0 && !c.spliceFrozen(splice, oldRight) {
		return false
	}
	if c.downOnCyc == 0 {
		return false // the cycle is a ring again: judged in full
	}
	for k := range c.touched {
		if i := c.touched[k].i; !c.down(i) && !c.pendingWalk(i) {
			return false
		}
	}
	return true
}

// spliceFrozen moves cyc after its node v changed its right pointer from old: the nodes
// the new pointer leads through (crashed ones too), up to the first node w of cyc, replace
// the nodes from old up to w. It reports false, changing nothing, when that cannot be
// done within walkLimit steps each way.
func (c *Checker) spliceFrozen(v, old int32) bool {
	if c.wep++; c.wep == 0 {
		clear(c.wmark)
		c.wep = 1
	}
	c.path = c.path[:0]
	i := c.right[v]
	for {
		if i < 0 || len(c.path) > walkLimit || c.wmark[i] == c.wep {
			return false
		}
		if c.onRing(i) {
			break
		}
		c.wmark[i] = c.wep
		c.path = append(c.path, i)
		i = c.right[i]
	}
	w := i
	// Only v's pointer on the cycle changed, so the old nodes are reached from old by the
	// cycle's own pointers; w == v would drop the whole cycle.
	c.changed = c.changed[:0]
	for x, steps := old, 0; x != w; x, steps = c.right[x], steps+1 {
		if x < 0 || x == v || !c.onRing(x) || steps > walkLimit {
			return false
		}
		c.changed = append(c.changed, x)
	}
	for _, x := range c.changed {
		c.dropFromRing(x)
		c.stats.Removed++
	}
	for _, x := range c.path {
		c.addToRing(x)
	}
	return true
}

// pendingWalk reports whether the walk right from live node i ends pending (as the full
// check walks: at a crashed node, at a newcomer in transit with no right pointer, or on cyc,
// which leads to a crashed node) within walkLimit steps.
func (c *Checker) pendingWalk(i int32) bool {
	if c.wep++; c.wep == 0 {
		clear(c.wmark)
		c.wep = 1
	}
	for steps := 0; steps <= walkLimit; steps++ {
		if c.onRing(i) {
			return true
		}
		if c.wmark[i] == c.wep {
			return false
		}
		c.wmark[i] = c.wep
		next := c.right[i]
		switch {
		case next == ptrUnset && !c.member(i), next >= 0 && c.down(next):
			return true
		case next < 0:
			return false
		}
		i = next
	}
	return false
}
