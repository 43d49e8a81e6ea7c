package runner

import (
	"slices"
	"strings"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// RunSchema is the layout of runs files: one row per run, parameters as columns. Bump
// Version whenever a column is added, removed, renamed or changes meaning. The parameter
// columns come from params.All.
//
// Version 4 has the columns of version 3. In version 3 files, leavers and
// workload_replicas say 0 for runs whose spec set them under [base], which the runs had
// ignored; version 4 rows hold what ran. Version 6 adds join_routing. Version 7 adds the
// stabilize and churn parameters and the churn_ outcome columns. Version 8 adds
// churn.crash_guard and churn_crashes_postponed.
var RunSchema = trace.Schema{
	Name:    trace.RunsSchemaName,
	Version: 8,
	Columns: slices.Concat(runIDColumns, paramColumns(), outcomeColumns),
}

var runIDColumns = []trace.Column{
	{Name: "run_id", Type: trace.Int64, Encoding: trace.Delta, Doc: "grid_point × seeds + replica, unique within the result set"},
	{Name: "grid_point", Type: trace.Int64, Encoding: trace.Delta, Doc: "index into the manifest's grid"},
	{Name: "replica", Type: trace.Int64, Encoding: trace.Delta, Doc: "0 .. seeds-1"},
	// Seeds are random bits, which zstd cannot shrink.
	{Name: "seed", Type: trace.Int64, Encoding: trace.Plain, Compression: trace.Uncompressed, Doc: "the run's seed (the uint64 bit pattern)"},
}

// paramColumns holds each parameter's value in effect (params.Run.InEffect).
func paramColumns() []trace.Column {
	cols := make([]trace.Column, len(params.All))
	for i := range params.All {
		p := &params.All[i]
		t := map[params.Kind]trace.ColumnType{params.KindString: trace.String, params.KindInt: trace.Int64,
			params.KindDuration: trace.Int64, params.KindBool: trace.Bool, params.KindFloat: trace.Float64}[p.Kind]
		cols[i] = trace.Column{Name: p.Column, Type: t, Nullable: p.Nullable, Doc: p.Doc}
	}
	return cols
}

// The columns that measure every run (latencies, message and event counts, virtual time)
// are stored uncompressed, as the seed is: their Delta encoding leaves zstd nothing to take
// (it shrank their pages by 0 to 11 % in sweeps of tiny.toml, concurrency.toml and
// dht-joins.toml), and compressing them was 8 % of the time of encoding a part of tiny
// runs (BenchmarkRunsPart/flush: 3.39 ms before, 3.15 ms after).
var outcomeColumns = []trace.Column{
	{Name: "outcome", Type: trace.String, Doc: "one of " + strings.Join(observe.Outcomes, ", ")},
	{Name: "ring_correct", Type: trace.Bool, Doc: "final ring exactly right and every newcomer connected"},
	{Name: "detail", Type: trace.Text, Nullable: true, Doc: "why the outcome is not ok"},
	{Name: "violation", Type: trace.String, Nullable: true, Doc: "first safety property broken, if any"},
	{Name: "joins", Type: trace.Int64, Doc: "joins attempted"},
	{Name: "joins_ok", Type: trace.Int64, Doc: "joins that succeeded"},
	{Name: "latency_p50_ns", Type: trace.Int64, Nullable: true, Compression: trace.Uncompressed, Doc: "median join latency over the run's successful joins (nearest rank)"},
	{Name: "latency_p99_ns", Type: trace.Int64, Nullable: true, Compression: trace.Uncompressed, Doc: "99th percentile join latency over the run's successful joins (nearest rank)"},
	{Name: "latency_max_ns", Type: trace.Int64, Nullable: true, Compression: trace.Uncompressed, Doc: "longest successful join"},
	{Name: "messages", Type: trace.Int64, Compression: trace.Uncompressed, Doc: "protocol messages sent"},
	{Name: "redirects", Type: trace.Int64, Compression: trace.Uncompressed, Doc: "connect_redirect messages sent"},
	{Name: "events", Type: trace.Int64, Compression: trace.Uncompressed, Doc: "simulator events processed"},
	{Name: "sim_time_ns", Type: trace.Int64, Compression: trace.Uncompressed, Doc: "virtual time of the last event"},
	{Name: "kv_keys", Type: trace.Int64, Doc: "DHT workload: keys stored; the kv columns are 0 or null when the run has no workload"},
	{Name: "kv_ops", Type: trace.Int64, Doc: "client operations issued"},
	{Name: "kv_answered", Type: trace.Int64, Doc: "operations answered, whatever the status"},
	{Name: "kv_ops_ok", Type: trace.Int64, Doc: "operations answered ok, or not_found for a key the true owner does not hold either"},
	{Name: "kv_hops", Type: trace.Int64, Doc: "forwards over all answered operations"},
	{Name: "kv_lookups", Type: trace.Int64, Doc: "lookups issued"},
	{Name: "kv_lookups_answered", Type: trace.Int64, Doc: "lookups answered, whatever the status"},
	{Name: "kv_lookups_ok", Type: trace.Int64, Doc: "lookups answered ok naming the true owner"},
	{Name: "kv_lookup_hops", Type: trace.Int64, Doc: "forwards over the kv_lookups_ok lookups"},
	{Name: "kv_gets", Type: trace.Int64, Doc: "gets issued"},
	{Name: "kv_missing", Type: trace.Int64, Doc: "gets answered not found while the true owner holds the key"},
	{Name: "kv_stale", Type: trace.Int64, Doc: "gets answered with a value other than the true owner's"},
	{Name: "kv_key_checks", Type: trace.Int64, Doc: "key-safety checks made (after every completed join, and at the end)"},
	{Name: "kv_key_failures", Type: trace.Int64, Doc: "key-safety checks that found a key lost, duplicated or misplaced"},
	{Name: "kv_lost", Type: trace.Int64, Doc: "keys stored nowhere at the end"},
	{Name: "kv_duplicated", Type: trace.Int64, Doc: "keys stored at more than one node at the end"},
	{Name: "kv_misplaced", Type: trace.Int64, Doc: "keys stored at one node that is not their owner at the end"},
	{Name: "kv_first_failure", Type: trace.Text, Nullable: true, Doc: "the first key-safety failure; null if none"},
	{Name: "kv_fingers", Type: trace.Int64, Doc: "fingers of live connected nodes at the end"},
	{Name: "kv_fingers_stale", Type: trace.Int64, Doc: "of those, fingers that are not the true successor of their target"},
	{Name: "kv_lookup_latency_p50_ns", Type: trace.Int64, Nullable: true, Compression: trace.Uncompressed, Doc: "median latency of the kv_lookups_ok lookups (nearest rank); null when none"},
	{Name: "kv_lookup_latency_p99_ns", Type: trace.Int64, Nullable: true, Compression: trace.Uncompressed, Doc: "99th percentile latency of the kv_lookups_ok lookups (nearest rank); null when none"},
	{Name: "departed", Type: trace.Int64, Doc: "leavers that left the ring"},
	{Name: "kv_messages", Type: trace.Int64, Doc: "DHT messages sent: operations, answers, copies and finger maintenance (not in messages)"},
	{Name: "kv_replicas_missing", Type: trace.Int64, Doc: "copies missing at the end at a successor that should hold one"},
	{Name: "kv_replicas_extra", Type: trace.Int64, Doc: "copies held at the end beyond the owner's workload_replicas successors (never served)"},
	{Name: "churn_arrivals", Type: trace.Int64, Doc: "churn: newcomers that arrived; the churn columns are 0 or null when the run has no churn"},
	{Name: "churn_leaves", Type: trace.Int64, Doc: "churn: graceful leaves started"},
	{Name: "churn_crashes", Type: trace.Int64, Doc: "churn: nodes that crashed for good"},
	{Name: "churn_crashes_postponed", Type: trace.Int64, Doc: "churn: times churn.crash_guard postponed a crash (a crash postponed twice counts twice)"},
	{Name: "churn_window_ns", Type: trace.Int64, Doc: "churn: length of the measurement window, from the end of the warm-up until churn stops"},
	{Name: "churn_live_mean", Type: trace.Float64, Doc: "churn: time-weighted mean of live nodes (arrived, up, not departed, join not given up) over the window"},
	{Name: "churn_lookups", Type: trace.Int64, Doc: "churn: lookups issued in the window"},
	{Name: "churn_lookups_ok", Type: trace.Int64, Doc: "churn: of those, lookups answered with status ok"},
	{Name: "churn_lookups_consistent", Type: trace.Int64, Doc: "churn: of those, lookups whose answer named the true owner when it was sent"},
	{Name: "churn_lookup_p50_ns", Type: trace.Int64, Nullable: true, Doc: "churn: median latency of the churn_lookups_ok lookups (nearest rank); null when none"},
	{Name: "churn_lookup_p99_ns", Type: trace.Int64, Nullable: true, Doc: "churn: 99th percentile latency of the churn_lookups_ok lookups (nearest rank); null when none"},
	{Name: "churn_maint_messages", Type: trace.Int64, Doc: "churn: maintenance messages sent in the window: everything but client operations and their answers"},
	{Name: "churn_maint_bytes", Type: trace.Int64, Doc: "churn: wire bytes of those messages (protocol.Message.WireSize)"},
	{Name: "churn_keys_lost", Type: trace.Int64, Doc: "churn: keys with no live copy at the end check"},
	{Name: "churn_keys_under_replicated", Type: trace.Int64, Doc: "churn: keys with fewer than workload_replicas+1 live copies at the end check (lost keys included)"},
	{Name: "churn_first_key_loss_ns", Type: trace.Int64, Nullable: true, Doc: "churn: when a key first lost its last live copy; null if none did"},
	{Name: "churn_ring_correct", Type: trace.Bool, Doc: "churn: at the end check, the live connected nodes' neighbours form the true ring"},
	{Name: "churn_repair_ns", Type: trace.Int64, Nullable: true, Doc: "churn: time from churn stop to the first correct ring (checked every tenth of a stabilization period); null if none by the end check"},
	{Name: "churn_repair_periods", Type: trace.Float64, Nullable: true, Doc: "churn: churn_repair_ns in stabilization periods"},
	{Name: "wall_ns", Type: trace.Int64, Encoding: trace.Plain, Doc: "wall-clock time the run took; the only non-deterministic column"},
}

// Positions of the RunSchema columns: the run's identity, then the parameters from
// rcParams on, then the outcome columns from rcOutcome on.
const (
	rcRunID = iota
	rcGridPoint
	rcReplica
	rcSeed
	rcParams
)

// Offsets of the outcome columns from rcOutcome.
const (
	ocOutcome = iota
	ocRingCorrect
	ocDetail
	ocViolation
	ocJoins
	ocJoinsOK
	ocLatP50
	ocLatP99
	ocLatMax
	ocMessages
	ocRedirects
	ocEvents
	ocSimTime
	ocKVKeys
	ocKVOps
	ocKVAnswered
	ocKVOpsOK
	ocKVHops
	ocKVLookups
	ocKVLookupsAnswered
	ocKVLookupsOK
	ocKVLookupHops
	ocKVGets
	ocKVMissing
	ocKVStale
	ocKVKeyChecks
	ocKVKeyFailures
	ocKVLost
	ocKVDuplicated
	ocKVMisplaced
	ocKVFirstFailure
	ocKVFingers
	ocKVFingersStale
	ocKVLookupP50
	ocKVLookupP99
	ocDeparted
	ocKVMessages
	ocKVReplicasMissing
	ocKVReplicasExtra
	ocChurnArrivals
	ocChurnLeaves
	ocChurnCrashes
	ocChurnCrashesPostponed
	ocChurnWindow
	ocChurnLiveMean
	ocChurnLookups
	ocChurnLookupsOK
	ocChurnLookupsConsistent
	ocChurnLookupP50
	ocChurnLookupP99
	ocChurnMaintMessages
	ocChurnMaintBytes
	ocChurnKeysLost
	ocChurnKeysUnder
	ocChurnFirstKeyLoss
	ocChurnRingCorrect
	ocChurnRepair
	ocChurnRepairPeriods
	ocWall
)

var rcOutcome = rcParams + len(params.All)

// runRow is what a worker keeps of a finished run: everything the runs and joins tables
// need, so the simulator's result can be dropped at once.
type runRow struct {
	id      int64
	point   int32
	replica int32
	seed    uint64
	wall    int64

	outcome     string
	ringCorrect bool
	detail      string
	violation   string
	nJoins      int64 // joins attempted
	joinsOK     int64
	p50, p99    int64 // -1 when no join succeeded
	max         int64
	messages    int64
	redirects   int64
	events      int64
	simTime     int64

	departed             int64
	kv                   sim.KVSummary
	churn                sim.ChurnSummary
	lookupP50, lookupP99 int64 // -1 when no lookup succeeded

	joins []trace.Join // for the joins file only; reused across runs
	// ops is the run's own, dropped once written: rows are recycled, and a row that kept
	// the storage of its largest run would hold thousands of operations for good.
	ops []trace.Op
}

// fill copies a result into the row, reusing the row's join slice; lat is scratch space.
// Joins and operations are copied only with keepTables, when the joins and ops files are
// written: operations are the bulk of a workload run's result, and rows that hold nothing
// but the runs table's values are small enough for a wide window (see writer.run).
func (r *runRow) fill(res *sim.Result, lat []int64, keepTables bool) []int64 {
	r.outcome, r.ringCorrect, r.detail = res.Outcome, res.RingCorrect, res.Detail
	r.violation = ""
	if res.Violation != nil {
		r.violation = res.Violation.Property
	}
	r.messages, r.redirects, r.events, r.simTime = res.Messages, res.Redirects, res.Events, res.SimTime
	r.nJoins = int64(len(res.Joins))
	r.joins = r.joins[:0]
	lat = lat[:0]
	for i := range res.Joins {
		j := &res.Joins[i]
		if keepTables {
			r.joins = append(r.joins, trace.Join{RunID: r.id, Joiner: id64(j.Joiner), Contact: id64(j.Contact),
				StartNs: j.Start, EndNs: j.End, Hops: j.Hops, Messages: j.Messages, Outcome: j.Outcome})
		}
		if j.Outcome == observe.JoinOK {
			lat = append(lat, j.Latency())
		}
	}
	r.joinsOK = int64(len(lat))
	r.p50, r.p99, r.max = -1, -1, -1
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50, r.p99, r.max = stats.NearestRank(lat, 50), stats.NearestRank(lat, 99), lat[len(lat)-1]
	}

	r.kv = res.KV
	r.churn = res.Churn
	r.departed = int64(res.Departed)
	r.ops = nil
	if keepTables && len(res.Ops) > 0 {
		r.ops = make([]trace.Op, 0, len(res.Ops))
	}
	lat = lat[:0]
	for i := range res.Ops {
		o := &res.Ops[i]
		if keepTables {
			r.ops = append(r.ops, trace.Op{RunID: r.id, Op: int64(o.Op), Kind: o.Kind.String(), Key: int64(o.Key),
				Origin: id64(o.Origin), StartNs: o.Start, EndNs: o.End, Hops: int64(o.Hops), Status: o.Status,
				Owner: id64(o.Owner), Correct: o.Correct, Class: o.Class, Phase: o.Phase})
		}
		// The same lookups as kv_lookups_ok, so that latency and hops describe one population.
		if o.Kind == protocol.OpLookup && o.Status == protocol.StatusOK.String() && o.Correct && o.End >= 0 {
			lat = append(lat, o.Latency())
		}
	}
	r.lookupP50, r.lookupP99 = -1, -1
	if len(lat) > 0 {
		slices.Sort(lat)
		r.lookupP50, r.lookupP99 = stats.NearestRank(lat, 50), stats.NearestRank(lat, 99)
	}
	return lat
}

