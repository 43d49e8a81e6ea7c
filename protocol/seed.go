package protocol

// The seed variant reproduces the original school-project protocol, flaws included:
// comparisons are plain integer comparisons with no wrap-around, and a node that receives
// change_neighbour does not lock, so two nodes can accept newcomers into the same gap.
// Do not fix anything here; improvements belong in other variants. The one addition, the
// refusal of a taken ID (refuse.go), acts only when two nodes share an ID.

func init() {
	register(Variant{
		Name:        "seed",
		Description: "the original protocol as built, flaws included",
	}, newSeedNode)
}

type seedNode struct {
	lockNode
}

func newSeedNode(c Config) seedNode { return seedNode{newLockNode(c)} }

func (n *seedNode) view() view { return n.baseView() }

func (n *seedNode) Start(out *Output) error {
	if n.contact == None {
		return ErrMissingNeighbour
	}
	out.sendNew(Connect, n.id, n.contact, n.id)
	n.waiting, n.locked = true, true
	return nil
}

// setSide mirrors the original's rule: a larger ID is a right neighbour, a smaller a left one.
func (n *seedNode) setSide(other ID) {
	if other > n.id {
		n.right = other
	} else {
		n.left = other
	}
}

// handoffTo is the data that goes to a node that just became this node's left neighbour:
// every key this node no longer owns. The seed protocol has no step for keys; they ride on
// the new_neighbour message that tells the newcomer about this node.
func (n *seedNode) handoffTo(k ID) *Data {
	if n.left != k {
		return nil
	}
	return n.handoff(n.id, k)
}

func (n *seedNode) Step(m Message, out *Output) error {
	switch m.Type {
	case Connect, ConnectRedirect:
		n.queue.push(m.Joiner)
	case ChangeNeighbour:
		n.setSide(m.Neighbour)
		nm := out.sendNew(NewNeighbour, n.id, m.Neighbour, m.Neighbour)
		nm.Neighbour, nm.Data = n.id, n.handoffTo(m.Neighbour)
	case NewNeighbour:
		n.setSide(m.Neighbour)
		n.accept(m.Data)
		if n.left != None && n.right != None {
			// As the original: even a connected node unlocks and announces itself again.
			was := n.connected
			n.connected, n.waiting, n.locked = true, false, false
			out.sendNew(SuccessJoin, n.id, n.left, n.id)
			out.sendNew(SuccessJoin, n.id, n.right, n.id)
			if !was {
				n.joined(n.view(), out)
			}
		}
		out.idle(1)
	case SuccessJoin:
		n.locked = false
	case JoinRefused:
		n.refusedJoin(n.view(), out)
	}
	// Unknown types are ignored, as the original's dispatch did.
	return nil
}

// Fire has nothing to do: the seed protocol has no timers of its own.
func (n *seedNode) Fire(Timer, *Output) error { return nil }

func (n *seedNode) Serve(out *Output) (bool, error) {
	if n.locked || n.queue.Len() == 0 {
		return false, nil
	}
	k := n.queue.pop()
	if idTaken(n.id, n.left, n.right, k) {
		// Not the original's: it had no answer for a taken ID and linked the node to
		// itself. The refusal acts only on duplicate IDs, which the original never had, so
		// every run with distinct IDs still goes as the original's did.
		refuse(out, n.id, k)
		return true, nil
	}
	n.locked = true
	// The original compared against right first and crashed on a missing neighbour.
	if n.right == None {
		return true, ErrMissingNeighbour
	}
	if k > n.right && n.right > n.id {
		out.sendNew(ConnectRedirect, n.id, n.right, k)
		n.locked = false
		return true, nil
	}
	if n.left == None {
		return true, ErrMissingNeighbour
	}
	if k < n.left && n.left < n.id {
		out.sendNew(ConnectRedirect, n.id, n.left, k)
		n.locked = false
		return true, nil
	}
	switch {
	case k > n.id:
		out.sendNew(ChangeNeighbour, n.id, n.right, k).Neighbour = k
		n.right = k
		out.sendNew(NewNeighbour, n.id, k, k).Neighbour = n.id
	case k < n.id:
		out.sendNew(ChangeNeighbour, n.id, n.left, k).Neighbour = k
		n.left = k
		nm := out.sendNew(NewNeighbour, n.id, k, k)
		nm.Neighbour, nm.Data = n.id, n.handoffTo(k)
	}
	// The node stays locked until a success_join arrives.
	return true, nil
}

func (n *seedNode) own() { n.ownLock() }

// restart has nothing to re-arm: the seed's join has no timers.
func (n *seedNode) restart(*Output) {}

func (n *seedNode) AppendKey(b []byte) []byte { return n.appendKey(b) }

func (n *seedNode) Leave(*Output) error { return ErrNoLeave }
