package observe

import "github.com/dhtexp/dhtexp/protocol"

// EventKind classifies trace events. The names are the trace schema's `kind` values.
type EventKind uint8

const (
	KindSend EventKind = iota + 1
	KindDeliver
	KindDrop
	KindTimer
	KindState
	KindViolation
	KindFault
	KindJoinStart
	KindJoinEnd
	numKinds
)

var kindNames = [...]string{
	KindSend: "send", KindDeliver: "deliver", KindDrop: "drop", KindTimer: "timer",
	KindState: "state", KindViolation: "violation", KindFault: "fault",
	KindJoinStart: "join_start", KindJoinEnd: "join_end",
}

func (k EventKind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one observable thing that happened in a run. Seq numbers the run's events from 0;
// IDs a kind does not use are protocol.None.
type Event struct {
	Seq         int64
	Time        int64
	Kind        EventKind
	MsgType     protocol.MsgType // zero when the event is not about a message
	Node        protocol.ID      // where it happened
	From, To    protocol.ID
	Joiner      protocol.ID
	Left, Right protocol.ID // the node's neighbours after the event
	Detail      string
}

// Tracer receives events as they happen. The pointer is only valid during the call.
type Tracer interface {
	Event(e *Event)
}

// TracerFunc adapts a function to a Tracer.
type TracerFunc func(e *Event)

// Event calls f.
func (f TracerFunc) Event(e *Event) { f(e) }
