// Package protocol implements the DHT ring join protocol as pure state machines.
//
// A Node takes one input at a time (its own join starting, a message, a timer firing, or a
// request to serve its queue) and appends what it wants done to an Output: messages to send,
// idle periods and timers. It never touches a clock, a socket, a goroutine or a random source,
// so the simulator and the real TCP node drive the very same code, and a run is reproducible
// from its inputs alone. The etcd-io/raft RawNode is the model.
package protocol

import (
	"errors"
	"fmt"
	"sort"
)

// MsgType names a protocol message.
type MsgType uint8

// Message types. The first five are the original protocol's; later variants add their own.
const (
	Connect MsgType = iota + 1
	ConnectRedirect
	ChangeNeighbour
	NewNeighbour
	SuccessJoin
	Welcome      // predlock: the gap's owner offers the newcomer its place (Neighbour = successor)
	WelcomeAck   // predlock: the newcomer has both pointers set
	SetLeft      // predlock: the successor's new left neighbour is Neighbour
	LeftSet      // predlock: the successor has switched its left pointer
	Queued       // predlock-retry: the gap's owner holds the newcomer's request
	Poll         // predlock-retry: a newcomer asks its owner whether its request is still alive
	Unknown      // predlock-retry: the asked node does not hold the request
	WelcomeNack  // predlock-retry: the newcomer refuses a welcome (it is placed elsewhere or gave up)
	KeyLookup    // DHT: which node owns Key? routed hop by hop; Joiner is the node that asked
	KeyGet       // DHT: the value of Data.Key, routed to its owner
	KeyPut       // DHT: store Data.Value under Data.Key at its owner
	KeyReply     // DHT: the answer to Op, sent straight to the node that asked; Neighbour = owner
	LeaveAsk     // leave: a node asks its left neighbour to take it out (Neighbour = its right)
	LeaveGo      // leave: the left neighbour has locked its gap; hand the keys over
	LeaveRetry   // leave: the asked node is not (or no longer) the leaver's left neighbour
	LeaveKeys    // leave: the leaver's keys for its right neighbour (Neighbour = the new left)
	LeaveDone    // leave: the right neighbour has switched its left pointer (Neighbour = itself)
	LeaveBye     // leave: the left neighbour points past the leaver; it may go
	KeyReplica   // DHT: copies of keys for the owner's successors (Joiner = owner, Hops = depth)
	JoinRefused  // join: the newcomer's ID is in the ring already (Neighbour = that ID's member)
	Abort        // predlock-retry: a newcomer that gave up after accepting welcome Op asks its owner to unlink it
	Aborted      // predlock-retry: the owner's answer: nothing points at the newcomer for welcome Op any more
	Unlink       // predlock-retry: the owner tells the successor to take its left pointer back (Neighbour = owner)
	Unlinked     // predlock-retry: the successor points left at the owner again, with the keys it had handed over
	RepairAsk    // repair: are you alive, who are your predecessor and successors? Status 1: the sender takes the receiver as its successor (notify)
	RepairState  // repair: the answer; Neighbour = predecessor, Data.Succs = successor list, Status = repairMember|repairInRing
	RepairDigest // repair: the owner's digest (Op) of its keys in (Key, From], for one of its successors
	RepairSync   // repair: the successor's copies in (Key, To], its digest having differed
	RepairPush   // repair: the owner's keys in (Key, From]: the successor's copies of that range are exactly these
	numMsgTypes
)

var msgTypeNames = [...]string{
	Connect:         "connect",
	ConnectRedirect: "connect_redirect",
	ChangeNeighbour: "change_neighbour",
	NewNeighbour:    "new_neighbour",
	SuccessJoin:     "success_join",
	Welcome:         "welcome",
	WelcomeAck:      "welcome_ack",
	SetLeft:         "set_left",
	LeftSet:         "left_set",
	Queued:          "queued",
	Poll:            "poll",
	Unknown:         "unknown",
	WelcomeNack:     "welcome_nack",
	KeyLookup:       "lookup",
	KeyGet:          "get",
	KeyPut:          "put",
	KeyReply:        "key_reply",
	LeaveAsk:        "leave_ask",
	LeaveGo:         "leave_go",
	LeaveRetry:      "leave_retry",
	LeaveKeys:       "leave_keys",
	LeaveDone:       "leave_done",
	LeaveBye:        "leave_bye",
	KeyReplica:      "key_replica",
	JoinRefused:     "join_refused",
	Abort:           "abort",
	Aborted:         "aborted",
	Unlink:          "unlink",
	Unlinked:        "unlinked",
	RepairAsk:       "repair_ask",
	RepairState:     "repair_state",
	RepairDigest:    "repair_digest",
	RepairSync:      "repair_sync",
	RepairPush:      "repair_push",
}

