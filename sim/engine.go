// Package sim runs the join protocol in a deterministic discrete-event simulator.
//
// Time is virtual (integer nanoseconds), events at the same instant run in the order they
// were scheduled, and every random choice comes from streams derived from the run's seed,
// so a configuration and a seed determine a run completely. The simulator owns the nodes,
// the network model and a global invariant checker; the nodes themselves see only the
// messages they receive.
package sim

import (
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

	// loop exists only under the seed timing model, which keeps a ring at rest small.
	loop *loop
}

// loop is a node's program loop under the seed timing model, as an explicit continuation.
type loop struct {
	phase    uint8
	landing  bool
	inboxPos int
	actPos   int
	inbox    []protocol.Message
	acts     []protocol.Action
	sending  protocol.Message
}

// payload is what a delivery or a timer event carries besides its kind.
type payload struct {
	msg   protocol.Message
	timer protocol.Timer
	node  int32 // the sender of a message, the owner of a timer
}

// Sim is one run. Create it with New, then call Run once.
type Sim struct {
	cfg     Config
	nodes   []node
	index   map[protocol.ID]int32
	q       queue
	now     int64
	out     protocol.Output
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

	stopped   string // outcome that ended the run early, if any
	stopErr   string
	violation *observe.Violation
	faults    faultState
	leaves    int // leaves started
	departed  int // leaves completed
	kv        kvState
	// fifo says that link order must be enforced: FIFO links whose delays can reorder
	// messages (equal constant delays cannot, without faults).
	fifo bool

	// Storage that Reset keeps for the next run.
	delaySrc *rand.PCG
	cfgs     []protocol.Config
	ids      []protocol.ID
	states   []protocol.State
	loops    []loop
}

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

// Reset makes s a new run of cfg, the same run New would build, reusing the storage of s's
// earlier runs, so that a worker running one configuration after another allocates little
// per run. A zero Sim may be Reset. Results of earlier runs stay valid.
func (s *Sim) Reset(cfg Config, tracer observe.Tracer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	specs, err := BuildScenario(&cfg, newStream(cfg.Seed, streamTopology))
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
	clear(s.loops)
	clear(s.cfgs)
	keep := Sim{
		nodes: s.nodes[:0], index: s.index, q: queue{items: s.q.items[:0]}, out: s.out,
		slots: s.slots[:0], free: s.free[:0], lastArr: s.lastArr, delaySrc: s.delaySrc,
		cfgs: s.cfgs[:0], ids: s.ids[:0], states: s.states[:0], loops: s.loops[:0],
	}
	*s = keep
	s.out.Reset()
	s.lastArr.reset()
	if s.index == nil {
		s.index = make(map[protocol.ID]int32, len(specs))
	} else {
		clear(s.index)
	}
	// The same stream as newStream(cfg.Seed, streamDelay), reseeded in place.
	if s.delaySrc == nil {
		s.delaySrc = &rand.PCG{}
	}
	s.delaySrc.Seed(SplitMix64(cfg.Seed^streamDelay), SplitMix64(cfg.Seed+streamDelay))
	s.cfg, s.tracer = cfg, tracer
	s.delays = rand.New(s.delaySrc)
	s.sampler = newSampler(cfg.Delay, cfg.Unit)
	ring := protocol.Ring{Bits: cfg.Bits}
	s.nodes = grown(s.nodes, len(specs))
	s.cfgs = grown(s.cfgs, len(specs))
	cfgs := s.cfgs
	for i, sp := range specs {
		cfgs[i] = protocol.Config{ID: sp.ID, Ring: ring, Member: sp.Member,
			Left: sp.Left, Right: sp.Right, Contact: sp.Contact, Timeout: cfg.Timeout, Retries: cfg.Retries}
	}
	if cfg.Workload.Active() {
		for i := range specs {
			if !specs[i].Member {
				specs[i].Start += cfg.Workload.Before
			}
		}
		s.initKV(specs, cfgs)
	}
	for i, sp := range specs {
		p := variant.New(cfgs[i])
		n := &s.nodes[i]
		*n = node{p: p, id: sp.ID, member: sp.Member, contact: sp.Contact, start: sp.Start, join: -1}
		n.st = p.State()
		s.index[sp.ID] = int32(i)
		if !sp.Member {
			n.join = int32(len(s.joins))
			s.joins = append(s.joins, JoinRecord{Joiner: sp.ID, Contact: sp.Contact, Start: -1, End: -1, Outcome: observe.JoinNotJoined})
		}
	}
	{
		s.ids, s.states = grown(s.ids, len(s.nodes)), grown(s.states, len(s.nodes))
		ids, states := s.ids, s.states
		for i := range s.nodes {
			ids[i], states[i] = s.nodes[i].id, s.nodes[i].st
		}
		s.check.Init(ids, states, s.index, ring, !cfg.NoCheck)
	}
	// Room for what is pending at the start: every loop under the seed timing model, every
	// newcomer's start otherwise.
	if cfg.Timing == "seed" {
		s.q.items = slices.Grow(s.q.items, len(s.nodes)+16)
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
		case !s.nodes[i].member:
			s.q.push(s.nodes[i].start, evStart, int32(i))
		}
	}
	s.scheduleLeaves()
	if s.kv.on {
		s.startKV()
	}
}

