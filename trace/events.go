package trace

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// EventSchema is the layout of events files: one row per event observed at a
// node, in the order the events happened within a run.
var EventSchema = Schema{
	Name:    "dhtexp.events",
	Version: 1,
	Columns: []Column{
		{Name: "run_id", Type: Int64, Encoding: Delta, Doc: "run the event belongs to"},
		{Name: "seq", Type: Int64, Encoding: Delta, Doc: "sequence number of the event within its run, from 0"},
		// Stored without compression: zstd halves the delta-encoded times (many events
		// share the time of the one before), about a tenth of an events file, for 9 % of
		// the CPU time of a sweep that keeps every event.
		{Name: "time_ns", Type: Int64, Encoding: Delta, Compression: Uncompressed, Doc: "ns since run start (clock=virtual) or Unix ns (clock=wall)"},
		// kind, msg_type and detail are compressed with Snappy, whose pages of dictionary
		// indices come out a fifth larger than zstd's (events files half a percent larger)
		// and cost half the time: zstd took 4 % of the CPU time of a sweep that keeps every
		// event, Snappy 2 %.
		{Name: "kind", Type: String, Compression: Snappy, Doc: "send, deliver, drop, timer, state, violation, fault, join_start, join_end"},
		{Name: "msg_type", Type: String, Nullable: true, Compression: Snappy, Doc: "protocol message type; null when the event concerns no message"},
		// The id columns are stored without compression. zstd shrinks the delta-encoded
		// ids of the message columns by less than a tenth (they jump between random node
		// ids), and those of node, left and right by a quarter (a seventh of an events
		// file), for about a twentieth of the CPU time of a sweep that keeps every event
		// each.
		{Name: "node", Type: Int64, Encoding: Delta, Compression: Uncompressed, Doc: "node the event happened at"},
		{Name: "from", Type: Int64, Nullable: true, Encoding: Delta, Compression: Uncompressed, Doc: "sender of the message"},
		{Name: "to", Type: Int64, Nullable: true, Encoding: Delta, Compression: Uncompressed, Doc: "addressee of the message"},
		{Name: "joiner", Type: Int64, Nullable: true, Encoding: Delta, Compression: Uncompressed, Doc: "node whose join the event belongs to"},
		{Name: "left", Type: Int64, Nullable: true, Encoding: Delta, Compression: Uncompressed, Doc: "node's left neighbour after the event"},
		{Name: "right", Type: Int64, Nullable: true, Encoding: Delta, Compression: Uncompressed, Doc: "node's right neighbour after the event"},
		// Dictionary encoded although free text: almost every detail is one of a few
		// node states, which plain encoding stored and compressed over and over (two
		// thirds of the uncompressed bytes of an events file). The writer falls back to
		// plain encoding in a row group with too many distinct values.
		{Name: "detail", Type: Text, Nullable: true, Encoding: Dictionary, Compression: Snappy, Doc: "free text, e.g. a violation description"},
	},
}

// Positions of the EventSchema columns.
const (
	evRunID = iota
	evSeq
	evTime
	evKind
	evMsgType
	evNode
	evFrom
	evTo
	evJoiner
	evLeft
	evRight
	evDetail
)

// Event kinds, the values of the kind column.
const (
	KindSend      = "send"
	KindDeliver   = "deliver"
	KindDrop      = "drop"
	KindTimer     = "timer"
	KindState     = "state"
	KindViolation = "violation"
	KindFault     = "fault"
	KindJoinStart = "join_start"
	KindJoinEnd   = "join_end"
)

// Clock says what time_ns in an events file counts; it is stored under
// MetaClock.
type Clock string

const (
	// ClockVirtual: simulated nanoseconds since the start of the run.
	ClockVirtual Clock = "virtual"
	// ClockWall: Unix nanoseconds of the wall clock of the node that
	// recorded the event.
	ClockWall Clock = "wall"
)

// Event is one row of an events file. Nullable columns use sentinels, which
// keeps Event free of pointers: -1 in From, To, Joiner, Left and Right, and
// "" in MsgType and Detail, mean null. Node ids are therefore >= 0.
type Event struct {
	RunID, Seq, TimeNs int64
	Kind, MsgType      string
	Node               int64
	From, To, Joiner   int64
	Left, Right        int64
	Detail             string
}

// EventWriter writes an events file.
type EventWriter struct{ w *Writer }

// CreateEvents starts an events file at path; see Create. clock is recorded
// under MetaClock so that readers know how to interpret time_ns.
func CreateEvents(path string, clock Clock, opts Options) (*EventWriter, error) {
	opts, err := withClock(path, clock, opts)
	if err != nil {
		return nil, err
	}
	w, err := Create(path, EventSchema, opts)
	if err != nil {
		return nil, err
	}
	return &EventWriter{w}, nil
}

