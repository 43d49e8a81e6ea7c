// Package explore checks a join protocol exhaustively on small configurations: it enumerates
// every order in which in-flight messages can be delivered and newcomers can start, on the
// very protocol code the simulator and the real nodes run, hashing states so that each is
// expanded once. Breadth-first search makes every reported counterexample a shortest one.
package explore

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
)

// Config is one exploration scope.
type Config struct {
	Protocol string
	Bits     uint
	Members  []protocol.ID
	Joiners  []protocol.ID
	// AllContacts explores every assignment of contacts to joiners; otherwise joiner i
	// contacts Members[i % len(Members)].
	AllContacts bool
	// MaxStates bounds the distinct states per contact assignment; 0 means no bound.
	MaxStates int
	// Timers lets any pending protocol timer fire at any point, as if every message could
	// take longer than any timeout; Lossy adds the loss of any in-flight message. Both are
	// for variants that retry. With Timers, a message sent while an identical copy is in
	// flight merges with it.
	Timers bool
	Lossy  bool
	// Retries is passed to variants that retry (0: their default); fewer retries keep the
	// state space small.
	Retries int
}

// Step is one transition: a newcomer starting its join, a message delivered or lost, or a
// timer firing.
type Step struct {
	Start protocol.ID // the newcomer that starts, or None
	Msg   protocol.Message
	Drop  bool        // with Msg: the message is lost instead
	Timer *timerEntry // a timer fires
}

// timerEntry is a pending protocol timer of one node.
type timerEntry struct {
	node protocol.ID
	t    protocol.Timer
}

func (s Step) String() string {
	if s.Start != protocol.None {
		return fmt.Sprintf("start %v", s.Start)
	}
	if s.Timer != nil {
		return fmt.Sprintf("timer %d (tag %d) fires at %v", s.Timer.t.Kind, s.Timer.t.Tag, s.Timer.node)
	}
	m := s.Msg
	verb := "deliver"
	if s.Drop {
		verb = "lose"
	}
	out := fmt.Sprintf("%s %s %v -> %v (joiner %v)", verb, m.Type, m.From, m.To, m.Joiner)
	if m.Type == protocol.ChangeNeighbour || m.Type == protocol.NewNeighbour ||
		m.Type == protocol.Welcome || m.Type == protocol.SetLeft {
		out += fmt.Sprintf(" neighbour %v", m.Neighbour)
	}
	return out
}

// Finding is a shortest path to a violation or a bad final state.
type Finding struct {
	Kind     string // a safety property, or a final outcome class
	Detail   string
	Contacts []protocol.ID // per joiner
	Path     []Step
	Final    []protocol.State
}

// Report sums an exploration over every contact assignment.
type Report struct {
	Assignments   int
	States        int // distinct states expanded
	Transitions   int
	Terminal      int // reachable states with nothing left to do (see Run)
	Violations    int // terminal states that break the promise, states stuck before the end, and NoEnd
	NoEnd         int // with Timers: states from which no end can be reached (a join or a lock that never ends)
	DistinctFinal int // distinct final rings (pointer sets)
	Complete      bool
	Depth         int       // steps explored completely, in every assignment (BFS levels)
	Findings      []Finding // the shortest per kind, in order of discovery
	Elapsed       time.Duration
}

// Validate names the first unusable field.
func (c *Config) Validate() error {
	if _, err := protocol.Lookup(c.Protocol); err != nil {
		return err
	}
	ring := protocol.Ring{Bits: c.Bits}
	if err := ring.Validate(); err != nil {
		return err
	}
	if len(c.Members) == 0 {
		return errors.New("at least one ring member is needed")
	}
	if len(c.Joiners) == 0 || len(c.Joiners) > 8 {
		return fmt.Errorf("between 1 and 8 joiners can be explored, got %d", len(c.Joiners))
	}
	seen := map[protocol.ID]bool{}
	for _, id := range append(slices.Clone(c.Members), c.Joiners...) {
		if !ring.Contains(id) {
			return fmt.Errorf("ID %v is outside the %d-bit ring", id, c.Bits)
		}
		if seen[id] {
			return fmt.Errorf("ID %v appears twice", id)
		}
		seen[id] = true
	}
	return nil
}

