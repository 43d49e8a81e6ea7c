package protocol

import (
	"cmp"
	"slices"
)

// The predlock-retry variant is predlock made to survive lost, duplicated and reordered
// messages, delay spikes, partitions that heal and crash-restart: every wait is bounded by a
// timer, every handler is idempotent, and a newcomer that cannot get in reports failure
// within a stated time instead of hanging.
//
// Additions to predlock (docs/protocol.md has the message sequences and the argument):
//   - The gap's owner tells a newcomer when it queues its request (queued). A newcomer that
//     hears nothing for Timeout re-sends: connect to its contact, or poll to the owner it knows.
//     Retries silent periods in a row, or a join that has run for joinBudget, make it give up
//     and report failure (State.Failed); so every join ends within joinBudget of its start.
//   - Every welcome carries the owner's insertion number (Message.Op); the ack, set_left and
//     every later message of that insertion echo it, so a stale message of an insertion that
//     was given up cannot commit or move anything.
//   - The owner commits (right := k) only on the ack of its current welcome, and never gives
//     an insertion up after that on its own: it re-sends set_left until the newcomer is in
//     (success_join) or asks to be unlinked (abort). Before the commit the owner may give up
//     freely and says so (welcome_nack) to a newcomer that acks late.
//   - A newcomer that gives up after acking a welcome (it may be linked) reports failure at
//     once, then asks its owner to unlink it (abort) until the owner confirms (aborted). The
//     owner points past it again and has the successor take its left pointer and the keys it
//     handed over back (unlink, unlinked) before it confirms.
//   - Requests for a node that is pending or queued are duplicates and are dropped; one
//     that names this node's or a neighbour's ID is answered join_refused (refuse.go).
//   - Restart (a crashed process coming back with its state) re-arms the timers its state
//     implies.

func init() {
	register(Variant{
		Name:        "predlock-retry",
		Description: "predlock with timeouts, retransmission and idempotent handlers; joins end (success or reported failure) under loss, duplication and crashes",
		Leaves:      true,
		Ignores:     true,
	}, newRetryNode)
}

// Joiner phases.
const (
	jIdle uint8 = iota
	jConnecting
	jWelcomed
	jConnected
	jFailed
	// jAborting: gave up (reported) after acking a welcome; asks the owner to unlink it.
	jAborting
)

// Owner phases.
const (
	oFree uint8 = iota
	oWelcoming
	oLinking
	oTakingOut // a right neighbour is leaving through this node (retryleave.go)
	oUndoing   // the newcomer gave up after the commit: the successor must take its left pointer back
)

// Timer kinds.
const (
	timerJoin uint8 = iota + 1
	timerOwner
	timerLeave
)

// DefaultTimeout and DefaultRetries apply when a Config leaves them zero.
const (
	DefaultTimeout = int64(100e6) // 100 ms
	DefaultRetries = 6
)

// maxBackoff caps the doubling of a wait: at most 2^maxBackoff times the timeout.
const maxBackoff = 4

// retryNode shares predlock's peer state (ID, neighbours, contact, queue, DHT) and replaces
// predlock's join flags with phases, counters and epochs.
type retryNode struct {
	peer
	ring    Ring
	timeout int64
	retries int

	jphase   uint8
	owner    ID // the node that holds our request or welcomed us
	jtries   int
	progress bool
	jepoch   uint64
	jspent   int64  // time the join has waited on its timers so far
	wop      uint64 // the number of the welcome we acked

	ophase  uint8
	pending ID
	succ    ID
	otries  int
	oepoch  uint64
	onum    uint64 // number of the current (or last) welcome this node sent as an owner

	refused bool // the own join was refused: the ID is taken

	// undone holds, per left neighbour, the number of the last insertion it undid: a
	// set_left of that insertion or an older one still on the wire must not move our left
	// pointer to a newcomer that gave up.
	undone []undoneOp

	// The node's own graceful leave (retryleave.go).
	lphase      uint8
	ltries      int
	lepoch      uint64
	askedLeft   ID   // the left neighbour last asked: a new one is progress
	leaveFailed bool // the last leave was given up
	leaveWait   ID   // a right neighbour that asked to leave while this node was busy
}

type undoneOp struct {
	owner ID
	op    uint64
}

func newRetryNode(c Config) retryNode {
	n := retryNode{peer: newPeer(c), ring: c.Ring, timeout: c.Timeout, retries: c.Retries,
		owner: None, pending: None, succ: None, askedLeft: None, leaveWait: None}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	if n.retries <= 0 {
		n.retries = DefaultRetries
	}
	if c.Member {
		n.jphase = jConnected
	}
	return n
}