// id64 maps a node ID to the trace's integer form, where -1 is null.
func id64(id protocol.ID) int64 {
	if id == protocol.None {
		return -1
	}
	return int64(id)
}

// pointColumns are a grid point's values of the runs table's columns that depend on the
// point alone. Worked out once per point rather than once per run, where they were most of
// the cost of writing a row of a short run.
type pointColumns struct {
	params []params.Value // the parameter columns, in params.All order
	churn  bool           // the point's runs have churn
}

// set fills c for grid point p, reusing c's storage.
func (c *pointColumns) set(p *Point) {
	run := params.Run{Mode: p.Mode, Config: p.Config}.InEffect()
	c.params = c.params[:0]
	for i := range params.All {
		c.params = append(c.params, params.All[i].Get(&run))
	}
	c.churn = p.Config.Churn.On()
}

// writeRun appends one row to a runs file. pc holds the columns of the run's grid point.
func writeRun(w *trace.Writer, r *runRow, pc *pointColumns) error {
	w.Int64(rcRunID, r.id)
	w.Int64(rcGridPoint, int64(r.point))
	w.Int64(rcReplica, int64(r.replica))
	w.Int64(rcSeed, int64(r.seed))
	for i := range pc.params {
		col := rcParams + i
		switch v := &pc.params[i]; v.Kind {
		case params.KindString:
			if params.All[i].Nullable && v.Str == "" {
				w.Null(col)
			} else {
				w.String(col, v.Str)
			}
		case params.KindInt, params.KindDuration:
			w.Int64(col, v.Int)
		case params.KindFloat:
			w.Float64(col, v.Float)
		case params.KindBool:
			w.Bool(col, v.Bool)
		}
	}
	oc := func(c int) int { return rcOutcome + c }
	w.String(oc(ocOutcome), r.outcome)
	w.Bool(oc(ocRingCorrect), r.ringCorrect)
	optText(w, oc(ocDetail), r.detail)
	optText(w, oc(ocViolation), r.violation)
	w.Int64(oc(ocJoins), r.nJoins)
	w.Int64(oc(ocJoinsOK), r.joinsOK)
	optInt(w, oc(ocLatP50), r.p50)
	optInt(w, oc(ocLatP99), r.p99)
	optInt(w, oc(ocLatMax), r.max)
	w.Int64(oc(ocMessages), r.messages)
	w.Int64(oc(ocRedirects), r.redirects)
	w.Int64(oc(ocEvents), r.events)
	w.Int64(oc(ocSimTime), r.simTime)
	kv := &r.kv
	for _, v := range [...]struct {
		col int
		n   int64
	}{
		{oc(ocKVKeys), int64(kv.Keys)}, {oc(ocKVOps), int64(kv.Ops)}, {oc(ocKVAnswered), int64(kv.Answered)},
		{oc(ocKVOpsOK), int64(kv.OpsOK)}, {oc(ocKVHops), kv.Hops}, {oc(ocKVLookups), int64(kv.Lookups)},
		{oc(ocKVLookupsAnswered), int64(kv.LookupsAnswered)}, {oc(ocKVLookupsOK), int64(kv.LookupsOK)},
		{oc(ocKVLookupHops), kv.LookupHops}, {oc(ocKVGets), int64(kv.Gets)}, {oc(ocKVMissing), int64(kv.Missing)},
		{oc(ocKVStale), int64(kv.Stale)}, {oc(ocKVKeyChecks), int64(kv.KeyChecks)}, {oc(ocKVKeyFailures), int64(kv.KeyFailures)},
		{oc(ocKVLost), int64(kv.Lost)}, {oc(ocKVDuplicated), int64(kv.Duplicated)}, {oc(ocKVMisplaced), int64(kv.Misplaced)},
	} {
		w.Int64(v.col, v.n)
	}
	optText(w, oc(ocKVFirstFailure), kv.FirstFailure)
	w.Int64(oc(ocKVFingers), int64(kv.Fingers))
	w.Int64(oc(ocKVFingersStale), int64(kv.FingersStale))
	optInt(w, oc(ocKVLookupP50), r.lookupP50)
	optInt(w, oc(ocKVLookupP99), r.lookupP99)
	w.Int64(oc(ocDeparted), r.departed)
	w.Int64(oc(ocKVMessages), kv.Messages)
	w.Int64(oc(ocKVReplicasMissing), int64(kv.ReplicasMissing))
	w.Int64(oc(ocKVReplicasExtra), int64(kv.ReplicasExtra))
	writeChurn(w, oc, &r.churn, pc.churn)
	w.Int64(oc(ocWall), r.wall)
	return w.EndRow()
}

