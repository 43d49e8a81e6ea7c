package observe

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

func member(id, left, right protocol.ID) protocol.State {
	return protocol.State{ID: id, Left: left, Right: right, Connected: true}
}

func newcomer(id, left, right protocol.ID) protocol.State {
	return protocol.State{ID: id, Left: left, Right: right, Waiting: true}
}

const none = protocol.None

// Shapes a broken protocol can leave, and the mid-insertion and mid-leave shapes a correct
// one passes through.
func TestCheckSafetyShapes(t *testing.T) {
	leaving := func(st protocol.State) protocol.State { st.Leaving = true; return st }
	departed := func(st protocol.State) protocol.State { st.Departed = true; return st }
	failed := func(st protocol.State) protocol.State { st.Failed, st.Waiting = true, false; return st }
	tests := []struct {
		name   string
		states []protocol.State
		want   string
	}{
		{"ring", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1)}, ""},
		{"single node", []protocol.State{member(1, 1, 1)}, ""},
		{"no nodes", nil, ""},
		{"newcomers only", []protocol.State{newcomer(1, none, none)}, ""},
		{"newcomer holds pointers, nothing points at it", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), newcomer(3, 1, 5)}, ""},
		{"newcomer linked by its left, successor's left lags", []protocol.State{member(1, 9, 3), member(5, 1, 9), member(9, 5, 1), newcomer(3, 1, 5)}, ""},
		{"newcomer into a one-node ring", []protocol.State{member(1, 1, 3), newcomer(3, 1, 1)}, ""},
		{"two newcomers linked, lag over both", []protocol.State{member(1, 9, 2), member(5, 1, 9), member(9, 5, 1), newcomer(2, 1, 3), newcomer(3, 2, 5)}, ""},
		{"leaver bypassed, still connected", []protocol.State{member(1, 9, 9), leaving(member(5, 1, 9)), member(9, 1, 1)}, ""},
		{"leaver's successor switched left first", []protocol.State{member(1, 9, 5), leaving(member(5, 1, 9)), member(9, 1, 1)}, ""},
		{"departed leaver off the ring", []protocol.State{member(1, 9, 9), departed(member(5, 1, 9)), member(9, 1, 1)}, ""},
		{"walk pending on a joiner", []protocol.State{member(1, 9, 2), member(5, 2, 9), member(9, 5, 1), newcomer(2, none, none)}, ""},

		{"two rings", []protocol.State{member(1, 5, 5), member(5, 1, 1), member(7, 9, 9), member(9, 7, 7)}, PropAtMostOneRing},
		{"ring out of order", []protocol.State{member(1, 9, 9), member(5, 9, 1), member(9, 1, 5)}, PropOrderedRing},
		{"dangling pointer", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), member(3, 1, 77)}, PropConnectedAppendages},
		{"no ring", []protocol.State{member(1, 5, 5), member(5, 1, 2), {ID: 2, Left: 5, Right: none, Connected: true}}, PropConnectedAppendages},
		{"connected appendage, not leaving", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), member(3, 1, 5)}, PropMembersOnRing},
		{"departed node on the ring", []protocol.State{member(1, 9, 5), departed(member(5, 1, 9)), member(9, 5, 1)}, PropMembersOnRing},
		{"departed node on the ring, left exact", []protocol.State{member(1, 9, 5), departed(member(5, 1, 9)), member(9, 1, 1)}, PropMembersOnRing},
		{"left pointer at a newcomer in transit", []protocol.State{member(1, 9, 5), member(5, 3, 9), member(9, 5, 1), newcomer(3, none, none)}, ""},
		{"newcomer linked in before it knows its left", []protocol.State{member(1, 9, 3), member(5, 3, 9), member(9, 5, 1), newcomer(3, none, 5)}, ""},
		{"left pointer off the ring", []protocol.State{member(1, 9, 5), member(5, 3, 9), member(9, 5, 1), failed(newcomer(3, 1, 5))}, PropLeftPointers},
		{"left pointer unset", []protocol.State{member(1, 9, 5), member(5, none, 9), member(9, 5, 1)}, PropLeftPointers},
		{"left pointer skips a connected node", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 1, 1)}, PropLeftPointers},
		{"left pointer points ahead", []protocol.State{member(1, 5, 5), member(5, 1, 9), member(9, 5, 1)}, PropLeftPointers},
		{"newcomer on the ring with a stale left", []protocol.State{member(1, 9, 3), member(5, 3, 9), member(9, 5, 1), newcomer(3, 9, 5)}, PropLeftPointers},
	}
	ring := protocol.Ring{Bits: 8}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if v := CheckSafetyAll(tt.states, ring); v != nil {
				got = v.Property
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			// CheckSafety judges the right pointers only.
			got = ""
			if v := CheckSafety(tt.states, ring); v != nil {
				got = v.Property
			}
			if ringProp := tt.want != PropLeftPointers && tt.want != PropMembersOnRing; got != tt.want && (ringProp || got != "") {
				t.Fatalf("CheckSafety: got %q, want %q or nothing", got, tt.want)
			}
		})
	}
}