// withClock returns opts with MetaClock set, without modifying the caller's
// map.
func withClock(path string, clock Clock, opts Options) (Options, error) {
	if clock != ClockVirtual && clock != ClockWall {
		return opts, fmt.Errorf("trace: create %s: invalid clock %q", path, clock)
	}
	md := make(map[string]string, len(opts.Metadata)+1)
	for k, v := range opts.Metadata {
		md[k] = v
	}
	if c, ok := md[MetaClock]; ok && c != string(clock) {
		return opts, fmt.Errorf("trace: create %s: metadata %s=%q contradicts clock %q", path, MetaClock, c, clock)
	}
	md[MetaClock] = string(clock)
	opts.Metadata = md
	return opts, nil
}

// Writer returns the underlying generic writer.
func (ew *EventWriter) Writer() *Writer { return ew.w }

// WriteEvent appends one event.
func (ew *EventWriter) WriteEvent(e *Event) error {
	if e.Kind == "" {
		return fmt.Errorf("trace: write %s: row %d: event has no kind", ew.w.path, ew.w.Rows())
	}
	w := ew.w
	if w.err == nil && !w.done && !w.hasPartialRow() {
		// The columns' types are known, so the row needs none of the typed
		// methods' checks nor EndRow's count of values per column, which took
		// as long as the appends.
		c := w.cols
		c[evRunID].addInt64(e.RunID)
		c[evSeq].addInt64(e.Seq)
		c[evTime].addInt64(e.TimeNs)
		c[evKind].addString(e.Kind)
		c[evMsgType].addOptString(e.MsgType)
		c[evNode].addInt64(e.Node)
		c[evFrom].addOptID(e.From)
		c[evTo].addOptID(e.To)
		c[evJoiner].addOptID(e.Joiner)
		c[evLeft].addOptID(e.Left)
		c[evRight].addOptID(e.Right)
		c[evDetail].addOptString(e.Detail)
		return w.endRows(1)
	}
	// A closed or failed writer, or values given through Writer before: EndRow
	// reports and recovers as it does for any row.
	w.Int64(evRunID, e.RunID)
	w.Int64(evSeq, e.Seq)
	w.Int64(evTime, e.TimeNs)
	w.String(evKind, e.Kind)
	optString(w, evMsgType, e.MsgType)
	w.Int64(evNode, e.Node)
	optID(w, evFrom, e.From)
	optID(w, evTo, e.To)
	optID(w, evJoiner, e.Joiner)
	optID(w, evLeft, e.Left)
	optID(w, evRight, e.Right)
	optString(w, evDetail, e.Detail)
	return w.EndRow()
}

// WriteEvents appends events in order, stopping at the first error.
func (ew *EventWriter) WriteEvents(es []Event) error {
	for i := range es {
		if err := ew.WriteEvent(&es[i]); err != nil {
			return err
		}
	}
	return nil
}

// EventColumns holds events column by column, with the sentinels of Event
// for nulls. A producer that appends to it and hands it to WriteColumns
// copies each value once, in bulk, where a slice of Event would be copied
// row by row twice.
//
// The events that AppendObserved adds keep their kind and message type as the
// driver's codes rather than in Kind and MsgType, which stay empty while c
// holds only such events; Event(i) returns any row with its strings.
type EventColumns struct {
	RunID, Seq, TimeNs, Node      []int64
	Kind, MsgType                 []string
	From, To, Joiner, Left, Right []int64
	Detail                        []string

	// kinds and msgTypes hold every event's kind and message type (0 for none) when
	// AppendObserved added them all: the writer turns a code into a dictionary index
	// once per row group, where each string took a lookup, and codes of a byte leave
	// the collector nothing to scan. Converting to strings and back cost a tenth of the
	// CPU time of writing events.
	kinds    []observe.EventKind
	msgTypes []protocol.MsgType
}

// Len returns the number of events held.
func (c *EventColumns) Len() int { return len(c.Seq) }

// coded reports whether the kinds and message types are held as codes.
func (c *EventColumns) coded() bool { return len(c.kinds) > 0 }

