package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// putKeys stores n keys through the first node and returns them.
func (d *dhtRing) putKeys(n int) map[string]string {
	d.t.Helper()
	keys := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value %d", i)
		keys[k] = v
		if rep := d.kv(d.nodes[0], KVRequest{Kind: protocol.OpPut, Key: k, Value: []byte(v)}); rep.Status != protocol.StatusOK {
			d.t.Fatalf("put %q: %s %s", k, StatusName(rep.Status), rep.Error)
		}
	}
	return keys
}

// remove takes a node that has left out of the ring's list.
func (d *dhtRing) remove(gone *Node) {
	d.nodes = slices.DeleteFunc(d.nodes, func(n *Node) bool { return n == gone })
}

// checkEverywhere gets every key through every node, then checks that each is stored
// exactly once, at its owner (check).
func (d *dhtRing) checkEverywhere(keys map[string]string) {
	d.t.Helper()
	for _, via := range d.nodes {
		for k, v := range keys {
			want := d.owner(k)
			rep := d.kv(via, KVRequest{Kind: protocol.OpGet, Key: k})
			if rep.Status != protocol.StatusOK || string(rep.Value) != v || rep.Owner != want.ID() {
				d.t.Errorf("get %q via %v: %s %q from %v, want %q from %v (%s)",
					k, via.ID(), StatusName(rep.Status), rep.Value, rep.Owner, v, want.ID(), rep.Error)
			}
		}
	}
	d.check(keys)
}

// ringRight waits until the nodes still in the ring point to their true neighbours and
// hold no lock (the last success_join may still be on its way); gone are nodes that have
// left, which must say so. Quiet cannot tell: client operations keep their timeout timers
// pending long after they ended.
func ringRight(t *testing.T, ring protocol.Ring, in []*Node, gone ...*Node) {
	t.Helper()
	all := append(slices.Clone(in), gone...)
	var (
		sts             []Status
		outcome, detail string
		correct         bool
	)
	end := time.Now().Add(5 * time.Second)
	for {
		sts = statuses(all)
		if outcome, detail, correct = Classify(sts, ring, false); outcome == observe.OutcomeOK && correct {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("outcome %s (%s), ring correct %v:\n%s", outcome, detail, correct, describe(sts))
		}
		time.Sleep(2 * time.Millisecond)
	}
	for _, n := range gone {
		if st := n.Status(); !st.Departed || !st.Leaving || st.Connected || st.Keys != 0 {
			t.Errorf("node %v after its leave: departed %v leaving %v connected %v keys %d",
				st.ID, st.Departed, st.Leaving, st.Connected, st.Keys)
		}
	}
}

// A predlock node leaves through the protocol's exchange: its keys go to its right
// neighbour, its neighbours end up pointing to each other, and gets through the other
// nodes go on succeeding while it leaves, since it forwards until it has departed.
func TestGracefulLeave(t *testing.T) {
	var recs recorders
	ids := []protocol.ID{3000, 14000, 27000, 39000, 52000, 61000}
	d := startDHT(t, ringConfig{protocol: "predlock", tune: recs.tune}, ids)
	keys := d.putKeys(60)
	d.check(keys)
	leaver, right := d.nodes[2], d.nodes[3]
	held, before := leaver.Status().Keys, right.Status().Keys
	if held == 0 {
		t.Fatal("the leaver stores no key; the layout does not test the handoff")
	}

	// Gets through every other node while the leave runs, each on a client of its own.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int64
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	for _, via := range d.nodes {
		if via == leaver {
			continue
		}
		cl := NewClient(via.Addr())
		t.Cleanup(func() { cl.Close() })
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := names[i%len(names)]
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpGet, Key: k})
				cancel()
				if err != nil || rep.Status != protocol.StatusOK || string(rep.Value) != keys[k] {
					t.Errorf("get %q via %v during the leave: %+v %v", k, via.ID(), rep, err)
					return
				}
				during.Add(1)
			}
		})
	}

	start := time.Now()
	leaver.Leave(2 * time.Second)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if !leaver.Status().Departed {
		t.Fatalf("Leave returned after %v without the node departing", took)
	}
	if got := right.Status().Keys; got != before+held {
		t.Errorf("the right neighbour stores %d keys, want %d + the leaver's %d", got, before, held)
	}
	t.Logf("left in %v, handing %d keys over; %d gets through the others meanwhile", took, held, during.Load())

	// The exchange, not the notice: the leaver sent leave_ask and leave_keys, and nobody
	// was told of a leave by frame.
	rec := recs.of(leaver.ID())
	for _, mt := range []protocol.MsgType{protocol.LeaveAsk, protocol.LeaveKeys} {
		if !slices.ContainsFunc(rec.find(observe.KindSend, ""), func(e observe.Event) bool { return e.MsgType == mt }) {
			t.Errorf("the leaver sent no %s", mt)
		}
	}
	if len(rec.find(observe.KindFault, "leaving: telling")) > 0 {
		t.Error("the leaver sent the leave notice after a graceful leave")
	}
	for _, n := range d.nodes {
		if len(recs.of(n.ID()).find(observe.KindFault, "left (its left")) > 0 {
			t.Errorf("node %v was told of the leave by a notice", n.ID())
		}
	}

	d.remove(leaver)
	ringRight(t, d.ring, d.nodes, leaver)
	d.checkEverywhere(keys)
}