func (n *retryNode) State() (st State) {
	n.stateTo(&st)
	return st
}

func (n *retryNode) stateTo(st *State) {
	st.ID, st.Left, st.Right, st.Queue = n.id, n.left, n.right, n.queue.Len()
	st.Connected = n.jphase == jConnected && n.lphase != lDeparted
	st.Waiting = n.jphase == jConnecting || n.jphase == jWelcomed || n.jphase == jAborting
	st.Locked = n.ophase != oFree
	st.Failed = n.jphase == jFailed || n.jphase == jAborting
	st.Leaving, st.Departed = n.lphase >= lHanded, n.lphase == lDeparted
	st.LeaveFailed, st.Refused = n.leaveFailed, n.refused
}

func (n *retryNode) WantsToJoin() bool { return n.jphase == jIdle }

func (n *retryNode) view() view {
	gone := n.lphase >= lHanded
	return view{id: n.id, left: n.left, right: n.right, joined: n.jphase == jConnected && !gone, gone: gone,
		rightLeaving: n.ophase == oTakingOut && n.pending == n.right}
}

func (n *retryNode) send(out *Output, t MsgType, to, joiner, neighbour ID) {
	out.send(Message{Type: t, From: n.id, To: to, Joiner: joiner, Neighbour: neighbour})
}

// sendOp sends a message of one insertion: op is the number of its welcome.
func (n *retryNode) sendOp(out *Output, t MsgType, to, joiner, neighbour ID, op uint64) {
	out.send(Message{Type: t, From: n.id, To: to, Joiner: joiner, Neighbour: neighbour, Op: op})
}

// backoff doubles the wait with every attempt without progress (up to 16 times the timeout),
// so that slow links are told apart from dead ones before the retries run out.
func (n *retryNode) backoff(tries int) int64 {
	return n.timeout << min(tries, maxBackoff)
}

// JoinBound is how long a predlock-retry join may take: the newcomer reports its end,
// success or failure, at most this long after it started (its own downtime aside). It is
// twice the longest silent wait, Retries+1 periods of Timeout doubling up to 16 times, so
// that a request queued behind a live owner may wait as long again before the join is
// given up. Zero arguments mean the defaults.
func JoinBound(timeout int64, retries int) int64 {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if retries <= 0 {
		retries = DefaultRetries
	}
	var silent int64
	for i := 0; i <= retries; i++ {
		silent += timeout << min(i, maxBackoff)
	}
	return 2 * silent
}

func (n *retryNode) joinBudget() int64 { return JoinBound(n.timeout, n.retries) }

// joinTimer arms a new join timer; any earlier one is stale from now on.
func (n *retryNode) joinTimer(out *Output) {
	n.jepoch++
	n.armJoin(out)
}

// armJoin re-arms the join timer under the same tag: a timer that just fired is the only
// one outstanding, and a tag that does not grow keeps an endless retransmission a cycle of
// finitely many states.
func (n *retryNode) armJoin(out *Output) {
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerJoin, Tag: n.jepoch, After: n.backoff(n.jtries)}})
}

func (n *retryNode) ownerTimer(out *Output) {
	n.oepoch++
	n.armOwner(out)
}

func (n *retryNode) armOwner(out *Output) {
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerOwner, Tag: n.oepoch, After: n.backoff(n.otries)}})
}

func (n *retryNode) Start(out *Output) error {
	if n.contact == None {
		return ErrMissingNeighbour
	}
	n.jphase, n.jtries, n.jspent = jConnecting, 0, 0
	n.send(out, Connect, n.contact, n.id, None)
	n.joinTimer(out)
	return nil
}

// route forwards or queues k's request; from is the node that forwarded it (None if it
// came from nowhere else).
func (n *retryNode) route(k, from ID, out *Output) {
	if n.lphase == lDeparted {
		out.send(n.forwardJoin(n.id, n.left, k))
		return
	}
	if k == n.pending {
		return // a duplicate: k is being placed here
	}
	if idTaken(n.id, n.left, n.right, k) {
		refuse(out, n.id, k)
		return
	}
	if n.jphase != jConnected && n.jphase != jWelcomed {
		// No pointers (or gave up): we cannot route; the newcomer must ask again. A welcomed
		// node already has both pointers, routes, and queues until it is connected.
		n.send(out, Unknown, k, k, None)
		return
	}
	if n.ring.Between(n.id, k, n.right) {
		if !n.queue.contains(k) {
			n.queue.push(k)
		}
		n.send(out, Queued, k, k, None)
		return
	}
	m := n.redirect(n.id, n.left, n.right, k)
	if !n.fingerJoins && from != None && from != n.right && n.ring.Between(n.id, k, from) {
		// It came back from a node after k whose left pointer lags behind an insertion
		// after us (its set_left is late): sent left again, it would go round the ring
		// for as long as that lasts. Our right pointer is exact; k is behind it.
		m.To = n.right
	}
	out.send(m)
}

