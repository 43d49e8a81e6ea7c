package node

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// A handoff too large for one frame travels as several, and comes out whole.
func TestAppendMessageSplits(t *testing.T) {
	big := bytes.Repeat([]byte("v"), protocol.MaxValueLen)
	var items []protocol.Item
	for i := range 40 {
		k := fmt.Sprintf("key-%d", i)
		v := big
		if i%3 == 0 {
			v = []byte(k) // small ones in between, so that parts are not all alike
		}
		items = append(items, protocol.Item{ID: protocol.ID(i), Key: k, Value: v})
	}
	f := Frame{Type: FrameMessage, From: 5, Addr: "127.0.0.1:1", JoinerAddr: "127.0.0.1:2",
		Msg: protocol.Message{Type: protocol.LeftSet, From: 5, To: 3, Joiner: 3, Neighbour: protocol.None,
			Data: &protocol.Data{Items: items[:25], Replicas: items[25:]}}}
	b, err := AppendMessage([]byte("keep"), &f)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "keep" {
		t.Fatal("AppendMessage overwrote what came before")
	}
	r := bytes.NewReader(b[4:])
	var (
		asm   Assembler
		buf   []byte
		parts int
		whole *Frame
	)
	for whole == nil {
		var fr Frame
		if fr, buf, err = ReadFrame(r, buf); err != nil {
			t.Fatalf("part %d: %v", parts, err)
		}
		parts++
		if len(buf) > MaxFrameSize {
			t.Fatalf("part %d has %d bytes", parts, len(buf))
		}
		if whole, err = asm.Add(&fr, len(buf)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes after the last part", r.Len())
	}
	if parts < 2 || !reflect.DeepEqual(*whole, f) {
		t.Fatalf("%d parts; reassembled %d items, want %d", parts, len(whole.Msg.Data.Items), len(items))
	}
	if held, _ := asm.Pending(); held {
		t.Error("the assembler still holds a message")
	}

	// Small messages stay one frame, byte for byte what AppendFrame makes.
	small := f
	small.Msg.Data = &protocol.Data{Items: items[:2]}
	one, err := AppendMessage(nil, &small)
	if err != nil || !bytes.Equal(one, frameBytes(t, small)) {
		t.Errorf("a small handoff: %v", err)
	}

	// A handoff beyond MaxMessageSize is refused before anything is encoded.
	huge := f
	many := make([]protocol.Item, MaxMessageSize/protocol.MaxValueLen+1)
	for i := range many {
		many[i] = protocol.Item{ID: protocol.ID(i), Key: "k", Value: big}
	}
	huge.Msg.Data = &protocol.Data{Items: many}
	if b, err := AppendMessage([]byte("keep"), &huge); !errors.Is(err, ErrTooLarge) || string(b) != "keep" {
		t.Errorf("a handoff of %d bytes: %v", len(many)*len(big), err)
	}
}

// The assembler refuses a message interrupted by another, and one that grows too large.
func TestAssemblerRefuses(t *testing.T) {
	part := func(typ protocol.MsgType, more bool) *Frame {
		return &Frame{Type: FrameMessage, From: 5, More: more, Msg: protocol.Message{Type: typ, From: 5, To: 3,
			Joiner: 3, Neighbour: protocol.None, Data: &protocol.Data{Items: []protocol.Item{{ID: 1, Key: "a"}}}}}
	}
	var a Assembler
	if w, err := a.Add(part(protocol.LeftSet, true), 100); w != nil || err != nil {
		t.Fatal(w, err)
	}
	if _, err := a.Add(part(protocol.NewNeighbour, false), 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("interrupted: %v", err)
	}
	a.Add(part(protocol.LeftSet, true), MaxMessageSize-10)
	if _, err := a.Add(part(protocol.LeftSet, true), 20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if held, _ := a.Pending(); held {
		t.Error("a refused message is still held")
	}
}

// dhtRing is a ring of in-process DHT nodes: members laid out beforehand, and newcomers
// that join when told to.
type dhtRing struct {
	t       *testing.T
	ring    protocol.Ring
	cfg     ringConfig
	nodes   []*Node
	clients map[*Node]*Client
}

func startDHT(t *testing.T, rc ringConfig, members []protocol.ID) *dhtRing {
	t.Helper()
	if rc.bits == 0 {
		rc.bits = 16
	}
	d := &dhtRing{t: t, ring: protocol.Ring{Bits: rc.bits}, cfg: rc, clients: map[*Node]*Client{}}
	members = slices.Sorted(slices.Values(members))
	lns := listeners(t, len(members))
	m := len(members)
	for i, id := range members {
		l, r := (i+m-1)%m, (i+1)%m
		n, err := Start(rc.node(Config{Listener: lns[i], ID: id, Member: true,
			Left: Peer{members[l], lns[l].Addr().String()}, Right: Peer{members[r], lns[r].Addr().String()}}))
		if err != nil {
			t.Fatal(err)
		}
		d.nodes = append(d.nodes, n)
	}
	t.Cleanup(d.close)
	return d
}

func (d *dhtRing) close() {
	for _, cl := range d.clients {
		cl.Close()
	}
	var wg sync.WaitGroup
	for _, n := range d.nodes {
		wg.Go(n.Close)
	}
	wg.Wait()
}

// join starts newcomers through random members, all at once, and waits until every one
// is connected.
func (d *dhtRing) join(r *rand.Rand, ids ...protocol.ID) {
	d.t.Helper()
	joiners := d.newcomers(r, slices.Clone(d.nodes), ids)
	for _, n := range joiners {
		n.StartJoin()
	}
	waitFor(d.t, 5*time.Second, "every newcomer connected", func() bool {
		for _, n := range joiners {
			if !n.Status().Connected {
				return false
			}
		}
		return true
	})
}

// newcomers starts nodes with the given IDs, each to join through a random one of contacts
// once told to (StartJoin), and adds them to the ring's list.
func (d *dhtRing) newcomers(r *rand.Rand, contacts []*Node, ids []protocol.ID) []*Node {
	d.t.Helper()
	joiners := make([]*Node, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		contact := contacts[r.IntN(len(contacts))]
		wg.Go(func() {
			joiners[i], errs[i] = Start(d.cfg.node(Config{Listen: "127.0.0.1:0", ID: id, Join: contact.Addr(), DeferJoin: true}))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			d.t.Fatal(err)
		}
		d.nodes = append(d.nodes, joiners[i])
	}
	return joiners
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(timeout); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("no %s within %v", what, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (d *dhtRing) client(n *Node) *Client {
	if d.clients[n] == nil {
		d.clients[n] = NewClient(n.Addr(), WithSecret(d.cfg.secret))
	}
	return d.clients[n]
}

func (d *dhtRing) kv(n *Node, q KVRequest) KVReply {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := d.client(n).KV(ctx, q)
	if err != nil {
		d.t.Fatalf("%s %q at %v: %v", q.Kind, q.Key, n.ID(), err)
	}
	return rep
}

// owner is the node responsible for a key: the first at or after its ID, clockwise.
func (d *dhtRing) owner(key string) *Node {
	x := protocol.KeyID(d.ring, key)
	best := d.nodes[0]
	for _, n := range d.nodes {
		if d.ring.Distance(x, n.ID()) < d.ring.Distance(x, best.ID()) {
			best = n
		}
	}
	return best
}

// check asks for every key through every node in turn, and checks that each node stores
// exactly the keys it owns.
func (d *dhtRing) check(keys map[string]string) {
	d.t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	for i, k := range names {
		via, want := d.nodes[i%len(d.nodes)], d.owner(k)
		rep := d.kv(via, KVRequest{Kind: protocol.OpGet, Key: k})
		if rep.Status != protocol.StatusOK || string(rep.Value) != keys[k] || rep.Owner != want.ID() || rep.OwnerAddr != want.Addr() {
			d.t.Errorf("get %q via %v: %s %q from %v at %q, want %q from %v at %s (%s)",
				k, via.ID(), StatusName(rep.Status), rep.Value, rep.Owner, rep.OwnerAddr, keys[k], want.ID(), want.Addr(), rep.Error)
		}
		rep = d.kv(via, KVRequest{Kind: protocol.OpLookup, Key: k})
		if rep.Status != protocol.StatusOK || rep.Owner != want.ID() {
			d.t.Errorf("lookup %q via %v: %s %v, want %v", k, via.ID(), StatusName(rep.Status), rep.Owner, want.ID())
		}
	}
	total := 0
	for _, n := range d.nodes {
		items, ok := n.Items()
		if !ok {
			d.t.Fatalf("node %v has stopped", n.ID())
		}
		total += len(items)
		for _, it := range items {
			if o := d.owner(it.Key); o != n {
				d.t.Errorf("node %v stores %q, which %v owns", n.ID(), it.Key, o.ID())
			}
		}
	}
	if total != len(keys) {
		d.t.Errorf("%d keys stored in all, want %d", total, len(keys))
	}
}

// Keys put through one node are found through any other, served by their owners, and move
// to newcomers inside the join handshake: after concurrent joins every key is still found,
// at its new owner, and stored nowhere else. Replies travel straight from the owner to the
// node that asked, which learnt only from the frames on the way where that node listens.
func TestKVAcrossJoins(t *testing.T) {
	for _, tc := range []struct {
		variant string
		fingers time.Duration
	}{
		{"predlock", 0},
		{"predlock-retry", 0},
		{"predlock-retry", 5 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%s/fingers=%v", tc.variant, tc.fingers), func(t *testing.T) {
			r := rand.New(rand.NewPCG(layoutSeed(t, 3), 0x6b76))
			ids := distinctIDs(r, protocol.Ring{Bits: 16}, 12)
			d := startDHT(t, ringConfig{protocol: tc.variant, tune: func(c *Config) { c.FingerPeriod = tc.fingers }}, ids[:5])
			keys := map[string]string{}
			for i := range 60 {
				keys[fmt.Sprintf("key-%d", i)] = fmt.Sprintf("value %d", i)
			}
			hops := 0
			for k, v := range keys {
				rep := d.kv(d.nodes[0], KVRequest{Kind: protocol.OpPut, Key: k, Value: []byte(v)})
				if rep.Status != protocol.StatusOK || rep.Owner != d.owner(k).ID() {
					t.Fatalf("put %q: %s at %v (%s), want ok at %v", k, StatusName(rep.Status), rep.Owner, rep.Error, d.owner(k).ID())
				}
				hops = max(hops, rep.Hops)
			}
			if hops < 2 {
				t.Errorf("no put took two forwards or more; the test does not reach past a neighbour")
			}
			d.check(keys)
			before := len(d.nodes)
			d.join(r, ids[5:]...)
			moved := 0
			for _, n := range d.nodes[before:] {
				moved += n.Status().Keys
			}
			if moved == 0 {
				t.Fatal("no key moved to a newcomer; the layout does not test handoffs")
			}
			d.check(keys)
			if tc.fingers > 0 {
				waitFor(t, 2*time.Second, "fingers", func() bool {
					for _, n := range d.nodes {
						if n.Status().Fingers == 0 {
							return false
						}
					}
					return true
				})
				d.check(keys)
			}
			t.Logf("%d keys, %d moved to %d newcomers", len(keys), moved, len(ids)-5)
		})
	}
}

// A handoff larger than a frame travels split and arrives whole, in both variants that
// hand keys over inside their handshake.
func TestKVLargeHandoff(t *testing.T) {
	for _, tc := range []struct {
		variant string
		secret  []byte // every frame of the split message carries its own tag
	}{{"predlock", nil}, {"predlock-retry", nil}, {"predlock", testSecret}} {
		t.Run(fmt.Sprintf("%s/auth=%v", tc.variant, tc.secret != nil), func(t *testing.T) {
			d := startDHT(t, ringConfig{protocol: tc.variant, secret: tc.secret}, []protocol.ID{60000})
			keys := map[string]string{}
			value := strings.Repeat("x", protocol.MaxValueLen-8)
			for i := range 24 {
				k := fmt.Sprintf("big-%d", i)
				keys[k] = fmt.Sprintf("%08d", i) + value
				if rep := d.kv(d.nodes[0], KVRequest{Kind: protocol.OpPut, Key: k, Value: []byte(keys[k])}); rep.Status != protocol.StatusOK {
					t.Fatalf("put %q: %s %s", k, StatusName(rep.Status), rep.Error)
				}
			}
			d.join(rand.New(rand.NewPCG(1, 2)), 30000)
			items, _ := d.nodes[1].Items()
			size := 0
			for i := range items {
				size += itemSize(&items[i])
			}
			if size <= MaxFrameSize {
				t.Fatalf("the newcomer took %d bytes of keys, which fit in one frame", size)
			}
			d.check(keys)
		})
	}
}

// Bad requests get a reply that names what is wrong, on a connection that goes on serving;
// a frame the node cannot take at all gets an error frame, and the node serves the next
// connection.
func TestKVBadRequests(t *testing.T) {
	n := startOne(t, Config{ID: 100})
	cl := NewClient(n.Addr())
	defer cl.Close()
	ctx := context.Background()
	good := func() {
		t.Helper()
		if rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpPut, Key: "k", Value: []byte("v")}); err != nil || rep.Status != protocol.StatusOK {
			t.Fatalf("put: %+v %v", rep, err)
		}
		if rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpGet, Key: "k"}); err != nil || rep.Status != protocol.StatusOK || string(rep.Value) != "v" || rep.Owner != 100 {
			t.Fatalf("get: %+v %v", rep, err)
		}
	}
	good()
	conn := cl.c
	for _, tc := range []struct {
		name string
		q    KVRequest
		want string
	}{
		{"key too long", KVRequest{Kind: protocol.OpGet, Key: strings.Repeat("k", protocol.MaxKeyLen+1)}, "key: 256 bytes, at most 255"},
		{"value too large", KVRequest{Kind: protocol.OpPut, Key: "k", Value: make([]byte, protocol.MaxValueLen+1)}, "value: 4097 bytes, at most 4096"},
		{"empty key", KVRequest{Kind: protocol.OpLookup}, "key: empty"},
		{"unknown operation", KVRequest{Kind: 9, Key: "k"}, "operation: unknown operation 9"},
		{"internal operation", KVRequest{Kind: 4, Key: "k"}, "operation: unknown operation 4"},
	} {
		rep, err := cl.KV(ctx, tc.q)
		if err != nil || rep.Status != StatusRefused || !strings.Contains(rep.Error, tc.want) || rep.KeyID != protocol.None {
			t.Errorf("%s: %+v %v, want refused with %q", tc.name, rep, err, tc.want)
		}
		good()
	}
	if cl.c != conn {
		t.Error("a refused request cost the client its connection")
	}

	// An unknown frame type: an error frame, then the connection closes.
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := frameBytes(t, Frame{Type: FrameIdentify, From: protocol.None})
	b[5] = 200
	c.Write(b)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if f, _, err := ReadFrame(c, nil); err != nil || f.Type != FrameError || !strings.Contains(f.Error, "unknown frame type 200") {
		t.Fatalf("after an unknown frame type: %+v %v", f, err)
	}
	if !closedWithin(c, time.Second) {
		t.Error("connection still open after an unknown frame type")
	}
	good()

	// A client sending a frame only nodes send learns so from the client API too.
	ctx2, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	other := NewClient(n.Addr())
	defer other.Close()
	if _, err := other.roundTrip(ctx2, &Frame{Type: FrameKVReply, From: protocol.None, KVReply: KVReply{Status: protocol.StatusOK}}, FrameKVReply); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "does not take kv_reply frames") {
		t.Errorf("a reply sent to a node: %v", err)
	}
	good()
}

