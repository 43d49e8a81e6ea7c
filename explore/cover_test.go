package explore

import (
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// Subsuming covered states keeps every finding: the subsuming search reports the same kinds,
// the same distinct final rings and violations exactly where the full search does, on scopes
// with bugs planted (a lock a lost message leaves held, owners deaf to an answer, a machine
// that lies about what it ignores) and without, in fewer states.
func TestSubsumeAgrees(t *testing.T) {
	retry := func(members []protocol.ID, joiners ...protocol.ID) Config {
		return Config{Protocol: "predlock-retry", Bits: 3, Members: members, Joiners: joiners,
			Timers: true, Lossy: true, Retries: 1, Search: SearchDFS}
	}
	withWrap := func(c Config, w func(protocol.Node) protocol.Node) Config { c.wrap = w; return c }
	pruned := func(c Config) Config { c.PruneIgnored = true; return c }
	one := []protocol.ID{0}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
		long bool
	}{
		{"1+1", retry(one, 5), nil, false},
		{"1+1, ignored messages forgotten", pruned(retry(one, 3)), nil, false},
		{"2+1, every contact, ignored messages forgotten", func() Config {
			c := pruned(retry([]protocol.ID{0, 4}, 2))
			c.AllContacts = true
			return c
		}(), nil, true},
		{"predlock, loss without timers", Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 6},
			Lossy: true, Search: SearchDFS}, []string{"deadlock", "not_joined"}, false},
		{"predlock, timers and loss", Config{Protocol: "predlock", Bits: 3, Members: one, Joiners: []protocol.ID{3, 5},
			Timers: true, Lossy: true, Search: SearchDFS}, []string{"deadlock", "not_joined"}, false},
		{"an owner that never retransmits", withWrap(retry(one, 5), newForgetful), []string{"no_end"}, false},
		{"owner deaf to success_join", withWrap(pruned(retry(one, 5)), deafTo(protocol.SuccessJoin)), []string{"no_end"}, false},
		{"newcomer deaf to aborted", withWrap(pruned(retry(one, 5)), deafTo(protocol.Aborted)), []string{"no_end"}, false},
		{"a node that lies about what it ignores", withWrap(pruned(retry(one, 5)), func(n protocol.Node) protocol.Node { return liar{n} }),
			[]string{"broken_ignore"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.long && testing.Short() {
				t.Skip("some seconds")
			}
			// The full search, the subsuming one, the subsuming one with renumbered
			// counters, whose cores and flights carry insertion numbers ranked over both,
			// and that one shared out among three workers (more than the cores of a small
			// machine, so that they interleave and steal from each other).
			var reps [4]*Report
			for i, mode := range []struct {
				subsume, renumber bool
				workers           int
			}{{false, false, 1}, {true, false, 1}, {true, true, 1}, {true, true, 3}} {
				cfg := tc.cfg
				cfg.Subsume, cfg.RenumberCounters = mode.subsume, mode.renumber
				if mode.subsume {
					cfg.Workers = mode.workers
				}
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%+v: %s", mode, r.Format(&cfg))
				if !r.Complete {
					t.Fatalf("%+v did not finish", mode)
				}
				if got := kinds(r); !slices.Equal(got, tc.want) {
					t.Errorf("%+v finds %v, want %v", mode, got, tc.want)
				}
				reps[i] = r
			}
			full := reps[0]
			for _, sub := range reps[1:] {
				if full.DistinctFinal != sub.DistinctFinal || (full.Violations > 0) != (sub.Violations > 0) ||
					(full.NoEnd > 0) != (sub.NoEnd > 0) {
					t.Errorf("the searches judge differently:\nfull     %+v\nsubsumed %+v", *full, *sub)
				}
				if sub.States >= full.States || sub.Covered == 0 {
					t.Errorf("subsuming search visits %d states (%d covered), the full one %d", sub.States, sub.Covered, full.States)
				}
				if tc.cfg.Timers && sub.Cores == 0 {
					t.Errorf("no core checked for an end: %+v", *sub)
				}
			}
			// Every core reachable is met by a complete subsuming search, whoever explores it.
			if one, shared := reps[2], reps[3]; one.Cores != shared.Cores {
				t.Errorf("one worker meets %d cores, three %d", one.Cores, shared.Cores)
			}
			if ws := reps[3].WorkerStates; len(ws) != 3 || ws[0]+ws[1]+ws[2] != reps[3].States {
				t.Errorf("three workers explored %v states, %d in all", ws, reps[3].States)
			} else if tc.long && (slices.Contains(ws, 0) || reps[3].Steals == 0) {
				// On a scope of some size each worker gets work, and only by stealing.
				t.Errorf("the work was not shared: states %v, %d steals", ws, reps[3].Steals)
			}
			if tc.cfg.Protocol == "predlock-retry" && reps[2].States > reps[1].States {
				t.Errorf("renumbering counters adds states to the subsuming search: %d, against %d", reps[2].States, reps[1].States)
			}
		})
	}
}

