// Package sim runs the join protocol in a deterministic discrete-event simulator.
//
// Time is virtual (integer nanoseconds), events at the same instant run in the order they
// were scheduled, and every random choice comes from streams derived from the run's seed,
// so a configuration and a seed determine a run completely. The simulator owns the nodes,
// the network model and a global invariant checker; the nodes themselves see only the
// messages they receive.
package sim

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

type evKind uint8

const (
	evWake        evKind = iota + 1 // seed timing: a node's loop resumes
	evStart                         // async timing: a newcomer starts its join
	evDeliver                       // async timing: a message arrives
	evTimer                         // a protocol timer fires
	evCrash                         // faults: a node crashes
	evRestart                       // faults: a crashed node comes back
	evPartition                     // faults: the network splits
	evHeal                          // faults: the partition heals
	evOp                            // workload: the next client operation
	evWorkloadEnd                   // workload: operations stop
	evLeave                         // a member starts its graceful leave
	evPolls                         // seed timing: a group of sleeping loops polls
	evArrive                        // churn: a newcomer arrives
	evDepart                        // churn: a node's session ends
	evChurnTick                     // churn: churn stops, then the ring checks until the end check
)

// Loop phases of the seed timing model's node process.
const (
	phTop uint8 = iota
	phInbox
	phServe
)

type node struct {
	p       protocol.Node
	id      protocol.ID
	member  bool
	contact protocol.ID
	start   int64
	st      protocol.State
	join    int32 // index into joins, or -1
	down    bool  // crashed by fault injection
	// life counts restarts: a timer set in an earlier life died with the crash, even if
	// its time comes after the restart.
	life uint32

	// loop exists only under the seed timing model, which keeps a ring at rest small.
	loop *loop
}

// loop is a node's program loop under the seed timing model, as an explicit continuation.
// It fits one cache line: a message lands in a loop that is seldom in the cache, and with
// loops of 144 bytes, over three lines, a large run missed the cache a tenth more often.
type loop struct {
	inbox []protocol.Message
	// acts are the pending actions. While landing, the message in flight is the loop's
	// entry in Sim.flight.
	acts     []protocol.Action
	inboxPos int32
	actPos   int32
	phase    uint8
	landing  bool
	// unserved says that the node's last step was a serve that served nothing: until its
	// next input, every serve would do the same.
	unserved bool
	// wants caches the node's WantsToJoin, which the loop asks at every turn and only a
	// step can change: 0 unknown, 1 no, 2 yes.
	wants uint8
}

// payload is what a delivery or a timer event carries besides its kind.
type payload struct {
	msg   protocol.Message
	timer protocol.Timer
	node  int32 // the sender of a message, the owner of a timer
	life  uint32
}

// Sim is one run. Create it with New, then call Run once.
type Sim struct {
	cfg     Config
	nodes   []node
	idx     nodeIndex
	q       queue
	now     int64
	step    protocol.Stepper // one buffer for every node's steps
	delays  *rand.Rand
	sampler sampler
	slots   []payload
	free    []int32
	lastArr linkTable // FIFO links: arrival of each link's last message

	tracer observe.Tracer
	ev     observe.Event
	events int64
	msgs   int64
	redirs int64
	joins  []JoinRecord
	check  observe.Checker
	quiet  quietState

	stopped   string // outcome that ended the run early, if any
	stopErr   string
	violation *observe.Violation
	faults    faultState
	leaves    int // leaves started
	departed  int // leaves completed
	kv        kvState
	churn     churnState
	// fifo says that link order must be enforced: FIFO links whose delays can reorder
	// messages (equal constant delays cannot, without faults).
	fifo bool
	// ctx, when set (by RunContext), is looked at every cancelEvery events: once it is done,
	// the run gives up.
	ctx context.Context

	// sl holds the seed timing model's sleeping loops; pollIdle turns sleeping off, so that
	// every idle loop polls as its own event (the reference the sleeping loops are tested
	// against).
	sl       sleepers
	pollIdle bool
	msgIn    protocol.Input // the seed timing model's input of a message delivered to a loop
	carved   bool           // the loops' pending actions and inboxes have their first room
	// direct is the one action of the step a loop just took, in the Stepper's buffer, which
	// the loop carries out next (took).
	direct *protocol.Action
	popped int64 // queue items run, which is what a run costs

	// Storage that Reset keeps for the next run.
	delaySrc *rand.PCG
	cfgs     []protocol.Config
	ids      []protocol.ID
	states   []protocol.State
	loops    []loop
	acts     []protocol.Action  // the loops' first room for pending actions (carveLoops)
	inboxes  []protocol.Message // and for inbox messages
	// flight holds each loop's message in flight, one cache line each: landing reads it, where
	// the send's action spans two.
	flight []protocol.Message
	idxMap map[protocol.ID]int32
	// pool holds the nodes of a Sim that reuses its results, reused from run to run by
	// Reset; makeNode is the variant's New.
	pool     *protocol.Pool
	makeNode func(protocol.Config) protocol.Node
	// Reset's topology stream and layout storage, kept from run to run.
	topoSrc  *rand.PCG
	topo     *rand.Rand
	scenario scenarioScratch
	finals   observe.Finals
	// reuse: see ReuseResults; res is the Result it reuses.
	reuse bool
	res   Result
	live  []protocol.State // finish's list of the live nodes' states
	// joinOf is each node's join (node.join), apart from the nodes, and sends counts the
	// messages sent for each node's join, which finish adds to its JoinRecord: every message
	// sent counts itself there, and the joins' records, four times the size, were seldom in
	// the cache.
	joinOf []int32
	sends  []joinSends
}

