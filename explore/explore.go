// Package explore checks a join protocol exhaustively on small configurations: it enumerates
// every order in which in-flight messages can be delivered and newcomers can start, on the
// very protocol code the simulator and the real nodes run, hashing states so that each is
// expanded once. Breadth-first search makes every reported counterexample a shortest one.
package explore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
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
	// Search is the order: SearchBFS (the default) reports shortest counterexamples but
	// keeps the frontier and, with Timers, the state graph in memory; SearchDFS keeps only
	// the visited fingerprints and the current path.
	Search string
	// RenumberCounters renumbers, in the state key, the counters of variants that expose
	// them (protocol.CounterKeyer; counters.go), so that states told apart only by how many
	// insertions and timers came before are one. Same findings, fewer states, more CPU time
	// a state.
	RenumberCounters bool
	// PruneIgnored forgets every in-flight message that its addressee ignores now and will
	// ignore for ever (protocol.Ignorer): delivering it would change nothing, so a state
	// with it and one without it have the same futures. The search checks the "for ever" on
	// every node transition it makes and reports a broken_ignore finding if it fails.
	PruneIgnored bool
	// Subsume (with Lossy, depth-first) does not explore a state whose in-flight messages are
	// all in flight in a state already explored with the same nodes and timers (its core):
	// under loss every future of the first is one of the second (coverSet), so the same
	// violations and final rings are found. The end check changes with it: for every core
	// met, a search of its own (witness) looks for an end from the core with nothing in
	// flight, which is exact (see checkCore). With RenumberCounters, cores and flights are
	// compared as the key renumbers them (see coverSet).
	Subsume bool
	// Workers is the number of goroutines of a subsuming search (0: one). With more than
	// one the states are shared out as the search goes, so the counts vary from run to run;
	// the findings do not.
	Workers int

	// wrap, in tests, replaces every node by a wrapper around it: a deliberately broken
	// machine, to show that the search still finds what the breakage causes.
	wrap func(protocol.Node) protocol.Node
	// measure, in tests: see explorer.measure.
	measure map[uint64]bool

	// Progress, if set, receives a line every progressEvery states of a depth-first search.
	Progress io.Writer
}

const progressEvery = 5_000_000

// Search orders.
const (
	SearchBFS = "bfs"
	SearchDFS = "dfs"
)

