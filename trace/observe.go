package trace

import (
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// EventOf converts a driver's event into a row of run's events table. The simulator's
// sweeps and the real nodes' traces share it, so that both tables read alike.
func EventOf(run int64, e *observe.Event) Event {
	mt := ""
	if e.MsgType != 0 {
		mt = e.MsgType.String()
	}
	return Event{RunID: run, Seq: e.Seq, TimeNs: e.Time, Kind: e.Kind.String(), MsgType: mt,
		Node: NodeID(e.Node), From: NodeID(e.From), To: NodeID(e.To), Joiner: NodeID(e.Joiner),
		Left: NodeID(e.Left), Right: NodeID(e.Right), Detail: e.Detail}
}

// AppendObserved adds a driver's event to c as a row of run's events table, converted by
// EventOf.
func (c *EventColumns) AppendObserved(run int64, e *observe.Event) {
	// Column by column rather than through an Event: the simulator calls this for every
	// event it traces, and the 120-byte row copied twice cost more than the appends.
	if c.Len() > 0 && !c.coded() {
		c.Kind = append(c.Kind, e.Kind.String())
		c.MsgType = append(c.MsgType, msgTypeName(e.MsgType))
	} else {
		c.kinds = append(c.kinds, e.Kind)
		c.msgTypes = append(c.msgTypes, e.MsgType)
	}
	c.RunID = append(c.RunID, run)
	c.Seq = append(c.Seq, e.Seq)
	c.TimeNs = append(c.TimeNs, e.Time)
	c.Node = append(c.Node, NodeID(e.Node))
	c.From = append(c.From, NodeID(e.From))
	c.To = append(c.To, NodeID(e.To))
	c.Joiner = append(c.Joiner, NodeID(e.Joiner))
	c.Left = append(c.Left, NodeID(e.Left))
	c.Right = append(c.Right, NodeID(e.Right))
	c.Detail = append(c.Detail, e.Detail)
}

// NodeID maps a node ID to the tables' integers, where -1 is null.
func NodeID(id protocol.ID) int64 {
	if id == protocol.None {
		return -1
	}
	return int64(id)
}

// EventTracer writes a driver's events to an events file as they happen. It is called
// from one goroutine only; Close runs once the driver has stopped. The first write error
// stops the writing, since a trace with a hole would misstate the run.
type EventTracer struct {
	w       *EventWriter
	run     int64
	onError func(error)
	err     error
}

// NewEventTracer traces into w as run; onError, if not nil, hears of the first write error.
func NewEventTracer(w *EventWriter, run int64, onError func(error)) *EventTracer {
	return &EventTracer{w: w, run: run, onError: onError}
}

// Event writes one event, unless an earlier one failed.
func (t *EventTracer) Event(e *observe.Event) {
	if t.err != nil {
		return
	}
	te := EventOf(t.run, e)
	if t.err = t.w.WriteEvent(&te); t.err != nil && t.onError != nil {
		t.onError(t.err)
	}
}

// Close completes the file, or drops it and returns the write error if there was one.
func (t *EventTracer) Close() error {
	if t.err != nil {
		t.w.Abort()
		return t.err
	}
	return t.w.Close()
}

// Abort drops the file.
func (t *EventTracer) Abort() { t.w.Abort() }

// ChunkEvents is the number of events an ObservedChunk holds.
const ChunkEvents = 1 << 14

// ObservedChunk buffers up to ChunkEvents driver events as rows of an events table,
// column by column, in arrays of fixed size: adding an event is a store per column,
// where EventColumns.AppendObserved checks and extends a slice per column. A producer
// fills it, hands it to EventEncoder.WriteChunk and resets it.
type ObservedChunk struct {
	n                                                     int
	runID, seq, time, node, from, to, joiner, left, right [ChunkEvents]int64
	detail                                                [ChunkEvents]string
	kinds                                                 [ChunkEvents]observe.EventKind
	msgTypes                                              [ChunkEvents]protocol.MsgType
}

// Len returns the number of events held.
func (c *ObservedChunk) Len() int { return c.n }

// Full reports whether c holds ChunkEvents events.
func (c *ObservedChunk) Full() bool { return c.n == ChunkEvents }

// Append adds a driver's event as a row of run's events table, converted as EventOf
// converts it. c must not be full.
func (c *ObservedChunk) Append(run int64, e *observe.Event) {
	i := c.n
	if uint(i) >= ChunkEvents {
		panic("trace: ObservedChunk.Append on a full chunk")
	}
	c.runID[i], c.seq[i], c.time[i], c.node[i] = run, e.Seq, e.Time, NodeID(e.Node)
	c.from[i], c.to[i], c.joiner[i] = NodeID(e.From), NodeID(e.To), NodeID(e.Joiner)
	c.left[i], c.right[i] = NodeID(e.Left), NodeID(e.Right)
	c.detail[i], c.kinds[i], c.msgTypes[i] = e.Detail, e.Kind, e.MsgType
	c.n = i + 1
}

// Reset empties c.
func (c *ObservedChunk) Reset() {
	clear(c.detail[:c.n]) // the strings are not kept alive
	c.n = 0
}

// columns returns c's events as EventColumns that share its storage.
func (c *ObservedChunk) columns() EventColumns {
	n := c.n
	return EventColumns{RunID: c.runID[:n], Seq: c.seq[:n], TimeNs: c.time[:n], Node: c.node[:n],
		From: c.from[:n], To: c.to[:n], Joiner: c.joiner[:n], Left: c.left[:n], Right: c.right[:n],
		Detail: c.detail[:n], kinds: c.kinds[:n], msgTypes: c.msgTypes[:n]}
}

// WriteChunk appends every event of c in order, as WriteColumns would.
func (e *EventEncoder) WriteChunk(c *ObservedChunk) error {
	if c.n == 0 {
		return nil
	}
	cols := c.columns()
	return writeEventColumns(e.w, &cols)
}