// grown returns b with length n, reusing its storage when it has room; the elements are
// not cleared.
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
	for _, i := range members[:s.cfg.Leavers] {
		s.q.push(s.cfg.Workload.Before*b2i(s.kv.on)+r.Int64N(s.cfg.JoinWindow+1), evLeave, i)
	}
	s.kv.startsLeft += s.cfg.Leavers
	s.kv.joinsLeft += s.cfg.Leavers
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
	s.out.Reset()
	if err := n.p.Leave(&s.out); err != nil {
		return // not in the ring (any more): nothing to leave
	}
	s.perform(i, nil)
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
func (s *Sim) Run() *Result {
	for s.q.Len() > 0 && s.stopped == "" {
		top := s.q.peek()
		if top.at >= s.cfg.Horizon {
			break
		}
		it := s.q.pop()
		s.now = it.at
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
		}
		if s.check.Dirty() {
			s.runSafetyCheck()
		}
		if s.kv.on && !s.kv.waveEnded && s.kv.startsLeft == 0 && s.kv.joinMsgs == 0 && s.kv.joinTimers == 0 {
			s.joinsQuiet()
		}
	}
	return s.finish()
}

func (s *Sim) emit(kind observe.EventKind, n *node, m *protocol.Message) {
	if s.tracer == nil {
		return
	}
	e := &s.ev
	*e = observe.Event{Seq: e.Seq, Time: s.now, Kind: kind, Node: n.id, From: protocol.None, To: protocol.None,
		Joiner: protocol.None, Left: n.st.Left, Right: n.st.Right}
	if m != nil {
		e.MsgType, e.From, e.To, e.Joiner = m.Type, m.From, m.To, m.Joiner
	}
	s.tracer.Event(e)
	e.Seq++
}

func (s *Sim) emitDetail(kind observe.EventKind, n *node, detail string) {
	if s.tracer == nil {
		return
	}
	e := &s.ev
	*e = observe.Event{Seq: e.Seq, Time: s.now, Kind: kind, Node: n.id, From: protocol.None, To: protocol.None,
		Joiner: protocol.None, Left: n.st.Left, Right: n.st.Right, Detail: detail}
	s.tracer.Event(e)
	e.Seq++
}

