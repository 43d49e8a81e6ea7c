package protocol

// The predlock-retry variant is predlock made to survive lost, duplicated and reordered
// messages and crashed nodes: every wait is bounded by a timer, every handler is idempotent,
// and a newcomer that cannot get in reports failure instead of hanging.
//
// Additions to predlock:
//   - The gap's owner tells a newcomer when it queues its request (queued). A newcomer that
//     hears nothing for Timeout re-sends: connect to its contact, or poll to the owner it knows.
//     Only Retries silent periods in a row make it give up and report failure (State.Failed),
//     so a long queue behind a live owner never makes a join fail.
//   - The owner retransmits welcome, then set_left, on its own timer; after Retries attempts it
//     releases its lock. Before its right pointer moves, releasing changes nothing; after, the
//     newcomer is already correctly linked on the right-pointer ring.
//   - A newcomer refuses (welcome_nack) a welcome from a second owner, or after giving up, so
//     that owner unlocks at once. set_left applies only if the successor's left is still the
//     owner, so a stale duplicate cannot move a pointer back.
//   - Requests for a node that is pending or queued are duplicates and are dropped; one
//     that names this node's or a neighbour's ID is answered join_refused (refuse.go).

func init() {
	register(Variant{
		Name:        "predlock-retry",
		Description: "predlock with timeouts, retransmission and idempotent handlers; joins end (success or reported failure) under loss, duplication and crashes",
		Leaves:      true,
	}, newRetryNode)
}

// Joiner phases.
const (
	jIdle uint8 = iota
	jConnecting
	jWelcomed
	jConnected
	jFailed
)

// Owner phases.
const (
	oFree uint8 = iota
	oWelcoming
	oLinking
	oTakingOut // a right neighbour is leaving through this node (retryleave.go)
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

type retryNode struct {
	ring            Ring
	id, left, right ID
	contact         ID
	timeout         int64
	retries         int

	jphase   uint8
	owner    ID // the node that holds our request or welcomed us
	jtries   int
	progress bool
	jepoch   uint64

	ophase  uint8
	pending ID
	succ    ID
	otries  int
	oepoch  uint64

	queue requestQueue // joiners whose requests await service
	dht

	// The node's own graceful leave (retryleave.go).
	lphase      uint8
	ltries      int
	lepoch      uint64
	askedLeft   ID   // the left neighbour last asked: a new one is progress
	leaveFailed bool // the last leave was given up
	refused     bool // the own join was refused: the ID is taken
	leaveWait   ID   // a right neighbour that asked to leave while this node was busy
}

func newRetryNode(c Config) retryNode {
	n := retryNode{ring: c.Ring, id: c.ID, left: None, right: None, contact: c.Contact,
		timeout: c.Timeout, retries: c.Retries, owner: None, pending: None, succ: None, dht: newDHT(c),
		askedLeft: None, leaveWait: None}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	if n.retries <= 0 {
		n.retries = DefaultRetries
	}
	if c.Member {
		n.left, n.right, n.jphase = c.Left, c.Right, jConnected
	}
	return n
}

func (n *retryNode) State() State {
	return State{ID: n.id, Left: n.left, Right: n.right, Connected: n.jphase == jConnected && n.lphase != lDeparted,
		Waiting: n.jphase == jConnecting || n.jphase == jWelcomed, Locked: n.ophase != oFree,
		Queue: n.queue.Len(), Failed: n.jphase == jFailed, Leaving: n.lphase >= lHanded, Departed: n.lphase == lDeparted,
		LeaveFailed: n.leaveFailed, Refused: n.refused}
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

// backoff doubles the wait with every attempt without progress (up to 16 times the timeout),
// so that slow links are told apart from dead ones before the retries run out.
func (n *retryNode) backoff(tries int) int64 {
	return n.timeout << min(tries, 4)
}

func (n *retryNode) joinTimer(out *Output) {
	n.jepoch++
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerJoin, Tag: n.jepoch, After: n.backoff(n.jtries)}})
}

func (n *retryNode) ownerTimer(out *Output) {
	n.oepoch++
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerOwner, Tag: n.oepoch, After: n.backoff(n.otries)}})
}

func (n *retryNode) Start(out *Output) error {
	if n.contact == None {
		return ErrMissingNeighbour
	}
	n.jphase, n.jtries = jConnecting, 0
	n.send(out, Connect, n.contact, n.id, None)
	n.joinTimer(out)
	return nil
}

func (n *retryNode) route(k ID, out *Output) {
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
	out.send(n.redirect(n.id, n.left, n.right, k))
}

func (n *retryNode) unlock() {
	n.ophase, n.pending, n.succ, n.otries = oFree, None, None, 0
	n.oepoch++ // outstanding owner timers are now stale
}

func (n *retryNode) fail(out *Output) {
	n.jphase = jFailed
	n.jepoch++
	// Requests we queued while half-joined cannot be served by us: send them back to ask again.
	for _, q := range n.queue.drain() {
		n.send(out, Unknown, q, q, None)
	}
	n.abandon(n.view(), out)
}