type state struct {
	nodes   []protocol.Node
	flight  []protocol.Message // sorted, so equal multisets encode equally
	timers  []timerEntry       // sorted likewise
	started uint16
	parent  int32 // index into the path arena
	id      int32 // number of the state, in the order found
}

type pathNode struct {
	parent int32
	step   Step
}

// Run explores every contact assignment of the scope.
func Run(cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	begin := time.Now()
	rep := &Report{Complete: true, Depth: -1}
	finals := map[[16]byte]bool{}
	seenKinds := map[string]bool{}
	m := len(cfg.Members)
	assign := make([]int, len(cfg.Joiners))
	for {
		contacts := make([]protocol.ID, len(cfg.Joiners))
		for i := range contacts {
			if cfg.AllContacts {
				contacts[i] = cfg.Members[assign[i]]
			} else {
				contacts[i] = cfg.Members[i%m]
			}
		}
		rep.Assignments++
		exploreOne(&cfg, contacts, rep, finals, seenKinds)
		if !cfg.AllContacts || !nextAssignment(assign, m) {
			break
		}
	}
	rep.DistinctFinal = len(finals)
	rep.Elapsed = time.Since(begin)
	return rep, nil
}

func nextAssignment(a []int, m int) bool {
	for i := range a {
		a[i]++
		if a[i] < m {
			return true
		}
		a[i] = 0
	}
	return false
}

func sortedMembers(ms []protocol.ID) []protocol.ID {
	s := slices.Clone(ms)
	slices.Sort(s)
	return s
}