// Reset empties c, keeping its storage.
func (c *EventColumns) Reset() {
	c.RunID, c.Seq, c.TimeNs, c.Node = c.RunID[:0], c.Seq[:0], c.TimeNs[:0], c.Node[:0]
	clear(c.Kind)
	clear(c.MsgType)
	clear(c.Detail)
	c.Kind, c.MsgType, c.Detail = c.Kind[:0], c.MsgType[:0], c.Detail[:0]
	c.From, c.To, c.Joiner, c.Left, c.Right = c.From[:0], c.To[:0], c.Joiner[:0], c.Left[:0], c.Right[:0]
	c.kinds, c.msgTypes = c.kinds[:0], c.msgTypes[:0]
}

// Grow makes room for n more events without further allocation, for events
// added by AppendObserved.
func (c *EventColumns) Grow(n int) {
	for _, col := range []*[]int64{&c.RunID, &c.Seq, &c.TimeNs, &c.Node, &c.From, &c.To, &c.Joiner, &c.Left, &c.Right} {
		*col = slices.Grow(*col, n)
	}
	c.Detail = slices.Grow(c.Detail, n)
	c.kinds, c.msgTypes = slices.Grow(c.kinds, n), slices.Grow(c.msgTypes, n)
}

// uncode moves the codes of kinds and message types into Kind and MsgType, for
// an event added with its strings after events added by AppendObserved.
func (c *EventColumns) uncode() {
	for i, k := range c.kinds {
		c.Kind = append(c.Kind, k.String())
		c.MsgType = append(c.MsgType, msgTypeName(c.msgTypes[i]))
	}
	c.kinds, c.msgTypes = c.kinds[:0], c.msgTypes[:0]
}

// msgTypeName is the msg_type value of t, "" (null) for none.
func msgTypeName(t protocol.MsgType) string {
	if t == 0 {
		return ""
	}
	return t.String()
}

// Append adds one event.
func (c *EventColumns) Append(e *Event) {
	if c.coded() {
		c.uncode()
	}
	c.RunID = append(c.RunID, e.RunID)
	c.Seq = append(c.Seq, e.Seq)
	c.TimeNs = append(c.TimeNs, e.TimeNs)
	c.Node = append(c.Node, e.Node)
	c.Kind = append(c.Kind, e.Kind)
	c.MsgType = append(c.MsgType, e.MsgType)
	c.From = append(c.From, e.From)
	c.To = append(c.To, e.To)
	c.Joiner = append(c.Joiner, e.Joiner)
	c.Left = append(c.Left, e.Left)
	c.Right = append(c.Right, e.Right)
	c.Detail = append(c.Detail, e.Detail)
}

// Event returns event i.
func (c *EventColumns) Event(i int) Event {
	e := Event{RunID: c.RunID[i], Seq: c.Seq[i], TimeNs: c.TimeNs[i], Node: c.Node[i], From: c.From[i], To: c.To[i],
		Joiner: c.Joiner[i], Left: c.Left[i], Right: c.Right[i], Detail: c.Detail[i]}
	if c.coded() {
		e.Kind, e.MsgType = c.kinds[i].String(), msgTypeName(c.msgTypes[i])
	} else {
		e.Kind, e.MsgType = c.Kind[i], c.MsgType[i]
	}
	return e
}

// WriteColumns appends every event of c in order, as WriteEvents would. On
// error some of c's events may have been written.
func (ew *EventWriter) WriteColumns(c *EventColumns) error { return writeEventColumns(ew.w, c) }

// WriteEncoded appends events that an EventEncoder encoded; see Writer.WriteEncoded.
func (ew *EventWriter) WriteEncoded(src *Encoded) error { return ew.w.WriteEncoded(src) }

// EventEncoder encodes events for an EventWriter; see Encoder.
type EventEncoder struct{ *Encoder }

// NewEventEncoder returns an encoder of events for EventWriters created with opts.
func NewEventEncoder(opts Options) (*EventEncoder, error) {
	e, err := NewEncoder(EventSchema, opts)
	if err != nil {
		return nil, err
	}
	return &EventEncoder{e}, nil
}

// WriteColumns appends every event of c in order, as EventWriter.WriteColumns does.
func (e *EventEncoder) WriteColumns(c *EventColumns) error { return writeEventColumns(e.w, c) }