func (n *retryNode) Step(m Message, out *Output) error {
	switch m.Type {
	case Connect, ConnectRedirect:
		n.route(m.Joiner, out)
	case Poll:
		switch {
		case m.From == n.pending && n.ophase == oWelcoming:
			n.send(out, Welcome, n.pending, n.pending, n.right)
		case m.From == n.pending && n.ophase == oLinking:
			n.send(out, SetLeft, n.succ, n.pending, n.pending)
		case n.queue.contains(m.From):
			n.send(out, Queued, m.From, m.From, None)
		default:
			n.route(m.From, out)
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
		switch {
		case n.jphase == jConnecting:
			n.left, n.right, n.owner = m.From, m.Neighbour, m.From
			n.jphase, n.progress = jWelcomed, true
			n.send(out, WelcomeAck, m.From, n.id, None)
		case n.jphase == jWelcomed && m.From == n.owner && m.Neighbour == n.right:
			n.send(out, WelcomeAck, m.From, n.id, None)
		case n.jphase == jConnected && m.From == n.left:
			// A retransmission that crossed our ack: the owner has moved on already.
		default:
			n.send(out, WelcomeNack, m.From, n.id, None)
		}
	case WelcomeAck:
		switch {
		case n.ophase == oWelcoming && n.pending == m.From:
			n.succ = n.right
			n.right = m.From
			n.ophase, n.otries = oLinking, 0
			n.send(out, SetLeft, n.succ, m.From, m.From)
			n.ownerTimer(out)
		case n.ophase == oLinking && n.pending == m.From:
			n.send(out, SetLeft, n.succ, m.From, m.From)
		}
	case WelcomeNack:
		if n.ophase == oWelcoming && n.pending == m.From {
			n.unlock()
			n.afterUnlock(out)
		}
	case SetLeft:
		// The keys the newcomer now owns travel with left_set; a retransmitted left_set
		// carries the same keys again, so a lost one loses nothing.
		switch n.left {
		case m.From:
			n.left = m.Neighbour
			data := n.handoff(n.id, n.left)
			out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Data: data})
		case m.Neighbour:
			out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Data: n.resend(m.Neighbour)})
		}
	case LeftSet:
		switch {
		case n.jphase == jWelcomed && m.From == n.right:
			n.jphase, n.owner = jConnected, None
			n.jepoch++
			n.accept(m.Data)
			n.send(out, SuccessJoin, n.left, n.id, None)
			n.joined(n.view(), out)
		case n.jphase == jConnected && m.From == n.right:
			n.send(out, SuccessJoin, n.left, n.id, None)
		}
	case SuccessJoin:
		if n.ophase == oLinking && n.pending == m.From {
			n.unlock()
			n.afterUnlock(out)
		}
	case JoinRefused:
		// Once welcomed the newcomer is placed, and the refusal answered a late copy of
		// its own request.
		if n.jphase == jConnecting {
			n.refused = true
			n.fail(out)
		}
	default:
		n.leaveStep(m, out)
	}
	return nil
}

func (n *retryNode) Fire(t Timer, out *Output) error {
	switch t.Kind {
	case timerJoin:
		if t.Tag != n.jepoch || (n.jphase != jConnecting && n.jphase != jWelcomed) {
			return nil
		}
		if n.progress {
			n.progress, n.jtries = false, 0
		}
		n.jtries++
		if n.jtries > n.retries {
			n.fail(out)
			return nil
		}
		switch {
		case n.jphase == jWelcomed:
			n.send(out, WelcomeAck, n.owner, n.id, None)
		case n.owner != None:
			n.send(out, Poll, n.owner, n.id, None)
		default:
			n.send(out, Connect, n.contact, n.id, None)
		}
		n.joinTimer(out)
	case timerOwner:
		if t.Tag != n.oepoch || n.ophase == oFree {
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
			n.send(out, Welcome, n.pending, n.pending, n.right)
		case oLinking:
			n.send(out, SetLeft, n.succ, n.pending, n.pending)
		case oTakingOut:
			n.send(out, LeaveGo, n.pending, n.pending, None)
		}
		n.ownerTimer(out)
	case timerLeave:
		n.leaveTimer(t, out)
	}
	return nil
}

func (n *retryNode) Serve(out *Output) (bool, error) {
	if n.ophase != oFree || n.jphase != jConnected || n.lphase != lNone || n.queue.Len() == 0 {
		return false, nil
	}
	k := n.queue.pop()
	if !n.ring.Between(n.id, k, n.right) {
		n.route(k, out)
		return true, nil
	}
	n.ophase, n.pending, n.otries = oWelcoming, k, 0
	n.send(out, Welcome, k, k, n.right)
	n.ownerTimer(out)
	return true, nil
}

func (n *retryNode) own() {
	n.queue = n.queue.clone()
	n.dht = n.dht.clone()
}

func (n *retryNode) AppendKey(b []byte) []byte {
	for _, id := range []ID{n.id, n.left, n.right, n.owner, n.pending, n.succ} {
		b = appendID(b, id)
	}
	b = append(b, n.jphase, n.ophase, byte(n.jtries), byte(n.otries), n.lphase, byte(n.ltries))
	b = appendBools(b, n.progress, n.leaveFailed, n.refused)
	b = appendID(b, n.askedLeft)
	b = appendID(b, n.leaveWait)
	return n.dht.appendKey(n.queue.appendKey(b))
}