func exploreOne(cfg *Config, contacts []protocol.ID, rep *Report, finals map[[16]byte]bool, seenKinds map[string]bool) {
	variant, _ := protocol.Lookup(cfg.Protocol)
	ring := protocol.Ring{Bits: cfg.Bits}
	ms := sortedMembers(cfg.Members)
	init := &state{parent: -1}
	for i, id := range ms {
		init.nodes = append(init.nodes, variant.New(protocol.Config{ID: id, Ring: ring, Member: true,
			Left: ms[(i+len(ms)-1)%len(ms)], Right: ms[(i+1)%len(ms)], Retries: cfg.Retries}))
	}
	for i, id := range cfg.Joiners {
		init.nodes = append(init.nodes, variant.New(protocol.Config{ID: id, Ring: ring, Contact: contacts[i], Retries: cfg.Retries}))
	}
	index := map[protocol.ID]int{}
	for i, n := range init.nodes {
		index[n.State().ID] = i
	}
	firstJoiner := len(ms)

	arena := []pathNode{}
	visited := map[[16]byte]int32{key(init): 0}
	// The state graph, for the check that an end stays reachable: edges by state number,
	// which states were judged as ends, and where each state's path ends in the arena.
	var edgeFrom, edgeTo []int32
	judged := []bool{false}
	pathOf := []int32{-1}
	frontier := []*state{init}
	var out protocol.Output
	states := make([]protocol.State, len(init.nodes))
	report := func(kind, detail string, s *state, last Step) {
		if seenKinds[kind] {
			return
		}
		seenKinds[kind] = true
		path := []Step{last}
		for p := s.parent; p >= 0; p = arena[p].parent {
			path = append(path, arena[p].step)
		}
		slices.Reverse(path)
		final := make([]protocol.State, len(s.nodes))
		for i, n := range s.nodes {
			final[i] = n.State()
		}
		rep.Findings = append(rep.Findings, Finding{Kind: kind, Detail: detail, Contacts: slices.Clone(contacts), Path: path, Final: final})
	}
	// terminal judges a state with nothing left to do. Under loss a join may end in a
	// reported failure; everything else must be a correct ring with no lock held.
	terminal := func(s *state) {
		judged[s.id] = true
		rep.Terminal++
		for i, n := range s.nodes {
			states[i] = n.State()
		}
		finals[ringKey(states)] = true
		outcome, detail, _ := observe.ClassifyFinal(states)
		if outcome == observe.OutcomeOK || (cfg.Timers && outcome == observe.OutcomeJoinFailed) {
			if !ended(s, firstJoiner, cfg.Lossy) && cfg.Timers {
				outcome, detail = "stuck", "no move is left, yet a join or an insertion is still under way"
			} else {
				return
			}
		}
		rep.Violations++
		// The last step is already on the path of s.
		if s.parent >= 0 {
			last := arena[s.parent]
			p := &state{nodes: s.nodes, parent: last.parent}
			report(outcome, detail, p, last.step)
		} else {
			report(outcome, detail, s, Step{Start: protocol.None})
		}
	}
	expanded := 0
	depth := 0
	defer func() {
		if rep.Depth < 0 || depth < rep.Depth {
			rep.Depth = depth
		}
	}()
	for len(frontier) > 0 {
		var next []*state
		for _, s := range frontier {
			expanded++
			rep.States++
			if cfg.MaxStates > 0 && expanded > cfg.MaxStates {
				rep.Complete = false
				return
			}
			done := ended(s, firstJoiner, cfg.Lossy)
			assessed := false
			allStarted := int(s.started) == 1<<(len(s.nodes)-firstJoiner)-1
			if done || (cfg.Lossy && cfg.Timers && allStarted && len(s.timers) == 0) {
				// Every join has ended and nothing is in flight, or (lossy) all that is
				// in flight may be lost and no timer is left to retransmit it: the
				// promise is checked here. What remains are deliveries, which go on
				// being explored, and stale timers, whose firing changes nothing.
				terminal(s)
				assessed = true
				if len(s.flight) == 0 {
					continue
				}
			}
			moves := 0
			try := func(step Step) {
				moves++
				rep.Transitions++
				t := &state{nodes: make([]protocol.Node, len(s.nodes)), started: s.started}
				for i, n := range s.nodes {
					t.nodes[i] = n.Clone()
				}
				var target int
				var err error
				out.Reset()
				t.timers = slices.Clone(s.timers)
				switch {
				case step.Timer != nil:
					t.flight = slices.Clone(s.flight)
					t.timers = removeTimer(t.timers, *step.Timer)
					target = index[step.Timer.node]
					err = t.nodes[target].Fire(step.Timer.t, &out)
				case step.Drop:
					t.flight = removeOne(s.flight, step.Msg)
					target = -1
				case step.Start != protocol.None:
					target = index[step.Start]
					t.started |= 1 << (target - firstJoiner)
					t.flight = slices.Clone(s.flight)
					err = t.nodes[target].Start(&out)
				default:
					t.flight = removeOne(s.flight, step.Msg)
					var ok bool
					target, ok = index[step.Msg.To]
					if ok {
						err = t.nodes[target].Step(step.Msg, &out)
					} else {
						target = -1
					}
				}
				for err == nil && target >= 0 {
					for _, a := range out.Actions {
						switch a.Kind {
						case protocol.Send:
							if cfg.Timers && slices.Contains(t.flight, a.Msg) {
								// A retransmission of a copy still on the wire: they
								// collapse, or retransmitting without bound would grow the
								// state without bound. What is lost is a second delivery of
								// the same message, which the simulator's duplication covers.
								continue
							}
							t.flight = append(t.flight, a.Msg)
						case protocol.SetTimer:
							if cfg.Timers {
								t.timers = append(t.timers, timerEntry{node: t.nodes[target].State().ID, t: a.Timer})
							}
						}
					}
					out.Reset()
					var served bool
					served, err = t.nodes[target].Serve(&out)
					if !served {
						break
					}
				}
				if cfg.Timers {
					t.timers = pruneStale(t, index)
				}
				sortFlight(t.flight)
				sortTimers(t.timers)
				if err != nil {
					t.parent = s.parent
					report(observe.OutcomeCrash, fmt.Sprintf("node %v: %v", t.nodes[target].State().ID, err), t, step)
					return
				}
				k := key(t)
				if id, ok := visited[k]; ok {
					if cfg.Timers {
						edgeFrom, edgeTo = append(edgeFrom, s.id), append(edgeTo, id)
					}
					return
				}
				t.id = int32(len(judged))
				visited[k] = t.id
				if cfg.Timers {
					edgeFrom, edgeTo = append(edgeFrom, s.id), append(edgeTo, t.id)
				}
				arena = append(arena, pathNode{parent: s.parent, step: step})
				t.parent = int32(len(arena) - 1)
				judged, pathOf = append(judged, false), append(pathOf, t.parent)
				for i, n := range t.nodes {
					states[i] = n.State()
				}
				if v := observe.CheckSafety(states, ring); v != nil {
					judged[t.id] = true // reported already; its future is not explored
					report(v.Property, v.Detail, t, step)
					return
				}
				next = append(next, t)
			}
			for j := firstJoiner; j < len(s.nodes); j++ {
				if s.started&(1<<(j-firstJoiner)) == 0 {
					try(Step{Start: s.nodes[j].State().ID})
				}
			}
			for i, m := range s.flight {
				if i > 0 && m == s.flight[i-1] {
					continue // delivering either copy leads to the same state
				}
				// Under loss a message may also stay undelivered for ever: that needs no
				// step of its own, since the states seen by the nodes are the same either
				// way, and every state is judged as if what is in flight were lost.
				try(Step{Start: protocol.None, Msg: m})
			}
			for i := range s.timers {
				if i > 0 && s.timers[i] == s.timers[i-1] {
					continue
				}
				te := s.timers[i]
				try(Step{Start: protocol.None, Timer: &te})
			}
			if moves == 0 && !assessed {
				terminal(s)
			}
		}
		frontier = next
		if len(frontier) > 0 {
			depth++
		}
	}
	if cfg.Timers {
		noEnd(rep, judged, pathOf, edgeFrom, edgeTo, func(at int32) {
			p := &state{parent: arena[at].parent}
			report("no_end", "from here no state is reachable where every join has ended and no lock is held (a join or a lock that never ends)", p, arena[at].step)
		})
	}
}

