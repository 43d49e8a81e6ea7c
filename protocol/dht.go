package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The DHT layer makes the ring a distributed hash table. Keys hash onto the ring's ID space;
// the node responsible for a key is its successor, the first node at or clockwise after it,
// so a node owns the keys in (left, self]. Every variant embeds the same dht: routing,
// storage, routing shortcuts (fingers) and the requests a node started. The variants only
// decide when keys change hands, inside their own join handshake: the node whose left
// pointer moves to a newcomer hands the newcomer every key it no longer owns.
//
// Routing is Chord's: a node that does not own a key and whose right neighbour does not own
// it either forwards the request to the known node that most closely precedes the key
// (its right neighbour or a finger), so that every hop strictly shortens the clockwise
// distance that remains. A hop budget ends a request that still loops, as a broken ring can
// make it, with a reported failure. Fingers are learnt only from lookup replies: a periodic
// timer looks up id+2^i for one level i at a time.

// Size limits of keys and values; requests beyond them are refused.
const (
	MaxKeyLen   = 255
	MaxValueLen = 4096
)

// Defaults for the Config fields of the DHT left zero.
const (
	DefaultHopBudget = 256
	DefaultOpTimeout = int64(2e9) // 2 s
	// maxHeld bounds the requests a node keeps while its own join is still in flight.
	maxHeld = 1024
)

// Errors of Request. The drivers hand them to the client that asked.
var (
	ErrKeyTooLong   = fmt.Errorf("key longer than %d bytes", MaxKeyLen)
	ErrEmptyKey     = errors.New("empty key")
	ErrValueTooLong = fmt.Errorf("value longer than %d bytes", MaxValueLen)
	ErrBadOp        = errors.New("unknown operation")
)

// KeyID hashes a key onto the ring: the first 64 bits of its SHA-256, big-endian, truncated
// to the ring's width.
func KeyID(r Ring, key string) ID {
	sum := sha256.Sum256([]byte(key))
	return ID(binary.BigEndian.Uint64(sum[:8]) >> (64 - r.Bits))
}

// OpKind names a client operation.
type OpKind uint8

// Operations a client may request.
const (
	OpLookup OpKind = iota + 1 // which node is responsible for the key
	OpGet                      // the key's value
	OpPut                      // store a value under the key
	opFinger                   // internal: refresh one routing shortcut
)

var opKindNames = [...]string{OpLookup: "lookup", OpGet: "get", OpPut: "put", opFinger: "finger"}

