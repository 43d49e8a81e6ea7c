package explore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// Renumbering the counters merges states and loses nothing: on scopes that finish both ways
// the search finds the same kinds of finding with at most as many states, and strictly
// fewer where the variant has counters (predlock-retry), broken machines included.
func TestCountersAgree(t *testing.T) {
	retry := func(joiners ...protocol.ID) Config {
		return Config{Protocol: "predlock-retry", Bits: 3, Members: []protocol.ID{0}, Joiners: joiners,
			Timers: true, Lossy: true, Retries: 1, Search: SearchDFS}
	}
	withWrap := func(c Config, w func(protocol.Node) protocol.Node) Config { c.wrap = w; return c }
	for _, tc := range []struct {
		name     string
		cfg      Config
		want     []string
		counters bool // the variant has counters: renumbering must merge states
	}{
		{"seed, simple scenario", Config{Protocol: "seed", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3}, AllContacts: true},
			[]string{"wrong_neighbours"}, false},
		{"predlock under loss", Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 5}, Timers: true, Lossy: true},
			[]string{"deadlock", "not_joined"}, false},
		{"predlock-retry, timers and loss", retry(5), nil, true},
		{"predlock-retry, breadth-first", func() Config { c := retry(3); c.Search = SearchBFS; return c }(), nil, true},
		{"predlock-retry, no loss", func() Config { c := retry(5); c.Lossy = false; return c }(), nil, true},
		{"newcomer points off the ring", withWrap(Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 6}},
			func(n protocol.Node) protocol.Node {
				if n.State().ID == 2 {
					return pointsAway{n}
				}
				return n
			}), []string{"connected_appendages"}, false},
		{"owner deaf to success_join", withWrap(retry(5), deafTo(protocol.SuccessJoin)), []string{"no_end"}, true},
		{"newcomer deaf to aborted", withWrap(retry(5), deafTo(protocol.Aborted)), []string{"no_end"}, true},
		{"owner deaf to welcome_ack: newcomers give up", withWrap(retry(3), deafTo(protocol.WelcomeAck)), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.counters && testing.Short() {
				t.Skip("some seconds")
			}
			var reps [2]*Report
			measured := map[uint64]bool{}
			for i, plain := range []bool{true, false} {
				cfg := tc.cfg
				cfg.RenumberCounters = !plain
				if plain && tc.counters {
					cfg.measure = measured
				}
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Complete {
					t.Fatalf("plain counters %v: did not finish", plain)
				}
				if got := kinds(r); !slices.Equal(got, tc.want) {
					t.Errorf("plain counters %v: finds %v, want %v", plain, got, tc.want)
				}
				reps[i] = r
			}
			p, c := reps[0], reps[1]
			t.Logf("states: plain %d, renumbered %d; renumbered keys of the plain search's states %d", p.States, c.States, len(measured))
			// Renumbering is a bisimulation, so the renumbered keys of the states reachable
			// are the same set however the search goes: those of every state the plain
			// search reached, and those the renumbered search stored (one contact assignment).
			if tc.counters && len(measured) != c.Stored {
				t.Errorf("the plain search reaches %d renumbered keys, the renumbered one stores %d", len(measured), c.Stored)
			}
			switch {
			case tc.counters && c.States >= p.States:
				t.Errorf("renumbering merged nothing: %d states, plain %d", c.States, p.States)
			case !tc.counters && c.States != p.States:
				t.Errorf("a variant without counters: %d states, plain %d", c.States, p.States)
			}
			if p.DistinctFinal != c.DistinctFinal || (p.Violations == 0) != (c.Violations == 0) {
				t.Errorf("outcomes differ:\nplain %+v\nrenumbered %+v", *p, *c)
			}
		})
	}
}

// counterNode is a node of a test variant with two insertion numbers and a join epoch.
type counterNode struct {
	protocol.Node
	onum, wop, epoch uint64
}

