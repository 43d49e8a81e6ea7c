package explore

import (
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// heartbeatKind is a timer kind no variant uses.
const heartbeatKind = 200

// forgetful is a deliberately broken machine. A member never arms a timer, so as an owner it
// never retransmits; a newcomer keeps a background timer firing for ever, as periodic work
// would, so that no state is ever without a timer (where the search judges what is in flight
// as lost). A welcome lost before the newcomer gives up leaves the owner locked for ever,
// yet while the welcome is still in flight an end is reachable: only a search that explores
// the loss itself sees the lock that never ends.
type forgetful struct {
	protocol.Node
	member bool
}

func newForgetful(n protocol.Node) protocol.Node {
	return &forgetful{Node: n, member: n.State().Connected}
}

func (f *forgetful) Clone() protocol.Node { return &forgetful{Node: f.Node.Clone(), member: f.member} }

func (f *forgetful) Start(out *protocol.Output) error {
	err := f.Node.Start(out)
	out.Actions = append(out.Actions, heartbeat())
	return err
}

func heartbeat() protocol.Action {
	return protocol.Action{Kind: protocol.SetTimer, Timer: protocol.Timer{Kind: heartbeatKind, After: 1e8, Background: true}}
}

func (f *forgetful) Fire(t protocol.Timer, out *protocol.Output) error {
	if t.Kind == heartbeatKind {
		out.Actions = append(out.Actions, heartbeat())
		return nil
	}
	return f.filter(out, f.Node.Fire(t, out))
}

func (f *forgetful) Step(m protocol.Message, out *protocol.Output) error {
	return f.filter(out, f.Node.Step(m, out))
}

func (f *forgetful) Serve(out *protocol.Output) (bool, error) {
	served, err := f.Node.Serve(out)
	return served, f.filter(out, err)
}

// filter drops a member's timers.
func (f *forgetful) filter(out *protocol.Output, err error) error {
	if f.member {
		out.Actions = slices.DeleteFunc(out.Actions, func(a protocol.Action) bool { return a.Kind == protocol.SetTimer })
	}
	return err
}

// Under --lossy every message in flight may be lost, and the search explores that loss: a
// join or a lock that a lost message leaves hanging is found, by both search orders, where
// it is found only if the loss is a step of the search (the lossy scopes below found nothing
// when a message could only stay in flight for ever).
func TestLossIsExplored(t *testing.T) {
	one := func(variant string, timers bool) Config {
		return Config{Protocol: variant, Bits: 3, Members: []protocol.ID{0}, Joiners: []protocol.ID{5},
			Timers: timers, Lossy: true, Retries: 1, PruneIgnored: variant == "predlock-retry"}
	}
	forget := one("predlock-retry", true)
	forget.wrap = newForgetful
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		// predlock has no timer: a lost connect leaves the newcomer out, a lost welcome the
		// owner locked.
		{"predlock, loss without timers", one("predlock", false), []string{observe.OutcomeDeadlock, observe.OutcomeNotJoined}},
		{"predlock-retry keeps its promise", one("predlock-retry", true), nil},
		{"an owner that never retransmits", forget, []string{"no_end"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var states []int
			for _, order := range []string{SearchBFS, SearchDFS} {
				cfg := tc.cfg
				cfg.Search = order
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Complete {
					t.Fatalf("%s did not finish", order)
				}
				if got := kinds(r); !slices.Equal(got, tc.want) {
					t.Errorf("%s finds %v, want %v:\n%s", order, got, tc.want, r.Format(&cfg))
				}
				if (r.Violations > 0) != (len(tc.want) > 0) {
					t.Errorf("%s counts %d violations with findings %v", order, r.Violations, kinds(r))
				}
				states = append(states, r.States)
			}
			if states[0] != states[1] {
				t.Errorf("breadth-first visits %d states, depth-first %d", states[0], states[1])
			}
		})
	}
}
