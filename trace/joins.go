package trace

import (
	"fmt"
	"strings"

	"github.com/dhtexp/dhtexp/observe"
)

// JoinSchema is the layout of joins files: one row per join attempt.
var JoinSchema = Schema{
	Name:    "dhtexp.joins",
	Version: 1,
	Columns: []Column{
		{Name: "run_id", Type: Int64, Encoding: Delta, Doc: "run the join belongs to"},
		{Name: "joiner", Type: Int64, Encoding: Delta, Doc: "node that joined"},
		{Name: "contact", Type: Int64, Encoding: Delta, Doc: "ring member the joiner first contacted"},
		{Name: "start_ns", Type: Int64, Encoding: Delta, Doc: "time the join started; clock as in the events file"},
		{Name: "end_ns", Type: Int64, Nullable: true, Encoding: Delta, Doc: "time the join ended; null if it never ended"},
		{Name: "hops", Type: Int64, Encoding: Delta, Doc: "forwarding hops of the join request"},
		{Name: "messages", Type: Int64, Encoding: Delta, Doc: "protocol messages sent on behalf of the join"},
		{Name: "outcome", Type: String, Doc: "one of " + strings.Join(observe.JoinOutcomes, ", ")},
	},
}

// Positions of the JoinSchema columns.
const (
	jnRunID = iota
	jnJoiner
	jnContact
	jnStart
	jnEnd
	jnHops
	jnMessages
	jnOutcome
)

// Join outcomes, values of the outcome column, for writers that do not otherwise need
// package observe, which declares them.
const (
	OutcomeOK        = observe.JoinOK
	OutcomeNotJoined = observe.JoinNotJoined
	OutcomeFailed    = observe.JoinFailed
)

// Join is one row of a joins file. EndNs -1 means null (the join never
// ended).
type Join struct {
	RunID, Joiner, Contact int64
	StartNs, EndNs         int64
	Hops, Messages         int64
	Outcome                string
}

// JoinWriter writes a joins file.
type JoinWriter struct{ w *Writer }

// CreateJoins starts a joins file at path; see Create. clock is recorded
// under MetaClock, as for events, since start_ns and end_ns use the clock of
// the run's events.
func CreateJoins(path string, clock Clock, opts Options) (*JoinWriter, error) {
	opts, err := withClock(path, clock, opts)
	if err != nil {
		return nil, err
	}
	w, err := Create(path, JoinSchema, opts)
	if err != nil {
		return nil, err
	}
	return &JoinWriter{w}, nil
}

// Writer returns the underlying generic writer.
func (jw *JoinWriter) Writer() *Writer { return jw.w }

// WriteJoin appends one join.
func (jw *JoinWriter) WriteJoin(j *Join) error {
	if j.Outcome == "" {
		return fmt.Errorf("trace: write %s: row %d: join has no outcome", jw.w.path, jw.w.Rows())
	}
	w := jw.w
	w.Int64(jnRunID, j.RunID)
	w.Int64(jnJoiner, j.Joiner)
	w.Int64(jnContact, j.Contact)
	w.Int64(jnStart, j.StartNs)
	optID(w, jnEnd, j.EndNs)
	w.Int64(jnHops, j.Hops)
	w.Int64(jnMessages, j.Messages)
	w.String(jnOutcome, j.Outcome)
	return w.EndRow()
}

// WriteJoins appends joins in order, stopping at the first error.
func (jw *JoinWriter) WriteJoins(js []Join) error {
	for i := range js {
		if err := jw.WriteJoin(&js[i]); err != nil {
			return err
		}
	}
	return nil
}

// Flush encodes the rows written so far; see Writer.Flush.
func (jw *JoinWriter) Flush() error { return jw.w.Flush() }

// Close completes the file; see Writer.Close.
func (jw *JoinWriter) Close() error { return jw.w.Close() }

// Abort discards the file; see Writer.Abort.
func (jw *JoinWriter) Abort() error { return jw.w.Abort() }

// ReadJoins reads a joins file and calls fn with consecutive batches of its
// rows in file order. The slice is reused between calls, so fn must copy
// rows it keeps. An error from fn stops the read and is returned.
func ReadJoins(path string, fn func([]Join) error) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.schema.Name != JoinSchema.Name {
		return fmt.Errorf("trace: read %s: schema is %s, not %s", path, r.schema.Name, JoinSchema.Name)
	}
	var (
		c     Chunk
		batch = make([]Join, 0, min(readBatch, int(r.NumRows())))
		all   = allColumns(len(JoinSchema.Columns))
	)
	convert := func(c *Chunk) error {
		var (
			runID, joiner, contact = c.cols[jnRunID].i64, c.cols[jnJoiner].i64, c.cols[jnContact].i64
			start, end             = c.cols[jnStart].i64, &c.cols[jnEnd]
			hops, msgs             = c.cols[jnHops].i64, c.cols[jnMessages].i64
			outcome                = c.cols[jnOutcome].s
		)
		batch = batch[:c.rows]
		for i := range batch {
			batch[i] = Join{
				RunID:    runID[i],
				Joiner:   joiner[i],
				Contact:  contact[i],
				StartNs:  start[i],
				EndNs:    idAt(end, i),
				Hops:     hops[i],
				Messages: msgs[i],
				Outcome:  outcome[i],
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