// A member leaves while newcomers join around it, two of them into the gaps on either side
// of it: every join ends, the leave ends, and every key is found at its owner.
func TestGracefulLeaveDuringJoins(t *testing.T) {
	r := rand.New(rand.NewPCG(layoutSeed(t, 11), 0x6c76))
	ring := protocol.Ring{Bits: 16}
	ids := distinctIDs(r, ring, 12)
	members := slices.Sorted(slices.Values(ids[:6]))
	var recs recorders
	d := startDHT(t, ringConfig{protocol: "predlock", tune: recs.tune}, members)
	keys := d.putKeys(40)
	leaver := d.nodes[2]
	newIDs := append([]protocol.ID{(members[1] + members[2]) / 2, (members[2] + members[3]) / 2}, ids[6:]...)
	slices.Sort(newIDs)
	newIDs = slices.DeleteFunc(slices.Compact(newIDs), func(id protocol.ID) bool { return slices.Contains(members, id) })

	// Newcomers reach the ring through the other members: one that joined through the
	// leaver after it went would wait for ever, predlock having no retries.
	contacts := slices.DeleteFunc(slices.Clone(d.nodes), func(n *Node) bool { return n == leaver })
	joiners := d.newcomers(r, contacts, newIDs)

	left := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		leaver.Leave(2 * time.Second)
		left <- time.Since(start)
	}()
	for _, n := range joiners {
		n.StartJoin()
	}
	took := <-left
	end := time.Now().Add(5 * time.Second)
	for !allConnected(joiners) {
		if time.Now().After(end) {
			t.Fatalf("newcomers not connected 5s after the leave ended (in %v):\n%s", took, describe(statuses(d.nodes)))
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !leaver.Status().Departed {
		t.Fatalf("the leave ended after %v without the node departing", took)
	}
	// How much the leave overlapped the joins varies from run to run: it is logged, not
	// asserted.
	overlap := 0
	leaving := false
	for _, e := range recs.of(leaver.ID()).events {
		switch {
		case e.Kind == observe.KindState && e.Detail == "leave":
			leaving = true
		case e.Kind == observe.KindDeliver && e.MsgType == protocol.LeaveBye:
			leaving = false
		case leaving && e.Kind == observe.KindDeliver && !protocol.IsDHTMessage(e.MsgType) && e.MsgType < protocol.LeaveAsk:
			overlap++
		}
	}
	t.Logf("left in %v while %d newcomers joined; %d join messages reached the leaver while it left", took, len(joiners), overlap)
	d.remove(leaver)
	ringRight(t, d.ring, d.nodes, leaver)
	d.checkEverywhere(keys)
}

func allConnected(nodes []*Node) bool {
	for _, n := range nodes {
		if !n.Status().Connected {
			return false
		}
	}
	return true
}

// A variant without the exchange leaves as it always has: a leave notice to both
// neighbours, which drop what they have for it at once instead of retrying for
// PeerTimeout. LeaveNotice does the same in a variant with the exchange.
func TestLeave(t *testing.T) {
	for _, name := range protocol.VariantNames() {
		v, _ := protocol.Lookup(name)
		how, leave := "Leave", (*Node).Leave
		if v.Leaves {
			how, leave = "LeaveNotice", (*Node).LeaveNotice
		}
		t.Run(name+"/"+how, func(t *testing.T) {
			var recs recorders
			rc := ringConfig{protocol: name, bits: 16, tune: func(c *Config) { c.PeerTimeout = 5 * time.Second; recs.tune(c) }}
			ids := []protocol.ID{1000, 30000, 50000}
			d := startDHT(t, rc, ids)
			nodes := d.nodes
			start := time.Now()
			leave(nodes[1], time.Second)
			if el := time.Since(start); el > time.Second {
				t.Errorf("leave took %v", el)
			}
			if st := nodes[1].Status(); st.Departed || st.Leaving {
				t.Errorf("the node reports departed %v leaving %v without the exchange", st.Departed, st.Leaving)
			}
			if len(recs.of(30000).find(observe.KindSend, "")) > 0 {
				t.Error("the node sent protocol messages while leaving")
			}
			for _, i := range []int{0, 2} {
				waitFor(t, 2*time.Second, fmt.Sprintf("the leave notice at %v", ids[i]), func() bool {
					return len(recs.of(ids[i]).find(observe.KindFault, "node 30000 left")) > 0
				})
			}
			if name == "seed" {
				return // the rest follows predlock's insertion
			}
			// A newcomer in the gap 1000..30000 is welcomed by 1000, whose set_left for
			// 30000 is then dropped at once.
			j := startOne(t, rc.node(Config{ID: 20000, Join: nodes[0].Addr()}))
			defer j.Close()
			waitFor(t, time.Second, "a drop of the message for the node that left", func() bool {
				return len(recs.of(1000).find(observe.KindDrop, "is dead")) > 0
			})
			if ds := recs.of(1000).find(observe.KindDrop, "is dead"); ds[0].MsgType != protocol.SetLeft || ds[0].To != 30000 {
				t.Errorf("dropped %+v", ds[0])
			}
		})
	}
}

// The only node of a ring has nobody to hand its keys to: it stops at once rather than
// wait out its timeout.
func TestGracefulLeaveAlone(t *testing.T) {
	n := startOne(t, Config{ID: 100})
	start := time.Now()
	n.Leave(5 * time.Second)
	if el := time.Since(start); el > time.Second {
		t.Errorf("the only node took %v to leave", el)
	}
}

// A leave whose left neighbour never answers (it was killed) ends at the timeout with the
// leave notice: the node stops in time, not once its sender gives the dead neighbour up,
// and its right neighbour is told.
func TestGracefulLeaveTimesOut(t *testing.T) {
	var recs recorders
	d := startDHT(t, ringConfig{protocol: "predlock", tune: func(c *Config) { c.PeerTimeout = 5 * time.Second; recs.tune(c) }},
		[]protocol.ID{1000, 30000, 50000})
	// A put of "pear" (ID 38863) through 30000 opens its connection to 50000, so that the
	// notice needs no dial in the fifth of the timeout it is left.
	if rep := d.kv(d.nodes[1], KVRequest{Kind: protocol.OpPut, Key: "pear", Value: []byte("yellow")}); rep.Owner != 50000 {
		t.Fatalf("put: %+v", rep)
	}
	d.nodes[0].Close()
	const timeout = 100 * time.Millisecond
	start := time.Now()
	d.nodes[1].Leave(timeout)
	// Well under PeerTimeout (5 s), with room for a loaded machine.
	if el := time.Since(start); el > 3*time.Second || el < timeout*8/10 {
		t.Errorf("leave took %v with a timeout of %v", el, timeout)
	}
	if st := d.nodes[1].Status(); st.Departed || st.Leaving {
		t.Errorf("departed %v, keys handed over %v, with the left neighbour dead", st.Departed, st.Leaving)
	}
	if len(recs.of(30000).find(observe.KindFault, "timed out while leaving")) == 0 {
		t.Error("no trace of the timeout")
	}
	waitFor(t, 10*time.Second, "the leave notice at the right neighbour", func() bool {
		return len(recs.of(50000).find(observe.KindFault, "node 30000 left")) > 0
	})
}
