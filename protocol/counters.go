package protocol

// Counters in a node's key. predlock-retry numbers its insertions (retryNode.onum, echoed by
// Message.Op, kept in wop and undone) and its timers (the epochs, echoed by Timer.Tag). Such
// numbers only tell stale from live: the protocol compares them for equality and order and
// makes new ones by counting up, never reads them as quantities. So two states that differ
// only in how many insertions or timers came before behave alike, yet their keys differ. An
// exhaustive search that renumbers the counters before hashing treats them as one state.
//
// Renumbering by rank is sound when every value of a family in a state is at most the
// counter it was copied from and only that counter grows (a new value is then above every
// other), and when the protocol only compares values of one family:
//   - An epoch is a family of its own for each node and timer kind: the node's epoch and the
//     tags of that node's armed timers of that kind, all copies of the epoch when the timer
//     was armed, compared with it only for equality.
//   - Insertion numbers form one family for the whole state. Each is the number of one
//     owner's welcome; the protocol compares two only when both come from one owner (every
//     comparison is guarded by the message's sender or addressee being the owner, or, for
//     a connected newcomer's wop against a left_set, by that newcomer's only committed
//     insertion). Ranking over the union keeps every order and equality among the values
//     present; a new number, one owner's onum plus one, is above every other number of that
//     owner, and its relation to other owners' numbers is never consulted.
// What is a quantity stays as it is: the time a join has waited (jspent), try counts and
// timer delays.

// CounterFamily names a kind of counter in a node's key.
type CounterFamily uint8

// Counter families.
const (
	// FamilyOp is the insertion number (Message.Op of the join messages): one family across
	// all nodes of a state.
	FamilyOp CounterFamily = iota + 1
	// FamilyJoinEpoch, FamilyOwnerEpoch and FamilyLeaveEpoch are the epochs of a node's join,
	// owner and leave timers: one family per node, with the tags of its armed timers.
	FamilyJoinEpoch
	FamilyOwnerEpoch
	FamilyLeaveEpoch
)

// PerNode reports whether the family's values are renumbered per node (epochs) rather than
// across the state.
func (f CounterFamily) PerNode() bool { return f != FamilyOp }

// CounterKeyer is implemented by every Node; ok reports whether the node's variant exposes
// its counters (predlock-retry does; the others, repair included, keep the plain key).
type CounterKeyer interface {
	// AppendCounterKey appends AppendKey's encoding with every counter v of family f
	// replaced by canon(f, v).
	AppendCounterKey(b []byte, canon func(f CounterFamily, v uint64) uint64) (key []byte, ok bool)
	// TimerFamily returns the family of a timer's tag, if the tag is a counter.
	TimerFamily(t Timer) (CounterFamily, bool)
	// OpFamily returns the family of m.Op, if it is a counter.
	OpFamily(m Message) (CounterFamily, bool)
}

// counterMachine is a machine whose key exposes its counters.
type counterMachine interface {
	appendKeyWith(b []byte, canon func(CounterFamily, uint64) uint64) []byte
	timerFamily(t Timer) (CounterFamily, bool)
	opFamily(m Message) (CounterFamily, bool)
}

// counters returns the machine's counters, only for variants that define them themselves: a
// variant that embeds one (repair embeds predlock-retry) has more state in its key.
func (h *host[M, P]) counters() (counterMachine, bool) {
	switch m := any(h.mc()).(type) {
	case *retryNode:
		return m, true
	}
	return nil, false
}

func (h *host[M, P]) AppendCounterKey(b []byte, canon func(CounterFamily, uint64) uint64) ([]byte, bool) {
	c, ok := h.counters()
	if !ok {
		return h.AppendKey(b), false
	}
	return c.appendKeyWith(b, canon), true
}

func (h *host[M, P]) TimerFamily(t Timer) (CounterFamily, bool) {
	if c, ok := h.counters(); ok && !isDHTTimer(t) {
		return c.timerFamily(t)
	}
	return 0, false
}

func (h *host[M, P]) OpFamily(m Message) (CounterFamily, bool) {
	if c, ok := h.counters(); ok && !IsDHTMessage(m.Type) {
		return c.opFamily(m)
	}
	return 0, false
}

func (n *retryNode) timerFamily(t Timer) (CounterFamily, bool) {
	switch t.Kind {
	case timerJoin:
		return FamilyJoinEpoch, true
	case timerOwner:
		return FamilyOwnerEpoch, true
	case timerLeave:
		return FamilyLeaveEpoch, true
	}
	return 0, false
}

// opFamily: the messages of one insertion carry its number; the others leave Op zero.
func (n *retryNode) opFamily(m Message) (CounterFamily, bool) {
	switch m.Type {
	case Welcome, WelcomeAck, WelcomeNack, SetLeft, LeftSet, SuccessJoin, Abort, Aborted, Unlink, Unlinked:
		return FamilyOp, true
	}
	return 0, false
}

var _ CounterKeyer = (*host[retryNode, *retryNode])(nil)
