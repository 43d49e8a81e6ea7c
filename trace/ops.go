package trace

import "fmt"

// OpSchema is the layout of ops files: one row per DHT client operation (lookup, get, put).
var OpSchema = Schema{
	Name:    "dhtexp.ops",
	Version: 1,
	Columns: []Column{
		{Name: "run_id", Type: Int64, Encoding: Delta, Doc: "run the operation belongs to"},
		{Name: "op", Type: Int64, Encoding: Delta, Doc: "operation number within the run, from 1"},
		{Name: "kind", Type: String, Doc: "lookup, get or put"},
		{Name: "key", Type: Int64, Doc: "the key's ID on the ring (SHA-256 truncated to the ring's bits)"},
		{Name: "origin", Type: Int64, Doc: "ring member the client asked"},
		{Name: "start_ns", Type: Int64, Encoding: Delta, Doc: "time the client asked; clock as in the events file"},
		{Name: "end_ns", Type: Int64, Nullable: true, Doc: "time the answer reached the node asked; null if none came"},
		{Name: "hops", Type: Int64, Doc: "forwards between nodes (lookups: to the node that knew the owner)"},
		{Name: "status", Type: String, Nullable: true, Doc: "ok, not_found, hop_budget, timeout, unavailable; null if unanswered"},
		{Name: "owner", Type: Int64, Nullable: true, Doc: "node that answered as the key's owner"},
		{Name: "correct", Type: Bool, Doc: "the answer named (lookup) or came from (get, put) the owner per the global observer"},
		{Name: "class", Type: String, Nullable: true, Doc: "gets: missing or stale when inconsistent; null otherwise"},
		{Name: "phase", Type: String, Doc: "before, during or after the wave of joins"},
	},
}

// Positions of the OpSchema columns.
const (
	opRunID = iota
	opOp
	opKind
	opKey
	opOrigin
	opStart
	opEnd
	opHops
	opStatus
	opOwner
	opCorrect
	opClass
	opPhase
)

// Op is one row of an ops file. EndNs and Owner -1 mean null; Status and Class "" mean null.
type Op struct {
	RunID, Op      int64
	Kind           string
	Key, Origin    int64
	StartNs, EndNs int64
	Hops           int64
	Status         string
	Owner          int64
	Correct        bool
	Class, Phase   string
}

// OpWriter writes an ops file.
type OpWriter struct{ w *Writer }

// CreateOps starts an ops file at path; see CreateJoins for clock.
func CreateOps(path string, clock Clock, opts Options) (*OpWriter, error) {
	opts, err := withClock(path, clock, opts)
	if err != nil {
		return nil, err
	}
	w, err := Create(path, OpSchema, opts)
	if err != nil {
		return nil, err
	}
	return &OpWriter{w}, nil
}

// Writer returns the underlying generic writer.
func (ow *OpWriter) Writer() *Writer { return ow.w }

// WriteOp appends one operation.
func (ow *OpWriter) WriteOp(o *Op) error {
	if o.Kind == "" || o.Phase == "" {
		return fmt.Errorf("trace: write %s: row %d: operation has no kind or phase", ow.w.path, ow.w.Rows())
	}
	w := ow.w
	w.Int64(opRunID, o.RunID)
	w.Int64(opOp, o.Op)
	w.String(opKind, o.Kind)
	w.Int64(opKey, o.Key)
	w.Int64(opOrigin, o.Origin)
	w.Int64(opStart, o.StartNs)
	optID(w, opEnd, o.EndNs)
	w.Int64(opHops, o.Hops)
	optString(w, opStatus, o.Status)
	optID(w, opOwner, o.Owner)
	w.Bool(opCorrect, o.Correct)
	optString(w, opClass, o.Class)
	w.String(opPhase, o.Phase)
	return w.EndRow()
}

// WriteOps appends operations in order, stopping at the first error.
func (ow *OpWriter) WriteOps(ops []Op) error {
	for i := range ops {
		if err := ow.WriteOp(&ops[i]); err != nil {
			return err
		}
	}
	return nil
}

// Flush encodes the rows written so far; see Writer.Flush.
func (ow *OpWriter) Flush() error { return ow.w.Flush() }

// Close completes the file; see Writer.Close.
func (ow *OpWriter) Close() error { return ow.w.Close() }

// Abort discards the file; see Writer.Abort.
func (ow *OpWriter) Abort() error { return ow.w.Abort() }

// ReadOps reads an ops file and calls fn with consecutive batches of its rows in file order.
// The slice is reused between calls, so fn must copy rows it keeps.
func ReadOps(path string, fn func([]Op) error) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.schema.Name != OpSchema.Name {
		return fmt.Errorf("trace: read %s: schema is %s, not %s", path, r.schema.Name, OpSchema.Name)
	}
	var (
		c     Chunk
		batch = make([]Op, 0, min(readBatch, int(r.NumRows())))
		all   = allColumns(len(OpSchema.Columns))
	)
	convert := func(c *Chunk) error {
		cols := c.cols
		batch = batch[:c.rows]
		for i := range batch {
			o := Op{
				RunID:   cols[opRunID].i64[i],
				Op:      cols[opOp].i64[i],
				Kind:    cols[opKind].s[i],
				Key:     cols[opKey].i64[i],
				Origin:  cols[opOrigin].i64[i],
				StartNs: cols[opStart].i64[i],
				EndNs:   idAt(&cols[opEnd], i),
				Hops:    cols[opHops].i64[i],
				Owner:   idAt(&cols[opOwner], i),
				Correct: cols[opCorrect].b[i],
				Phase:   cols[opPhase].s[i],
			}
			if cols[opStatus].valid[i] {
				o.Status = cols[opStatus].s[i]
			}
			if cols[opClass].valid[i] {
				o.Class = cols[opClass].s[i]
			}
			batch[i] = o
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
