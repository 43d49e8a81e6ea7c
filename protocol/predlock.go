package protocol

// The predlock variant never breaks the ring, whatever the number of simultaneous joiners,
// their contacts, the message delays or their order on the wire.
//
// One rule removes the seed's races: only a gap's left end (the predecessor) inserts into the
// gap, and it holds its lock for the whole insertion. Requests are routed to the predecessor
// with wrap-around comparisons. The insertion is ordered so that every pointer that makes the
// newcomer reachable is set only after the newcomer's own pointers are:
//
//	p (owner of the gap p..r)      k (newcomer)           r (successor)
//	lock; welcome(r)  ---------->  left=p right=r
//	                  <----------  welcome_ack
//	right=k; set_left(k) --------------------------------> left=k
//	                               connected  <----------  left_set
//	unlock            <----------  success_join
//
// Every message of one insertion is caused by the previous one, so the order of delivery
// between different senders never matters. See docs/protocol.md.

func init() {
	register(Variant{
		Name:        "predlock",
		Description: "the gap's predecessor locks it for the whole insertion; never breaks the ring",
		New:         newPredlock,
	})
}

type predlockNode struct {
	lockNode
	ring    Ring
	pending ID // newcomer being inserted while locked
}

func newPredlock(c Config) Node {
	return &predlockNode{lockNode: newLockNode(c), ring: c.Ring, pending: None}
}

func (n *predlockNode) Start(out *Output) error {
	if n.contact == None {
		return ErrMissingNeighbour
	}
	n.waiting = true
	out.send(Message{Type: Connect, From: n.id, To: n.contact, Joiner: n.id, Neighbour: None})
	return nil
}

// route forwards a request that is not for this node's gap, or queues it.
func (n *predlockNode) route(k ID, out *Output) {
	if !n.connected || n.ring.Between(n.id, k, n.right) {
		n.queue.push(k)
		return
	}
	next := n.ring.NextHop(n.id, n.left, n.right, k)
	out.send(Message{Type: ConnectRedirect, From: n.id, To: next, Joiner: k, Neighbour: None})
}

func (n *predlockNode) Step(m Message, out *Output) error {
	if n.step(n.view(), &m, out) {
		return nil
	}
	switch m.Type {
	case Connect, ConnectRedirect:
		n.route(m.Joiner, out)
	case Welcome:
		n.left, n.right = m.From, m.Neighbour
		out.send(Message{Type: WelcomeAck, From: n.id, To: m.From, Joiner: n.id, Neighbour: None})
	case WelcomeAck:
		if !n.locked || n.pending != m.From {
			return nil // not an insertion of ours: ignore rather than corrupt the ring
		}
		succ := n.right
		n.right = m.From
		out.send(Message{Type: SetLeft, From: n.id, To: succ, Joiner: m.From, Neighbour: m.From})
	case SetLeft:
		// The keys between the old left neighbour and the newcomer are the newcomer's now:
		// they travel with left_set, the message that completes its join.
		n.left = m.Neighbour
		data := handoffData(n.handoff(n.id, n.left))
		out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Data: data})
	case LeftSet:
		if n.waiting && n.left != None && n.right == m.From {
			n.accept(m.Data)
			out.send(Message{Type: SuccessJoin, From: n.id, To: n.left, Joiner: n.id, Neighbour: None})
			n.becomeConnected(out)
		}
	case SuccessJoin:
		if n.locked && n.pending == m.From {
			n.locked, n.pending = false, None
		}
	}
	return nil
}

func (n *predlockNode) Fire(t Timer, out *Output) error {
	n.fire(n.view(), t, out)
	return nil
}

func (n *predlockNode) Serve(out *Output) (bool, error) {
	if n.locked || !n.connected || n.queue.Len() == 0 {
		return false, nil
	}
	k := n.queue.pop()
	if !n.ring.Between(n.id, k, n.right) {
		// The gap moved while the request waited (an insertion shrank it): route it on.
		n.route(k, out)
		return true, nil
	}
	n.locked, n.pending = true, k
	out.send(Message{Type: Welcome, From: n.id, To: k, Joiner: k, Neighbour: n.right})
	return true, nil
}

func (n *predlockNode) Clone() Node {
	c := *n
	c.lockNode = n.cloneLock()
	return &c
}

func (n *predlockNode) AppendKey(b []byte) []byte { return n.appendKey(b, n.pending) }
