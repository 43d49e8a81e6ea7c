package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestKeyID(t *testing.T) {
	// The first 64 bits of SHA-256("hello") are 0x2cf24dba5fb0a30e.
	for _, tc := range []struct {
		bits uint
		want ID
	}{{16, 11506}, {62, 809684136224368835}, {1, 0}} {
		if got := KeyID(Ring{Bits: tc.bits}, "hello"); got != tc.want {
			t.Errorf("KeyID(%d bits, hello) = %d, want %d", tc.bits, got, tc.want)
		}
	}
}

func TestRequestValidate(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	for _, tc := range []struct {
		r    Request
		want error
	}{
		{Request{Kind: OpGet, Key: "a"}, nil},
		{Request{Kind: OpPut, Key: "a", Value: make([]byte, MaxValueLen)}, nil},
		{Request{Kind: OpGet, Key: ""}, ErrEmptyKey},
		{Request{Kind: OpGet, Key: long}, ErrKeyTooLong},
		{Request{Kind: OpPut, Key: "a", Value: make([]byte, MaxValueLen+1)}, ErrValueTooLong},
		{Request{Kind: 9, Key: "a"}, ErrBadOp},
	} {
		if err := tc.r.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.r.Kind, err, tc.want)
		}
	}
	if _, err := ParseOpKind("delete"); !errors.Is(err, ErrBadOp) {
		t.Errorf("ParseOpKind(delete) = %v", err)
	}
}

// net delivers messages between nodes in send order and collects the operations' results.
type net struct {
	t       *testing.T
	nodes   map[ID]Node
	flight  []Message
	results []*OpResult
	hold    map[MsgType]bool // message types kept back until released
	held    []Message
	timers  []Timer
}

func newNet(t *testing.T) *net {
	return &net{t: t, nodes: map[ID]Node{}, hold: map[MsgType]bool{}}
}

func (n *net) take(out *Output) {
	for _, a := range out.Actions {
		switch a.Kind {
		case Send:
			n.flight = append(n.flight, a.Msg)
		case Done:
			n.results = append(n.results, a.Result)
		case SetTimer:
			n.timers = append(n.timers, a.Timer)
		}
	}
}

func (n *net) run() {
	for steps := 0; len(n.flight) > 0; steps++ {
		if steps > 10000 {
			n.t.Fatal("messages never stop")
		}
		m := n.flight[0]
		n.flight = n.flight[1:]
		if n.hold[m.Type] {
			n.held = append(n.held, m)
			continue
		}
		var out Output
		if err := n.nodes[m.To].Step(m, &out); err != nil {
			n.t.Fatal(err)
		}
		n.take(&out)
		for {
			var sout Output
			served, err := n.nodes[m.To].Serve(&sout)
			if err != nil {
				n.t.Fatal(err)
			}
			n.take(&sout)
			if !served {
				break
			}
		}
	}
}

func (n *net) request(at ID, r Request) *OpResult {
	n.t.Helper()
	var out Output
	if err := n.nodes[at].Request(r, &out); err != nil {
		n.t.Fatal(err)
	}
	n.take(&out)
	n.run()
	last := n.results[len(n.results)-1]
	if last.Op != r.Op {
		n.t.Fatalf("no answer to operation %d", r.Op)
	}
	return last
}

// ring builds members in sorted order with keys at their owners.
func (n *net) ring(variant string, bits uint, ids []ID, keys []string) {
	v, _ := Lookup(variant)
	r := Ring{Bits: bits}
	items := map[ID][]Item{}
	for _, k := range keys {
		x := KeyID(r, k)
		owner := ids[0]
		for _, id := range ids {
			if id >= x {
				owner = id
				break
			}
		}
		items[owner] = append(items[owner], Item{ID: x, Key: k, Value: []byte("v:" + k)})
	}
	for i, id := range ids {
		n.nodes[id] = v.New(Config{ID: id, Ring: r, Member: true, Left: ids[(i+len(ids)-1)%len(ids)],
			Right: ids[(i+1)%len(ids)], Items: items[id], OpTimeout: -1})
	}
}

func ownerOf(ids []ID, x ID) ID {
	for _, id := range ids {
		if id >= x {
			return id
		}
	}
	return ids[0]
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "key" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return ks
}

// TestGetPutLookup: on a ring at rest every node finds every key at its owner, and a put
// through one node is seen by a get through another.
func TestGetPutLookup(t *testing.T) {
	for _, variant := range VariantNames() {
		t.Run(variant, func(t *testing.T) {
			n := newNet(t)
			ids := []ID{100, 9000, 20000, 41000, 60000}
			ks := keys(40)
			n.ring(variant, 16, ids, ks)
			op := uint64(0)
			for _, at := range ids {
				for _, k := range ks {
					x := KeyID(Ring{Bits: 16}, k)
					op++
					if r := n.request(at, Request{Kind: OpLookup, Op: op, Key: k}); r.Status != StatusOK || r.Owner != ownerOf(ids, x) || r.KeyID != x {
						t.Fatalf("lookup %s at %v: %+v, owner should be %v", k, at, r, ownerOf(ids, x))
					}
					op++
					if r := n.request(at, Request{Kind: OpGet, Op: op, Key: k}); r.Status != StatusOK || string(r.Value) != "v:"+k {
						t.Fatalf("get %s at %v: %+v", k, at, r)
					}
				}
			}
			op++
			n.request(100, Request{Kind: OpPut, Op: op, Key: "new", Value: []byte("x")})
			op++
			if r := n.request(41000, Request{Kind: OpGet, Op: op, Key: "new"}); r.Status != StatusOK || string(r.Value) != "x" {
				t.Fatalf("get after put: %+v", r)
			}
			op++
			if r := n.request(9000, Request{Kind: OpGet, Op: op, Key: "absent"}); r.Status != StatusNotFound {
				t.Fatalf("get of a key never put: %+v", r)
			}
		})
	}
}