// joinSends counts the messages sent on behalf of one node's join, and the hops among them.
type joinSends struct{ messages, hops int64 }

// New builds a run from a validated configuration.
func New(cfg Config, tracer observe.Tracer) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	specs, err := BuildScenario(&cfg, newStream(cfg.Seed, streamTopology))
	if err != nil {
		return nil, err
	}
	return newSim(cfg, specs, tracer), nil
}

// newNode makes a node of the run's variant, from the pool when there is one.
func (s *Sim) newNode(c protocol.Config) protocol.Node {
	if s.pool != nil {
		return s.pool.New(c)
	}
	return s.makeNode(c)
}

// ReuseResults makes every later Result of s valid only until the next Reset, which reuses
// its storage and its nodes': a worker that copies each result before it starts the next
// run then allocates nothing per run once its storage has grown to its runs' size.
func (s *Sim) ReuseResults() { s.reuse = true }

// Reset makes s a new run of cfg, the same run New would build, reusing the storage of s's
// earlier runs, so that a worker running one configuration after another allocates little
// per run. A zero Sim may be Reset. Results of earlier runs stay valid, unless ReuseResults
// was called.
func (s *Sim) Reset(cfg Config, tracer observe.Tracer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The same stream as newStream(cfg.Seed, streamTopology), reseeded in place.
	if s.topoSrc == nil {
		s.topoSrc = &rand.PCG{}
		s.topo = rand.New(s.topoSrc)
	}
	s.topoSrc.Seed(SplitMix64(cfg.Seed^streamTopology), SplitMix64(cfg.Seed+streamTopology))
	specs, err := s.scenario.build(&cfg, s.topo)
	if err != nil {
		return err
	}
	s.init(cfg, specs, tracer)
	return nil
}

func newSim(cfg Config, specs []Spec, tracer observe.Tracer) *Sim {
	s := &Sim{}
	s.init(cfg, specs, tracer)
	return s
}