// writeChurn writes the churn columns: zeros and nulls for a run without churn.
func writeChurn(w *trace.Writer, oc func(int) int, c *sim.ChurnSummary, on bool) {
	if !on {
		c = &sim.ChurnSummary{LookupP50: -1, LookupP99: -1, FirstKeyLoss: -1, Repair: -1}
	}
	for _, v := range [...]struct {
		col int
		n   int64
	}{
		{ocChurnArrivals, int64(c.Arrivals)}, {ocChurnLeaves, int64(c.Leaves)}, {ocChurnCrashes, int64(c.Crashes)},
		{ocChurnCrashesPostponed, int64(c.CrashesPostponed)}, {ocChurnWindow, c.Window},
	} {
		w.Int64(oc(v.col), v.n)
	}
	w.Float64(oc(ocChurnLiveMean), c.LiveMean)
	w.Int64(oc(ocChurnLookups), int64(c.Lookups))
	w.Int64(oc(ocChurnLookupsOK), int64(c.LookupsOK))
	w.Int64(oc(ocChurnLookupsConsistent), int64(c.LookupsConsistent))
	optInt(w, oc(ocChurnLookupP50), c.LookupP50)
	optInt(w, oc(ocChurnLookupP99), c.LookupP99)
	w.Int64(oc(ocChurnMaintMessages), c.MaintMessages)
	w.Int64(oc(ocChurnMaintBytes), c.MaintBytes)
	w.Int64(oc(ocChurnKeysLost), int64(c.KeysLost))
	w.Int64(oc(ocChurnKeysUnder), int64(c.KeysUnderReplicated))
	optInt(w, oc(ocChurnFirstKeyLoss), c.FirstKeyLoss)
	w.Bool(oc(ocChurnRingCorrect), c.RingCorrect)
	optInt(w, oc(ocChurnRepair), c.Repair)
	if c.Repair < 0 {
		w.Null(oc(ocChurnRepairPeriods))
	} else {
		w.Float64(oc(ocChurnRepairPeriods), c.RepairPeriods)
	}
}