// A node that is not in the ring answers at once that it cannot serve.
func TestKVUnavailableBeforeJoining(t *testing.T) {
	first := startOne(t, Config{ID: 100})
	late := startOne(t, Config{ID: 200, Join: first.Addr(), DeferJoin: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep, err := KV(ctx, late.Addr(), KVRequest{Kind: protocol.OpGet, Key: "k"})
	if err != nil || rep.Status != protocol.StatusUnavailable || !strings.Contains(rep.Error, "not in the ring") {
		t.Fatalf("%+v %v", rep, err)
	}
}

// Finger refresh runs for ever, so its timers (and the lookups it starts) are left out of
// Status.Timers: a DHT ring at rest shows no pending timer while it keeps refreshing.
func TestMaintenanceTimersNotCounted(t *testing.T) {
	d := startDHT(t, ringConfig{protocol: "predlock-retry", tune: func(c *Config) { c.FingerPeriod = 2 * time.Millisecond }},
		[]protocol.ID{100, 20000, 40000, 60000})
	var sent int64
	waitFor(t, 2*time.Second, "fingers", func() bool {
		sent = 0
		for _, st := range statuses(d.nodes) {
			if st.Timers != 0 {
				t.Fatalf("node %v counts %d timers while only maintenance runs", st.ID, st.Timers)
			}
			sent += st.Sent
			if st.Fingers == 0 {
				return false
			}
		}
		return true
	})
	if sent == 0 {
		t.Error("fingers were learnt without a lookup")
	}
}

// TestKVReplicasOnLoopback: with two replicas, every key put through a real ring has a copy
// at each of its owner's next two successors, also after a newcomer joined (its successor
// hands it copies with its keys) and after a member left (the copies move down the chain).
func TestKVReplicasOnLoopback(t *testing.T) {
	tune := func(c *Config) { c.Replicas = 2 }
	d := startDHT(t, ringConfig{protocol: "predlock", tune: tune}, []protocol.ID{3000, 14000, 27000, 39000, 52000})
	keys := d.putKeys(40)
	d.join(rand.New(rand.NewPCG(1, 2)), 33000, 60000)
	leaver := d.nodes[1]
	leaver.Leave(2 * time.Second)
	d.remove(leaver)
	d.checkEverywhere(keys)
	ring := make([]*Node, len(d.nodes))
	copy(ring, d.nodes)
	slices.SortFunc(ring, func(a, b *Node) int { return cmp.Compare(a.ID(), b.ID()) })
	held := map[protocol.ID]map[string]bool{}
	for _, n := range ring {
		reps, ok := n.Replicas()
		if !ok {
			t.Fatalf("node %v stopped", n.ID())
		}
		held[n.ID()] = map[string]bool{}
		for _, it := range reps {
			held[n.ID()][it.Key] = true
		}
	}
	for k := range keys {
		x := protocol.KeyID(d.ring, k)
		i := slices.IndexFunc(ring, func(n *Node) bool { return n.ID() >= x })
		if i < 0 {
			i = 0
		}
		for j := 1; j <= 2; j++ {
			if s := ring[(i+j)%len(ring)].ID(); !held[s][k] {
				t.Errorf("%s (owner %v): no copy at successor %d (%v)", k, ring[i].ID(), j, s)
			}
		}
	}
}

// A message split over frames carries its successor list in every part, and comes out whole
// with it once.
func TestAppendMessageSplitsSuccessors(t *testing.T) {
	big := bytes.Repeat([]byte("v"), protocol.MaxValueLen)
	var items []protocol.Item
	for i := range 10 {
		items = append(items, protocol.Item{ID: protocol.ID(i), Key: fmt.Sprintf("key-%d", i), Value: big})
	}
	// No addresses: WireSize counts them empty, as the simulator's nodes have none.
	f := Frame{Type: FrameMessage, From: 5,
		Msg: protocol.Message{Type: protocol.RepairPush, From: 5, To: 3, Joiner: protocol.None, Neighbour: protocol.None,
			Data: &protocol.Data{Items: items, Succs: []protocol.ID{7, 9}}}}
	b, err := AppendMessage(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(b)
	var (
		asm   Assembler
		buf   []byte
		parts int
		whole *Frame
	)
	for whole == nil {
		var fr Frame
		if fr, buf, err = ReadFrame(r, buf); err != nil {
			t.Fatalf("part %d: %v", parts, err)
		}
		parts++
		if !reflect.DeepEqual(fr.Msg.Data.Succs, f.Msg.Data.Succs) {
			t.Fatalf("part %d carries successors %v", parts, fr.Msg.Data.Succs)
		}
		if whole, err = asm.Add(&fr, len(buf)); err != nil {
			t.Fatal(err)
		}
	}
	if parts < 2 || !reflect.DeepEqual(*whole, f) {
		t.Fatalf("%d parts; reassembled %+v", parts, whole.Msg.Data.Succs)
	}
	if got := f.Msg.WireSize(); got != len(b) {
		t.Errorf("WireSize %d, the frames take %d bytes", got, len(b))
	}
}

// A client reads a node's keys and copies over the wire, page by page when they do not fit in
// one frame, and gets exactly what the node holds.
func TestStoreOverTheWire(t *testing.T) {
	d := startDHT(t, ringConfig{protocol: "predlock", tune: func(c *Config) { c.Replicas = 1 }}, []protocol.ID{20000, 50000})
	value := strings.Repeat("v", protocol.MaxValueLen-8)
	for i := range 30 {
		k := fmt.Sprintf("big-%d", i)
		if rep := d.kv(d.nodes[0], KVRequest{Kind: protocol.OpPut, Key: k, Value: []byte(fmt.Sprintf("%08d", i) + value)}); rep.Status != protocol.StatusOK {
			t.Fatalf("put %q: %s %s", k, StatusName(rep.Status), rep.Error)
		}
	}
	// Replication runs on after the put's answer: wait until every key has its copy.
	end := time.Now().Add(5 * time.Second)
	for {
		total := 0
		for _, n := range d.nodes {
			items, reps, _ := n.Stored()
			total += len(items) + len(reps)
		}
		if total == 60 || time.Now().After(end) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range d.nodes {
		items, reps, ok := n.Stored()
		if !ok {
			t.Fatalf("node %v stopped", n.ID())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gotItems, gotReps, err := d.client(n).Store(ctx)
		cancel()
		if err != nil {
			t.Fatalf("node %v: %v", n.ID(), err)
		}
		if len(items)+len(reps) != 30 {
			t.Errorf("node %v holds %d keys and %d copies, want 30 in all", n.ID(), len(items), len(reps))
		}
		if !reflect.DeepEqual(gotItems, items) || !reflect.DeepEqual(gotReps, reps) {
			t.Errorf("node %v: read %d keys and %d copies, it holds %d and %d", n.ID(), len(gotItems), len(gotReps), len(items), len(reps))
		}
	}
	// An empty node answers with one empty page.
	lone := startDHT(t, ringConfig{protocol: "predlock"}, []protocol.ID{7})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if items, reps, err := lone.client(lone.nodes[0]).Store(ctx); err != nil || len(items)+len(reps) != 0 {
		t.Errorf("empty node: %d keys, %d copies, %v", len(items), len(reps), err)
	}
}