func (k OpKind) String() string {
	if int(k) < len(opKindNames) && opKindNames[k] != "" {
		return opKindNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// ParseOpKind is the inverse of OpKind.String for the client operations.
func ParseOpKind(s string) (OpKind, error) {
	for k := OpLookup; k <= OpPut; k++ {
		if opKindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w %q (known: lookup, get, put)", ErrBadOp, s)
}

// OpStatus is how an operation ended.
type OpStatus uint8

// Operation results.
const (
	StatusOK          OpStatus = iota + 1
	StatusNotFound             // get: the responsible node has no value for the key
	StatusHopBudget            // routing took more hops than the budget allows
	StatusTimeout              // no answer within the operation timeout
	StatusUnavailable          // the node asked is not in the ring (yet, or any more)
	numStatuses
)

var statusNames = [...]string{StatusOK: "ok", StatusNotFound: "not_found", StatusHopBudget: "hop_budget",
	StatusTimeout: "timeout", StatusUnavailable: "unavailable"}

func (s OpStatus) String() string {
	if s > 0 && s < numStatuses {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Item is one stored key.
type Item struct {
	ID    ID // KeyID of Key
	Key   string
	Value []byte
}

// Data is what an operation or a handoff carries besides IDs. It is never changed once sent.
type Data struct {
	Key      string
	Value    []byte
	Items    []Item // keys handed over to a newcomer or a successor; copies down the chain
	Replicas []Item // replicas handed over with them
	Succs    []ID   // repair: the sender's successor list, nearest first
}

// Request is an operation a client asks a node to carry out. Op is the client's number for
// it; it comes back in the OpResult. Numbers with the top bit set are the node's own.
type Request struct {
	Kind  OpKind
	Op    uint64
	Key   string
	Value []byte
}

// Validate checks the request against the size limits.
func (r *Request) Validate() error {
	switch {
	case r.Kind < OpLookup || r.Kind > OpPut:
		return ErrBadOp
	case r.Key == "":
		return ErrEmptyKey
	case len(r.Key) > MaxKeyLen:
		return ErrKeyTooLong
	case len(r.Value) > MaxValueLen:
		return ErrValueTooLong
	case r.Op&internalOp != 0:
		return fmt.Errorf("operation number %#x has the top bit set, which is reserved", r.Op)
	}
	return nil
}

// OpResult is the end of an operation, reported by the node that started it.
type OpResult struct {
	Kind   OpKind
	Op     uint64
	Key    string
	KeyID  ID
	Status OpStatus
	Owner  ID // the node that answered as responsible (lookups: the answer)
	Hops   int
	Value  []byte
}

// DHT is implemented by every variant: the key-value side of a node.
type DHT interface {
	// Boot arms the node's maintenance timers; drivers call it once, when the node starts.
	Boot(out *Output)
	// Request starts a client operation at this node. Its end comes as a Done action,
	// possibly from this very call.
	Request(r Request, out *Output) error
	// Items returns the stored keys sorted by (ID, Key). Observers must not change them.
	Items() []Item
	// Fingers returns the routing shortcuts, nearest first (the right neighbour excluded).
	Fingers() []ID
	// Replicas returns the copies kept for predecessors, sorted by (ID, Key).
	Replicas() []Item
}

const (
	internalOp = uint64(1) << 63
	// Timer kinds of the DHT layer, apart from the variants' own.
	timerFinger uint8 = 16
	timerOp     uint8 = 17
)

// IsJoinTimer reports whether t belongs to the join protocol rather than to the DHT layer,
// so that a driver can tell when joins have gone quiet while operations go on.
// The repair variant's stabilization and probe timers are neither: they are the variant's own
// maintenance, which never ends by itself, so they do not count as join timers.
func IsJoinTimer(t Timer) bool {
	return t.Kind < timerFinger && t.Kind != timerStab && t.Kind != timerProbe
}

// isDHTTimer reports whether t is one of the DHT layer's timers, which the host handles.
func isDHTTimer(t Timer) bool { return t.Kind == timerFinger || t.Kind == timerOp }

type pendingOp struct {
	kind  OpKind
	key   string
	keyID ID
	level uint8
}

// dht is the key-value side every variant embeds. Its state is allocated on first use, so
// that a ring without DHT traffic costs one pointer per node.
type dht struct {
	s    *dhtState
	ring Ring
	// fresh stands for the fingers of a member that has no state yet; self is the node's ID,
	// which the fresh fingers are relative to.
	fresh *FreshFingers
	self  ID
	// fingerJoins routes join requests by fingers; hops is what the join request being
	// handled had taken when it arrived.
	hops        uint16
	fingerJoins bool
	// dropDeadFingers: a finger lookup that times out drops the finger it would go through
	// now, presumed dead, rather than leaving it to misroute until a lookup succeeds.
	dropDeadFingers bool
}

// dhtState is a node's key-value state.
type dhtState struct {
	ring     Ring
	fingers  []ID   // known nodes by clockwise distance from the node, nearest first
	items    []Item // sorted by (ID, Key)
	pending  map[uint64]pendingOp
	held     []Message // operations that arrived before the node was in the ring
	nextOp   uint64
	level    uint8 // next finger level to refresh
	period   int64
	timeout  int64
	budget   int
	outbox   *Data // the last handoff, kept so that a retransmission carries it again
	outboxTo ID

	replicate int    // copies kept on the next successors
	replicas  []Item // copies of predecessors' keys, sorted by (ID, Key); never served
}

// view is what the dht needs of the node around it.
type view struct {
	id, left, right ID
	joined          bool // in the ring: it may own keys and route
	gone            bool // leaving with its keys handed over, or departed: forward everything right
	// rightLeaving: the right neighbour is being taken out through this node, so its range
	// is about to move on: a lookup goes there rather than being answered with it.
	rightLeaving bool
}

func newDHT(c Config) dht {
	d := dht{ring: c.Ring, fresh: c.FreshFingers, self: c.ID, fingerJoins: c.FingerJoins}
	if c.FingerPeriod != 0 || c.HopBudget != 0 || c.OpTimeout != 0 || len(c.Fingers) > 0 || len(c.Items) > 0 ||
		c.Replicas != 0 || len(c.ReplicaItems) > 0 {
		d.s = newDHTState(c)
	}
	return d
}

// st returns the state, creating it with the defaults the first time.
func (d *dht) st() *dhtState {
	if d.s == nil {
		c := Config{ID: d.self, Ring: d.ring}
		if d.fresh != nil {
			c.Fingers = d.fresh.Fingers(d.self)
		}
		d.s = newDHTState(c)
	}
	return d.s
}

// kv gives a host the dht its machine embeds.
func (d *dht) kv() *dht { return d }

func (d *dht) Items() []Item {
	if d.s == nil {
		return nil
	}
	return d.s.items
}

func (d *dht) Fingers() []ID {
	if d.s == nil {
		if d.fresh != nil {
			return d.fresh.Fingers(d.self)
		}
		return nil
	}
	return d.s.fingers
}

func (d *dht) handoff(self, newLeft ID) *Data {
	if d.s == nil {
		return nil
	}
	return d.s.handoff(self, newLeft)
}

// keepOutbox remembers data handed to to, so that a retransmission carries it again.
func (d *dht) keepOutbox(data *Data, to ID) {
	if d.s != nil {
		d.s.outbox, d.s.outboxTo = data, to
	}
}

func (d *dht) takeAll() *Data {
	if d.s == nil {
		return nil
	}
	return d.s.takeAll()
}

// Outbox returns the keys of the node's last handoff, kept so that a retransmission carries
// them again (predlock-retry); nil when there are none. Observers must not change them.
func (d *dht) Outbox() []Item {
	if d.s == nil || d.s.outbox == nil {
		return nil
	}
	return d.s.outbox.Items
}

// Replicas returns the copies this node keeps for its predecessors, sorted by (ID, Key).
func (d *dht) Replicas() []Item {
	if d.s == nil {
		return nil
	}
	return d.s.replicas
}

// settle follows the acceptance of a leaver's keys: every range the leaver held a copy of,
// and its own, now needs one more successor further down, so the next Replicas successors
// get copies of all of it (some of which they already hold).
func (d *dht) settle(v view, data *Data, out *Output) {
	if d.s != nil && data != nil {
		d.s.spread(v, v.id, v.id, slices.Concat(data.Items, data.Replicas), 0, out)
	}
}

func (d *dht) resend(newLeft ID) *Data {
	if d.s == nil {
		return nil
	}
	return d.s.resend(newLeft)
}

func (d *dht) accept(data *Data) {
	if data != nil {
		d.st().accept(data)
	}
}

func (d *dht) joined(v view, out *Output) {
	if d.s != nil {
		d.s.joined(v, out)
	}
}

func (d *dht) abandon(v view, out *Output) {
	if d.s != nil {
		d.s.abandon(v, out)
	}
}

func (d *dht) boot(v view, out *Output) { d.st().boot(v, out) }

// restart re-arms the DHT's timers after a crash: finger refresh, and the timeout of every
// operation still waiting for its answer (in operation order, so a run stays reproducible).
func (d *dht) restart(v view, out *Output) {
	if d.s == nil {
		return
	}
	d.s.boot(v, out)
	if d.s.timeout <= 0 {
		return
	}
	ops := slices.Sorted(maps.Keys(d.s.pending))
	for _, op := range ops {
		out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerOp, Tag: op, After: d.s.timeout}})
	}
}

func (d *dht) start(v view, r Request, out *Output) error { return d.st().start(v, r, out) }

func (d *dht) fire(v view, t Timer, out *Output) bool {
	if d.s == nil {
		return false
	}
	if d.dropDeadFingers && t.Kind == timerOp && v.joined {
		if p, ok := d.s.pending[t.Tag]; ok && p.kind == opFinger {
			if f := d.s.closest(v, p.keyID); f != v.right {
				d.forgetFinger(f)
			}
		}
	}
	return d.s.fire(v, t, out)
}

func (d *dht) step(v view, m *Message, out *Output) bool {
	if !IsDHTMessage(m.Type) {
		return false
	}
	return d.st().step(v, m, out)
}

func (d *dht) clone() dht {
	c := *d
	if d.s != nil {
		c.s = d.s.clone()
	}
	return c
}

func (d *dht) appendKey(b []byte) []byte {
	if d.s == nil {
		return append(b, 0xfc)
	}
	return d.s.appendKey(b)
}

func newDHTState(c Config) *dhtState {
	d := &dhtState{ring: c.Ring, period: c.FingerPeriod, timeout: c.OpTimeout, budget: c.HopBudget, outboxTo: None,
		replicate: c.Replicas}
	if d.timeout == 0 {
		d.timeout = DefaultOpTimeout
	}
	if d.budget <= 0 {
		d.budget = DefaultHopBudget
	}
	for _, f := range c.Fingers {
		d.learn(c.ID, f)
	}
	if len(c.Items) > 0 {
		d.items = slices.Clone(c.Items)
		slices.SortFunc(d.items, CompareItems)
	}
	if len(c.ReplicaItems) > 0 {
		d.replicas = slices.Clone(c.ReplicaItems)
		slices.SortFunc(d.replicas, CompareItems)
	}
	return d
}

// CompareItems orders items by (ID, Key), the order of Items and Replicas.
func CompareItems(a, b Item) int {
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return strings.Compare(a.Key, b.Key)
}

func (d *dhtState) find(id ID, key string) (int, bool) {
	return slices.BinarySearchFunc(d.items, Item{ID: id, Key: key}, CompareItems)
}

func (d *dhtState) store(it Item) { d.items = putItem(d.items, it) }

func putItem(items []Item, it Item) []Item {
	i, ok := slices.BinarySearchFunc(items, it, CompareItems)
	if ok {
		items[i] = it
		return items
	}
	return slices.Insert(items, i, it)
}

func dropItem(items []Item, it Item) []Item {
	if i, ok := slices.BinarySearchFunc(items, it, CompareItems); ok {
		return slices.Delete(items, i, i+1)
	}
	return items
}

// handoff removes every stored key the node no longer owns once its left neighbour is
// newLeft (those outside (newLeft, self]) and returns them for the newcomer; nil when nothing
// moves. With replication the node keeps them as replicas (it is the newcomer's first
// successor) and the newcomer also gets a copy of its replicas, which cover the ranges of
// the newcomer's predecessors.
func (d *dhtState) handoff(self, newLeft ID) *Data {
	var gone []Item
	kept := d.items[:0]
	for _, it := range d.items {
		if it.ID == self || d.ring.Between(newLeft, it.ID, self) {
			kept = append(kept, it)
		} else {
			gone = append(gone, it)
		}
	}
	clear(d.items[len(kept):])
	d.items = kept
	var data *Data
	if len(gone) > 0 || (d.replicate > 0 && len(d.replicas) > 0) {
		data = &Data{Items: gone}
		if d.replicate > 0 {
			data.Replicas = slices.Clone(d.replicas)
			for _, it := range gone {
				d.replicas = putItem(d.replicas, it)
			}
		}
	}
	d.outbox, d.outboxTo = data, newLeft
	return data
}

// takeAll removes every stored key and replica, for a node that leaves.
func (d *dhtState) takeAll() *Data {
	if len(d.items) == 0 && len(d.replicas) == 0 {
		return nil
	}
	data := &Data{Items: d.items, Replicas: d.replicas}
	d.items, d.replicas = nil, nil
	return data
}

// resend is the data of a handoff to newLeft made earlier, for a retransmitted message.
func (d *dhtState) resend(newLeft ID) *Data {
	if d.outboxTo != newLeft {
		return nil
	}
	return d.outbox
}

// accept stores keys handed over by a neighbour: its primaries become ours, and its
// replicas ours too except where we are now the owner.
func (d *dhtState) accept(data *Data) {
	for _, it := range data.Items {
		d.store(it)
		d.replicas = dropItem(d.replicas, it)
	}
	if d.replicate == 0 {
		return
	}
	for _, it := range data.Replicas {
		if _, own := d.find(it.ID, it.Key); !own {
			d.replicas = putItem(d.replicas, it)
		}
	}
}

// spread sends copies of items down the successor chain from v: the next replicate nodes
// hold them. depth is how many successors already do; prev (carried as Neighbour) is the
// last node of the chain that holds them, which a leaving node passing them on is not.
func (d *dhtState) spread(v view, owner, prev ID, items []Item, depth int, out *Output) {
	if d.replicate <= depth || len(items) == 0 || v.right == None || v.right == v.id || v.right == owner {
		return
	}
	out.send(Message{Type: KeyReplica, From: v.id, To: v.right, Joiner: owner, Neighbour: prev,
		Hops: uint16(depth + 1), Data: &Data{Items: items}})
}

// replica stores copies sent down the successor chain and passes them on.
func (d *dhtState) replica(v view, m *Message, out *Output) {
	prev := m.Neighbour
	if prev == None {
		prev = m.From
	}
	if v.gone {
		// Leaving: not a successor any more. Pass the copies on without counting this node.
		d.spread(v, m.Joiner, prev, m.Data.Items, int(m.Hops)-1, out)
		return
	}
	depth := int(m.Hops)
	if m.Status == 0 && v.left != None && v.left != prev && d.ring.Between(prev, v.left, v.id) {
		// A newcomer joined between the previous holder and us while the copies travelled:
		// it takes our place in the chain (and may have missed them in its handoff), we the
		// next one.
		out.send(Message{Type: KeyReplica, From: v.id, To: v.left, Joiner: m.Joiner, Neighbour: prev,
			Hops: m.Hops, Status: replicaNoSpread, Data: m.Data})
		depth++
	}
	for _, it := range m.Data.Items {
		if _, own := d.find(it.ID, it.Key); !own {
			d.replicas = putItem(d.replicas, it)
		}
	}
	if m.Status != replicaNoSpread {
		d.spread(v, m.Joiner, v.id, m.Data.Items, depth, out)
	}
}

// replicaNoSpread marks copies for a node placed in the chain behind the sender's back: it
// keeps them and passes nothing on (the sender goes on down the chain).
const replicaNoSpread = 1

// learn adds a node to the fingers, keeping them ordered by distance.
func (d *dhtState) learn(self, f ID) {
	if f == self || f == None {
		return
	}
	dist := d.ring.Distance(self, f)
	i, found := slices.BinarySearchFunc(d.fingers, dist, func(x ID, t uint64) int {
		dx := d.ring.Distance(self, x)
		switch {
		case dx < t:
			return -1
		case dx > t:
			return 1
		}
		return 0
	})
	if !found {
		d.fingers = slices.Insert(d.fingers, i, f)
	}
}

// forgetFinger drops a node its host has presumed dead, so that routing stops sending
// requests to it before a finger lookup would correct it.
func (d *dht) forgetFinger(id ID) {
	if !slices.Contains(d.Fingers(), id) {
		return
	}
	s := d.st()
	s.fingers = slices.DeleteFunc(s.fingers, func(x ID) bool { return x == id })
}

// correct applies a finger lookup's answer: the first node at or after target is owner, so
// every finger in [target, owner) is gone from the ring.
func (d *dhtState) correct(self, target, owner ID) {
	lo, hi := d.ring.Distance(self, target), d.ring.Distance(self, owner)
	if owner == self {
		hi = d.ring.Size()
	}
	d.fingers = slices.DeleteFunc(d.fingers, func(x ID) bool {
		dx := d.ring.Distance(self, x)
		return dx >= lo && dx < hi
	})
	d.learn(self, owner)
}

// closest is the known node that most closely precedes x: the right neighbour or a finger,
// whichever lies furthest along the way from self to x without reaching it.
func (d *dhtState) closest(v view, x ID) ID {
	want := d.ring.Distance(v.id, x)
	best, bestDist := v.right, d.ring.Distance(v.id, v.right)
	// fingers are ordered by distance: the last one before x is the best.
	i, _ := slices.BinarySearchFunc(d.fingers, want, func(f ID, t uint64) int {
		if d.ring.Distance(v.id, f) < t {
			return -1
		}
		return 1
	})
	if i > 0 {
		if f := d.fingers[i-1]; d.ring.Distance(v.id, f) > bestDist {
			best = f
		}
	}
	return best
}

func (d *dhtState) owns(v view, x ID) bool {
	return x == v.id || v.left == v.id || (v.left != None && d.ring.Between(v.left, x, v.id))
}

func (d *dhtState) done(out *Output, r *OpResult) {
	out.Actions = append(out.Actions, Action{Kind: Done, Result: r})
}

func (d *dhtState) reply(v view, m *Message, st OpStatus, owner ID, data *Data, out *Output) {
	out.send(Message{Type: KeyReply, From: v.id, To: m.Joiner, Joiner: m.Joiner, Neighbour: owner,
		Key: m.Key, Op: m.Op, Hops: m.Hops, Status: uint8(st), Data: data})
}

func (d *dhtState) forward(v view, m Message, to ID, out *Output) {
	if int(m.Hops) >= d.budget {
		d.reply(v, &m, StatusHopBudget, None, nil, out)
		return
	}
	m.From, m.To = v.id, to
	m.Hops++
	out.send(m)
}

// route handles a lookup, get or put that reached this node.
func (d *dhtState) route(v view, m Message, out *Output) {
	if v.gone && v.right != None && v.right != v.id {
		d.forward(v, m, v.right, out)
		return
	}
	if !v.joined {
		if len(d.held) < maxHeld {
			d.held = append(d.held, m)
		} else {
			d.reply(v, &m, StatusUnavailable, None, nil, out)
		}
		return
	}
	x := m.Key
	if d.owns(v, x) {
		d.serve(v, &m, out)
		return
	}
	if x == v.right || d.ring.Between(v.id, x, v.right) {
		if m.Type == KeyLookup && !v.rightLeaving {
			d.reply(v, &m, StatusOK, v.right, nil, out)
			return
		}
		d.forward(v, m, v.right, out)
		return
	}
	d.forward(v, m, d.closest(v, x), out)
}

// serve answers an operation for a key this node owns.
func (d *dhtState) serve(v view, m *Message, out *Output) {
	switch m.Type {
	case KeyLookup:
		d.reply(v, m, StatusOK, v.id, nil, out)
	case KeyGet:
		i, ok := d.find(m.Key, m.Data.Key)
		if !ok {
			d.reply(v, m, StatusNotFound, v.id, nil, out)
			return
		}
		d.reply(v, m, StatusOK, v.id, &Data{Key: m.Data.Key, Value: d.items[i].Value}, out)
	case KeyPut:
		it := Item{ID: m.Key, Key: m.Data.Key, Value: m.Data.Value}
		d.store(it)
		d.reply(v, m, StatusOK, v.id, nil, out)
		d.spread(v, v.id, v.id, []Item{it}, 0, out)
	}
}

// joined lets the operations held during the node's join go on.
func (d *dhtState) joined(v view, out *Output) {
	held := d.held
	d.held = nil
	for _, m := range held {
		d.route(v, m, out)
	}
}

// abandon answers the held operations when the node gives its join up.
func (d *dhtState) abandon(v view, out *Output) {
	for i := range d.held {
		d.reply(v, &d.held[i], StatusUnavailable, None, nil, out)
	}
	d.held = nil
}

func (d *dhtState) boot(v view, out *Output) {
	if d.period <= 0 {
		return
	}
	// Spread the first refreshes over a period by ID, so that a ring started at once does
	// not refresh in lockstep.
	first := d.period/2 + int64(uint64(v.id)*0x9E3779B97F4A7C15>>33)%d.period
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerFinger, After: first, Background: true}})
}