// writeEventColumns appends every event of c to w, an events file's Writer or Encoder.
func writeEventColumns(w *Writer, c *EventColumns) error {
	n := c.Len()
	coded := c.coded()
	kinds, msgTypes := len(c.Kind), len(c.MsgType)
	if coded {
		kinds, msgTypes = len(c.kinds), len(c.msgTypes)
	}
	if len(c.RunID) != n || len(c.TimeNs) != n || len(c.Node) != n || kinds != n || msgTypes != n ||
		len(c.From) != n || len(c.To) != n || len(c.Joiner) != n || len(c.Left) != n || len(c.Right) != n || len(c.Detail) != n {
		return fmt.Errorf("trace: write %s: event columns of different lengths", w.path)
	}
	for lo := 0; lo < n; {
		if err := w.ready(); err != nil {
			return err
		}
		// Up to the end of the row group, so that flushing cuts groups
		// where row-by-row writing would.
		hi := min(n, lo+w.rgLimit-w.rows)
		if !coded {
			for i := lo; i < hi; i++ {
				if c.Kind[i] == "" {
					return fmt.Errorf("trace: write %s: row %d: event has no kind", w.path, w.Rows()+int64(i-lo))
				}
			}
		}
		w.int64s(evRunID, c.RunID[lo:hi])
		w.int64s(evSeq, c.Seq[lo:hi])
		w.int64s(evTime, c.TimeNs[lo:hi])
		if coded {
			// A code's String is never empty: every event has a kind.
			codes(w, evKind, c.kinds[lo:hi], observe.EventKind.String)
			codes(w, evMsgType, c.msgTypes[lo:hi], msgTypeName)
		} else {
			w.strings(evKind, c.Kind[lo:hi])
			w.optStrings(evMsgType, c.MsgType[lo:hi])
		}
		w.int64s(evNode, c.Node[lo:hi])
		w.optIDs(evFrom, c.From[lo:hi])
		w.optIDs(evTo, c.To[lo:hi])
		w.optIDs(evJoiner, c.Joiner[lo:hi])
		w.optIDs(evLeft, c.Left[lo:hi])
		w.optIDs(evRight, c.Right[lo:hi])
		w.optStrings(evDetail, c.Detail[lo:hi])
		if err := w.endRows(hi - lo); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// Flush encodes the rows written so far; see Writer.Flush.
func (ew *EventWriter) Flush() error { return ew.w.Flush() }

// Close completes the file; see Writer.Close.
func (ew *EventWriter) Close() error { return ew.w.Close() }

// Abort discards the file; see Writer.Abort.
func (ew *EventWriter) Abort() error { return ew.w.Abort() }

func optID(w *Writer, col int, v int64) {
	if v == -1 {
		w.Null(col)
	} else {
		w.Int64(col, v)
	}
}

func optString(w *Writer, col int, v string) {
	if v == "" {
		w.Null(col)
	} else {
		w.String(col, v)
	}
}

// readBatch is how many rows ReadEvents and ReadJoins decode and hand to
// their callback at a time, so that memory use does not grow with the row
// group size.
const readBatch = 1 << 14

// ReadEvents reads an events file and calls fn with consecutive batches of
// its events in file order. The slice is reused between calls, so fn must
// copy events it keeps (their strings may be kept as they are). An error
// from fn stops the read and is returned.
func ReadEvents(path string, fn func([]Event) error) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.schema.Name != EventSchema.Name {
		return fmt.Errorf("trace: read %s: schema is %s, not %s", path, r.schema.Name, EventSchema.Name)
	}
	var (
		c     Chunk
		batch = make([]Event, 0, min(readBatch, int(r.NumRows())))
		all   = allColumns(len(EventSchema.Columns))
	)
	convert := func(c *Chunk) error {
		var (
			runID, seq, tm, node        = c.cols[evRunID].i64, c.cols[evSeq].i64, c.cols[evTime].i64, c.cols[evNode].i64
			kind, msgType, detail       = c.cols[evKind].s, c.cols[evMsgType].s, c.cols[evDetail].s
			from, to, joiner, left, rgt = &c.cols[evFrom], &c.cols[evTo], &c.cols[evJoiner], &c.cols[evLeft], &c.cols[evRight]
		)
		batch = batch[:c.rows]
		for i := range batch {
			batch[i] = Event{
				RunID:   runID[i],
				Seq:     seq[i],
				TimeNs:  tm[i],
				Kind:    kind[i],
				MsgType: msgType[i],
				Node:    node[i],
				From:    idAt(from, i),
				To:      idAt(to, i),
				Joiner:  idAt(joiner, i),
				Left:    idAt(left, i),
				Right:   idAt(rgt, i),
				Detail:  detail[i],
			}
		}
		return fn(batch)
	}
	for g := 0; g < r.NumRowGroups(); g++ {
		if err := r.readPieces(&c, g, all, readBatch, convert); err != nil {
			return err
		}
	}
	return nil
}

// allColumns returns the column positions 0..n-1.
func allColumns(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// idAt returns row i of a nullable Int64 column with null as -1.
func idAt(cc *chunkCol, i int) int64 {
	if !cc.valid[i] {
		return -1
	}
	return cc.i64[i]
}