func (n *retryNode) unlock() {
	n.ophase, n.pending, n.succ, n.otries = oFree, None, None, 0
	n.oepoch++ // outstanding owner timers are now stale
}

// giveUp ends the join in failure. Before any welcome was acked nothing can point at the
// node. After, the owner may have committed, so the node asks to be unlinked.
func (n *retryNode) giveUp(out *Output) {
	if n.jphase == jWelcomed {
		n.jphase, n.jtries = jAborting, 0
		n.sendOp(out, Abort, n.owner, n.id, n.right, n.wop)
		n.joinTimer(out)
	} else {
		n.jphase = jFailed
		n.jepoch++
	}
	// Requests we queued while half-joined cannot be served by us: send them back to ask again.
	for _, q := range n.queue.drain() {
		n.send(out, Unknown, q, q, None)
	}
	n.abandon(n.view(), out)
}

// wasUndone reports whether a set_left of insertion op by owner was undone here already.
func (n *retryNode) wasUndone(owner ID, op uint64) bool {
	for _, r := range n.undone {
		if r.owner == owner {
			return op <= r.op
		}
	}
	return false
}

// markUndone records that insertion op by owner was undone here.
func (n *retryNode) markUndone(owner ID, op uint64) {
	for i := range n.undone {
		if n.undone[i].owner == owner {
			n.undone[i].op = max(n.undone[i].op, op)
			return
		}
	}
	n.undone = append(n.undone, undoneOp{owner, op})
}

func (n *retryNode) Step(m Message, out *Output) error {
	if n.ignores(m) {
		return nil
	}
	return n.step(m, out)
}

// ignores reports whether m can no longer change anything here: a late reply or a stale
// message of an insertion that is over. Step drops such a message before looking at it, and
// the node ignores it in every later state too, since what decides it only moves one way:
// insertion numbers grow, and one insertion goes through its phases in one order (welcoming,
// linking, undoing) and never back; a join, once connected or failed, never starts again
// (Start runs only on an idle node); an aborting join only fails; undone insertions stay
// undone. An exhaustive search relies on that permanence to forget such messages (Ignorer).
//
// Each case covers only messages that step already ignored; that is, this changes no run.
func (n *retryNode) ignores(m Message) bool {
	settled := n.jphase == jConnected || n.jphase == jFailed || n.jphase == jAborting
	switch m.Type {
	case Queued, Unknown:
		// Heeded only while connecting.
		return settled
	case WelcomeNack:
		// Heeded by the owner while it welcomes, or by a newcomer that is welcomed.
		return settled && n.insertionPast(m.From, m.Op, oWelcoming)
	case SuccessJoin:
		return n.insertionPast(m.Joiner, m.Op, oLinking)
	case Unlinked:
		return n.insertionPast(m.Joiner, m.Op, oUndoing)
	case Aborted:
		return n.jphase == jConnected || n.jphase == jFailed ||
			(n.jphase == jAborting && (n.owner != m.From || n.wop != m.Op))
	case LeftSet:
		// A connected node answers only a left_set of its own insertion, whose number wop
		// stays fixed once it is connected.
		return n.jphase == jFailed || n.jphase == jAborting ||
			(n.jphase == jConnected && (m.Joiner != n.id || m.Op != n.wop))
	case SetLeft:
		return n.wasUndone(m.From, m.Op)
	}
	return false
}

// insertionPast reports whether this node, as an owner, can no longer be in phase of
// insertion op for newcomer k. An insertion keeps its number from its welcome (Serve counts
// onum up) to its end, with k as pending, and its phases only move forward: welcoming,
// linking, undoing.
func (n *retryNode) insertionPast(k ID, op uint64, phase uint8) bool {
	if n.ophase == oFree && (n.jphase == jFailed || n.jphase == jAborting) {
		return true // never an owner again: only a connected node serves its queue
	}
	if op != n.onum {
		return op < n.onum
	}
	if n.pending != k {
		return true
	}
	switch n.ophase {
	case oWelcoming:
		return false
	case oLinking:
		return phase == oWelcoming
	case oUndoing:
		return phase != oUndoing
	}
	return true
}

