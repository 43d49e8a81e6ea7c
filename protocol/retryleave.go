package protocol

// predlock-retry's graceful leave is predlock's exchange (see predlock.go) made to survive
// lost and duplicated messages:
//   - the leaver x asks its left neighbour p, again on its own timer, until p answers; p
//     takes a request only when free, and answers leave_retry when x is not its right
//     neighbour (an insertion moved x's left pointer); a p that is busy stays silent and the
//     next ask finds it free;
//   - p, locked for the removal, re-sends leave_go on its owner timer; x re-sends the same
//     keys (kept in its outbox) on every leave_go; r re-answers leave_done for a duplicate
//     leave_keys, and p re-answers leave_bye for a duplicate leave_done;
//   - after Retries silent periods in a row (a new left neighbour counts as progress), p
//     releases its lock and x gives its leave up (State.LeaveFailed). Before handing its keys
//     over, x simply stays a member and serves its queue again; after, it keeps forwarding
//     whatever reaches it to r, so the ring stays whole through x for as long as x runs.

// Leave phases of the node's own leave.
const (
	lNone uint8 = iota
	lAsking
	lHanded
	lDeparted
)

func (n *retryNode) Leave(out *Output) error {
	if n.jphase != jConnected || n.lphase != lNone {
		return ErrNoLeave
	}
	n.lphase, n.ltries, n.leaveFailed = lAsking, 0, false
	if n.ophase == oFree {
		n.askLeave(out)
	}
	// Otherwise the insertion in progress finishes first (afterUnlock).
	return nil
}

func (n *retryNode) askLeave(out *Output) {
	n.askedLeft = n.left
	n.send(out, LeaveAsk, n.left, n.id, n.right)
	n.armLeave(out)
}

func (n *retryNode) armLeave(out *Output) {
	n.lepoch++
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerLeave, Tag: n.lepoch, After: n.backoff(n.ltries)}})
}

// afterUnlock starts the node's own leave once its insertion is over, or else takes out a
// right neighbour that asked meanwhile.
func (n *retryNode) afterUnlock(out *Output) {
	switch {
	case n.lphase == lAsking:
		n.askLeave(out)
	case n.leaveWait != None:
		w := n.leaveWait
		n.leaveWait = None
		n.takeOut(w, None, out)
	}
}

// takeOut answers x's request to leave; succ is x's right neighbour when x said it.
func (n *retryNode) takeOut(x, succ ID, out *Output) {
	switch {
	case n.ophase == oTakingOut && n.pending == x:
		n.send(out, LeaveGo, x, x, None)
	case n.lphase == lDeparted || n.right != x || n.jphase != jConnected:
		n.send(out, LeaveRetry, x, x, None)
	case n.ophase == oFree && n.lphase == lNone:
		n.ophase, n.pending, n.succ, n.otries = oTakingOut, x, succ, 0
		n.send(out, LeaveGo, x, x, None)
		n.ownerTimer(out)
	default:
		// Busy inserting, or leaving itself: answered when that is over.
		n.leaveWait = x
	}
}

func (n *retryNode) leaveTimer(t Timer, out *Output) {
	if t.Tag != n.lepoch || (n.lphase != lAsking && n.lphase != lHanded) {
		return
	}
	if n.lphase == lAsking && n.left != n.askedLeft {
		n.ltries = 0 // the leaver in front has gone: a new node to ask
	}
	n.ltries++
	if n.ltries > n.retries {
		// Nobody takes the node out. It stays a member, or a forwarder if its keys are gone.
		n.leaveFailed = true
		if n.lphase == lAsking {
			n.lphase = lNone
			n.afterUnlock(out) // a neighbour's leave may have waited for ours
		}
		return
	}
	if n.lphase == lAsking {
		if n.ophase == oFree {
			n.askedLeft = n.left
			n.send(out, LeaveAsk, n.left, n.id, n.right)
		}
	} else {
		out.send(Message{Type: LeaveKeys, From: n.id, To: n.right, Joiner: n.id, Neighbour: n.left, Data: n.resend(n.right)})
	}
	n.armLeave(out)
}

func (n *retryNode) leaveStep(m Message, out *Output) {
	switch m.Type {
	case LeaveAsk:
		n.takeOut(m.From, m.Neighbour, out)
	case LeaveRetry:
		if n.lphase == lAsking && n.left != n.askedLeft {
			n.askedLeft = n.left
			n.send(out, LeaveAsk, n.left, n.id, n.right)
		}
		// Same left neighbour: its set_left to us is still on the way; the timer asks again.
	case LeaveGo:
		if m.From != n.left {
			return
		}
		switch n.lphase {
		case lAsking:
			n.lphase, n.ltries = lHanded, 0
			data := n.takeAll()
			n.dht.keepOutbox(data, n.right)
			out.send(Message{Type: LeaveKeys, From: n.id, To: n.right, Joiner: n.id, Neighbour: n.left, Data: data})
			n.armLeave(out)
		case lHanded:
			out.send(Message{Type: LeaveKeys, From: n.id, To: n.right, Joiner: n.id, Neighbour: n.left, Data: n.resend(n.right)})
		}
	case LeaveKeys:
		switch n.left {
		case m.From:
			n.left = m.Neighbour
			n.accept(m.Data)
			n.send(out, LeaveDone, m.Neighbour, m.From, n.id)
			n.settle(n.view(), m.Data, out)
		case m.Neighbour:
			n.send(out, LeaveDone, m.Neighbour, m.From, n.id) // a duplicate: the keys are here
		default:
			// The removal is long done here and the gap has changed since (an insertion
			// moved our left pointer on), so the left neighbour points past the leaver too:
			// its leave_bye was lost. Let it go.
			n.send(out, LeaveBye, m.From, m.From, None)
		}
	case LeaveDone:
		switch {
		case n.ophase == oTakingOut && n.pending == m.Joiner:
			n.right = m.Neighbour
			n.unlock()
			n.send(out, LeaveBye, m.Joiner, m.Joiner, None)
			n.afterUnlock(out)
		case n.right != m.Joiner:
			// A duplicate: this node points past the leaver already (at the leaver's right
			// neighbour, or beyond if that one has left too). Its leave_bye was lost.
			n.send(out, LeaveBye, m.Joiner, m.Joiner, None)
		}
	case LeaveBye:
		if n.lphase == lHanded {
			n.lphase = lDeparted
			n.lepoch++
			for _, k := range n.queue.drain() {
				n.send(out, ConnectRedirect, n.left, k, None)
			}
			if w := n.leaveWait; w != None {
				n.leaveWait = None
				n.send(out, LeaveRetry, w, w, None)
			}
		}
	}
}
