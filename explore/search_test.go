package explore

import (
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// deaf is a deliberately broken machine: it ignores every message of one type.
type deaf struct {
	protocol.Node
	ignore protocol.MsgType
}

func (d *deaf) Step(m protocol.Message, out *protocol.Output) error {
	if m.Type == d.ignore {
		return nil
	}
	return d.Node.Step(m, out)
}

func (d *deaf) Clone() protocol.Node { return &deaf{Node: d.Node.Clone(), ignore: d.ignore} }

// pointsAway is a deliberately broken machine that, once connected, reports a right
// neighbour no node has: a connected node off the ring, a safety violation.
type pointsAway struct{ protocol.Node }

func (p pointsAway) State() protocol.State {
	st := p.Node.State()
	if st.Connected {
		st.Right = 7
	}
	return st
}

func (p pointsAway) Clone() protocol.Node { return pointsAway{p.Node.Clone()} }

func deafTo(t protocol.MsgType) func(protocol.Node) protocol.Node {
	return func(n protocol.Node) protocol.Node { return &deaf{Node: n, ignore: t} }
}

func kinds(r *Report) []string {
	var ks []string
	for _, f := range r.Findings {
		ks = append(ks, f.Kind)
	}
	slices.Sort(ks)
	return ks
}

// Depth-first search with on-the-fly end checking visits the same states, takes the same
// transitions and judges alike as breadth-first search with its stored graph: same counts,
// same kinds of finding, on scopes with known bugs (seed; predlock under loss, which has no
// retransmission; predlock-retry with a machine broken on purpose) and without.
func TestSearchOrdersAgree(t *testing.T) {
	retry := func(joiners ...protocol.ID) Config {
		return Config{Protocol: "predlock-retry", Bits: 3, Members: []protocol.ID{0}, Joiners: joiners,
			Timers: true, Lossy: true, Retries: 1}
	}
	withWrap := func(c Config, w func(protocol.Node) protocol.Node) Config { c.wrap = w; return c }
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // kinds of finding; nil: none
		long bool     // some seconds: skipped with -short
	}{
		{"seed, simple scenario", Config{Protocol: "seed", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3}, AllContacts: true},
			[]string{"wrong_neighbours"}, false},
		{"predlock, 3+3", Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 3, 6}, Joiners: []protocol.ID{1, 2, 7}}, nil, false},
		{"predlock under loss", Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 5}, Timers: true, Lossy: true},
			[]string{"deadlock", "not_joined"}, false},
		{"predlock-retry, timers and loss", retry(5), nil, true},
		{"newcomer points off the ring", withWrap(Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 6}},
			func(n protocol.Node) protocol.Node {
				if n.State().ID == 2 {
					return pointsAway{n}
				}
				return n
			}), []string{"connected_appendages"}, false},
		{"owner deaf to success_join", withWrap(retry(5), deafTo(protocol.SuccessJoin)), []string{"no_end"}, true},
		{"newcomer deaf to aborted", withWrap(retry(5), deafTo(protocol.Aborted)), []string{"no_end"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.long && testing.Short() {
				t.Skip("some seconds")
			}
			var reps [2]*Report
			for i, search := range []string{SearchBFS, SearchDFS} {
				cfg := tc.cfg
				cfg.Search = search
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s", search, r.Format(&cfg))
				if !r.Complete {
					t.Fatalf("%s did not finish", search)
				}
				if got := kinds(r); !slices.Equal(got, tc.want) {
					t.Errorf("%s finds %v, want %v", search, got, tc.want)
				}
				reps[i] = r
			}
			b, d := reps[0], reps[1]
			if b.States != d.States || b.Transitions != d.Transitions || b.Terminal != d.Terminal ||
				b.Violations != d.Violations || b.NoEnd != d.NoEnd || b.DistinctFinal != d.DistinctFinal {
				t.Errorf("bfs and dfs differ:\nbfs %+v\ndfs %+v", *b, *d)
			}
		})
	}
}

// fixedState is a node whose observable state is set by the test.
type fixedState struct {
	protocol.Node
	st protocol.State
}

func (f fixedState) State() protocol.State { return f.st }

// An end is every join ended (connected, or failed), no lock held, nothing in flight unless
// it may be lost, and with timers no protocol timer armed: a live one means a node waits on
// something still.
func TestEnded(t *testing.T) {
	member := protocol.State{ID: 0, Left: 5, Right: 5, Connected: true}
	joined := protocol.State{ID: 5, Left: 0, Right: 0, Connected: true}
	msg := []protocol.Message{{Type: protocol.Poll, From: 5, To: 0}}
	join := []timerEntry{{node: 5, t: protocol.Timer{Kind: 1, Tag: 1}}}
	refresh := []timerEntry{{node: 5, t: protocol.Timer{Kind: 9, Background: true}}}
	for _, tc := range []struct {
		name          string
		member, joinr protocol.State
		flight        []protocol.Message
		timers        []timerEntry
		lossy, timed  bool
		want          bool
	}{
		{"joined, quiet", member, joined, nil, nil, false, false, true},
		{"failed newcomer", member, protocol.State{ID: 5, Failed: true}, nil, nil, true, true, true},
		{"newcomer waiting", member, protocol.State{ID: 5, Waiting: true}, nil, nil, true, true, false},
		{"newcomer not started", member, protocol.State{ID: 5}, nil, nil, true, true, false},
		{"owner locked", protocol.State{ID: 0, Left: 5, Right: 5, Connected: true, Locked: true}, joined, nil, nil, true, true, false},
		{"in flight, no loss", member, joined, msg, nil, false, true, false},
		{"in flight, may be lost", member, joined, msg, nil, true, true, true},
		{"a join timer armed", member, joined, nil, join, true, true, false},
		{"a timer, timers off", member, joined, nil, join, true, false, true},
		{"a background timer", member, joined, nil, refresh, true, true, true},
	} {
		s := &state{nodes: []protocol.Node{fixedState{st: tc.member}, fixedState{st: tc.joinr}}, flight: tc.flight, timers: tc.timers}
		if got := ended(s, 1, tc.lossy, tc.timed); got != tc.want {
			t.Errorf("%s: ended = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The broken machines keep their variant's counters, so that the renumbered key applies to
// them too.
func (d *deaf) AppendCounterKey(b []byte, canon func(protocol.CounterFamily, uint64) uint64) ([]byte, bool) {
	return d.Node.(protocol.CounterKeyer).AppendCounterKey(b, canon)
}
func (d *deaf) TimerFamily(t protocol.Timer) (protocol.CounterFamily, bool) {
	return d.Node.(protocol.CounterKeyer).TimerFamily(t)
}
func (d *deaf) OpFamily(m protocol.Message) (protocol.CounterFamily, bool) {
	return d.Node.(protocol.CounterKeyer).OpFamily(m)
}
func (p pointsAway) AppendCounterKey(b []byte, canon func(protocol.CounterFamily, uint64) uint64) ([]byte, bool) {
	return p.Node.(protocol.CounterKeyer).AppendCounterKey(b, canon)
}
func (p pointsAway) TimerFamily(t protocol.Timer) (protocol.CounterFamily, bool) {
	return p.Node.(protocol.CounterKeyer).TimerFamily(t)
}
func (p pointsAway) OpFamily(m protocol.Message) (protocol.CounterFamily, bool) {
	return p.Node.(protocol.CounterKeyer).OpFamily(m)
}