// IsDHTMessage reports whether t is an operation of the DHT layer (lookup, get, put, their
// answer) rather than membership traffic (joins and leaves).
func IsDHTMessage(t MsgType) bool { return (t >= KeyLookup && t <= KeyReply) || t == KeyReplica }

func (t MsgType) String() string {
	if t > 0 && t < numMsgTypes {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("msg(%d)", uint8(t))
}

// ParseMsgType is the inverse of MsgType.String.
func ParseMsgType(s string) (MsgType, error) {
	for t := MsgType(1); t < numMsgTypes; t++ {
		if msgTypeNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown message type %q", s)
}

// Message is what nodes exchange. Joiner names the join the message belongs to, so that a
// driver can account messages and hops per join without understanding the protocol.
type Message struct {
	Type      MsgType
	Status    uint8  // OpReply: the OpStatus
	Hops      uint16 // DHT operations: forwards so far
	From, To  ID
	Joiner    ID     // the newcomer whose join this message serves; DHT: the node that asked
	Neighbour ID     // the ID carried by change_neighbour and new_neighbour; OpReply: the owner
	Key       ID     // DHT: the key's ID on the ring
	Op        uint64 // DHT: the operation's number at the node that asked; predlock-retry joins: the welcome's number at its owner
	Data      *Data  // DHT: key, value or handed-over keys; nil when there are none
}

// ActionKind says what a driver must do with an Action.
type ActionKind uint8

const (
	// Send asks the driver to deliver Msg to Msg.To.
	Send ActionKind = iota + 1
	// Idle asks the driver to keep the node busy for Units protocol time units before it
	// handles anything else. Only timing models that model a node's loop honour it.
	Idle
	// SetTimer asks the driver to call Fire with Timer after Timer.After nanoseconds.
	SetTimer
	// Done reports the end of a DHT operation this node started (Result).
	Done
)

// Timer is a protocol timer. Kind and Tag are the variant's own; the driver only stores them.
type Timer struct {
	Kind  uint8
	Tag   uint64
	After int64 // nanoseconds
	// Background marks maintenance that never ends by itself (finger refresh): a driver
	// winding a run down may drop such timers.
	Background bool
}

// Action is one thing a node wants done, in order.
type Action struct {
	Kind   ActionKind
	Msg    Message
	Units  int64
	Timer  Timer
	Result *OpResult
}

// Output collects a node's actions. Drivers reuse one Output across steps (Reset) so the
// steady path allocates nothing.
type Output struct {
	Actions []Action
}

// Reset empties the output, keeping its storage.
func (o *Output) Reset() { o.Actions = o.Actions[:0] }

func (o *Output) send(m Message) {
	a := o.add()
	a.Kind, a.Msg = Send, m
}

// sendNew appends the sending of a message with these fields and returns it, for the caller
// to set the rest in place. A message built first and then appended is copied twice, and the
// copies' wide loads wait for the narrow stores of its type and flags (a failed store
// forward): on the seed timing model's busiest path, a forwarded join request, that wait
// was most of the cost of sending.
func (o *Output) sendNew(t MsgType, from, to, joiner ID) *Message {
	a := o.add()
	a.Kind = Send
	m := &a.Msg
	m.Type, m.From, m.To, m.Joiner = t, from, to, joiner
	return m
}

func (o *Output) idle(units int64) {
	a := o.add()
	a.Kind, a.Units = Idle, units
}

// add appends a zero action and returns it, to be filled in place.
func (o *Output) add() *Action {
	k := len(o.Actions)
	if k < cap(o.Actions) {
		o.Actions = o.Actions[:k+1]
		o.Actions[k] = Action{}
	} else {
		o.Actions = append(o.Actions, Action{})
	}
	return &o.Actions[k]
}

// State is what a global observer may read of a node.
type State struct {
	ID          ID
	Left, Right ID
	Connected   bool // part of the ring: both neighbours known and the own join finished
	Waiting     bool // its own join is in flight
	Locked      bool // refuses to start serving another join request
	Queue       int  // pending join requests
	Failed      bool // gave up its own join and reported it (after bounded retries)
	Leaving     bool // asked to leave: its keys are handed over or on their way
	Departed    bool // has left the ring
	LeaveFailed bool // gave its leave up after bounded retries (it stays, or forwards if its keys are gone)
	Refused     bool // its join was refused because its ID is taken (Failed is set too)
}

// ErrMissingNeighbour is returned when a handler needs a neighbour the node does not have.
// The original program crashed there; drivers end the run as a failure.
var ErrMissingNeighbour = errors.New("handler needs a neighbour the node does not have")

// ErrNoLeave is returned by Leave for variants that have no leave exchange, and for nodes that
// are not in the ring.
var ErrNoLeave = errors.New("this node cannot leave gracefully (variant without a leave exchange, or not in the ring)")

// Node is one protocol participant.
type Node interface {
	// Start begins the node's own join through its contact.
	Start(out *Output) error
	// Step handles one received message.
	Step(m Message, out *Output) error
	// Fire handles a timer set earlier through a SetTimer action.
	Fire(t Timer, out *Output) error
	// Serve handles the first queued join request if the node is free to; it reports
	// whether it did. With an empty queue (State.Queue == 0) it does nothing, which drivers
	// may rely on to skip the call.
	Serve(out *Output) (bool, error)
	// State returns the observable state.
	State() State
	// stateTo writes State into *st (machine.stateTo); only the Stepper needs it.
	stateTo(st *State)
	// Leave starts the node's graceful departure (ErrNoLeave for variants without one).
	Leave(out *Output) error
	// WantsToJoin reports whether the node's loop should call Start now.
	WantsToJoin() bool
	// Clone returns an independent copy, for exhaustive exploration.
	Clone() Node
	// AppendKey appends a canonical encoding of the node's whole state, so that two nodes
	// with equal keys behave identically from here on.
	AppendKey(b []byte) []byte
	// DHT is the key-value side: operations, stored keys and fingers.
	DHT
	// Ignorer says which messages the node drops unread for ever (ignore.go).
	Ignorer
}

func appendID(b []byte, id ID) []byte {
	return append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24),
		byte(id>>32), byte(id>>40), byte(id>>48), byte(id>>56))
}