func (d *dhtState) start(v view, r Request, out *Output) error {
	if err := r.Validate(); err != nil {
		return err
	}
	keyID := KeyID(d.ring, r.Key)
	if !v.joined {
		d.done(out, &OpResult{Kind: r.Kind, Op: r.Op, Key: r.Key, KeyID: keyID, Status: StatusUnavailable, Owner: None})
		return nil
	}
	d.begin(v, pendingOp{kind: r.Kind, key: r.Key, keyID: keyID}, r.Op, r.Value, out)
	return nil
}

// begin records an operation this node starts and routes it from here.
func (d *dhtState) begin(v view, p pendingOp, op uint64, value []byte, out *Output) {
	if d.pending == nil {
		d.pending = make(map[uint64]pendingOp)
	}
	d.pending[op] = p
	if d.timeout > 0 {
		out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerOp, Tag: op, After: d.timeout}})
	}
	m := Message{From: v.id, To: v.id, Joiner: v.id, Neighbour: None, Key: p.keyID, Op: op}
	switch p.kind {
	case OpLookup, opFinger:
		m.Type = KeyLookup
	case OpGet:
		m.Type, m.Data = KeyGet, &Data{Key: p.key}
	case OpPut:
		m.Type, m.Data = KeyPut, &Data{Key: p.key, Value: value}
	}
	d.route(v, m, out)
}