// noEnd finds the states from which no judged state (an end) can be reached: there a join
// never ends or a lock is held for ever, whatever is delivered, lost or fired. It counts
// them as violations and reports the first found, which has a shortest path.
func noEnd(rep *Report, judged []bool, pathOf, from, to []int32, found func(at int32)) {
	n := len(judged)
	// Edges reversed, grouped by target (counting sort).
	start := make([]int32, n+1)
	for _, b := range to {
		start[b+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	rev := make([]int32, len(from))
	fill := slices.Clone(start[:n])
	for e, b := range to {
		rev[fill[b]] = from[e]
		fill[b]++
	}
	reach := slices.Clone(judged)
	var queue []int32
	for i, j := range judged {
		if j {
			queue = append(queue, int32(i))
		}
	}
	for len(queue) > 0 {
		b := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, a := range rev[start[b]:start[b+1]] {
			if !reach[a] {
				reach[a] = true
				queue = append(queue, a)
			}
		}
	}
	first := true
	for i, r := range reach {
		if r {
			continue
		}
		rep.Violations++
		rep.NoEnd++
		if first && pathOf[i] >= 0 {
			found(pathOf[i])
			first = false
		}
	}
}

// ended reports whether every join has ended (connected, or failed and done unlinking), no
// node holds a lock and nothing is in flight (lossy: whatever is in flight may be lost).
func ended(s *state, firstJoiner int, lossy bool) bool {
	if len(s.flight) > 0 && !lossy {
		return false
	}
	for i, n := range s.nodes {
		st := n.State()
		if st.Locked || st.Waiting || (i >= firstJoiner && !st.Connected && !st.Failed) {
			return false
		}
	}
	return true
}

func cmpMsg(a, b protocol.Message) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To),
		cmp.Compare(a.Joiner, b.Joiner), cmp.Compare(a.Neighbour, b.Neighbour), cmp.Compare(a.Op, b.Op))
}

func sortFlight(f []protocol.Message) { slices.SortFunc(f, cmpMsg) }

func sortTimers(ts []timerEntry) {
	slices.SortFunc(ts, func(a, b timerEntry) int {
		return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.t.Kind, b.t.Kind), cmp.Compare(a.t.Tag, b.t.Tag), cmp.Compare(a.t.After, b.t.After))
	})
}

// pruneStale drops the timers whose firing would change nothing: a variant makes a timer
// stale by moving its epoch on, which it never moves back, so such a timer stays inert and
// firing it at every point would only multiply the states.
func pruneStale(t *state, index map[protocol.ID]int) []timerEntry {
	var out protocol.Output
	kept := t.timers[:0]
	for _, te := range t.timers {
		n := t.nodes[index[te.node]]
		c := n.Clone()
		out.Reset()
		if err := c.Fire(te.t, &out); err != nil || len(out.Actions) > 0 ||
			string(c.AppendKey(nil)) != string(n.AppendKey(nil)) {
			kept = append(kept, te)
		}
	}
	return kept
}

func removeTimer(ts []timerEntry, te timerEntry) []timerEntry {
	for i := range ts {
		if ts[i] == te {
			return append(ts[:i:i], ts[i+1:]...)
		}
	}
	return ts
}