func TestDangling(t *testing.T) {
	states := []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), {ID: 3, Failed: true, Left: 1, Right: 5}}
	ids := []protocol.ID{1, 5, 9, 3}
	index := map[protocol.ID]int32{1: 0, 5: 1, 9: 2, 3: 3}
	var c Checker
	c.Init(ids, states, index, protocol.Ring{Bits: 8}, true)
	if a, b := c.Dangling(); a != nil || b != nil {
		t.Fatalf("a correct ring: %v %v", a, b)
	}
	states[0].Right = 3
	c.Update(0, &states[0])
	c.SetDown(2, true)
	crashed, failed := c.Dangling()
	if crashed == nil || crashed.Property != PropNoPointerToCrashed || failed == nil || failed.Property != PropNoPointerToFailed {
		t.Fatalf("got %+v and %+v", crashed, failed)
	}
	// A leaver's pointers are exempt: it waits for its goodbye on a timer.
	for _, i := range []int{0, 1} {
		states[i].Leaving = true
		c.Update(int32(i), &states[i])
	}
	if a, b := c.Dangling(); a != nil || b != nil {
		t.Fatalf("leavers' pointers judged: %v %v", a, b)
	}
}

// mutator drives a small ring through random changes: the steps of insertions and leaves,
// each taken whenever its own node can take it (so steps of different exchanges interleave
// and some come out of order), and, at the sequence's own rate, hostile writes of any
// pointer or flag.
type mutator struct {
	r       *rand.Rand
	sts     []protocol.State
	ids     []protocol.ID
	ring    protocol.Ring
	hostile int // per 100 steps
}

func (m *mutator) pick() int { return m.r.IntN(len(m.sts)) }

func (m *mutator) anyID() protocol.ID {
	switch m.r.IntN(12) {
	case 0:
		return none
	case 1:
		return 1000 // not a node
	}
	return m.ids[m.pick()]
}

func (m *mutator) find(id protocol.ID) *protocol.State {
	for j := range m.sts {
		if m.sts[j].ID == id {
			return &m.sts[j]
		}
	}
	return nil
}

// step changes one node and returns its index.
func (m *mutator) step() int {
	i := m.pick()
	st := &m.sts[i]
	if m.r.IntN(100) < m.hostile {
		switch m.r.IntN(8) {
		case 0:
			st.Right = m.anyID()
		case 1:
			st.Left = m.anyID()
		case 2:
			st.Connected = !st.Connected
		case 3:
			st.Leaving = !st.Leaving
		case 4:
			st.Departed = !st.Departed
		case 5:
			st.Failed = !st.Failed
		case 6:
			st.Right, st.Left = m.anyID(), m.anyID()
		case 7:
			st.Right = st.ID
		}
		return i
	}
	switch m.r.IntN(8) {
	case 0: // welcome: a newcomer takes the gap of a connected node
		p := m.sts[m.pick()]
		if !st.Connected && p.Connected && p.Right != none && (m.r.IntN(8) == 0 || m.ring.Between(p.ID, st.ID, p.Right)) {
			st.Left, st.Right = p.ID, p.Right
		}
	case 1: // the owner links the newcomer that points at its right
		for j := range m.sts {
			if k := &m.sts[j]; !k.Connected && k.Left == st.ID && k.Right == st.Right && k.ID != st.ID {
				st.Right = k.ID
				break
			}
		}
	case 2: // a successor switches left to the node now pointing at it
		for j := range m.sts {
			if k := &m.sts[j]; k.Right == st.ID && k.ID != st.ID && k.ID != st.Left && m.r.IntN(2) == 0 {
				st.Left = k.ID
				break
			}
		}
	case 3: // a newcomer whose successor points back at it connects
		if r := m.find(st.Right); r != nil && r.Left == st.ID {
			st.Connected = true
		}
	case 4: // a member starts leaving
		if st.Connected {
			st.Leaving = true
		}
	case 5: // the leaver's successor takes the leaver's left
		if x := m.find(st.Left); x != nil && x.Leaving && x.ID != st.ID {
			st.Left = x.Left
		}
	case 6: // the leaver's predecessor points past it
		if x := m.find(st.Right); x != nil && x.Leaving && x.ID != st.ID {
			st.Right = x.Right
		}
	case 7: // a leaver nobody points at departs
		if st.Leaving {
			for j := range m.sts {
				if k := &m.sts[j]; k.ID != st.ID && (k.Right == st.ID || k.Left == st.ID) {
					return i
				}
			}
			st.Departed = true
		}
	}
	return i
}