// TestHandoffOnJoin: a predlock newcomer receives exactly the keys of its range inside the
// join handshake, and a get for one of them that reaches it mid-join waits for them.
func TestHandoffOnJoin(t *testing.T) {
	for _, variant := range []string{"predlock", "predlock-retry"} {
		t.Run(variant, func(t *testing.T) {
			n := newNet(t)
			r := Ring{Bits: 16}
			ids := []ID{1000, 30000, 50000}
			ks := keys(60)
			n.ring(variant, 16, ids, ks)
			v, _ := Lookup(variant)
			k := ID(40000)
			n.nodes[k] = v.New(Config{ID: k, Ring: r, Contact: 1000, OpTimeout: -1})
			var out Output
			n.nodes[k].Start(&out)
			n.take(&out)
			// Keep set_left back: 30000 already points at the newcomer, which holds no keys yet.
			n.hold[SetLeft] = true
			n.run()
			if got := n.nodes[30000].State().Right; got != k {
				t.Fatalf("owner's right is %v, want %v", got, k)
			}
			var mine string
			for _, key := range ks {
				if x := KeyID(r, key); x > 30000 && x <= k {
					mine = key
				}
			}
			if mine == "" {
				t.Fatal("no key falls in the newcomer's range")
			}
			out = Output{}
			n.nodes[30000].Request(Request{Kind: OpGet, Op: 1, Key: mine}, &out)
			n.take(&out)
			n.run()
			if len(n.results) != 0 {
				t.Fatalf("the newcomer answered before it had its keys: %+v", n.results[0])
			}
			n.hold[SetLeft] = false
			n.flight = append(n.flight, n.held...)
			n.run()
			if len(n.results) != 1 || n.results[0].Status != StatusOK || string(n.results[0].Value) != "v:"+mine || n.results[0].Owner != k {
				t.Fatalf("held get: %+v", n.results)
			}
			all := append([]ID{k}, ids...)
			seen := 0
			for _, id := range all {
				for _, it := range n.nodes[id].Items() {
					seen++
					if want := ownerOf([]ID{1000, 30000, 40000, 50000}, it.ID); want != id {
						t.Errorf("%s (id %v) is at %v, its owner is %v", it.Key, it.ID, id, want)
					}
				}
			}
			if seen != len(ks) {
				t.Errorf("%d keys stored after the join, want %d", seen, len(ks))
			}
		})
	}
}

// TestHopBudget: pointers that send a request round in circles end it with a reported
// failure instead of a message storm.
func TestHopBudget(t *testing.T) {
	n := newNet(t)
	v, _ := Lookup("predlock")
	r := Ring{Bits: 16}
	x := KeyID(r, "hello") // 11506
	// 10000 thinks 20000 follows it; 20000 thinks 10000 follows it and owns nothing near x.
	n.nodes[10000] = v.New(Config{ID: 10000, Ring: r, Member: true, Left: 5000, Right: 12000, HopBudget: 8, OpTimeout: -1})
	n.nodes[12000] = v.New(Config{ID: 12000, Ring: r, Member: true, Left: 11600, Right: 10000, HopBudget: 8, OpTimeout: -1})
	if x <= 10000 || x >= 11600 {
		t.Fatalf("key id %v does not fall where the test needs it", x)
	}
	res := n.request(10000, Request{Kind: OpGet, Op: 7, Key: "hello"})
	if res.Status != StatusHopBudget || res.Hops != 8 {
		t.Fatalf("got %+v, want hop_budget after 8 hops", res)
	}
}

// TestOpTimeout: an operation whose answer never comes ends with a timeout.
func TestOpTimeout(t *testing.T) {
	v, _ := Lookup("predlock-retry")
	r := Ring{Bits: 16}
	a := v.New(Config{ID: 10, Ring: r, Member: true, Left: 20, Right: 20, OpTimeout: 5e6})
	var out Output
	if err := a.Request(Request{Kind: OpGet, Op: 3, Key: "hello"}, &out); err != nil {
		t.Fatal(err)
	}
	var timer *Timer
	for i := range out.Actions {
		if out.Actions[i].Kind == SetTimer {
			timer = &out.Actions[i].Timer
		}
	}
	if timer == nil || timer.After != 5e6 {
		t.Fatalf("no operation timer in %+v", out.Actions)
	}
	var fired Output
	a.Fire(*timer, &fired)
	if len(fired.Actions) != 1 || fired.Actions[0].Kind != Done || fired.Actions[0].Result.Status != StatusTimeout {
		t.Fatalf("timer fired: %+v", fired.Actions)
	}
	// The late answer is ignored.
	var late Output
	a.Step(Message{Type: KeyReply, From: 20, To: 10, Joiner: 10, Op: 3, Status: uint8(StatusOK)}, &late)
	if len(late.Actions) != 0 {
		t.Fatalf("late answer produced %+v", late.Actions)
	}
}