func optText(w *trace.Writer, col int, v string) {
	if v == "" {
		w.Null(col)
	} else {
		w.String(col, v)
	}
}

func optInt(w *trace.Writer, col int, v int64) {
	if v < 0 {
		w.Null(col)
	} else {
		w.Int64(col, v)
	}
}

// eventBuf collects a worker's events as trace rows and encodes them on the worker. A
// buffer of trace.ChunkEvents events, filled column by column, goes to the worker's
// encoder whenever it is full, while its rows are still in the core's cache; the encoder
// stages them and encodes each row group, and take hands the pages over with the piece.
// (Pieces used to carry their events as columns for the goroutine that writes to copy and
// encode: the copying read them back from memory, the encoding ran behind one goroutine,
// and the events in flight took ninety bytes each instead of fourteen.) Strings are the
// names' own, copied by reference.
type eventBuf struct {
	run   int64
	chunk *trace.ObservedChunk // events not yet handed to enc
	enc   *trace.EventEncoder
	err   error // the first failure to encode, reported by take
}

// newEventBuf returns an eventBuf whose encoder encodes for an events file written with
// default options, as the writer's are.
func newEventBuf() (*eventBuf, error) {
	enc, err := trace.NewEventEncoder(trace.Options{})
	if err != nil {
		return nil, err
	}
	return &eventBuf{enc: enc, chunk: new(trace.ObservedChunk)}, nil
}

func (b *eventBuf) Event(e *observe.Event) {
	if b.chunk.Full() {
		b.spill()
	}
	b.chunk.Append(b.run, e)
}

// spill hands the buffered events to the encoder.
func (b *eventBuf) spill() {
	if b.err == nil {
		b.err = b.enc.WriteChunk(b.chunk)
	}
	b.chunk.Reset()
}

// rows returns the number of events since the last take.
func (b *eventBuf) rows() int {
	return int(b.enc.Rows()) + b.chunk.Len()
}

// take moves the events since the last take, encoded, into dst.
func (b *eventBuf) take(dst *trace.Encoded) error {
	b.spill()
	if b.err != nil {
		return b.err
	}
	return b.enc.Take(dst)
}

// release gives the encoder's storage back.
func (b *eventBuf) release() { b.enc.Release() }

// pop removes the last element of a free list and returns it, or nil if the list is empty.
func pop[T any](free *[]*T) *T {
	n := len(*free)
	if n == 0 {
		return nil
	}
	x := (*free)[n-1]
	(*free)[n-1] = nil
	*free = (*free)[:n-1]
	return x
}