// step is Step without the check for messages it ignores; repair, which embeds this machine
// and reacts to some of those messages itself, calls it directly.
func (n *retryNode) step(m Message, out *Output) error {
	switch m.Type {
	case Connect, ConnectRedirect:
		n.route(m.Joiner, m.From, out)
	case Poll:
		switch {
		case m.From == n.pending && n.ophase == oWelcoming:
			n.sendOp(out, Welcome, n.pending, n.pending, n.right, n.onum)
		case m.From == n.pending && n.ophase == oLinking:
			n.sendOp(out, SetLeft, n.succ, n.pending, n.pending, n.onum)
		case n.queue.contains(m.From):
			n.send(out, Queued, m.From, m.From, None)
		default:
			n.route(m.From, None, out)
		}
	case Queued:
		if n.jphase == jConnecting {
			n.owner, n.progress = m.From, true
		}
	case Unknown:
		// Not progress: the next timer asks the contact again and counts as a retry, so a
		// request bouncing off a half-joined node cannot loop forever.
		if n.jphase == jConnecting && n.owner == m.From {
			n.owner = None
		}
	case Welcome:
		n.welcome(m, out)
	case WelcomeAck:
		switch {
		case n.ophase == oWelcoming && n.pending == m.From && n.onum == m.Op:
			// The commit: the newcomer points into the ring, so the ring may point at it.
			n.succ = n.right
			n.right = m.From
			n.ophase, n.otries = oLinking, 0
			n.sendOp(out, SetLeft, n.succ, m.From, m.From, m.Op)
			n.ownerTimer(out)
		case n.ophase == oLinking && n.pending == m.From && n.onum == m.Op:
			n.sendOp(out, SetLeft, n.succ, m.From, m.From, m.Op)
		case n.ophase == oUndoing && n.pending == m.From && n.onum == m.Op:
			// A late ack of an insertion being undone: the newcomer hears aborted soon.
		default:
			// Welcome m.Op is not live here and was never committed (an owner leaves oLinking
			// only through success_join or an undo): the newcomer is not linked and may ask
			// again.
			n.sendOp(out, WelcomeNack, m.From, m.From, None, m.Op)
		}
	case WelcomeNack:
		switch {
		case n.ophase == oWelcoming && n.pending == m.From && n.onum == m.Op:
			n.unlock()
			n.afterUnlock(out)
		case n.jphase == jWelcomed && n.owner == m.From && n.wop == m.Op:
			// The owner gave our welcome up before committing: nothing points at us.
			n.jphase, n.left, n.right, n.owner = jConnecting, None, None, None
		}
	case SetLeft:
		if n.wasUndone(m.From, m.Op) {
			return nil
		}
		// The keys the newcomer now owns travel with left_set; a retransmitted left_set
		// carries the same keys again, so a lost one loses nothing.
		switch n.left {
		case m.From:
			n.left = m.Neighbour
			data := n.handoff(n.id, n.left)
			out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Op: m.Op, Data: data})
		case m.Neighbour:
			out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Op: m.Op, Data: n.resend(m.Neighbour)})
		default:
			// Our left pointer went to the newcomer and has moved on since: only the newcomer,
			// connected, moves it (an insertion or a leave), or an undo, checked above. Its
			// success_join was lost; say it for it.
			n.sendOp(out, SuccessJoin, m.From, m.Neighbour, None, m.Op)
		}
	case LeftSet:
		switch {
		case n.jphase == jWelcomed && m.From == n.right:
			n.jphase, n.owner = jConnected, None
			n.jepoch++
			n.accept(m.Data)
			n.sendOp(out, SuccessJoin, n.left, n.id, None, n.wop)
			n.joined(n.view(), out)
		case n.jphase == jConnected && m.Joiner == n.id && m.Op == n.wop:
			// Our success_join was lost (our right pointer may have moved on since, to a
			// newcomer of our own): say it again, or the owner keeps its lock.
			n.sendOp(out, SuccessJoin, n.left, n.id, None, n.wop)
		}
		// A node that gave up does not take the keys: they are still in the successor's
		// outbox, and the unlink puts them back there.
	case SuccessJoin:
		if n.ophase == oLinking && n.pending == m.Joiner && n.onum == m.Op {
			n.unlock()
			n.afterUnlock(out)
		}
	case JoinRefused:
		// Once welcomed the newcomer is placed, and the refusal answered a late copy of
		// its own request.
		if n.jphase == jConnecting {
			n.refused = true
			n.giveUp(out)
		}
	case Abort:
		n.abort(m, out)
	case Aborted:
		if n.jphase == jAborting && n.owner == m.From && n.wop == m.Op {
			n.jphase, n.left, n.right, n.owner = jFailed, None, None, None
			n.jepoch++
		}
	case Unlink:
		// Our left pointer goes back to the owner, with the keys we had handed the newcomer
		// (they are in the outbox: the newcomer never took them).
		n.markUndone(m.From, m.Op)
		if n.left == m.Joiner {
			n.left = m.Neighbour
			n.accept(n.resend(m.Joiner))
			n.keepOutbox(nil, None)
		}
		n.sendOp(out, Unlinked, m.From, m.Joiner, None, m.Op)
	case Unlinked:
		if n.ophase == oUndoing && n.pending == m.Joiner && n.onum == m.Op {
			k := n.pending
			n.unlock()
			n.sendOp(out, Aborted, k, k, None, m.Op)
			n.afterUnlock(out)
		}
	default:
		n.leaveStep(m, out)
	}
	return nil
}