// Step is one transition: a newcomer starting its join, a message delivered or lost, every
// message in flight lost, or a timer firing.
type Step struct {
	Start protocol.ID // the newcomer that starts, or None
	Msg   protocol.Message
	Drop  bool // with Msg: the message is lost instead
	// LoseAll loses every message in flight at once (Lossy): see moves.
	LoseAll bool
	Timer   *timerEntry // a timer fires
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
	if s.LoseAll {
		return "lose every message in flight"
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
	Depth         int // BFS: steps explored completely, in every assignment (levels); DFS: the longest path
	// Stored counts the fingerprints kept (hash compaction); CollisionBound is the bound
	// Stored(Stored-1)/2^63 on the probability that two distinct states shared one, which
	// would have left a state unexplored.
	Stored         int
	CollisionBound float64
	// With PruneIgnored: Pruned counts messages forgotten, NodeTransitions the distinct
	// node transitions on which the permanence of Ignores was checked.
	Pruned          int
	NodeTransitions int
	// With Subsume: Covered counts the states reached but not explored, their in-flight
	// messages being in flight in an explored state with the same nodes and timers; Cores
	// the distinct cores, each checked for a reachable end by a witness search, of
	// WitnessStates states in all (WitnessProven shown to reach one).
	Covered       int
	Cores         int
	WitnessStates int
	WitnessProven int
	// With Workers > 1: WorkerStates counts the states each worker explored, Steals the
	// times an idle worker took untried moves from a busy one.
	WorkerStates []int
	Steals       int
	Findings     []Finding // the shortest per kind, in order of discovery
	Elapsed      time.Duration
}

// Validate names the first unusable field.
func (c *Config) Validate() error {
	variant, err := protocol.Lookup(c.Protocol)
	if err != nil {
		return err
	}
	if c.Subsume && (!c.Lossy || c.Search != SearchDFS) {
		return errors.New("subsuming states needs --lossy (a covered state's extra messages are lost) and --search dfs")
	}
	if c.Workers < 0 {
		return fmt.Errorf("workers: %d is not a number of workers", c.Workers)
	}
	if c.Workers > 1 && !c.Subsume {
		return errors.New("more than one worker needs --subsume: only the subsuming search is shared out")
	}
	if c.PruneIgnored && !variant.Ignores {
		return fmt.Errorf("pruning ignored messages: protocol %s names no message it ignores for good, so nothing would be pruned (predlock-retry does)", c.Protocol)
	}
	ring := protocol.Ring{Bits: c.Bits}
	if err := ring.Validate(); err != nil {
		return err
	}
	if len(c.Members) == 0 {
		return errors.New("at least one ring member is needed")
	}
	if c.Search != "" && c.Search != SearchBFS && c.Search != SearchDFS {
		return fmt.Errorf("search order %q: want %q or %q", c.Search, SearchBFS, SearchDFS)
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
	// nodes are shared between a state and its successors: a step clones the one node it
	// changes, and no node stored in a state is changed afterwards.
	nodes   []protocol.Node
	hashes  []uint64           // fingerprint of each node's AppendKey
	flight  []protocol.Message // sorted, so equal multisets encode equally
	timers  []timerEntry       // sorted likewise
	started uint16
	// quiet: the step that led here left every node's observable state as it was, so the
	// safety properties, a function of those alone, hold as they did before it.
	quiet  bool
	parent int32 // breadth-first: index into the path arena
	id     int32 // breadth-first: number of the state, in the order found
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
		e := newExplorer(&cfg, contacts, rep, finals, seenKinds)
		if cfg.Subsume {
			e.subsumeSearch()
		} else if cfg.Search == SearchDFS {
			e.dfs()
		} else {
			e.bfs()
		}
		rep.Stored += e.stored
		if !cfg.AllContacts || !nextAssignment(assign, m) {
			break
		}
	}
	rep.DistinctFinal = len(finals)
	rep.CollisionBound = collisionBound(rep.Stored)
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

// explorer holds what both search orders share for one contact assignment: the initial
// state, the transition function and the judging of states.
type explorer struct {
	cfg         *Config
	ring        protocol.Ring
	ids         []protocol.ID // node IDs by index
	firstJoiner int
	contacts    []protocol.ID
	init        *state
	rep         *Report
	finals      map[[16]byte]bool
	seenKinds   map[string]bool
	stored      int      // fingerprints stored
	visited     *fpTable // depth-first
	expanded    int

	out    protocol.Output
	probe  protocol.Output
	states []protocol.State
	kbuf   []byte
	pbuf   []byte
	// counters: the state key renumbers the nodes' counters (counters.go).
	counters bool
	cset     counterSet
	cnode    int // the node whose counters collect and renumber see
	collect  func(protocol.CounterFamily, uint64) uint64
	renumber func(protocol.CounterFamily, uint64) uint64
	// measure, in tests, collects the renumbered fingerprint of every state a search with
	// plain keys expands.
	measure map[uint64]bool
	begin   time.Time
	// prune: see Config.PruneIgnored and forget.
	prune  bool
	pruned []pruneLog // by node index
	// cover: see Config.Subsume; coreLen is where the flight starts in the last key, and
	// keyFlight the flight as the last key encodes it (its insertion numbers renumbered with
	// counters); proven holds the states a witness search found an end from.
	cover     *coverSet
	coreLen   int
	keyFlight []protocol.Message
	// keyGap says, when the cover embeds flights (coverSet.embeds), which of keyFlight's
	// messages carry an insertion number no node holds: the gap among the core's numbers it
	// lies in, or -1.
	keyGap  []int32
	rflight []protocol.Message // counterKey's storage for keyFlight and keyGap
	rgap    []int32
	proven  *lockedFP
	// csc is this searcher's storage for cover; claimed the shared visited set of a
	// subsuming search (parallel.go).
	csc     coverScratch
	claimed *lockedFP
	// logged and loggedMoves: see loggedMsg.
	logged      map[loggedMsg]bool
	loggedMoves map[loggedMove]bool
	// pool: the workers of a subsuming search (parallel.go); nil with one.
	pool *pool
}

// pruneLog holds, for one node, every message forgotten because the node ignores it, and
// every distinct transition the node made: the permanence of Ignores is checked on each pair.
type pruneLog struct {
	msgs  []protocol.Message
	seen  map[protocol.Message]bool
	moves []nodeMove
	known map[[2]uint64]bool
}

// markNew records k in the set *m, made if need be, and reports whether it was new.
func markNew[K comparable](m *map[K]bool, k K) bool {
	if (*m)[k] {
		return false
	}
	if *m == nil {
		*m = map[K]bool{}
	}
	(*m)[k] = true
	return true
}

// loggedMsg and loggedMove are what one searcher of several has put in the shared
// pruneLogs already (explorer.logged, loggedMoves).
type loggedMsg struct {
	r int
	m protocol.Message
}

type loggedMove struct {
	r int
	k [2]uint64
}

// nodeMove is one transition of a node, from before to after.
type nodeMove struct{ before, after protocol.Node }

func newExplorer(cfg *Config, contacts []protocol.ID, rep *Report, finals map[[16]byte]bool, seenKinds map[string]bool) *explorer {
	variant, _ := protocol.Lookup(cfg.Protocol)
	newNode := variant.New
	if cfg.wrap != nil {
		newNode = func(c protocol.Config) protocol.Node { return cfg.wrap(variant.New(c)) }
	}
	ring := protocol.Ring{Bits: cfg.Bits}
	ms := sortedMembers(cfg.Members)
	init := &state{parent: -1}
	for i, id := range ms {
		init.nodes = append(init.nodes, newNode(protocol.Config{ID: id, Ring: ring, Member: true,
			Left: ms[(i+len(ms)-1)%len(ms)], Right: ms[(i+1)%len(ms)], Retries: cfg.Retries}))
	}
	for i, id := range cfg.Joiners {
		init.nodes = append(init.nodes, newNode(protocol.Config{ID: id, Ring: ring, Contact: contacts[i], Retries: cfg.Retries}))
	}
	e := &explorer{cfg: cfg, ring: ring, firstJoiner: len(ms), contacts: contacts, init: init, rep: rep,
		finals: finals, seenKinds: seenKinds, states: make([]protocol.State, len(init.nodes)), begin: time.Now()}
	e.counters = cfg.RenumberCounters && countersOf(init.nodes)
	if cfg.PruneIgnored {
		e.prune = true
		e.pruned = make([]pruneLog, len(init.nodes))
		for i := range e.pruned {
			e.pruned[i] = pruneLog{seen: map[protocol.Message]bool{}, known: map[[2]uint64]bool{}}
		}
	}
	e.measure = cfg.measure
	if cfg.Subsume {
		e.cover, e.proven = newCoverSet(e.counters), newLockedFP()
	}
	for _, n := range init.nodes {
		e.ids = append(e.ids, n.State().ID)
		init.hashes = append(init.hashes, fingerprint(n.AppendKey(nil)))
	}
	return e
}

// index returns the position of node id, or -1 for an ID no node has.
func (e *explorer) index(id protocol.ID) int {
	return slices.Index(e.ids, id)
}

// report records the first finding of each kind, with the path that led to it.
func (e *explorer) report(kind, detail string, nodes []protocol.Node, path []Step) {
	e.flock()
	defer e.funlock()
	if e.seenKinds[kind] {
		return
	}
	e.seenKinds[kind] = true
	final := make([]protocol.State, len(nodes))
	for i, n := range nodes {
		final[i] = n.State()
	}
	rep := e.rep
	if e.pool != nil {
		rep = e.pool.main
	}
	rep.Findings = append(rep.Findings, Finding{Kind: kind, Detail: detail, Contacts: slices.Clone(e.contacts),
		Path: slices.Clone(path), Final: final})
}

// assess decides whether s is judged as an end, before its moves are generated: every join
// has ended, or (under loss) every newcomer has started and no timer is left to retransmit
// what is in flight, which may all be lost. expand says whether its successors are still
// explored: deliveries of what is in flight may go on. Under loss the judging depends on the
// nodes and timers only, not on what is in flight: a state with nothing left to do is one of
// those, and Subsume relies on it.
func (e *explorer) assess(s *state) (judge, expand bool) {
	done := ended(s, e.firstJoiner, e.cfg.Lossy, e.cfg.Timers)
	allStarted := int(s.started) == 1<<(len(s.nodes)-e.firstJoiner)-1
	if done || (e.cfg.Lossy && allStarted && len(s.timers) == 0) {
		return true, len(s.flight) > 0 || len(s.timers) > 0
	}
	return false, true
}

// terminal judges a state with nothing left to do, or judged as if what is in flight were
// lost. Under loss a join may end in a reported failure; everything else must be a correct
// ring with no lock held. It returns the outcome of a violation ("" when the state keeps
// the promise).
func (e *explorer) terminal(s *state) (kind, detail string) {
	e.rep.Terminal++
	for i, n := range s.nodes {
		e.states[i] = n.State()
	}
	e.flock()
	e.finals[ringKey(e.states)] = true
	e.funlock()
	outcome, detail, _ := observe.ClassifyFinal(e.states)
	if outcome == observe.OutcomeOK || (e.cfg.Timers && outcome == observe.OutcomeJoinFailed) {
		if !ended(s, e.firstJoiner, e.cfg.Lossy, e.cfg.Timers) && e.cfg.Timers {
			outcome, detail = "stuck", "no move is left, yet a join or an insertion is still under way"
		} else {
			return "", ""
		}
	}
	e.rep.Violations++
	return outcome, detail
}

// moves lists the steps possible from s: newcomers that have not started, one delivery per
// distinct message in flight, one firing per distinct pending timer.
func (e *explorer) moves(s *state, buf []Step) []Step {
	buf = buf[:0]
	for j := e.firstJoiner; j < len(s.nodes); j++ {
		if s.started&(1<<(j-e.firstJoiner)) == 0 {
			buf = append(buf, Step{Start: e.ids[j]})
		}
	}
	for i, m := range s.flight {
		if i > 0 && m == s.flight[i-1] {
			continue // delivering either copy leads to the same state
		}
		// Under loss a message may also stay undelivered for ever, which needs no step of
		// its own: the nodes see the same either way.
		buf = append(buf, Step{Start: protocol.None, Msg: m})
	}
	for i := range s.timers {
		if i > 0 && s.timers[i] == s.timers[i-1] {
			continue
		}
		te := s.timers[i]
		buf = append(buf, Step{Start: protocol.None, Timer: &te})
	}
	if e.cfg.Lossy && len(s.flight) > 0 {
		// Losing everything at once is the one loss that needs a step: a state with more in
		// flight has every future of one with less (a message may stay undelivered for
		// ever), so the state with nothing in flight has the fewest futures, and it is the
		// one where an end must still be reachable, and where a node left waiting shows.
		// Losing some messages and delivering others later leads to node states that keeping
		// all of them and losing everything later leads to as well.
		buf = append(buf, Step{Start: protocol.None, LoseAll: true})
	}
	return buf
}

// apply takes one step from s. The node the step reaches is cloned; the others are shared.
// On an error (a handler that crashed) it returns the node's index too.
func (e *explorer) apply(s *state, step Step) (*state, int, error) {
	t := &state{nodes: slices.Clone(s.nodes), hashes: s.hashes, started: s.started, timers: s.timers, flight: s.flight}
	var target int
	var err error
	out := &e.out
	out.Reset()
	clone := func() {
		if target >= 0 {
			t.nodes[target] = t.nodes[target].Clone()
		}
	}
	switch {
	case step.Timer != nil:
		t.timers = removeTimer(s.timers, *step.Timer)
		target = e.index(step.Timer.node)
		clone()
		err = t.nodes[target].Fire(step.Timer.t, out)
	case step.Drop:
		t.flight = removeOne(s.flight, step.Msg)
		target = -1
	case step.LoseAll:
		t.flight = nil
		target = -1
	case step.Start != protocol.None:
		target = e.index(step.Start)
		clone()
		t.started |= 1 << (target - e.firstJoiner)
		err = t.nodes[target].Start(out)
	default:
		t.flight = removeOne(s.flight, step.Msg)
		target = e.index(step.Msg.To)
		if target >= 0 {
			clone()
			err = t.nodes[target].Step(step.Msg, out)
		}
	}
	flightOwned, timersOwned := step.Drop || (step.Timer == nil && step.Start == protocol.None), step.Timer != nil
	for err == nil && target >= 0 {
		for _, a := range out.Actions {
			switch a.Kind {
			case protocol.Send:
				if e.cfg.Timers && slices.Contains(t.flight, a.Msg) {
					// A retransmission of a copy still on the wire: they collapse, or
					// retransmitting without bound would grow the state without bound. What
					// is lost is a second delivery of the same message, which the
					// simulator's duplication covers.
					continue
				}
				if !flightOwned {
					t.flight, flightOwned = slices.Clone(t.flight), true
				}
				t.flight = append(t.flight, a.Msg)
			case protocol.SetTimer:
				if e.cfg.Timers {
					if !timersOwned {
						t.timers, timersOwned = slices.Clone(t.timers), true
					}
					t.timers = append(t.timers, timerEntry{node: e.ids[target], t: a.Timer})
				}
			}
		}
		out.Reset()
		var served bool
		served, err = t.nodes[target].Serve(out)
		if !served {
			break
		}
	}
	if err != nil {
		return t, target, err
	}
	t.quiet = true
	if target >= 0 {
		kb := t.nodes[target].AppendKey(e.pbuf[:0])
		e.pbuf = kb
		t.hashes = slices.Clone(s.hashes)
		t.hashes[target] = fingerprint(kb)
		t.quiet = t.nodes[target].State() == s.nodes[target].State()
		if e.cfg.Timers && len(t.timers) > 0 {
			// Only the node stepped can have made its timers stale; the others' were
			// checked when they last changed.
			t.timers = e.pruneStale(t, target, kb)
		}
		if e.prune {
			if t.hashes[target] != s.hashes[target] {
				e.moved(target, s.nodes[target], t.nodes[target], s.hashes[target], t.hashes[target])
			}
			t.flight = e.forget(t, flightOwned)
		}
	}
	sortFlight(t.flight)
	sortTimers(t.timers)
	return t, -1, nil
}

// key encodes s canonically, each node by the fingerprint of its AppendKey: equal keys mean
// equal futures, unless two node keys share a fingerprint.
func (e *explorer) key(s *state) []byte {
	if e.counters {
		return e.counterKey(s)
	}
	if e.measure != nil {
		e.measure[canon(fingerprint(e.counterKey(s)))] = true
	}
	b := e.kbuf[:0]
	for _, h := range s.hashes {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	b = append(b, byte(s.started), byte(s.started>>8))
	for _, te := range s.timers {
		b = append(b, te.t.Kind)
		for _, x := range []uint64{te.t.Tag, uint64(te.node), uint64(te.t.After)} {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
	}
	e.coreLen = len(b)
	e.keyFlight, e.keyGap = s.flight, nil
	b = append(b, 0xfe)
	for _, m := range s.flight {
		b = append(b, byte(m.Type))
		for _, id := range []protocol.ID{m.From, m.To, m.Joiner, m.Neighbour, protocol.ID(m.Op)} {
			b = binary.LittleEndian.AppendUint64(b, uint64(id))
		}
	}
	e.kbuf = b
	return b
}

// safety checks the per-state safety properties of s, reached by one step from a state that
// had them.
func (e *explorer) safety(s *state) *observe.Violation {
	if s.quiet {
		return nil
	}
	for i, n := range s.nodes {
		e.states[i] = n.State()
	}
	return observe.CheckSafety(e.states, e.ring)
}

// bfs explores breadth-first, so that every finding's path is a shortest one. It keeps the
// whole frontier and, with Timers, the state graph for the check that an end stays
// reachable, so its memory grows with both.
func (e *explorer) bfs() {
	cfg, rep := e.cfg, e.rep
	init := e.init
	arena := []pathNode{}
	visited := map[uint64]int32{canon(fingerprint(e.key(init))): 0}
	e.stored++
	// The state graph, for the check that an end stays reachable: edges by state number,
	// which states were judged as ends, and where each state's path ends in the arena.
	var edgeFrom, edgeTo []int32
	judged := []bool{false}
	pathOf := []int32{-1}
	frontier := []*state{init}
	pathTo := func(parent int32, last Step) []Step {
		path := []Step{last}
		for p := parent; p >= 0; p = arena[p].parent {
			path = append(path, arena[p].step)
		}
		slices.Reverse(path)
		return path
	}
	terminal := func(s *state) {
		judged[s.id] = true
		if kind, detail := e.terminal(s); kind != "" {
			// The last step is already on the path of s.
			if s.parent >= 0 {
				e.report(kind, detail, s.nodes, pathTo(arena[s.parent].parent, arena[s.parent].step))
			} else {
				e.report(kind, detail, s.nodes, nil)
			}
		}
	}
	depth := 0
	defer func() {
		if rep.Depth < 0 || depth < rep.Depth {
			rep.Depth = depth
		}
	}()
	var buf []Step
	for len(frontier) > 0 {
		var next []*state
		for _, s := range frontier {
			e.expanded++
			rep.States++
			if cfg.MaxStates > 0 && e.expanded > cfg.MaxStates {
				rep.Complete = false
				return
			}
			judge, expand := e.assess(s)
			if judge {
				terminal(s)
				if !expand {
					continue
				}
			}
			buf = e.moves(s, buf)
			for _, step := range buf {
				rep.Transitions++
				t, bad, err := e.apply(s, step)
				if err != nil {
					e.report(observe.OutcomeCrash, fmt.Sprintf("node %v: %v", e.ids[bad], err), t.nodes, pathTo(s.parent, step))
					continue
				}
				fp := canon(fingerprint(e.key(t)))
				if id, ok := visited[fp]; ok {
					if cfg.Timers {
						edgeFrom, edgeTo = append(edgeFrom, s.id), append(edgeTo, id)
					}
					continue
				}
				t.id = int32(len(judged))
				visited[fp] = t.id
				e.stored++
				if cfg.Timers {
					edgeFrom, edgeTo = append(edgeFrom, s.id), append(edgeTo, t.id)
				}
				arena = append(arena, pathNode{parent: s.parent, step: step})
				t.parent = int32(len(arena) - 1)
				judged, pathOf = append(judged, false), append(pathOf, t.parent)
				if v := e.safety(t); v != nil {
					judged[t.id] = true // reported already; its future is not explored
					e.report(v.Property, v.Detail, t.nodes, pathTo(s.parent, step))
					continue
				}
				next = append(next, t)
			}
			if len(buf) == 0 && !judge {
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
			e.report("no_end", noEndDetail, nil, pathTo(arena[at].parent, arena[at].step))
		})
	}
}

const noEndDetail = "from here no state is reachable where every join has ended and no lock is held (a join or a lock that never ends)"

// dfs explores depth-first with an explicit stack of (state, next move): memory is the
// visited fingerprints plus the current path, so scopes far beyond breadth-first's fit.
// Findings come with the path the search took, not a shortest one. With Timers the check
// that an end stays reachable runs on the fly, by Tarjan's strongly connected components:
// when a component is complete every state it reaches outside it is finished, so the
// component reaches an end exactly when one of its states is an end or has an edge to a
// finished state that reaches one. No edge is stored.
func (e *explorer) dfs() {
	cfg, rep := e.cfg, e.rep
	e.visited = newFPTable()
	type frame struct {
		s     *state
		step  Step // the step that led here
		moves []Step
		next  int
		pos   int    // on the Tarjan stack
		low   uint32 // Tarjan's lowlink
	}
	type member struct {
		fp    uint64
		index uint32
		reach bool
	}
	var stack []frame
	var comp []member          // Tarjan's stack
	onComp := map[uint64]int{} // position on it by fingerprint; the table marks such states neither done nor reach
	var counter uint32
	maxDepth := 0
	path := func(last *Step) []Step {
		p := make([]Step, 0, len(stack))
		for i := 1; i < len(stack); i++ {
			p = append(p, stack[i].step)
		}
		if last != nil {
			p = append(p, *last)
		}
		return p
	}
	// push enters a new state: it is judged, and its moves listed.
	push := func(s *state, fp uint64, step Step) bool {
		e.expanded++
		rep.States++
		if cfg.Progress != nil && rep.States%progressEvery == 0 {
			fmt.Fprintf(cfg.Progress, "%d states, %d transitions, %d terminal, %d violations, path %d, %s\n",
				rep.States, rep.Transitions, rep.Terminal, rep.Violations, len(stack), time.Since(e.begin).Round(time.Second))
		}
		if cfg.MaxStates > 0 && e.expanded > cfg.MaxStates {
			rep.Complete = false
			return false
		}
		pos := len(comp)
		comp = append(comp, member{fp: fp, index: counter})
		onComp[fp] = pos
		e.visited.put(fp, 0)
		e.stored++
		stack = append(stack, frame{s: s, step: step, pos: pos, low: counter})
		counter++
		maxDepth = max(maxDepth, len(stack)-1)
		f := &stack[len(stack)-1]
		judge, expand := e.assess(s)
		if judge {
			comp[pos].reach = true
			if kind, detail := e.terminal(s); kind != "" {
				e.report(kind, detail, s.nodes, path(nil))
			}
			if !expand {
				return true
			}
		}
		f.moves = e.moves(s, nil)
		if len(f.moves) == 0 && !judge {
			comp[pos].reach = true
			if kind, detail := e.terminal(s); kind != "" {
				e.report(kind, detail, s.nodes, path(nil))
			}
		}
		return true
	}
	defer func() { rep.Depth = max(rep.Depth, maxDepth) }()
	initFP := canon(fingerprint(e.key(e.init)))
	if !push(e.init, initFP, Step{}) {
		return
	}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.moves) {
			step := f.moves[f.next]
			f.next++
			rep.Transitions++
			t, bad, err := e.apply(f.s, step)
			if err != nil {
				e.report(observe.OutcomeCrash, fmt.Sprintf("node %v: %v", e.ids[bad], err), t.nodes, path(&step))
				continue
			}
			fp := canon(fingerprint(e.key(t)))
			marks, seen := e.visited.get(fp)
			if seen {
				switch {
				case marks&markDone == 0:
					f.low = min(f.low, comp[onComp[fp]].index)
				case marks&markReach != 0:
					comp[f.pos].reach = true
				}
				continue
			}
			if v := e.safety(t); v != nil {
				// Reported; its future is not explored (nor counted as expanded, as
				// breadth-first), and it counts as an end.
				e.visited.put(fp, markDone|markReach)
				e.stored++
				e.report(v.Property, v.Detail, t.nodes, path(&step))
				comp[f.pos].reach = true
				continue
			}
			if !push(t, fp, step) {
				return
			}
			continue
		}
		// Every move of f is explored.
		if f.low == comp[f.pos].index {
			// f is the root of a strongly connected component: the members above it.
			r := false
			for _, m := range comp[f.pos:] {
				r = r || m.reach
			}
			marks := uint64(markDone)
			if r || !cfg.Timers {
				// Without timers nothing repeats, and the check is not made.
				marks |= markReach
			} else {
				n := len(comp) - f.pos
				rep.Violations += n
				rep.NoEnd += n
				if !e.seenKinds["no_end"] {
					e.report("no_end", noEndDetail, f.s.nodes, path(nil))
				}
			}
			for _, m := range comp[f.pos:] {
				e.visited.put(m.fp, marks)
				delete(onComp, m.fp)
			}
			comp = comp[:f.pos]
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && r {
				comp[stack[len(stack)-1].pos].reach = true
			}
			continue
		}
		low := f.low
		stack = stack[:len(stack)-1]
		p := &stack[len(stack)-1]
		p.low = min(p.low, low)
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
// node holds a lock, nothing is in flight (lossy: whatever is in flight may be lost) and,
// with timers, no protocol timer is armed (a live one means a node still waits on
// something).
func ended(s *state, firstJoiner int, lossy, timers bool) bool {
	if len(s.flight) > 0 && !lossy {
		return false
	}
	if timers {
		for _, te := range s.timers {
			if !te.t.Background {
				return false
			}
		}
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

// forget drops from t's flight every message its addressee ignores for ever, logging it for
// the permanence check. The result shares no storage with t.flight when one was dropped,
// unless owned says that t owns it.
func (e *explorer) forget(t *state, owned bool) []protocol.Message {
	f := t.flight
	kept := f[:0:0]
	dropped := false
	for i, m := range f {
		r := e.index(m.To)
		if r >= 0 && t.nodes[r].Ignores(m) {
			if !dropped {
				dropped = true
				if owned {
					kept = f[:i]
				} else {
					kept = append(make([]protocol.Message, 0, len(f)), f[:i]...)
				}
			}
			e.rep.Pruned++
			e.ignored(r, m)
			continue
		}
		if dropped {
			kept = append(kept, m)
		}
	}
	if !dropped {
		return f
	}
	return kept
}

// ignored logs that node r ignored m, and checks m against every transition r made so far.
func (e *explorer) ignored(r int, m protocol.Message) {
	// What this searcher logged is in the shared log for good: no need to lock.
	if e.pool != nil && !markNew(&e.logged, loggedMsg{r, m}) {
		return
	}
	e.lock()
	defer e.unlock()
	l := &e.pruned[r]
	if !markNew(&l.seen, m) {
		return
	}
	l.msgs = append(l.msgs, m)
	for _, mv := range l.moves {
		e.checkIgnore(r, mv, m)
	}
}

// moved logs a transition of node r, and checks every message r ignored so far against it.
func (e *explorer) moved(r int, before, after protocol.Node, hb, ha uint64) {
	k := [2]uint64{hb, ha}
	if e.pool != nil && !markNew(&e.loggedMoves, loggedMove{r, k}) {
		return
	}
	e.lock()
	defer e.unlock()
	l := &e.pruned[r]
	if !markNew(&l.known, k) {
		return
	}
	mv := nodeMove{before: before, after: after}
	l.moves = append(l.moves, mv)
	e.rep.NodeTransitions++
	for _, m := range l.msgs {
		e.checkIgnore(r, mv, m)
	}
}

// checkIgnore reports a node that ignored m before a transition and heeds it after: a
// message forgotten earlier might have mattered, so the search's result cannot be trusted.
func (e *explorer) checkIgnore(r int, mv nodeMove, m protocol.Message) {
	if mv.before.Ignores(m) && !mv.after.Ignores(m) {
		e.rep.Violations++
		e.report("broken_ignore", fmt.Sprintf("node %v ignored %s from %v (joiner %v, op %d), then heeded it after a step: "+
			"messages forgotten as ignored may have mattered, so this search is not sound", e.ids[r], m.Type, m.From, m.Joiner, m.Op),
			[]protocol.Node{mv.before, mv.after}, nil)
	}
}

// pruneStale drops node target's timers whose firing would change nothing (before is its
// AppendKey): a variant makes a
// timer stale by moving its epoch on, which it never moves back, so such a timer stays
// inert and firing it at every point would only multiply the states.
// The result shares no storage with t.timers when a timer was dropped.
func (e *explorer) pruneStale(t *state, target int, before []byte) []timerEntry {
	n := t.nodes[target]
	id := e.ids[target]
	var kept []timerEntry
	for i, te := range t.timers {
		stale := false
		if te.node == id {
			c := n.Clone()
			e.probe.Reset()
			err := c.Fire(te.t, &e.probe)
			stale = err == nil && len(e.probe.Actions) == 0 && string(c.AppendKey(e.kbuf[:0])) == string(before)
		}
		switch {
		case stale && kept == nil:
			kept = make([]timerEntry, i, len(t.timers))
			copy(kept, t.timers[:i])
		case !stale && kept != nil:
			kept = append(kept, te)
		}
	}
	if kept == nil {
		return t.timers
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

// ringKey names a final ring by its pointers: each node's left, ID and right, in node order.
func ringKey(states []protocol.State) [16]byte {
	h := fnv.New128a()
	var b [24]byte
	for _, st := range states {
		binary.LittleEndian.PutUint64(b[0:], uint64(st.Left))
		binary.LittleEndian.PutUint64(b[8:], uint64(st.ID))
		binary.LittleEndian.PutUint64(b[16:], uint64(st.Right))
		h.Write(b[:])
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
	if cfg.RenumberCounters {
		scope += ", counters renumbered"
	}
	if cfg.PruneIgnored {
		scope += ", ignored messages forgotten"
	}
	if cfg.Subsume {
		scope += ", covered states subsumed"
	}
	fmt.Fprintf(&b, "protocol %s, members %v, joiners %v, %d-bit ring, %s (%d assignment(s))\n",
		cfg.Protocol, cfg.Members, cfg.Joiners, cfg.Bits, scope, r.Assignments)
	complete := "complete"
	if !r.Complete {
		complete = fmt.Sprintf("INCOMPLETE: stopped at --max-states %d", cfg.MaxStates)
	}
	depth := fmt.Sprintf("every path to depth %d", r.Depth)
	if cfg.Search == SearchDFS {
		depth = fmt.Sprintf("depth-first, longest path %d", r.Depth)
	}
	fmt.Fprintf(&b, "states %d, transitions %d, terminal %d, violations %d (%d with no end reachable), distinct final rings %d, %s, %s, %s\n",
		r.States, r.Transitions, r.Terminal, r.Violations, r.NoEnd, r.DistinctFinal, depth, complete, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "visited set: %d 62-bit fingerprints, probability that two states shared one at most %.1e\n", r.Stored, r.CollisionBound)
	if cfg.PruneIgnored {
		fmt.Fprintf(&b, "forgotten as ignored: %d messages; ignoring checked permanent on %d distinct node transitions\n", r.Pruned, r.NodeTransitions)
	}
	if cfg.Subsume {
		fmt.Fprintf(&b, "subsumed: %d states reached but not explored, whose in-flight messages an explored state with the same nodes and timers has in flight\n", r.Covered)
		if cfg.Timers {
			fmt.Fprintf(&b, "end check: %d cores, each searched for an end after losing everything in flight; the searches took %d states (%d shown to reach an end)\n",
				r.Cores, r.WitnessStates, r.WitnessProven)
		}
		if len(r.WorkerStates) > 1 {
			fmt.Fprintf(&b, "workers: %d, states explored by each %v, untried moves taken from a busy worker %d times\n",
				len(r.WorkerStates), r.WorkerStates, r.Steals)
		}
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "no violation and no bad final state found\n")
	}
	for _, f := range r.Findings {
		shortest := "shortest sequence"
		if cfg.Search == SearchDFS {
			shortest = "sequence found depth-first"
		}
		fmt.Fprintf(&b, "\n%s: %s\n  contacts %v, %s (%d steps):\n", f.Kind, f.Detail, f.Contacts, shortest, len(f.Path))
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
		if s.Timer != nil || s.Drop || s.LoseAll {
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