func (n *counterNode) AppendCounterKey(b []byte, canon func(protocol.CounterFamily, uint64) uint64) ([]byte, bool) {
	for _, x := range []struct {
		f protocol.CounterFamily
		v uint64
	}{{protocol.FamilyOp, n.onum}, {protocol.FamilyOp, n.wop}, {protocol.FamilyJoinEpoch, n.epoch}} {
		v := x.v
		if canon != nil {
			v = canon(x.f, v)
		}
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return b, true
}

func (n *counterNode) TimerFamily(t protocol.Timer) (protocol.CounterFamily, bool) {
	return protocol.FamilyJoinEpoch, t.Kind == 1
}

func (n *counterNode) OpFamily(m protocol.Message) (protocol.CounterFamily, bool) {
	return protocol.FamilyOp, m.Type == protocol.Welcome
}

// Two states that differ by a monotone renumbering of each family (a shift, or gaps that
// open or close) get one renumbered key; states whose counters are ordered differently,
// or that differ in a value that is not a counter, do not.
func TestCounterKeyRenumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type raw struct {
		nodes  [2][3]uint64 // onum, wop, epoch
		ops    []uint64     // of the welcomes in flight
		others []uint64     // Op of messages that carry no counter
		tags   [2]uint64    // of node i's armed join timer
	}
	key := func(r raw) string {
		s := &state{}
		e := &explorer{ids: []protocol.ID{0, 5}}
		for i, v := range r.nodes {
			s.nodes = append(s.nodes, &counterNode{onum: v[0], wop: v[1], epoch: v[2]})
			s.timers = append(s.timers, timerEntry{node: e.ids[i], t: protocol.Timer{Kind: 1, Tag: r.tags[i]}})
		}
		for _, op := range r.ops {
			s.flight = append(s.flight, protocol.Message{Type: protocol.Welcome, From: 0, To: 5, Op: op})
		}
		for _, op := range r.others {
			s.flight = append(s.flight, protocol.Message{Type: protocol.Poll, From: 5, To: 0, Op: op})
		}
		return string(e.counterKey(s))
	}
	// apply maps every op-family value through f and node i's epoch family through g[i].
	apply := func(r raw, f func(uint64) uint64, g [2]func(uint64) uint64) raw {
		out := raw{ops: make([]uint64, len(r.ops)), others: slices.Clone(r.others)}
		for i, v := range r.nodes {
			out.nodes[i] = [3]uint64{f(v[0]), f(v[1]), g[i](v[2])}
			out.tags[i] = g[i](r.tags[i])
		}
		for i, op := range r.ops {
			out.ops[i] = f(op)
		}
		return out
	}
	for trial := 0; trial < 200; trial++ {
		var r raw
		for i := range r.nodes {
			r.nodes[i] = [3]uint64{rng.Uint64N(6), rng.Uint64N(6), 2 + rng.Uint64N(3)}
			r.tags[i] = r.nodes[i][2] - rng.Uint64N(2)
		}
		for range rng.IntN(4) {
			r.ops = append(r.ops, rng.Uint64N(6))
		}
		r.others = []uint64{rng.Uint64N(3)}
		base := key(r)
		c, d := 1+rng.Uint64N(100), 1+rng.Uint64N(100)
		shift := apply(r, func(v uint64) uint64 { return v + c }, [2]func(uint64) uint64{
			func(v uint64) uint64 { return v + d }, func(v uint64) uint64 { return v * 3 }})
		if key(shift) != base {
			t.Fatalf("trial %d: %+v and its renumbering %+v have different keys", trial, r, shift)
		}
		gaps := apply(r, func(v uint64) uint64 { return v * v * 7 }, [2]func(uint64) uint64{
			func(v uint64) uint64 { return v }, func(v uint64) uint64 { return v }})
		if key(gaps) != base {
			t.Fatalf("trial %d: %+v and %+v (gaps widened) have different keys", trial, r, gaps)
		}
		if r.nodes[0][0] != r.nodes[1][1] {
			// Swap the order of node 0's onum and node 1's wop (reflection keeps the rest
			// ordered, reversed).
			flip := apply(r, func(v uint64) uint64 { return 100 - v }, [2]func(uint64) uint64{
				func(v uint64) uint64 { return v }, func(v uint64) uint64 { return v }})
			if key(flip) == base {
				t.Fatalf("trial %d: %+v and %+v (order reversed) share a key", trial, r, flip)
			}
		}
		other := apply(r, func(v uint64) uint64 { return v }, [2]func(uint64) uint64{
			func(v uint64) uint64 { return v }, func(v uint64) uint64 { return v }})
		other.others[0] += 1 + rng.Uint64N(5)
		if key(other) == base {
			t.Fatalf("trial %d: a non-counter Op changed and the key did not", trial)
		}
	}
}