// welcome handles an owner's offer of a place.
func (n *retryNode) welcome(m Message, out *Output) {
	switch {
	case n.jphase == jConnecting, n.jphase == jWelcomed && m.From == n.owner && m.Op > n.wop:
		// A newer welcome from the same owner replaces one it gave up: the old ack cannot
		// commit any more, its number being stale.
		n.left, n.right, n.owner, n.wop = m.From, m.Neighbour, m.From, m.Op
		n.jphase, n.progress = jWelcomed, true
		n.sendOp(out, WelcomeAck, m.From, n.id, n.right, m.Op)
	case n.jphase == jWelcomed && m.From == n.owner && m.Op == n.wop:
		n.sendOp(out, WelcomeAck, m.From, n.id, n.right, m.Op)
	case n.jphase == jWelcomed && m.From == n.owner:
		// An older welcome overtaken by a newer one: that insertion is dead at the owner.
	case n.jphase == jConnected && m.From == n.left:
		// A retransmission that crossed our ack: the owner has moved on already.
	default:
		n.sendOp(out, WelcomeNack, m.From, n.id, None, m.Op)
	}
}

// abort handles a newcomer's request to be unlinked after it gave up.
func (n *retryNode) abort(m Message, out *Output) {
	k := m.From
	live := n.pending == k && n.onum == m.Op
	switch {
	case live && n.ophase == oWelcoming:
		n.unlock()
		n.sendOp(out, Aborted, k, k, None, m.Op)
		n.afterUnlock(out)
	case live && n.ophase == oLinking:
		// Point past the newcomer again (it points at succ itself, so the ring stays one
		// ring), then have succ take its left pointer back.
		n.right = n.succ
		n.ophase, n.otries = oUndoing, 0
		n.sendOp(out, Unlink, n.succ, k, n.id, m.Op)
		n.ownerTimer(out)
	case live && n.ophase == oUndoing:
		n.sendOp(out, Unlink, n.succ, k, n.id, m.Op)
	default:
		// Insertion m.Op of k is not live here: it was undone, or never committed.
		n.sendOp(out, Aborted, k, k, None, m.Op)
	}
}

