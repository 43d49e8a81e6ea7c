package node

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// IDTakenError is why a join was refused: another node already has the newcomer's ID.
type IDTakenError struct {
	ID         protocol.ID
	HolderAddr string      // where the node with the ID listens, if the refuser knew
	By         protocol.ID // the node that refused the join
	ByAddr     string
}

func (e *IDTakenError) Error() string {
	holder := "a node of the ring"
	if e.HolderAddr != "" {
		holder = fmt.Sprintf("node %v at %s", e.ID, e.HolderAddr)
	}
	msg := fmt.Sprintf("join refused: ID %v is taken by %s", e.ID, holder)
	if e.By != e.ID && e.By != protocol.None {
		msg += fmt.Sprintf(" (refused by node %v at %s)", e.By, e.ByAddr)
	}
	return msg
}

// refusals is a node's side of duplicate IDs: where newcomers that claim a taken ID listen,
// so that their refusal reaches them, and its own join's refusal.
type refusals struct {
	// claims maps an ID that the directory binds to a live node to the address that last
	// claimed it from elsewhere. Only the node's own ID and its neighbours' are kept this
	// way (learn), so it holds at most three entries. Protocol goroutine only.
	claims map[protocol.ID]string
	// next is what the join_refused frame being handled said, until the protocol takes
	// it in. Protocol goroutine only.
	next *IDTakenError

	once sync.Once
	ch   chan struct{} // closed once the own join has been refused
	err  atomic.Pointer[IDTakenError]
}

func (r *refusals) done() chan struct{} {
	r.once.Do(func() { r.ch = make(chan struct{}) })
	return r.ch
}

// JoinRefused is closed when the ring refuses the node's join because its ID is taken;
// JoinErr then says which node has the ID. The node goes on running, outside the ring,
// until it is closed.
func (n *Node) JoinRefused() <-chan struct{} { return n.refusals.done() }

// JoinErr is an *IDTakenError once the node's join has been refused, else nil.
func (n *Node) JoinErr() error {
	if e := n.refusals.err.Load(); e != nil {
		return e
	}
	return nil
}

// guarded reports whether id's address must not move to another one: the ring depends on
// it (id is a neighbour) and the node there is not known to be dead. A newcomer with a taken
// ID announces itself with that ID from its own address, and a hello is not proof of
// identity; taking it would send the neighbour's traffic to the newcomer, and to nowhere
// once the refused newcomer has gone. A neighbour that really moved has died at its old
// address first (or was left without its own repair anyway).
func (n *Node) guarded(id protocol.ID, old string) bool {
	if id != n.st.Left && id != n.st.Right {
		return false
	}
	p := n.peers[old]
	return p == nil || !p.isDead()
}

// claim remembers that addr says it listens for id, which the directory binds elsewhere.
func (n *Node) claim(id protocol.ID, addr string) {
	if n.refusals.claims == nil {
		n.refusals.claims = map[protocol.ID]string{}
	}
	switch {
	case n.refusals.claims[id] == addr:
	case id == n.id:
		// A newcomer hears of the ID's holder in its own refusal, which says so already.
		if n.st.Connected {
			n.log.Warn("another node claims this node's ID", "id", uint64(id), "claimed_at", addr)
		}
	default:
		n.log.Warn("another node claims a neighbour's ID; the neighbour keeps its address", "id", uint64(id),
			"claimed_at", addr, "kept", n.dir[id])
	}
	n.refusals.claims[id] = addr
}

// refusalAddr is where a join_refused for id goes: the address that claimed id, not the
// member the directory names. Without a claim the request came from id's own address (a
// late copy of a placed newcomer's request), which the directory has, unless id is this
// node's: nobody else then asked for it.
func (n *Node) refusalAddr(id protocol.ID) (string, bool) {
	if addr, ok := n.refusals.claims[id]; ok {
		delete(n.refusals.claims, id)
		return addr, true
	}
	if id == n.id {
		return "", false
	}
	addr, ok := n.dir[id]
	return addr, ok
}

// noteRefusal keeps what a join_refused frame says about the ID's holder until the protocol
// has taken the refusal in.
func (n *Node) noteRefusal(f *Frame) {
	if f.Msg.Type == protocol.JoinRefused && f.Msg.To == n.id {
		n.refusals.next = &IDTakenError{ID: n.id, HolderAddr: f.NeighbourAddr, By: f.From, ByAddr: f.Addr}
	}
}

// joinRefused reports the protocol's refusal of the node's own join.
func (n *Node) joinRefused() {
	e := n.refusals.next
	if e == nil {
		e = &IDTakenError{ID: n.id, By: protocol.None}
	}
	n.refusals.next = nil
	n.refusals.err.Store(e)
	n.emit(observe.KindFault, nil, e.Error())
	n.log.Error("join refused: the ID is taken", "id", uint64(n.id), "holder", e.HolderAddr,
		"refused_by", e.By.String(), "refused_by_addr", e.ByAddr)
	close(n.refusals.done())
}
