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
		Leaves:      true,
	}, newPredlock)
}

type predlockNode struct {
	lockNode
	ring    Ring
	pending ID // newcomer being inserted, or right neighbour being taken out, while locked

	// Leaving, the node's own: it asked to leave (leaving), handed its keys to its right
	// neighbour (handed) and was let go by its left neighbour (departed).
	leaving, handed, departed bool
	// Taking a right neighbour out: outLeave says the lock is for that; leaveWait is a
	// leave request that arrived while the node was locked.
	outLeave  bool
	leaveWait ID
}

func newPredlock(c Config) predlockNode {
	return predlockNode{lockNode: newLockNode(c), ring: c.Ring, pending: None, leaveWait: None}
}

// A graceful leave keeps predlock's rule: the leaver's left neighbour p owns the gap
// (p, leaver) and locks it for the whole exchange, so no insertion races the removal.
//
//	p (left)                    x (leaver)                      r (right)
//	                 <--------  lock itself; leave_ask(r)
//	lock; leave_go   -------->  hand every key over
//	                            leave_keys(p) ---------------->  left=p, store keys
//	right=r; unlock  <------------------------------------------  leave_done
//	leave_bye        -------->  departed; forwards what still reaches it
//
// Keys move with the message that moves r's left pointer, as in a join; until p's right
// pointer moves, requests that reach x are forwarded to r, which already owns x's keys.
// A leave_ask that reaches a node that is not x's left neighbour (an insertion into the gap
// moved it) is answered leave_retry, and x asks its current left neighbour.

func (n *predlockNode) Leave(out *Output) error {
	if !n.connected || n.leaving {
		return ErrNoLeave
	}
	n.leaving = true
	if !n.locked {
		n.askLeave(out)
	}
	// Otherwise the insertion in progress finishes first (see unlocked).
	return nil
}

func (n *predlockNode) askLeave(out *Output) {
	n.locked = true
	out.send(Message{Type: LeaveAsk, From: n.id, To: n.left, Joiner: n.id, Neighbour: n.right})
}

// unlocked runs once a lock is released: the node's own leave goes first, then a neighbour's
// leave that waited.
func (n *predlockNode) unlocked(out *Output) {
	if n.leaving {
		n.askLeave(out)
		return
	}
	if w := n.leaveWait; w != None {
		n.leaveWait = None
		n.takeOut(w, out)
	}
}

// takeOut answers x's request to leave: lock the gap (n, x) if x is still the right neighbour.
func (n *predlockNode) takeOut(x ID, out *Output) {
	switch {
	case n.departed:
		out.send(Message{Type: LeaveRetry, From: n.id, To: x, Joiner: x, Neighbour: None})
	case n.leaving || n.locked:
		// Answered once the lock is free (unlocked) or once this node has left (leave_bye).
		n.leaveWait = x
	case n.right != x || !n.connected:
		out.send(Message{Type: LeaveRetry, From: n.id, To: x, Joiner: x, Neighbour: None})
	default:
		n.locked, n.pending, n.outLeave = true, x, true
		out.send(Message{Type: LeaveGo, From: n.id, To: x, Joiner: x, Neighbour: None})
	}
}

func (n *predlockNode) leaveStep(m Message, out *Output) {
	switch m.Type {
	case LeaveAsk:
		n.takeOut(m.From, out)
	case LeaveRetry:
		if n.leaving && !n.handed {
			out.send(Message{Type: LeaveAsk, From: n.id, To: n.left, Joiner: n.id, Neighbour: n.right})
		}
	case LeaveGo:
		if n.leaving && !n.handed && m.From == n.left {
			n.handed = true
			data := n.takeAll()
			out.send(Message{Type: LeaveKeys, From: n.id, To: n.right, Joiner: n.id, Neighbour: n.left, Data: data})
		}
	case LeaveKeys:
		if n.left == m.From {
			n.left = m.Neighbour
			n.accept(m.Data)
			out.send(Message{Type: LeaveDone, From: n.id, To: m.Neighbour, Joiner: m.From, Neighbour: n.id})
			n.settle(n.view(), m.Data, out)
		}
	case LeaveDone:
		if n.outLeave && n.locked && n.pending == m.Joiner {
			n.right = m.Neighbour
			n.locked, n.pending, n.outLeave = false, None, false
			out.send(Message{Type: LeaveBye, From: n.id, To: m.Joiner, Joiner: m.Joiner, Neighbour: None})
			n.unlocked(out)
		}
	case LeaveBye:
		if n.handed && !n.departed {
			n.departed, n.connected = true, false
			// Requests queued here belong to the merged gap, which the left neighbour owns.
			for _, k := range n.queue.drain() {
				out.send(Message{Type: ConnectRedirect, From: n.id, To: n.left, Joiner: k, Neighbour: None})
			}
			if w := n.leaveWait; w != None {
				n.leaveWait = None
				out.send(Message{Type: LeaveRetry, From: n.id, To: w, Joiner: w, Neighbour: None})
			}
		}
	}
}

func (n *predlockNode) view() view {
	v := n.baseView()
	v.gone = n.handed || n.departed
	v.rightLeaving = n.outLeave && n.pending == n.right
	v.joined = v.joined && !v.gone
	return v
}

func (n *predlockNode) State() (st State) {
	n.stateTo(&st)
	return st
}

func (n *predlockNode) stateTo(st *State) {
	n.lockNode.stateTo(st)
	st.Leaving, st.Departed = n.handed, n.departed
}

// restart has nothing to re-arm: predlock's join has no timers.
func (n *predlockNode) restart(*Output) {}

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
	if n.departed {
		out.send(n.forwardJoin(n.id, n.left, k))
		return
	}
	if idTaken(n.id, n.left, n.right, k) {
		refuse(out, n.id, k)
		return
	}
	if !n.connected || n.ring.Between(n.id, k, n.right) {
		n.queue.push(k)
		return
	}
	out.send(n.redirect(n.id, n.left, n.right, k))
}

func (n *predlockNode) Step(m Message, out *Output) error {
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
		data := n.handoff(n.id, n.left)
		out.send(Message{Type: LeftSet, From: n.id, To: m.Neighbour, Joiner: m.Neighbour, Neighbour: None, Data: data})
	case LeftSet:
		if n.waiting && n.left != None && n.right == m.From {
			n.accept(m.Data)
			out.send(Message{Type: SuccessJoin, From: n.id, To: n.left, Joiner: n.id, Neighbour: None})
			n.connected, n.waiting = true, false
			n.joined(n.view(), out)
		}
	case SuccessJoin:
		if n.locked && n.pending == m.From && !n.outLeave {
			n.locked, n.pending = false, None
			n.unlocked(out)
		}
	case JoinRefused:
		n.refusedJoin(n.view(), out)
	default:
		n.leaveStep(m, out)
	}
	return nil
}

// Fire has nothing to do: predlock has no timers of its own.
func (n *predlockNode) Fire(Timer, *Output) error { return nil }

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

func (n *predlockNode) own() { n.ownLock() }

func (n *predlockNode) AppendKey(b []byte) []byte {
	b = n.appendKey(b, n.pending, n.leaveWait)
	return appendBools(b, n.leaving, n.handed, n.departed, n.outLeave)
}