// The incremental checker agrees with a full check on every state of thousands of random
// mutation sequences, violations included.
func TestCheckerAgreesWithFullCheck(t *testing.T) {
	sequences := 4000
	if testing.Short() {
		sequences = 500
	}
	var agreeOK, agreeBad int
	var stats CheckerStats
	for seq := range sequences {
		r := rand.New(rand.NewPCG(uint64(seq), 7))
		n := 2 + r.IntN(9)
		ring := protocol.Ring{Bits: 6}
		perm := r.Perm(64)[:n]
		ids := make([]protocol.ID, n)
		for i, p := range perm {
			ids[i] = protocol.ID(p)
		}
		// A correct ring of the first few, the rest newcomers.
		members := 1 + r.IntN(n)
		sorted := slices.Clone(ids[:members])
		slices.Sort(sorted)
		sts := make([]protocol.State, n)
		index := make(map[protocol.ID]int32, n)
		for i, id := range ids {
			index[id] = int32(i)
			sts[i] = newcomer(id, none, none)
			if i < members {
				k, _ := slices.BinarySearch(sorted, id)
				sts[i] = member(id, sorted[(k+members-1)%members], sorted[(k+1)%members])
			}
		}
		m := &mutator{r: r, sts: sts, ids: ids, ring: ring, hostile: []int{0, 1, 5, 30}[seq%4]}
		var c Checker
		c.Init(ids, sts, index, ring, true)
		down := make([]bool, n)
		for step := 0; step < 60; step++ {
			i := m.step()
			c.Update(int32(i), &sts[i])
			if r.IntN(5) == 0 {
				// Two nodes change between checks now and then.
				j := m.step()
				c.Update(int32(j), &sts[j])
			}
			if r.IntN(10) == 0 {
				j, d := m.pick(), r.IntN(2) == 0
				c.SetDown(int32(j), d)
				down[j] = d
			}
			got := c.Run()
			var ref Checker
			ref.Init(ids, sts, index, ring, true)
			for j, d := range down {
				ref.SetDown(int32(j), d)
			}
			want := ref.Run()
			if (got == nil) != (want == nil) {
				t.Fatalf("sequence %d step %d: incremental %+v, full %+v\nstates %+v", seq, step, got, want, sts)
			}
			if got == nil {
				agreeOK++
			} else {
				agreeBad++
			}
		}
		s := c.Stats()
		stats.Incremental += s.Incremental
		stats.Full += s.Full
		stats.Fallbacks += s.Fallbacks
		stats.Removed += s.Removed
	}
	t.Logf("%d states without violation, %d with; %+v", agreeOK, agreeBad, stats)
	if agreeOK < sequences || agreeBad < sequences || stats.Incremental < int64(sequences) || stats.Removed == 0 {
		t.Fatalf("too few states of each kind exercised: %d ok, %d violated, %+v", agreeOK, agreeBad, stats)
	}
}

// TestTolerateCrashed: a ring repairing around a crashed node passes the tolerant checker in
// each of its intermediate shapes, which the default checker refuses; what must hold among
// the live nodes still fails.
func TestTolerateCrashed(t *testing.T) {
	ids := []protocol.ID{1, 5, 9, 13}
	index := map[protocol.ID]int32{1: 0, 5: 1, 9: 2, 13: 3}
	ring := []protocol.State{member(1, 13, 5), member(5, 1, 9), member(9, 5, 13), member(13, 9, 1)}
	tests := []struct {
		name   string
		edit   func(st []protocol.State)
		strict string // the default checker's verdict
		want   string // the tolerant checker's
	}{
		{"crashed, nothing repaired", func(st []protocol.State) {}, "", ""},
		{"right pointer repaired, successor's left still at the crashed node", func(st []protocol.State) { st[0].Right = 9 }, PropMembersOnRing, ""},
		{"repaired", func(st []protocol.State) { st[0].Right, st[2].Left = 9, 1 }, PropMembersOnRing, ""},
		{"dead predecessor cleared, no notify yet", func(st []protocol.State) { st[0].Right, st[2].Left = 9, none }, PropMembersOnRing, ""},
		{"live nodes out of order", func(st []protocol.State) { st[0].Right, st[2].Right, st[3].Right = 13, 1, 9 }, PropOrderedRing, PropOrderedRing},
		{"pointer to a node that never existed", func(st []protocol.State) { st[0].Right = 77 }, PropConnectedAppendages, PropConnectedAppendages},
		{"left pointer skips a live node", func(st []protocol.State) { st[0].Right, st[2].Left, st[3].Left = 9, 1, 1 }, PropMembersOnRing, PropLeftPointers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tolerant := range []bool{false, true} {
				states := slices.Clone(ring)
				var c Checker
				c.Init(ids, states, index, protocol.Ring{Bits: 8}, true)
				if tolerant {
					c.TolerateCrashed()
				}
				if v := c.Run(); v != nil {
					t.Fatalf("the intact ring: %+v", *v)
				}
				c.SetDown(1, true) // node 5 crashes
				tt.edit(states)
				for i := range states {
					c.Update(int32(i), &states[i])
				}
				got := ""
				if v := c.RunFull(); v != nil {
					got = v.Property
				}
				want := tt.strict
				if tolerant {
					want = tt.want
				}
				if got != want {
					t.Errorf("tolerant %v: got %q, want %q", tolerant, got, want)
				}
			}
		})
	}
}