func appendBools(b []byte, flags ...bool) []byte {
	var x byte
	for i, f := range flags {
		if f {
			x |= 1 << i
		}
	}
	return append(b, x)
}

// Config describes one node at creation.
type Config struct {
	ID   ID
	Ring Ring
	// Member nodes start inside the ring with both neighbours known; others are newcomers
	// that join through Contact.
	Member      bool
	Left, Right ID
	// Succs is a member's successor list at creation, Right first (variants that keep one;
	// nil: Right alone). A list filled from the start survives a crash before the first
	// stabilization round.
	Succs   []ID
	Contact ID
	// Timeout and Retries bound the waiting of variants that retry: a node waits Timeout
	// nanoseconds for an answer and tries at most Retries times in a row without progress.
	Timeout int64
	Retries int

	// The DHT layer. Fingers and Items are what a member knows and stores at creation, as
	// Left and Right are. FingerPeriod is how often the node refreshes one finger (0: never);
	// HopBudget bounds the forwards of one operation; OpTimeout is how long the node that
	// started an operation waits for its answer (0: DefaultOpTimeout; negative: forever).
	Fingers      []ID
	Items        []Item
	ReplicaItems []Item // replicas a member holds at creation
	Replicas     int    // copies of each key on the owner's next successors (0: none)
	FingerPeriod int64
	HopBudget    int
	OpTimeout    int64
	// FreshFingers, when set, are a member's fingers at creation, shared with the other
	// members, in place of Fingers.
	FreshFingers *FreshFingers
	// FingerJoins routes join requests by fingers instead of along the ring (variants that
	// route through the DHT layer's redirect).
	FingerJoins bool
	// Stabilize is the stabilization period in nanoseconds of variants that repair crashed
	// neighbours (Variant.Repairs); 0: DefaultStabilize.
	Stabilize int64
}

// Variant builds nodes of one protocol flavour.
type Variant struct {
	Name        string
	Description string
	New         func(Config) Node // set by register
	Leaves      bool              // has a graceful leave exchange
	// Repairs: the variant repairs crashed neighbours by itself, so pointers to a crashed
	// node are expected until stabilization fixes them.
	Repairs bool
	// Ignores: the variant's nodes name messages they ignore for good (Ignorer); the others
	// answer false for every message.
	Ignores bool

	newPool func() *Pool // set by register
}

var variants = map[string]Variant{}

// Lookup returns the named variant.
func Lookup(name string) (Variant, error) {
	v, ok := variants[name]
	if !ok {
		return Variant{}, fmt.Errorf("unknown protocol %q (known: %v)", name, VariantNames())
	}
	return v, nil
}

// VariantNames lists the registered variants in sorted order.
func VariantNames() []string {
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
