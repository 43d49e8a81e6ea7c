package protocol

import (
	"container/heap"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// repairNet is a tiny network for the repair variant: messages take a random delay (so they
// arrive in a seeded random order), none is lost, and a crashed node is never stepped again.
type repairNet struct {
	t       *testing.T
	rng     *rand.Rand
	now     int64
	seq     uint64
	events  repairEvents
	nodes   map[ID]Node
	crashed map[ID]bool
	step    Stepper
	cfg     Config // template for new nodes
}

type repairEvent struct {
	at, seq int64
	to      ID
	msg     *Message
	timer   Timer
	boot    bool
}

type repairEvents []repairEvent

func (e repairEvents) Len() int { return len(e) }
func (e repairEvents) Less(i, j int) bool {
	return e[i].at < e[j].at || (e[i].at == e[j].at && e[i].seq < e[j].seq)
}
func (e repairEvents) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *repairEvents) Push(x any)   { *e = append(*e, x.(repairEvent)) }
func (e *repairEvents) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

const (
	repairPeriod  = int64(1e9)
	repairTimeout = int64(100e6)
)

func (n *repairNet) at(at int64, ev repairEvent) {
	n.seq++
	ev.at, ev.seq = at, int64(n.seq)
	heap.Push(&n.events, ev)
}

func (n *repairNet) input(id ID, in Input) {
	for rd := range n.step.Step(n.nodes[id], &in) {
		if rd.Err != nil {
			n.t.Fatalf("t=%d node %v: %v", n.now, id, rd.Err)
		}
		for _, a := range rd.Actions {
			switch a.Kind {
			case Send:
				m := a.Msg
				// 1 to 30 ms: far below the timeout, but enough to reorder messages.
				n.at(n.now+int64(1e6)+n.rng.Int64N(29e6), repairEvent{to: m.To, msg: &m})
			case SetTimer:
				n.at(n.now+a.Timer.After, repairEvent{to: id, timer: a.Timer})
			}
		}
	}
}

// runUntil delivers every event before t.
func (n *repairNet) runUntil(t int64) {
	for n.events.Len() > 0 && n.events[0].at < t {
		ev := heap.Pop(&n.events).(repairEvent)
		n.now = ev.at
		if n.crashed[ev.to] || n.nodes[ev.to] == nil {
			continue
		}
		switch {
		case ev.boot:
			n.input(ev.to, Input{Kind: InputBoot})
		case ev.msg != nil:
			n.input(ev.to, Input{Kind: InputMessage, Msg: *ev.msg})
		default:
			n.input(ev.to, Input{Kind: InputTimer, Timer: ev.timer})
		}
	}
	n.now = t
}