// init sets s up as New describes. Everything starts as in a zero Sim, except for slices,
// maps and tables, which are emptied and kept.
func (s *Sim) init(cfg Config, specs []Spec, tracer observe.Tracer) {
	variant, _ := protocol.Lookup(cfg.Protocol)
	clear(s.slots)
	for k := range s.loops {
		// A loop keeps the room its lists grew to, empty (carveLoops leaves it alone).
		l := &s.loops[k]
		*l = loop{acts: l.acts[:0], inbox: l.inbox[:0]}
	}
	clear(s.cfgs)
	keep := Sim{
		nodes: s.nodes[:0], q: s.q.emptied(), step: s.step,
		slots: s.slots[:0], free: s.free[:0], lastArr: s.lastArr, delaySrc: s.delaySrc,
		cfgs: s.cfgs[:0], ids: s.ids[:0], states: s.states[:0], loops: s.loops[:0], sl: s.sl,
		acts: s.acts, inboxes: s.inboxes, flight: s.flight, idx: s.idx, idxMap: s.idxMap, live: s.live,
		joinOf: s.joinOf[:0], sends: s.sends[:0], pool: s.pool, finals: s.finals,
		reuse: s.reuse, res: s.res, check: s.check, topoSrc: s.topoSrc, topo: s.topo, scenario: s.scenario,
		delays: s.delays,
	}
	if s.reuse {
		keep.joins = s.res.Joins[:0]
	}
	*s = keep
	s.makeNode = variant.New
	if s.reuse {
		// A worker's nodes are made in the storage of its last run's.
		if s.pool == nil || s.pool.Variant() != variant.Name {
			s.pool = variant.NewPool()
		}
		s.pool.Reset()
		s.pool.Grow(len(specs))
	} else {
		s.pool = nil
	}
	s.lastArr.reset()
	s.sl.clear()
	// A sleeper group has room for every node, so that its members never move as it grows;
	// groups of a smaller run go.
	for _, g := range s.sl.groups {
		if cap(g.members) < len(specs) {
			s.sl.groups, s.sl.free = s.sl.groups[:0], s.sl.free[:0]
			break
		}
	}
	// The same stream as newStream(cfg.Seed, streamDelay), reseeded in place.
	if s.delaySrc == nil {
		s.delaySrc = &rand.PCG{}
	}
	s.delaySrc.Seed(SplitMix64(cfg.Seed^streamDelay), SplitMix64(cfg.Seed+streamDelay))
	s.cfg, s.tracer = cfg, tracer
	if s.delays == nil {
		s.delays = rand.New(s.delaySrc)
	}
	s.sampler = newSampler(cfg.Delay, cfg.Unit)
	ring := protocol.Ring{Bits: cfg.Bits}
	s.nodes = grown(s.nodes, len(specs))
	if cap(s.joins) == 0 {
		// Exactly the room the newcomers' records take: results keep them.
		newcomers := 0
		for i := range specs {
			newcomers += int(1 - b2i(specs[i].Member))
		}
		s.joins = make([]JoinRecord, 0, newcomers)
	}
	nodeConfig := func(sp *Spec) protocol.Config {
		return protocol.Config{ID: sp.ID, Ring: ring, Member: sp.Member, Left: sp.Left, Right: sp.Right,
			Contact: sp.Contact, Timeout: cfg.Timeout, Retries: cfg.Retries, Stabilize: cfg.Stabilize}
	}
	// A workload writes keys and fingers into every node's configuration before the nodes
	// exist; without one, each configuration is made as its node is, so that a ring of
	// millions never holds them all at once.
	var cfgs []protocol.Config
	// Churn keeps the configurations too: a newcomer's node is made again when it arrives,
	// with the contact chosen then.
	if cfg.Workload.Active() || cfg.Churn.On() {
		s.cfgs = grown(s.cfgs, len(specs))
		cfgs = s.cfgs
		for i := range specs {
			cfgs[i] = nodeConfig(&specs[i])
		}
	}
	if cfg.Workload.Active() {
		for i := range specs {
			if !specs[i].Member {
				specs[i].Start += cfg.Workload.Before
			}
		}
		s.initKV(specs, cfgs)
	}
	var fresh *protocol.FreshFingers
	if cfg.fingerJoins() && cfgs == nil {
		fresh = freshFingers(specs, ring)
	}
	for i := range specs {
		sp := &specs[i]
		var c protocol.Config
		if cfgs != nil {
			c = cfgs[i]
		} else {
			c = nodeConfig(sp)
		}
		if cfg.fingerJoins() {
			c.FingerJoins = true
			if sp.Member {
				c.FreshFingers = fresh
			}
		}
		p := s.newNode(c)
		n := &s.nodes[i]
		*n = node{p: p, id: sp.ID, member: sp.Member, contact: sp.Contact, start: sp.Start, join: -1}
		n.st = p.State()
		if !sp.Member {
			n.join = int32(len(s.joins))
			s.joins = append(s.joins, JoinRecord{Joiner: sp.ID, Contact: sp.Contact, Start: -1, End: -1, Outcome: observe.JoinNotJoined})
		}
	}
	{
		s.ids, s.states = grown(s.ids, len(s.nodes)), grown(s.states, len(s.nodes))
		s.joinOf, s.sends = grown(s.joinOf, len(s.nodes)), grown(s.sends, len(s.nodes))
		clear(s.sends)
		ids, states := s.ids, s.states
		for i := range s.nodes {
			ids[i], states[i], s.joinOf[i] = s.nodes[i].id, s.nodes[i].st, s.nodes[i].join
		}
		s.idx.build(ids, ring)
		// The checker maps right pointers through a map of its own; with the per-event check
		// off nothing reads what it maps, so a ring of millions is spared building one.
		var index map[protocol.ID]int32
		if !cfg.NoCheck {
			s.idxMap = s.idx.asMap(s.idxMap)
			index = s.idxMap
		}
		s.check.Init(ids, states, index, ring, !cfg.NoCheck)
		if variant.Repairs && cfg.Churn.On() {
			// Pointers to crashed nodes are expected while the variant repairs them.
			s.check.TolerateCrashed()
		}
	}
	// Room for what is pending at the start: every loop under the seed timing model, every
	// newcomer's start otherwise.
	if cfg.Timing == "seed" {
		s.q.items = slices.Grow(s.q.items, len(s.nodes)+16)
		s.q.near(cfg.Unit)
	} else {
		s.q.items = slices.Grow(s.q.items, 2*len(s.joins)+16)
	}
	s.initFaults()
	s.fifo = cfg.Link == "fifo" && (cfg.Delay.Kind != "constant" || s.faults.on)
	// One allocation each for all loops and for the queue's usual size.
	var loops []loop
	if cfg.Timing == "seed" {
		s.loops = grown(s.loops, len(s.nodes))
		loops = s.loops
	}
	for i := range s.nodes {
		switch {
		case cfg.Timing == "seed":
			// Every loop starts at its start time, in creation order.
			s.nodes[i].loop = &loops[i]
			s.q.push(s.nodes[i].start, evWake, int32(i))
		case !s.nodes[i].member && !cfg.Churn.On():
			s.q.push(s.nodes[i].start, evStart, int32(i))
			s.quiet.flight++
		}
	}
	s.scheduleLeaves()
	if s.kv.on {
		s.startKV()
	}
	if cfg.Churn.On() {
		s.initChurn()
	}
}

