package protocol

// requestQueue is a node's FIFO of joiners whose requests wait for service. Popping advances
// a head index and the storage is reused once the queue drains, so serving requests does not
// allocate in the steady state.
type requestQueue struct {
	ids  []ID
	head int
}

func (q *requestQueue) Len() int { return len(q.ids) - q.head }

func (q *requestQueue) push(k ID) {
	if q.head > 0 && q.head == len(q.ids) {
		q.ids, q.head = q.ids[:0], 0
	}
	q.ids = append(q.ids, k)
}

// pop removes the first joiner; the queue must not be empty.
func (q *requestQueue) pop() ID {
	k := q.ids[q.head]
	q.head++
	return k
}

func (q *requestQueue) contains(k ID) bool {
	for _, x := range q.ids[q.head:] {
		if x == k {
			return true
		}
	}
	return false
}

// drain empties the queue and returns what it held (valid until the next push).
func (q *requestQueue) drain() []ID {
	rest := q.ids[q.head:]
	q.ids, q.head = q.ids[:0], 0
	return rest
}

func (q requestQueue) clone() requestQueue {
	return requestQueue{ids: append([]ID(nil), q.ids[q.head:]...)}
}

func (q *requestQueue) appendKey(b []byte) []byte {
	for _, k := range q.ids[q.head:] {
		b = appendID(b, k)
	}
	return append(b, 0xff)
}

// peer is the state every variant shares: the node's ID, its neighbours, its contact, its
// queue of join requests and its DHT side. A variant embeds it and adds its own join state.
type peer struct {
	id, left, right ID
	contact         ID
	queue           requestQueue // joiners whose requests await service
	dht
}

func newPeer(c Config) peer {
	p := peer{id: c.ID, left: None, right: None, contact: c.Contact, dht: newDHT(c)}
	if c.Member {
		p.left, p.right = c.Left, c.Right
	}
	return p
}

func (p *peer) requests() *requestQueue { return &p.queue }

// ownPeer is called on a shallow copy: it takes private copies of the queue and the DHT
// state, which the copy would otherwise share with the original.
func (p *peer) ownPeer() {
	p.queue = p.queue.clone()
	p.dht = p.dht.clone()
}

// lockNode is the state the seed and predlock variants share: a peer and its join flags.
type lockNode struct {
	peer
	connected bool
	waiting   bool
	locked    bool
	refused   bool // its own join was refused: its ID is taken
}

func newLockNode(c Config) lockNode {
	return lockNode{peer: newPeer(c), connected: c.Member}
}

func (n *lockNode) State() (st State) {
	n.stateTo(&st)
	return st
}

// stateTo writes State into *st field by field, as the Stepper wants it (machine.stateTo).
// The flags are copied one at a time, with other stores between them: copied in a row, the
// compiler loads neighbouring flags as one wider word, and that load waits for the separate
// byte stores the step has just made to them (a failed store forward), as long as the rest
// of stateTo takes.
func (n *lockNode) stateTo(st *State) {
	st.ID, st.Left, st.Right = n.id, n.left, n.right
	st.Connected = n.connected
	st.Failed = n.refused
	st.Waiting = n.waiting
	st.Refused = n.refused
	st.Locked = n.locked
	st.Leaving, st.Departed, st.LeaveFailed = false, false, false
	st.Queue = n.queue.Len()
}

func (n *lockNode) WantsToJoin() bool { return !n.connected && !n.waiting && !n.refused }

// baseView is the view of the shared state. It is deliberately not named view: a variant
// must define its own view (the host calls it), and no method of lockNode can call one and
// so see less than the variant's.
func (n *lockNode) baseView() view {
	return view{id: n.id, left: n.left, right: n.right, joined: n.connected}
}

// ownLock takes private copies of the shared state's storage, for the variants' own. It is
// not named own so that every variant has to say what else it owns.
func (n *lockNode) ownLock() { n.ownPeer() }

// appendKey encodes the shared state, then the variant's own IDs, then the queue.
func (n *lockNode) appendKey(b []byte, own ...ID) []byte {
	for _, id := range append([]ID{n.id, n.left, n.right}, own...) {
		b = appendID(b, id)
	}
	b = appendBools(b, n.connected, n.waiting, n.locked, n.refused)
	return n.dht.appendKey(n.queue.appendKey(b))
}