// observe records what a protocol step changed: state events for the trace, pointer changes
// for the checker, and the end of a join.
func (s *Sim) observe(i int32) {
	n := &s.nodes[i]
	st := n.p.State()
	if st == n.st {
		return
	}
	old := n.st
	n.st = st
	if old.Left != st.Left || old.Right != st.Right || old.Connected != st.Connected {
		s.check.Update(i, &st)
		s.kv.ringDirty = true
	}
	if old.Leaving != st.Leaving {
		s.kv.ringDirty = true
	}
	if st.LeaveFailed && !old.LeaveFailed && s.kv.on {
		s.waveStepEnded()
	}
	if st.Departed && !old.Departed {
		s.departed++
		if s.kv.on {
			s.waveStepEnded()
			s.checkKeys(false)
		}
	}
	if s.tracer != nil {
		s.emitDetail(observe.KindState, n, flagNames[flagIndex(&st)])
	}
	if !old.Connected && st.Connected && n.join >= 0 {
		j := &s.joins[n.join]
		if j.End < 0 {
			j.End, j.Outcome = s.now, observe.JoinOK
			s.emit(observe.KindJoinEnd, n, nil)
			if s.kv.on {
				s.joinEnded(n.join)
				s.checkKeys(false)
			}
		}
	}
	if s.kv.on && st.Failed && !old.Failed && n.join >= 0 {
		s.joinEnded(n.join)
	}
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
	if m.Type == protocol.ConnectRedirect {
		s.redirs++
	}
	if j, ok := s.index[m.Joiner]; ok && s.nodes[j].join >= 0 {
		jr := &s.joins[s.nodes[j].join]
		jr.Messages++
		if m.Type == protocol.ConnectRedirect {
			jr.Hops++
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
	n := &s.nodes[i]
	l := n.loop
	if l.landing {
		// The blocking send that just ended puts its message into the receiver's inbox.
		l.landing = false
		if r, ok := s.index[l.sending.To]; ok {
			s.nodes[r].loop.inbox = append(s.nodes[r].loop.inbox, l.sending)
		} else {
			s.emit(observe.KindDrop, n, &l.sending)
		}
	}
	for s.stopped == "" {
		if l.actPos < len(l.acts) {
			a := &l.acts[l.actPos]
			l.actPos++
			switch a.Kind {
			case protocol.Send:
				if !s.countSend(n, &a.Msg) {
					return
				}
				d := s.sampler.draw(s.delays)
				units := (d + s.cfg.Unit - 1) / s.cfg.Unit
				l.sending, l.landing = a.Msg, true
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
		var err error
		switch l.phase {
		case phTop:
			l.phase = phInbox
			if n.p.WantsToJoin() {
				s.startJoin(i)
				s.out.Reset()
				err = n.p.Start(&s.out)
				s.took(i)
			}
		case phInbox:
			if l.inboxPos < len(l.inbox) {
				m := l.inbox[l.inboxPos]
				l.inboxPos++
				s.emit(observe.KindDeliver, n, &m)
				s.out.Reset()
				err = n.p.Step(m, &s.out)
				s.took(i)
				break
			}
			l.phase = phServe
			if len(l.inbox) == 0 {
				s.q.push(s.now+s.cfg.Unit, evWake, i)
				return
			}
			l.inbox, l.inboxPos = l.inbox[:0], 0
		case phServe:
			l.phase = phTop
			s.out.Reset()
			_, err = n.p.Serve(&s.out)
			s.took(i)
		}
		if err != nil {
			s.fail(i, err)
			return
		}
	}
}

// took copies a step's actions into the node's pending list and observes its state.
func (s *Sim) took(i int32) {
	l := s.nodes[i].loop
	l.acts = append(l.acts, s.out.Actions...)
	s.observe(i)
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
	ref := s.alloc(payload{timer: t, node: i})
	s.q.push(s.now+t.After, evTimer, ref)
}

// perform carries out a step's actions in the async model and then lets the node serve its
// queue for as long as it is willing to.
func (s *Sim) perform(i int32, err error) {
	for {
		if err != nil {
			s.fail(i, err)
			return
		}
		s.observe(i)
		n := &s.nodes[i]
		for k := range s.out.Actions {
			a := &s.out.Actions[k]
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
		s.out.Reset()
		var served bool
		served, err = n.p.Serve(&s.out)
		if !served {
			return
		}
	}
}

func (s *Sim) asyncStart(i int32) {
	if s.nodes[i].down {
		return
	}
	s.startJoin(i)
	s.out.Reset()
	if s.kv.on {
		s.nodes[i].p.Boot(&s.out)
	}
	s.perform(i, s.nodes[i].p.Start(&s.out))
}

func (s *Sim) asyncDeliver(ref int32) {
	m, from := s.slots[ref].msg, s.slots[ref].node
	s.free = append(s.free, ref)
	if s.kv.on {
		if m.Data != nil && len(m.Data.Items) > 0 {
			s.handoffLanded(&m)
		}
		if !protocol.IsDHTMessage(m.Type) {
			s.kv.joinMsgs--
		}
	}
	i, ok := s.index[m.To]
	if !ok {
		return
	}
	n := &s.nodes[i]
	if n.down || s.cut(from, i) {
		s.emit(observe.KindDrop, n, &m)
		return
	}
	s.emit(observe.KindDeliver, n, &m)
	s.out.Reset()
	s.perform(i, n.p.Step(m, &s.out))
}

func (s *Sim) asyncTimer(ref int32) {
	t, i := s.slots[ref].timer, s.slots[ref].node
	s.free = append(s.free, ref)
	if s.kv.on && protocol.IsJoinTimer(t) {
		s.kv.joinTimers--
	}
	n := &s.nodes[i]
	if n.down {
		return // a crashed node's timers die with it
	}
	if t.Background && s.kv.over {
		return // the run is winding down: maintenance stops
	}
	s.emit(observe.KindTimer, n, nil)
	s.out.Reset()
	err := n.p.Fire(t, &s.out)
	if s.cfg.Timing == "seed" {
		if err != nil {
			s.fail(i, err)
			return
		}
		n.loop.acts = append(n.loop.acts, s.out.Actions...)
		s.observe(i)
		return
	}
	s.perform(i, err)
}

func (s *Sim) runSafetyCheck() {
	v := s.check.Run()
	if v == nil || s.violation != nil {
		return
	}
	v.Seq, v.Time = s.events-1, s.now
	s.violation = v
	if i, ok := s.index[v.Node]; ok {
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