// answer handles a KeyReply at the node that started the operation.
func (d *dhtState) answer(v view, m *Message, out *Output) {
	p, ok := d.pending[m.Op]
	if !ok {
		return // answered already, or timed out
	}
	delete(d.pending, m.Op)
	st := OpStatus(m.Status)
	if p.kind == opFinger {
		if st == StatusOK {
			d.correct(v.id, p.keyID, m.Neighbour)
			// Every level up to the owner's distance has the same finger: skip them.
			for int(d.level) < int(d.ring.Bits) && uint64(1)<<d.level <= d.ring.Distance(v.id, m.Neighbour) && m.Neighbour != v.id {
				d.level++
			}
		}
		return
	}
	r := &OpResult{Kind: p.kind, Op: m.Op, Key: p.key, KeyID: p.keyID, Status: st, Owner: m.Neighbour, Hops: int(m.Hops)}
	if m.Data != nil {
		r.Value = m.Data.Value
	}
	d.done(out, r)
}

// fire handles the DHT's timers; it reports whether the timer was one of them.
func (d *dhtState) fire(v view, t Timer, out *Output) bool {
	switch t.Kind {
	case timerOp:
		p, ok := d.pending[t.Tag]
		if !ok {
			return true
		}
		delete(d.pending, t.Tag)
		if p.kind != opFinger {
			d.done(out, &OpResult{Kind: p.kind, Op: t.Tag, Key: p.key, KeyID: p.keyID, Status: StatusTimeout, Owner: None})
		}
		return true
	case timerFinger:
		if v.joined && v.right != None && v.right != v.id {
			d.refresh(v, out)
		}
		out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerFinger, After: d.period, Background: true}})
		return true
	}
	return false
}