func removeOne(f []protocol.Message, m protocol.Message) []protocol.Message {
	out := make([]protocol.Message, 0, len(f))
	removed := false
	for _, x := range f {
		if !removed && x == m {
			removed = true
			continue
		}
		out = append(out, x)
	}
	return out
}

func key(s *state) [16]byte {
	h := fnv.New128a()
	var b []byte
	for _, n := range s.nodes {
		b = n.AppendKey(b)
	}
	b = append(b, byte(s.started), byte(s.started>>8))
	for _, te := range s.timers {
		b = append(b, te.t.Kind)
		for _, x := range []uint64{te.t.Tag, uint64(te.node), uint64(te.t.After)} {
			b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
		}
	}
	b = append(b, 0xfe)
	for _, m := range s.flight {
		b = append(b, byte(m.Type))
		for _, id := range []protocol.ID{m.From, m.To, m.Joiner, m.Neighbour, protocol.ID(m.Op)} {
			b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24), byte(id>>32), byte(id>>40), byte(id>>48), byte(id>>56))
		}
	}
	h.Write(b)
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

func ringKey(states []protocol.State) [16]byte {
	h := fnv.New128a()
	for _, st := range states {
		fmt.Fprintf(h, "%v<%v>%v;", st.Left, st.ID, st.Right)
	}
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

// Format renders a report for people.
func (r *Report) Format(cfg *Config) string {
	var b strings.Builder
	scope := "fixed contacts"
	if cfg.AllContacts {
		scope = "all contact choices"
	}
	if cfg.Timers {
		scope += ", timers fire at any time"
	}
	if cfg.Lossy {
		scope += ", any message may be lost"
	}
	fmt.Fprintf(&b, "protocol %s, members %v, joiners %v, %d-bit ring, %s (%d assignment(s))\n",
		cfg.Protocol, cfg.Members, cfg.Joiners, cfg.Bits, scope, r.Assignments)
	complete := "complete"
	if !r.Complete {
		complete = fmt.Sprintf("INCOMPLETE: stopped at --max-states %d", cfg.MaxStates)
	}
	fmt.Fprintf(&b, "states %d, transitions %d, terminal %d, violations %d (%d with no end reachable), distinct final rings %d, every path to depth %d, %s, %s\n",
		r.States, r.Transitions, r.Terminal, r.Violations, r.NoEnd, r.DistinctFinal, r.Depth, complete, r.Elapsed.Round(time.Millisecond))
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "no violation and no bad final state found\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s: %s\n  contacts %v, shortest sequence (%d steps):\n", f.Kind, f.Detail, f.Contacts, len(f.Path))
		for i, s := range f.Path {
			fmt.Fprintf(&b, "  %3d. %s\n", i+1, s)
		}
		fmt.Fprintf(&b, "  state after it:\n")
		for _, st := range f.Final {
			fmt.Fprintf(&b, "    %v <- %v -> %v", st.Left, st.ID, st.Right)
			if !st.Connected {
				b.WriteString(" not-connected")
			}
			if st.Locked {
				b.WriteString(" locked")
			}
			if st.Queue > 0 {
				fmt.Fprintf(&b, " queue=%d", st.Queue)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Script turns a finding into the simulator's terms: the node layout and the exact steps,
// so that `sim.RunScript` replays the counterexample on the simulator. Findings whose path
// fires timers or loses messages have no script (ok is false).
func (f *Finding) Script(cfg *Config) (specs []sim.Spec, steps []sim.ScriptStep, ok bool) {
	for _, s := range f.Path {
		if s.Timer != nil || s.Drop {
			return nil, nil, false
		}
	}
	ms := sortedMembers(cfg.Members)
	for i, id := range ms {
		specs = append(specs, sim.Spec{ID: id, Member: true, Left: ms[(i+len(ms)-1)%len(ms)], Right: ms[(i+1)%len(ms)]})
	}
	for i, id := range cfg.Joiners {
		specs = append(specs, sim.Spec{ID: id, Contact: f.Contacts[i]})
	}
	steps = make([]sim.ScriptStep, len(f.Path))
	for i, s := range f.Path {
		steps[i] = sim.ScriptStep{Start: s.Start, Msg: s.Msg}
	}
	return specs, steps, true
}
