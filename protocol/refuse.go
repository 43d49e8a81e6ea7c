package protocol

// A newcomer whose ID is already in the ring cannot be inserted: the ring is ordered by ID,
// so a second node with that ID has no gap of its own, and every message addressed to the
// ID would then name two nodes. Left alone, the request loops between the ID's neighbours
// (predlock), is dropped as a duplicate until the newcomer gives up without knowing why
// (predlock-retry), or makes a node point at itself (seed).
//
// So a node that would route or insert a newcomer whose ID equals its own or a neighbour's
// answers join_refused instead. Those are the nodes that know for certain that the ID is
// taken; any other node forwards the request towards the ID's gap, which is next to the
// member with that ID, so the request reaches one of them. Nothing has pointed at the
// newcomer when it is refused, and it stops its join at once (State.Refused, State.Failed).
//
// IDs are the only names the protocol has, so it cannot tell a second node with a taken ID
// from a late copy of a request by the node that has it (predlock-retry retransmits). Such a
// copy is answered join_refused too; the node it reaches is placed already (welcomed or
// connected) and ignores it, which is why only a newcomer that nobody can point at yet
// accepts a refusal. The simulator never lays out two nodes with one ID, so there the rule
// only answers such late copies.

// idTaken reports whether a join request for k names this node or one of its neighbours.
func idTaken(id, left, right, k ID) bool { return k == id || k == left || k == right }

func refuse(out *Output, self, k ID) {
	out.send(Message{Type: JoinRefused, From: self, To: k, Joiner: k, Neighbour: k})
}

// refusedJoin ends the own join of a seed or predlock newcomer that has no pointer yet; v is
// the variant's own view, which abandon reports through.
func (n *lockNode) refusedJoin(v view, out *Output) {
	if !n.waiting || n.connected || n.left != None || n.right != None {
		return
	}
	n.waiting, n.locked, n.refused = false, false, true
	n.abandon(v, out)
}