// refresh looks up the next finger level whose target lies beyond the right neighbour.
func (d *dhtState) refresh(v view, out *Output) {
	bits := uint8(d.ring.Bits)
	near := d.ring.Distance(v.id, v.right)
	for d.level < bits && uint64(1)<<d.level <= near {
		d.level++
	}
	if d.level >= bits {
		d.level = 0 // a round is complete; the next firing starts the next one
		return
	}
	target := ID((uint64(v.id) + uint64(1)<<d.level) & (d.ring.Size() - 1))
	d.nextOp++
	d.begin(v, pendingOp{kind: opFinger, keyID: target, level: d.level}, internalOp|d.nextOp, nil, out)
	d.level++
}

// step handles the DHT's messages; it reports whether the message was one of them.
func (d *dhtState) step(v view, m *Message, out *Output) bool {
	switch m.Type {
	case KeyLookup:
		d.route(v, *m, out)
	case KeyGet, KeyPut:
		if m.Data == nil {
			return true // malformed: nothing to serve
		}
		d.route(v, *m, out)
	case KeyReply:
		d.answer(v, m, out)
	case KeyReplica:
		if m.Data != nil {
			d.replica(v, m, out)
		}
	default:
		return false
	}
	return true
}

func (d *dhtState) clone() *dhtState {
	c := *d
	c.fingers = slices.Clone(d.fingers)
	c.items = slices.Clone(d.items)
	c.replicas = slices.Clone(d.replicas)
	c.held = slices.Clone(d.held)
	if d.pending != nil {
		c.pending = make(map[uint64]pendingOp, len(d.pending))
		for k, p := range d.pending {
			c.pending[k] = p
		}
	}
	return &c
}

func (d *dhtState) appendKey(b []byte) []byte {
	for _, f := range d.fingers {
		b = appendID(b, f)
	}
	b = append(b, 0xfe)
	for _, it := range append(slices.Clip(d.items), d.replicas...) {
		b = appendID(b, it.ID)
		b = append(b, it.Key...)
		b = append(b, 0)
		b = append(b, it.Value...)
		b = append(b, 0)
	}
	return append(b, 0xfd, d.level, byte(len(d.held)), byte(len(d.pending)))
}