// live returns the nodes in the ring (not crashed, connected), in ID order.
func (n *repairNet) live() []ID {
	var ids []ID
	for id, nd := range n.nodes {
		if !n.crashed[id] && nd.State().Connected {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (n *repairNet) describe(id ID) string {
	nd, ok := n.nodes[id]
	if !ok {
		return "no such node"
	}
	rn := &nd.(*host[repairNode, *repairNode]).m
	return fmt.Sprintf("%+v crashed=%v succs=%v sp=%+v pp=%+v j=%d o=%d l=%d", nd.State(), n.crashed[id], rn.succs, rn.sp, rn.pp, rn.jphase, rn.ophase, rn.lphase)
}

// check reports what is wrong with the ring and the keys, or "" when nothing is.
func (n *repairNet) check(keys []Item, r int) string {
	live := n.live()
	for i, id := range live {
		st := n.nodes[id].State()
		l, rt := live[(i+len(live)-1)%len(live)], live[(i+1)%len(live)]
		if st.Left != l || st.Right != rt {
			return fmt.Sprintf("%v: left=%v right=%v, want %v %v (%s; right: %s; wanted left: %s)", id, st.Left, st.Right, l, rt, n.describe(id), n.describe(st.Right), n.describe(l))
		}
	}
	for _, k := range keys {
		owner, _ := slices.BinarySearch(live, k.ID)
		owner %= len(live)
		want := min(r+1, len(live))
		holders := 0
		for _, id := range live {
			nd := n.nodes[id]
			_, inItems := slices.BinarySearchFunc(nd.Items(), k, CompareItems)
			_, inReplicas := slices.BinarySearchFunc(nd.Replicas(), k, CompareItems)
			if inItems || inReplicas {
				holders++
			}
		}
		if _, ok := slices.BinarySearchFunc(n.nodes[live[owner]].Items(), k, CompareItems); !ok {
			return fmt.Sprintf("key %s@%v: not a key of its owner %v (%d live copies; owner %s)", k.Key, k.ID, live[owner], holders, n.describe(live[owner]))
		}
		for j := 1; j < want; j++ {
			nd := n.nodes[live[(owner+j)%len(live)]]
			_, inReplicas := slices.BinarySearchFunc(nd.Replicas(), k, CompareItems)
			if !inReplicas {
				return fmt.Sprintf("key %s@%v: no copy on the owner's successor %d, %v", k.Key, k.ID, j, live[(owner+j)%len(live)])
			}
		}
		if holders != want {
			return fmt.Sprintf("key %s@%v: %d live copies, want %d", k.Key, k.ID, holders, want)
		}
	}
	return ""
}

// TestRepairChurn joins nodes and crashes up to r-1 adjacent ones at a time, then checks
// that within repairBound stabilization periods after the last crash the live nodes form
// the correct ring and every key has r+1 live copies: on its owner and its next r successors.
func TestRepairChurn(t *testing.T) {
	const (
		bits    = 16
		members = 10
		joiners = 10
		nkeys   = 40
		// crashGap is the time between two crashes of r-1 adjacent nodes: enough for the
		// copies of the first to be re-replicated before the second.
		crashGap = 4 * repairPeriod
	)
	worst := 0
	for _, r := range []int{2, 3, 4} {
		for seed := uint64(1); seed <= *repairSeeds; seed++ {
			t.Run(fmt.Sprintf("r=%d/seed=%d", r, seed), func(t *testing.T) {
				k := repairChurn(t, seed, r, bits, members, joiners, nkeys, crashGap)
				worst = max(worst, k)
			})
		}
	}
	t.Logf("slowest repair: %d periods after the last crash (bound %d)", worst, repairBound)
}

// repairSeeds is how many seeded runs TestRepairChurn makes per successor-list length. Beyond
// the default some runs fail (docs/protocol.md, "repair", what is not promised).
var repairSeeds = flag.Uint64("repair.seeds", 50, "seeded runs of TestRepairChurn per successor-list length")

// repairBound is the number of stabilization periods after the last crash within which the
// ring and the keys are repaired (docs/protocol.md states it).
const repairBound = 6

func repairChurn(t *testing.T, seed uint64, r int, bits uint, members, joiners, nkeys int, crashGap int64) int {
	ring := Ring{Bits: bits}
	n := &repairNet{t: t, rng: rand.New(rand.NewPCG(seed, 0xdead)), nodes: map[ID]Node{}, crashed: map[ID]bool{},
		cfg: Config{Ring: ring, Replicas: r, Timeout: repairTimeout, Stabilize: repairPeriod}}
	v, err := Lookup("repair")
	if err != nil {
		t.Fatal(err)
	}
	used := map[ID]bool{}
	newID := func() ID {
		for {
			id := ID(n.rng.Uint64N(ring.Size()))
			if !used[id] {
				used[id] = true
				return id
			}
		}
	}
	ids := make([]ID, members)
	for i := range ids {
		ids[i] = newID()
	}
	slices.Sort(ids)
	keys := make([]Item, nkeys)
	byOwner := map[ID][]Item{}
	for i := range keys {
		name := fmt.Sprintf("key%d", i)
		keys[i] = Item{ID: KeyID(ring, name), Key: name, Value: []byte(name)}
		o, _ := slices.BinarySearch(ids, keys[i].ID)
		byOwner[ids[o%len(ids)]] = append(byOwner[ids[o%len(ids)]], keys[i])
	}
	for i, id := range ids {
		c := n.cfg
		c.ID, c.Member, c.Left, c.Right, c.Items = id, true, ids[(i+len(ids)-1)%len(ids)], ids[(i+1)%len(ids)], byOwner[id]
		n.nodes[id] = v.New(c)
		// Boots spread over a period, so that the rounds are not in lockstep.
		n.at(n.rng.Int64N(repairPeriod), repairEvent{to: id, boot: true})
	}
	// Warm up: the successor lists fill and the copies spread.
	n.runUntil(10 * repairPeriod)
	if msg := n.check(keys, r); msg != "" {
		t.Fatalf("after warm-up: %s", msg)
	}
	// Churn: a join every half period through a random live node, and every crashGap a block
	// of 1..r-1 adjacent live nodes crashes at a random moment.
	end := n.now + 6*crashGap
	nextCrash := n.now + crashGap/2
	joined := 0
	for n.now < end {
		step := n.now + repairPeriod/2
		if joined < joiners {
			live := n.live()
			id := newID()
			c := n.cfg
			c.ID, c.Contact = id, live[n.rng.IntN(len(live))]
			n.nodes[id] = v.New(c)
			joined++
			n.input(id, Input{Kind: InputStart})
		}
		if step > nextCrash {
			n.runUntil(nextCrash)
			live := n.live()
			count := 1 + n.rng.IntN(r-1)
			count = min(count, r-1, len(live)-2)
			first := n.rng.IntN(len(live))
			for j := range count {
				n.crashed[live[(first+j)%len(live)]] = true
			}
			nextCrash += crashGap
		}
		n.runUntil(step)
	}
	last := nextCrash - crashGap
	// Repair: check after every period from the last crash on.
	for k := 1; k <= 30; k++ {
		n.runUntil(last + int64(k)*repairPeriod)
		if msg := n.check(keys, r); msg == "" {
			// It must stay repaired.
			n.runUntil(n.now + 5*repairPeriod)
			if msg := n.check(keys, r); msg != "" {
				t.Fatalf("repaired %d periods after the last crash, then broken again: %s", k, msg)
			}
			if k > repairBound {
				t.Errorf("repaired only %d periods after the last crash (bound %d)", k, repairBound)
			}
			return k
		} else if k == 30 {
			t.Fatalf("not repaired 30 periods after the last crash: %s", msg)
		}
	}
	return 0
}