// The tolerant checker, incremental while the ring waits for repairs, reports exactly what
// a full check reports on every state of random sequences of insertions, leaves, hostile
// writes, crashes and repairs around crashed nodes.
func TestTolerantCheckerAgreesWithFullCheck(t *testing.T) {
	sequences := 4000
	if testing.Short() {
		sequences = 500
	}
	var agreeOK, agreeBad int
	var stats CheckerStats
	for seq := range sequences {
		r := rand.New(rand.NewPCG(uint64(seq), 11))
		n := 3 + r.IntN(14)
		ring := protocol.Ring{Bits: 6}
		perm := r.Perm(64)[:n]
		ids := make([]protocol.ID, n)
		for i, p := range perm {
			ids[i] = protocol.ID(p)
		}
		members := 2 + r.IntN(n-1)
		sorted := slices.Clone(ids[:members])
		slices.Sort(sorted)
		sts := make([]protocol.State, n)
		index := make(map[protocol.ID]int32, n)
		for i, id := range ids {
			index[id] = int32(i)
			sts[i] = newcomer(id, none, none)
			if i < members {
				k, _ := slices.BinarySearch(sorted, id)
				sts[i] = member(id, sorted[(k+members-1)%members], sorted[(k+1)%members])
			}
		}
		m := &mutator{r: r, sts: sts, ids: ids, ring: ring, hostile: []int{0, 0, 1, 5}[seq%4]}
		var c Checker
		c.Init(ids, sts, index, ring, true)
		c.TolerateCrashed()
		down := make([]bool, n)
		// repair is what a repairing node does around a crashed one: point past a crashed
		// successor (to its successor, or a live node further on), or clear a left pointer
		// at a crashed predecessor.
		repair := func() int {
			i := m.pick()
			st := &sts[i]
			if down[i] {
				return i
			}
			if j, ok := index[st.Right]; ok && down[j] {
				next := sts[j].Right
				for hops := 0; hops < 3; hops++ {
					if k, ok := index[next]; ok && down[k] {
						next = sts[k].Right
					}
				}
				st.Right = next
			}
			if j, ok := index[st.Left]; ok && down[j] && r.IntN(2) == 0 {
				st.Left = none
			}
			return i
		}
		for step := 0; step < 120; step++ {
			var i int
			if r.IntN(3) == 0 {
				i = repair()
			} else {
				i = m.step()
			}
			c.Update(int32(i), &sts[i])
			if r.IntN(5) == 0 {
				j := repair()
				c.Update(int32(j), &sts[j])
			}
			if r.IntN(8) == 0 {
				j, d := m.pick(), r.IntN(6) != 0
				c.SetDown(int32(j), d)
				down[j] = d
			}
			got := c.Run()
			var ref Checker
			ref.Init(ids, sts, index, ring, true)
			ref.TolerateCrashed()
			for j, d := range down {
				ref.SetDown(int32(j), d)
			}
			want := ref.Run()
			if (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Fatalf("sequence %d step %d: incremental %+v, full %+v\nstates %+v\ndown %v", seq, step, got, want, sts, down)
			}
			if got == nil {
				agreeOK++
			} else {
				agreeBad++
			}
		}
		s := c.Stats()
		stats.Incremental += s.Incremental
		stats.Open += s.Open
		stats.Full += s.Full
		stats.Fallbacks += s.Fallbacks
		stats.Removed += s.Removed
	}
	t.Logf("%d states without violation, %d with; %+v", agreeOK, agreeBad, stats)
	if agreeOK < 10*sequences || agreeBad < sequences || stats.Open < 10*int64(sequences) || stats.Removed < int64(sequences) {
		t.Fatalf("too few states of each kind exercised: %d ok, %d violated, %+v", agreeOK, agreeBad, stats)
	}
}