// grown returns b with length n, reusing its storage when it has room; the elements are
// not cleared.
// room returns b emptied with room for n elements, or a new slice when it has not: unlike
// slices.Grow, which clears what it adds, a new slice's memory comes cleared by the system,
// and clearing the slices of a run of a million nodes cost it a tenth of its time.
func room[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, 0, n)
	}
	return b[:0]
}

func grown[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// scheduleLeaves picks the leaving members and their times from their own stream.
func (s *Sim) scheduleLeaves() {
	if s.cfg.Leavers == 0 {
		return
	}
	r := newStream(s.cfg.Seed, streamLeave)
	var members []int32
	for i := range s.nodes {
		if s.nodes[i].member {
			members = append(members, int32(i))
		}
	}
	r.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
	if s.cfg.LeaveTarget != "" && s.cfg.LeaveTarget != LeaveTargets[0] {
		members = s.targetLeavers(members, r)
	}
	for _, i := range members[:s.cfg.Leavers] {
		s.q.push(s.cfg.Workload.Before*b2i(s.kv.on)+r.Int64N(s.cfg.JoinWindow+1), evLeave, i)
	}
	s.kv.startsLeft += s.cfg.Leavers
	s.kv.joinsLeft += s.cfg.Leavers
}

// targetLeavers puts the members that leave_target aims at first in shuffled (a random order
// of every member), the rest after them in their shuffled order.
func (s *Sim) targetLeavers(shuffled []int32, r *rand.Rand) []int32 {
	sorted := slices.Clone(shuffled)
	slices.SortFunc(sorted, func(a, b int32) int { return cmp.Compare(s.nodes[a].id, s.nodes[b].id) })
	var first []int32
	switch s.cfg.LeaveTarget {
	case "contacts": // the members newcomers ask to join through
		for i := range s.nodes {
			if n := &s.nodes[i]; !n.member && n.contact != protocol.None {
				first = append(first, s.idx.at(n.contact))
			}
		}
	case "gap-ends": // both members around every newcomer's gap
		m := len(sorted)
		for i := range s.nodes {
			if n := &s.nodes[i]; !n.member {
				k, _ := slices.BinarySearchFunc(sorted, n.id, func(j int32, id protocol.ID) int { return cmp.Compare(s.nodes[j].id, id) })
				first = append(first, sorted[(k+m-1)%m], sorted[k%m])
			}
		}
	case "adjacent": // a run of neighbours in ID order from a random member
		at := r.IntN(len(sorted))
		for k := range sorted {
			first = append(first, sorted[(at+k)%len(sorted)])
		}
	}
	out := make([]int32, 0, len(shuffled))
	taken := make(map[int32]bool, len(shuffled))
	for _, list := range [][]int32{first, shuffled} {
		for _, i := range list {
			if s.nodes[i].member && !taken[i] {
				taken[i] = true
				out = append(out, i)
			}
		}
	}
	return out
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (s *Sim) asyncLeave(i int32) {
	n := &s.nodes[i]
	s.kv.startsLeft--
	if n.down {
		return
	}
	s.leaves++
	s.emitDetail(observe.KindState, n, "leave")
	s.perform(i, &protocol.Input{Kind: protocol.InputLeave})
}

// Run executes the run to its end and classifies it.
func Run(cfg Config, tracer observe.Tracer) (*Result, error) {
	s, err := New(cfg, tracer)
	if err != nil {
		return nil, err
	}
	return s.Run(), nil
}

// Run executes events until none are left, the horizon is reached or the run fails hard.
// It returns nil when the context of RunContext is done.
func (s *Sim) Run() *Result {
	for s.q.Len() > 0 && s.stopped == "" && !s.churn.judged {
		if s.ctx != nil {
			if top := s.q.peek(); top.at < s.cfg.Horizon && s.events%cancelEvery == 0 && s.ctx.Err() != nil {
				return nil
			}
		}
		it, ok := s.q.popBefore(s.cfg.Horizon)
		if !ok {
			break
		}
		s.now = it.at
		s.popped++
		if it.kind() == evPolls {
			// Counts its polls as events and runs the safety check after each real one.
			s.polls(it.idx())
			continue
		}
		s.events++
		switch it.kind() {
		case evWake:
			s.runLoop(it.idx())
		case evStart:
			s.asyncStart(it.idx())
		case evDeliver:
			s.asyncDeliver(it.idx())
		case evTimer:
			s.asyncTimer(it.idx())
		case evCrash:
			s.crash(it.idx())
		case evRestart:
			s.restart(it.idx())
		case evPartition:
			s.faults.partitioned = true
			s.emitDetail(observe.KindFault, &s.nodes[0], "partition")
		case evHeal:
			s.faults.partitioned = false
			s.emitDetail(observe.KindFault, &s.nodes[0], "heal")
		case evOp:
			s.issue()
		case evWorkloadEnd:
			s.kv.over = true
		case evLeave:
			s.asyncLeave(it.idx())
		case evArrive:
			s.churnArrive(it.idx())
		case evDepart:
			s.churnDepart(it.idx())
		case evChurnTick:
			s.churnTick()
		}
		if s.check.Dirty() {
			s.runSafetyCheck()
		}
		s.noteQuiet()
		if s.kv.on && !s.kv.waveEnded && s.kv.startsLeft == 0 && s.kv.joinMsgs == 0 && s.kv.joinTimers == 0 {
			s.joinsQuiet()
		}
	}
	return s.finish()
}

// emit traces an event, if the run has a tracer: the test is inlined at every send and
// delivery, and the event is built out of line.
func (s *Sim) emit(kind observe.EventKind, n *node, m *protocol.Message) {
	if s.tracer != nil {
		s.emitEvent(kind, n, m, "")
	}
}

// emitDetail traces an event that concerns no message, with detail, if the run has a tracer.
func (s *Sim) emitDetail(kind observe.EventKind, n *node, detail string) {
	if s.tracer != nil {
		s.emitEvent(kind, n, nil, detail)
	}
}

func (s *Sim) emitEvent(kind observe.EventKind, n *node, m *protocol.Message, detail string) {
	// Field by field: a composite literal is built aside and copied, for every event.
	e := &s.ev
	e.Time, e.Kind, e.Node, e.Left, e.Right, e.Detail = s.now, kind, n.id, n.st.Left, n.st.Right, detail
	if m != nil {
		e.MsgType, e.From, e.To, e.Joiner = m.Type, m.From, m.To, m.Joiner
	} else {
		e.MsgType, e.From, e.To, e.Joiner = 0, protocol.None, protocol.None, protocol.None
	}
	s.tracer.Event(e)
	e.Seq++
}

// observe records what a protocol step changed: state events for the trace, pointer changes
// for the checker, and the end of a join.
func (s *Sim) observe(i int32, p *protocol.State) {
	n := &s.nodes[i]
	// It runs after every step, and most steps change nothing: the test reads the state in
	// place and skips the ID, which no step changes.
	if sameFlags(p, &n.st) {
		if p.Queue == n.st.Queue {
			return
		}
		// Only the queue changed, as at every join request a node takes in or serves:
		// nothing to check, no join ends, only the trace's state event.
		n.st.Queue = p.Queue
		if s.tracer != nil {
			s.emitDetail(observe.KindState, n, flagNames[flagIndex(&n.st)])
		}
		return
	}
	old := n.st
	setState(&n.st, p)
	st := &n.st
	if old.Left != st.Left || old.Right != st.Right || old.Connected != st.Connected ||
		old.Leaving != st.Leaving || old.Departed != st.Departed || old.Failed != st.Failed {
		s.check.Update(i, st)
	}
	if old.Connected != st.Connected || old.Leaving != st.Leaving {
		s.ringUpdate(i)
	}
	if st.LeaveFailed && !old.LeaveFailed && s.kv.on {
		s.waveStepEnded()
	}
	if st.Departed && !old.Departed {
		s.departed++
		s.setLive(i, false)
		if s.kv.on {
			s.waveStepEnded()
			s.checkKeys(false)
		}
	}
	if s.tracer != nil {
		s.emitDetail(observe.KindState, n, flagNames[flagIndex(st)])
	}
	if !old.Connected && st.Connected && n.join >= 0 {
		j := &s.joins[n.join]
		if j.End < 0 {
			j.End, j.Outcome = s.now, observe.JoinOK
			s.emit(observe.KindJoinEnd, n, nil)
			s.churnJoined(i)
			if s.kv.on {
				s.joinEnded(n.join)
				s.checkKeys(false)
			}
		}
	}
	if st.Failed && !old.Failed && n.join >= 0 {
		s.setLive(i, false)
		// The moment the join ended in failure, as real nodes trace it.
		if st.Refused {
			s.emitDetail(observe.KindFault, n, "join failed: its ID is taken")
		} else {
			s.emitDetail(observe.KindFault, n, "join failed: gave up after its retries")
		}
		if s.kv.on {
			s.joinEnded(n.join)
		}
	}
}

// setState copies *src to *dst field by field. The Stepper has just written *src so, and a
// copy of the whole struct would load it in wide pieces, which wait for those narrow stores
// to reach the cache (a failed store forward): that wait was most of observe's cost.
func setState(dst, src *protocol.State) {
	dst.ID, dst.Left, dst.Right, dst.Queue = src.ID, src.Left, src.Right, src.Queue
	dst.Connected, dst.Waiting, dst.Locked, dst.Failed = src.Connected, src.Waiting, src.Locked, src.Failed
	dst.Leaving, dst.Departed, dst.LeaveFailed, dst.Refused = src.Leaving, src.Departed, src.LeaveFailed, src.Refused
}

// sameFlags reports whether a and b agree on everything a step can change but the queue.
func sameFlags(a, b *protocol.State) bool {
	return a.Left == b.Left && a.Right == b.Right &&
		a.Connected == b.Connected && a.Waiting == b.Waiting && a.Locked == b.Locked &&
		a.Failed == b.Failed && a.Leaving == b.Leaving && a.Departed == b.Departed &&
		a.LeaveFailed == b.LeaveFailed && a.Refused == b.Refused
}

// fail ends the run at once, as the original program did when a handler crashed.
func (s *Sim) fail(i int32, err error) {
	s.stopped = observe.OutcomeCrash
	s.stopErr = fmt.Sprintf("node %v at t=%d: %v", s.nodes[i].id, s.now, err)
	s.emitDetail(observe.KindViolation, &s.nodes[i], s.stopErr)
}

// countSend accounts a message to its join and enforces the message budget.
func (s *Sim) countSend(n *node, m *protocol.Message) bool {
	if protocol.IsDHTMessage(m.Type) {
		// DHT traffic has its own count and no budget: the workload bounds it.
		s.kv.sum.Messages++
		s.emit(observe.KindSend, n, m)
		return true
	}
	s.msgs++
	hop := observe.IsHop(m.Type)
	if hop {
		s.redirs++
	}
	if j, ok := s.idx.get(m.Joiner); ok {
		c := &s.sends[j]
		c.messages++
		if hop {
			c.hops++
		}
	}
	s.emit(observe.KindSend, n, m)
	if s.msgs > s.cfg.MaxMessages {
		s.stopped = observe.OutcomeLivelock
		s.stopErr = fmt.Sprintf("more than %d messages sent by t=%d", s.cfg.MaxMessages, s.now)
		return false
	}
	return true
}

func (s *Sim) startJoin(i int32) {
	n := &s.nodes[i]
	if n.join >= 0 && s.joins[n.join].Start < 0 {
		s.kv.startsLeft--
		s.joins[n.join].Start = s.now
		s.emit(observe.KindJoinStart, n, nil)
	}
}

// ---- seed timing model ----

// runLoop resumes node i's loop until it blocks (a send, an idle unit or a poll).
func (s *Sim) runLoop(i int32) {
	if !s.carved {
		s.carveLoops()
	}
	n := &s.nodes[i]
	// Under the seed timing model node i's loop is s.loops[i] (n.loop): indexing the loops
	// directly spares a load of the node, which is often not in the cache, before the loop's.
	l := &s.loops[i]
	if l.landing {
		// The blocking send that just ended puts its message into the receiver's inbox.
		l.landing = false
		sending := &s.flight[i]
		if r, ok := s.idx.get(sending.To); ok {
			rl := &s.loops[r]
			// Written in place when there is room: append copies the message to the stack
			// first.
			if k := len(rl.inbox); k < cap(rl.inbox) {
				rl.inbox = rl.inbox[:k+1]
				rl.inbox[k] = *sending
			} else {
				rl.inbox = append(rl.inbox, *sending)
			}
			s.wake(r)
		} else {
			s.emit(observe.KindDrop, n, sending)
		}
	}
	for s.stopped == "" {
		a := s.direct
		if a != nil {
			s.direct = nil
		} else if int(l.actPos) < len(l.acts) {
			a = &l.acts[l.actPos]
			l.actPos++
		}
		if a != nil {
			switch a.Kind {
			case protocol.Send:
				if !s.countSend(n, &a.Msg) {
					return
				}
				s.flight[i] = a.Msg
				units := s.sampler.drawUnits(s.delays, s.delaySrc)
				l.landing = true
				s.q.push(s.now+units*s.cfg.Unit, evWake, i)
				return
			case protocol.Idle:
				s.q.push(s.now+a.Units*s.cfg.Unit, evWake, i)
				return
			case protocol.SetTimer:
				s.setTimer(i, a.Timer)
			}
			continue
		}
		l.acts, l.actPos = l.acts[:0], 0
		switch l.phase {
		case phTop:
			l.phase = phInbox
			if s.wantsToJoin(n, l) {
				s.startJoin(i)
				if !s.took(i, &protocol.Input{Kind: protocol.InputStart, Hold: true}) {
					return
				}
			}
		case phInbox:
			if int(l.inboxPos) < len(l.inbox) {
				// The message goes straight into the run's one message input, whose other
				// fields stay zero: an Input built on the stack cost every delivery a copy
				// of the message and the zeroing of 160 bytes.
				in := &s.msgIn
				in.Kind, in.Hold, in.Msg = protocol.InputMessage, true, l.inbox[l.inboxPos]
				l.inboxPos++
				s.emit(observe.KindDeliver, n, &in.Msg)
				if !s.took(i, in) {
					return
				}
				break
			}
			l.phase = phServe
			if len(l.inbox) == 0 {
				// The next poll serves nothing and starts no join unless an input comes
				// first, and every input wakes a sleeper.
				if !s.pollIdle && (n.st.Queue == 0 || l.unserved) && !s.wantsToJoin(n, l) {
					s.sleep(i)
				} else {
					s.q.push(s.now+s.cfg.Unit, evWake, i)
				}
				return
			}
			l.inbox, l.inboxPos = l.inbox[:0], 0
		case phServe:
			l.phase = phTop
			// An empty queue makes Serve a no-op (protocol.Node), and the observed state is
			// current: a node at rest spends its turns here, so the step is skipped.
			if n.st.Queue > 0 && !s.took(i, &protocol.Input{Kind: protocol.InputServe}) {
				return
			}
		}
	}
}

// wantsToJoin is n.p.WantsToJoin, asked once between steps.
func (s *Sim) wantsToJoin(n *node, l *loop) bool {
	if l.wants == 0 {
		l.wants = 1 + uint8(b2i(n.p.WantsToJoin()))
	}
	return l.wants == 2
}

// carveLoops gives every loop room for a few pending actions and inbox messages out of one
// allocation each: growing each loop's lists from nothing cost a run more allocations than
// anything else.
func (s *Sim) carveLoops() {
	s.carved = true
	const room = 4
	// What an earlier run left there is garbage that nothing reads: a loop's lists start
	// empty.
	s.acts, s.inboxes = grown(s.acts, room*len(s.nodes)), grown(s.inboxes, room*len(s.nodes))
	s.flight = grown(s.flight, len(s.nodes))
	acts, inbox := s.acts, s.inboxes
	for k := range s.nodes {
		if l := s.nodes[k].loop; l != nil && cap(l.acts) == 0 && cap(l.inbox) == 0 {
			l.acts = acts[room*k : room*k : room*(k+1)]
			l.inbox = inbox[room*k : room*k : room*(k+1)]
		}
	}
}

// took feeds one input to node i under the seed timing model, where the loop serves its queue
// on its own turn: the step's actions join the node's pending list, which the loop carries
// out one blocking action at a time. It reports false when the step failed the run.
func (s *Sim) took(i int32, in *protocol.Input) bool {
	l := &s.loops[i] // n.loop, as in runLoop
	l.wants = 0
	s.keyStepped(i)
	// Every input the loop feeds holds the queue or serves it: one Ready, without iterating.
	rd := s.step.StepOnce(s.nodes[i].p, in)
	s.keyStepped(i)
	// Most steps yield no action (a join request joins the queue), and a copy of actions,
	// which hold pointers, costs a call and its checks even when there is nothing to copy.
	// A step mostly yields one action, the send of a join request on, which the loop carries
	// out at once: it is read where the step left it (direct), not copied to the pending
	// list first, a write of two cache lines of a list seldom in the cache. The loop's list
	// is empty when it feeds an input; a step that fails leaves its action there, pending.
	switch {
	case len(rd.Actions) == 1 && rd.Err == nil && len(l.acts) == 0:
		s.direct = &rd.Actions[0]
	case len(rd.Actions) > 0:
		l.acts = append(l.acts, rd.Actions...)
	}
	// Serve changes nothing when it serves nothing (protocol.Node).
	l.unserved = in.Kind == protocol.InputServe && !rd.Served && rd.Err == nil
	// The original program crashed after the step: what it did before is observed.
	// observe's common case, a step that changes no more than the queue, is taken here when
	// there is no trace to write, without a call.
	if n := &s.nodes[i]; s.tracer == nil && sameFlags(&rd.State, &n.st) {
		n.st.Queue = rd.State.Queue
	} else {
		s.observe(i, &rd.State)
	}
	if rd.Err != nil {
		s.fail(i, rd.Err)
		return false
	}
	return true
}

// ---- async timing model ----

func (s *Sim) alloc(p payload) int32 {
	if k := len(s.free); k > 0 {
		ref := s.free[k-1]
		s.free = s.free[:k-1]
		s.slots[ref] = p
		return ref
	}
	s.slots = append(s.slots, p)
	return int32(len(s.slots) - 1)
}

func (s *Sim) setTimer(i int32, t protocol.Timer) {
	if s.kv.on && protocol.IsJoinTimer(t) {
		s.kv.joinTimers++
	}
	ref := s.alloc(payload{timer: t, node: i, life: s.nodes[i].life})
	s.q.push(s.now+t.After, evTimer, ref)
}

// perform feeds one input to node i in the async model and carries out what it wants done:
// the input's actions, then those of every queued request it serves. A crash or the end of
// the run stops it midway, and then the node serves nothing more.
func (s *Sim) perform(i int32, in *protocol.Input) {
	if l := s.nodes[i].loop; l != nil {
		l.wants = 0 // the step may change it
	}
	s.keyStepped(i)
	for rd := range s.step.Step(s.nodes[i].p, in) {
		if rd.Err != nil {
			if in.Kind != protocol.InputLeave {
				s.fail(i, rd.Err)
			}
			// A refused leave: the node is not in the ring (any more), nothing to do.
			return
		}
		s.keyStepped(i) // the step may have changed its keys, after a check within the last
		s.observe(i, &rd.State)
		n := &s.nodes[i]
		for k := range rd.Actions {
			a := &rd.Actions[k]
			switch a.Kind {
			case protocol.Send:
				if !s.countSend(n, &a.Msg) {
					return
				}
				at := s.now + s.sampler.draw(s.delays)
				var times [2]int64
				copies := 1
				times[0] = at
				if s.faults.on {
					copies = s.faultOnSend(n, &a.Msg, at, &times)
				}
				for c := 0; c < copies; c++ {
					at := times[c]
					if s.fifo {
						last := s.lastArr.last(a.Msg.From, a.Msg.To)
						at = max(at, *last)
						*last = at
					}
					s.q.push(at, evDeliver, s.alloc(payload{msg: a.Msg, node: i}))
				}
				s.quiet.sent(&a.Msg, copies)
				if s.churn.on {
					s.churnSent(&a.Msg)
				}
				if s.faults.on && s.crashAfterSend(i, &a.Msg) {
					return
				}
				if s.kv.on {
					if !protocol.IsDHTMessage(a.Msg.Type) {
						s.kv.joinMsgs += int64(copies)
					}
					if a.Msg.Data != nil && len(a.Msg.Data.Items) > 0 {
						s.handoffSent(&a.Msg, copies)
					}
					if a.Msg.Type == protocol.KeyReply {
						s.served(&a.Msg)
					}
				}
			case protocol.SetTimer:
				s.setTimer(i, a.Timer)
			case protocol.Done:
				s.opDone(a.Result)
			}
		}
	}
}

func (s *Sim) asyncStart(i int32) {
	s.quiet.flight--
	if s.nodes[i].down {
		return
	}
	s.startJoin(i)
	if s.kv.on {
		// Boot changes no state and serves nothing (the newcomer has no queue yet): its
		// timers come first, as if part of the start.
		s.perform(i, &protocol.Input{Kind: protocol.InputBoot, Hold: true})
	}
	s.perform(i, &protocol.Input{Kind: protocol.InputStart})
}

func (s *Sim) asyncDeliver(ref int32) {
	m, from := s.slots[ref].msg, s.slots[ref].node
	s.free = append(s.free, ref)
	s.quiet.landed(&m)
	if s.kv.on {
		if m.Data != nil && len(m.Data.Items) > 0 {
			s.handoffLanded(&m)
		}
		if !protocol.IsDHTMessage(m.Type) {
			s.kv.joinMsgs--
		}
	}
	i, ok := s.idx.get(m.To)
	if !ok {
		return
	}
	n := &s.nodes[i]
	if n.down || s.cut(from, i) {
		s.emit(observe.KindDrop, n, &m)
		if s.churn.on && s.kv.on && m.Data != nil && len(m.Data.Items)+len(m.Data.Replicas) > 0 {
			s.scanKeyLoss() // the handoff is lost with its receiver
		}
		return
	}
	s.emit(observe.KindDeliver, n, &m)
	s.perform(i, &protocol.Input{Kind: protocol.InputMessage, Msg: m})
}

func (s *Sim) asyncTimer(ref int32) {
	t, i, life := s.slots[ref].timer, s.slots[ref].node, s.slots[ref].life
	s.free = append(s.free, ref)
	if s.kv.on && protocol.IsJoinTimer(t) {
		s.kv.joinTimers--
	}
	n := &s.nodes[i]
	if n.down || life != n.life {
		return // a crashed node's timers die with it
	}
	if t.Background && s.kv.over {
		return // the run is winding down: maintenance stops
	}
	s.emit(observe.KindTimer, n, nil)
	in := &protocol.Input{Kind: protocol.InputTimer, Timer: t}
	if s.cfg.Timing == "seed" {
		in.Hold = true
		s.took(i, in)
		s.wake(i)
		return
	}
	s.perform(i, in)
}

func (s *Sim) runSafetyCheck() {
	v := s.check.Run()
	if v == nil || s.violation != nil {
		return
	}
	v.Seq, v.Time = s.events-1, s.now
	s.violation = v
	s.check.Disable() // only the first violation is kept: the rest of the run goes unchecked
	if i, ok := s.idx.get(v.Node); ok {
		s.emitDetail(observe.KindViolation, &s.nodes[i], v.Property+": "+v.Detail)
	}
}

// flagNames spells a node's flags for state events without allocating per event.
var flagNames = [8]string{"", "connected", "waiting", "connected,waiting", "locked",
	"connected,locked", "waiting,locked", "connected,waiting,locked"}

func flagIndex(st *protocol.State) int {
	i := 0
	if st.Connected {
		i |= 1
	}
	if st.Waiting {
		i |= 2
	}
	if st.Locked {
		i |= 4
	}
	return i
}

// freshFingers are the initial members' fingers when joins are routed by fingers without a
// workload (which says itself what fingers members have, workload.fingers): the exact fingers
// of the initial ring, one sorted table shared by every member. Newcomers start with none, as
// a workload without refresh would leave them.
func freshFingers(specs []Spec, ring protocol.Ring) *protocol.FreshFingers {
	var members []protocol.ID
	for i := range specs {
		if specs[i].Member {
			members = append(members, specs[i].ID)
		}
	}
	slices.Sort(members)
	return protocol.NewFreshFingers(ring, members)
}