func TestSubset(t *testing.T) {
	for _, tc := range []struct {
		a, b []uint16
		want bool
	}{
		{nil, nil, true},
		{nil, []uint16{1}, true},
		{[]uint16{1}, nil, false},
		{[]uint16{1, 3}, []uint16{1, 2, 3}, true},
		{[]uint16{1, 4}, []uint16{1, 2, 3}, false},
		{[]uint16{0, 3}, []uint16{1, 2, 3}, false},
		{[]uint16{2}, []uint16{1, 2, 3}, true},
	} {
		if got := subset(tc.a, tc.b); got != tc.want {
			t.Errorf("subset(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

// A flight with two copies of a message is not contained in one with a single copy, and
// recording a flight drops the recorded flights it contains.
func TestCoverSetCopies(t *testing.T) {
	m := protocol.Message{Type: protocol.Poll, From: 5, To: 0, Joiner: 5}
	n := protocol.Message{Type: protocol.Queued, From: 0, To: 5, Joiner: 5}
	c, sc := newCoverSet(false), &coverScratch{}
	steps := []struct {
		flight           []protocol.Message
		covered, newCore bool
	}{
		{[]protocol.Message{m}, false, true},
		{[]protocol.Message{m}, true, false},
		{nil, true, false},
		{[]protocol.Message{m, m}, false, false},
		{[]protocol.Message{m}, true, false},
		{[]protocol.Message{m, n}, false, false},
		{[]protocol.Message{n}, true, false},
	}
	for i, s := range steps {
		sortFlight(s.flight)
		covered, newCore := c.covered(sc, 1, s.flight, nil)
		if covered != s.covered || newCore != s.newCore {
			t.Errorf("step %d %v: covered %v, new core %v; want %v, %v", i, s.flight, covered, newCore, s.covered, s.newCore)
		}
	}
	if got := len(c.list(1)); got != 1+2+1+2 { // {m, m} and {m, n}; {m} was dropped
		t.Errorf("core holds %v", c.list(1))
	}
}

// Flights whose insertion numbers are coded relative to the core's (counterSet.relative):
// a number the core holds must match exactly; numbers only in flight may map to others of
// the same gap, in order and one to one, each keeping its messages, copies counted.
func TestCoverSetEmbeds(t *testing.T) {
	core := func(r uint64) uint64 { return r<<33 | 1<<32 } // the core's r-th number
	only := func(g, j uint64) uint64 { return g<<33 | j }  // the j-th number only in flight, in gap g
	welcome := func(op uint64) protocol.Message {
		return protocol.Message{Type: protocol.Welcome, From: 0, To: 5, Joiner: 5, Op: op}
	}
	ack := func(op uint64) protocol.Message {
		return protocol.Message{Type: protocol.WelcomeAck, From: 5, To: 0, Joiner: 5, Op: op}
	}
	poll := protocol.Message{Type: protocol.Poll, From: 5, To: 0, Joiner: 5}
	gapOf := func(m protocol.Message) int32 {
		if m.Type == protocol.Poll || m.Op&(1<<32) != 0 {
			return -1
		}
		return int32(m.Op >> 33)
	}
	for _, tc := range []struct {
		name string
		a, b []protocol.Message
		want bool
	}{
		{"same", []protocol.Message{welcome(only(0, 0))}, []protocol.Message{welcome(only(0, 0))}, true},
		{"another number of the same gap", []protocol.Message{welcome(only(0, 0))}, []protocol.Message{welcome(only(0, 1))}, true},
		{"a number of a higher gap", []protocol.Message{welcome(only(0, 0))}, []protocol.Message{welcome(only(1, 0))}, false},
		{"a number of a lower gap", []protocol.Message{welcome(only(1, 0))}, []protocol.Message{welcome(only(0, 0))}, false},
		{"a number the core holds is not one only in flight", []protocol.Message{welcome(only(1, 0))}, []protocol.Message{welcome(core(1))}, false},
		{"the core's numbers match exactly", []protocol.Message{welcome(core(0))}, []protocol.Message{welcome(core(1))}, false},
		{"one number's messages stay together", []protocol.Message{welcome(only(0, 0)), ack(only(0, 0))},
			[]protocol.Message{welcome(only(0, 0)), ack(only(0, 1))}, false},
		{"order kept", []protocol.Message{welcome(only(0, 0)), ack(only(0, 1))},
			[]protocol.Message{ack(only(0, 0)), welcome(only(0, 1))}, false},
		{"order kept, a number skipped", []protocol.Message{welcome(only(0, 0)), ack(only(0, 1))},
			[]protocol.Message{welcome(only(0, 0)), poll, welcome(only(0, 1)), ack(only(0, 2))}, true},
		{"the first fit is not always the one", []protocol.Message{welcome(only(0, 0)), ack(only(0, 1))},
			[]protocol.Message{welcome(only(0, 0)), ack(only(0, 0)), ack(only(0, 1))}, true},
		{"one to one", []protocol.Message{welcome(only(0, 0)), ack(only(0, 1))},
			[]protocol.Message{welcome(only(0, 0)), ack(only(0, 0))}, false},
		{"copies counted", []protocol.Message{welcome(only(0, 0)), welcome(only(0, 0))},
			[]protocol.Message{welcome(only(0, 0)), welcome(only(0, 1))}, false},
		{"messages compared as they are", []protocol.Message{poll, welcome(only(0, 0))}, []protocol.Message{welcome(only(0, 0))}, false},
	} {
		c, sc := newCoverSet(true), &coverScratch{}
		gaps := func(f []protocol.Message) []int32 {
			sortFlight(f)
			g := make([]int32, len(f))
			for i, m := range f {
				g[i] = gapOf(m)
			}
			return g
		}
		if covered, newCore := c.covered(sc, 1, tc.b, gaps(tc.b)); covered || !newCore {
			t.Fatalf("%s: recording b: covered %v, new core %v", tc.name, covered, newCore)
		}
		if covered, _ := c.covered(sc, 1, tc.a, gaps(tc.a)); covered != tc.want {
			t.Errorf("%s: %v covered by %v: %v, want %v", tc.name, tc.a, tc.b, covered, tc.want)
		}
	}
}