func (n *retryNode) Fire(t Timer, out *Output) error {
	switch t.Kind {
	case timerJoin:
		if t.Tag != n.jepoch {
			return nil
		}
		switch n.jphase {
		case jAborting:
			n.jtries = min(n.jtries+1, maxBackoff)
			n.sendOp(out, Abort, n.owner, n.id, n.right, n.wop)
			n.armJoin(out)
			return nil
		case jConnecting, jWelcomed:
		default:
			return nil
		}
		n.jspent += t.After
		if n.progress {
			n.progress, n.jtries = false, 0
		}
		n.jtries++
		if n.jtries > n.retries || n.jspent+n.backoff(n.jtries) > n.joinBudget() {
			n.giveUp(out)
			return nil
		}
		switch {
		case n.jphase == jWelcomed:
			n.sendOp(out, WelcomeAck, n.owner, n.id, n.right, n.wop)
		case n.owner != None:
			n.send(out, Poll, n.owner, n.id, None)
		default:
			n.send(out, Connect, n.contact, n.id, None)
		}
		n.armJoin(out)
	case timerOwner:
		if t.Tag != n.oepoch || n.ophase == oFree {
			return nil
		}
		switch n.ophase {
		case oLinking, oUndoing:
			// Committed: the insertion ends only when the newcomer is in (success_join) or
			// out again (unlinked), or a live node would point at a newcomer that gave up,
			// or the lock would stay. Each attempt is bounded, their number is not: the
			// newcomer's own join is bounded anyway, and a connected newcomer answers a
			// retransmitted left_set.
			n.otries = min(n.otries+1, maxBackoff)
			if n.ophase == oLinking {
				n.sendOp(out, SetLeft, n.succ, n.pending, n.pending, n.onum)
			} else {
				n.sendOp(out, Unlink, n.succ, n.pending, n.id, n.onum)
			}
			n.armOwner(out)
			return nil
		}
		n.otries++
		if n.otries >= n.retries {
			n.unlock()
			n.afterUnlock(out)
			return nil
		}
		switch n.ophase {
		case oWelcoming:
			n.sendOp(out, Welcome, n.pending, n.pending, n.right, n.onum)
		case oTakingOut:
			n.send(out, LeaveGo, n.pending, n.pending, None)
		}
		n.armOwner(out)
	case timerLeave:
		n.leaveTimer(t, out)
	}
	return nil
}

// restart is a process coming back after a crash with its state (it is durable) and none of
// its timers: it re-arms every timer its state implies, so that every wait it was in stays
// bounded. The host re-arms the DHT's timers after these.
func (n *retryNode) restart(out *Output) {
	switch n.jphase {
	case jConnecting, jWelcomed, jAborting:
		n.joinTimer(out)
	}
	if n.ophase != oFree {
		n.ownerTimer(out)
	}
	if n.lphase == lAsking || n.lphase == lHanded {
		n.armLeave(out)
	}
}

func (n *retryNode) Serve(out *Output) (bool, error) {
	if n.ophase != oFree || n.jphase != jConnected || n.lphase != lNone || n.queue.Len() == 0 {
		return false, nil
	}
	k := n.queue.pop()
	if !n.ring.Between(n.id, k, n.right) {
		n.route(k, None, out)
		return true, nil
	}
	n.onum++
	n.ophase, n.pending, n.otries = oWelcoming, k, 0
	n.sendOp(out, Welcome, k, k, n.right, n.onum)
	n.ownerTimer(out)
	return true, nil
}

func (n *retryNode) own() {
	n.ownPeer()
	n.undone = slices.Clone(n.undone)
}

func (n *retryNode) AppendKey(b []byte) []byte { return n.appendKeyWith(b, nil) }

// appendKeyWith is AppendKey with every counter passed through canon (counters.go); a nil
// canon keeps them as they are.
func (n *retryNode) appendKeyWith(b []byte, canon func(CounterFamily, uint64) uint64) []byte {
	c := func(f CounterFamily, v uint64) ID {
		if canon != nil {
			v = canon(f, v)
		}
		return ID(v)
	}
	for _, id := range []ID{n.id, n.left, n.right, n.owner, n.pending, n.succ} {
		b = appendID(b, id)
	}
	b = append(b, n.jphase, n.ophase, byte(n.jtries), byte(n.otries), n.lphase, byte(n.ltries))
	b = appendBools(b, n.progress, n.leaveFailed, n.refused)
	b = appendID(b, n.askedLeft)
	b = appendID(b, n.leaveWait)
	// Epochs and insertion numbers decide which timers and messages are stale, so they are
	// part of the state: equal keys must mean equal futures.
	b = appendID(b, c(FamilyJoinEpoch, n.jepoch))
	b = appendID(b, c(FamilyOwnerEpoch, n.oepoch))
	b = appendID(b, c(FamilyLeaveEpoch, n.lepoch))
	b = appendID(b, c(FamilyOp, n.onum))
	b = appendID(b, c(FamilyOp, n.wop))
	b = appendID(b, ID(n.jspent)) // a quantity, not a counter
	undone := slices.Clone(n.undone)
	slices.SortFunc(undone, func(a, b undoneOp) int { return cmp.Compare(a.owner, b.owner) })
	for _, r := range undone {
		b = appendID(appendID(b, r.owner), c(FamilyOp, r.op))
	}
	b = append(b, 0xfb)
	return n.dht.appendKey(n.queue.appendKey(b))
}
