package runner

import (
	"slices"
	"strings"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// RunSchema is the layout of runs files: one row per run, parameters as columns. Bump
// Version whenever a column is added, removed, renamed or changes meaning.
var RunSchema = trace.Schema{
	Name:    trace.RunsSchemaName,
	Version: 3,
	Columns: []trace.Column{
		{Name: "run_id", Type: trace.Int64, Encoding: trace.Delta, Doc: "grid_point × seeds + replica, unique within the result set"},
		{Name: "grid_point", Type: trace.Int64, Encoding: trace.Delta, Doc: "index into the manifest's grid"},
		{Name: "replica", Type: trace.Int64, Encoding: trace.Delta, Doc: "0 .. seeds-1"},
		{Name: "seed", Type: trace.Int64, Encoding: trace.Plain, Doc: "the run's seed (the uint64 bit pattern)"},

		{Name: "mode", Type: trace.String, Doc: "sim (the simulator) or cluster (real nodes on loopback sockets)"},
		{Name: "scenario", Type: trace.String, Doc: "simple, advanced or random"},
		{Name: "protocol", Type: trace.String, Doc: "protocol variant"},
		{Name: "timing", Type: trace.String, Doc: "seed or async timing model"},
		{Name: "link", Type: trace.String, Doc: "fifo or reorder (async timing)"},
		{Name: "delay_kind", Type: trace.String, Doc: "message delay distribution"},
		{Name: "nodes", Type: trace.Int64, Doc: "advanced: n; random: initial ring members"},
		{Name: "joiners", Type: trace.Int64, Doc: "random: newcomers"},
		{Name: "bits", Type: trace.Int64, Doc: "ID space is 2^bits"},
		{Name: "max_messages", Type: trace.Int64, Doc: "message budget before a run counts as a livelock"},
		{Name: "check", Type: trace.Bool, Doc: "whether safety properties were checked after every event"},
		{Name: "join_window_ns", Type: trace.Int64, Doc: "newcomers start spread over [0, join_window]"},
		{Name: "unit_ns", Type: trace.Int64, Doc: "the seed timing model's time unit"},
		{Name: "horizon_ns", Type: trace.Int64, Doc: "nothing at or after this virtual time happens"},
		{Name: "delay_value_ns", Type: trace.Int64, Doc: "constant delay; 0 for other kinds"},
		{Name: "delay_min_ns", Type: trace.Int64, Doc: "uniform, uniform-int: smallest delay; 0 for other kinds"},
		{Name: "delay_max_ns", Type: trace.Int64, Doc: "uniform, uniform-int: largest delay; 0 for other kinds"},
		{Name: "delay_step_ns", Type: trace.Int64, Doc: "uniform-int: granularity in effect (the unit when unset); 0 for other kinds"},
		{Name: "delay_mean_ns", Type: trace.Int64, Doc: "exponential: mean delay; 0 for other kinds"},
		{Name: "delay_median_ns", Type: trace.Int64, Doc: "lognormal: median delay; 0 for other kinds"},
		{Name: "delay_sigma", Type: trace.Float64, Doc: "lognormal: shape; 0 for other kinds"},
		{Name: "faults_loss", Type: trace.Float64, Doc: "probability that a message is lost"},
		{Name: "faults_duplicate", Type: trace.Float64, Doc: "probability that a message is delivered twice"},
		{Name: "faults_reorder_window_ns", Type: trace.Int64, Doc: "extra uniform delay in [0, window] per message"},
		{Name: "faults_spike_prob", Type: trace.Float64, Doc: "probability of a delay spike"},
		{Name: "faults_spike_ns", Type: trace.Int64, Doc: "extra delay of a spike"},
		{Name: "faults_crash_node", Type: trace.String, Nullable: true, Doc: "random, member, joiner or a node ID; null: no crash"},
		{Name: "faults_crash_at_ns", Type: trace.Int64, Doc: "when the node crashes"},
		{Name: "faults_crash_after", Type: trace.String, Nullable: true, Doc: "message type after whose first send the node crashes"},
		{Name: "faults_restart_after_ns", Type: trace.Int64, Doc: "crashed node comes back after this long; 0: never"},
		{Name: "faults_partition_fraction", Type: trace.Float64, Doc: "probability that a node lands on the minority side of a partition"},
		{Name: "faults_partition_at_ns", Type: trace.Int64, Doc: "when the partition starts"},
		{Name: "faults_heal_at_ns", Type: trace.Int64, Doc: "when the partition heals; 0: never"},
		{Name: "timeout_ns", Type: trace.Int64, Doc: "variants that retry: wait for an answer (0: the variant's default)"},
		{Name: "retries", Type: trace.Int64, Doc: "variants that retry: attempts without progress (0: the variant's default)"},
		{Name: "workload_keys", Type: trace.Int64, Doc: "DHT workload: distinct keys stored from the start; the workload columns are 0 or empty when the run has none"},
		{Name: "workload_rate", Type: trace.Float64, Doc: "DHT workload: client operations per second of virtual time over the ring"},
		{Name: "workload_lookup", Type: trace.Float64, Doc: "DHT workload: relative weight of lookups"},
		{Name: "workload_get", Type: trace.Float64, Doc: "DHT workload: relative weight of gets"},
		{Name: "workload_put", Type: trace.Float64, Doc: "DHT workload: relative weight of puts"},
		{Name: "workload_popularity", Type: trace.String, Doc: "DHT workload: uniform or zipf key popularity"},
		{Name: "workload_zipf_s", Type: trace.Float64, Doc: "DHT workload: zipf exponent; 0 for uniform popularity"},
		{Name: "workload_before_ns", Type: trace.Int64, Doc: "DHT workload: operations start this long before the joins"},
		{Name: "workload_after_ns", Type: trace.Int64, Doc: "DHT workload: operations go on this long after the last join ended"},
		{Name: "workload_finger_period_ns", Type: trace.Int64, Doc: "DHT workload: how often a node refreshes one finger; 0: no fingers"},
		{Name: "workload_fingers", Type: trace.String, Doc: "DHT workload: fresh or empty fingers at the initial members"},
		{Name: "workload_hop_budget", Type: trace.Int64, Doc: "DHT workload: forwards before an operation fails (the value in effect)"},
		{Name: "workload_op_timeout_ns", Type: trace.Int64, Doc: "DHT workload: how long a client waits for an answer (the value in effect)"},
		{Name: "workload_replicas", Type: trace.Int64, Doc: "DHT workload: successors of a key's owner that keep a copy"},
		{Name: "leavers", Type: trace.Int64, Doc: "initial members that leave gracefully during the join window"},

		{Name: "outcome", Type: trace.String, Doc: "one of " + strings.Join(observe.Outcomes, ", ")},
		{Name: "ring_correct", Type: trace.Bool, Doc: "final ring exactly right and every newcomer connected"},
		{Name: "detail", Type: trace.Text, Nullable: true, Doc: "why the outcome is not ok"},
		{Name: "violation", Type: trace.String, Nullable: true, Doc: "first safety property broken, if any"},
		{Name: "joins", Type: trace.Int64, Doc: "joins attempted"},
		{Name: "joins_ok", Type: trace.Int64, Doc: "joins that succeeded"},
		{Name: "latency_p50_ns", Type: trace.Int64, Nullable: true, Doc: "median join latency over the run's successful joins (nearest rank)"},
		{Name: "latency_p99_ns", Type: trace.Int64, Nullable: true, Doc: "99th percentile join latency over the run's successful joins (nearest rank)"},
		{Name: "latency_max_ns", Type: trace.Int64, Nullable: true, Doc: "longest successful join"},
		{Name: "messages", Type: trace.Int64, Doc: "protocol messages sent"},
		{Name: "redirects", Type: trace.Int64, Doc: "connect_redirect messages sent"},
		{Name: "events", Type: trace.Int64, Doc: "simulator events processed"},
		{Name: "sim_time_ns", Type: trace.Int64, Doc: "virtual time of the last event"},
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
		{Name: "kv_lookup_latency_p50_ns", Type: trace.Int64, Nullable: true, Doc: "median latency of the kv_lookups_ok lookups (nearest rank); null when none"},
		{Name: "kv_lookup_latency_p99_ns", Type: trace.Int64, Nullable: true, Doc: "99th percentile latency of the kv_lookups_ok lookups (nearest rank); null when none"},
		{Name: "departed", Type: trace.Int64, Doc: "leavers that left the ring"},
		{Name: "kv_messages", Type: trace.Int64, Doc: "DHT messages sent: operations, answers, copies and finger maintenance (not in messages)"},
		{Name: "kv_replicas_missing", Type: trace.Int64, Doc: "copies missing at the end at a successor that should hold one"},
		{Name: "kv_replicas_extra", Type: trace.Int64, Doc: "copies held at the end beyond the owner's workload_replicas successors (never served)"},
		{Name: "wall_ns", Type: trace.Int64, Encoding: trace.Plain, Doc: "wall-clock time the run took; the only non-deterministic column"},
	},
}

// Positions of the RunSchema columns.
const (
	rcRunID = iota
	rcGridPoint
	rcReplica
	rcSeed
	rcMode
	rcScenario
	rcProtocol
	rcTiming
	rcLink
	rcDelayKind
	rcNodes
	rcJoiners
	rcBits
	rcMaxMessages
	rcCheck
	rcJoinWindow
	rcUnit
	rcHorizon
	rcDelayValue
	rcDelayMin
	rcDelayMax
	rcDelayStep
	rcDelayMean
	rcDelayMedian
	rcDelaySigma
	rcFaultsLoss
	rcFaultsDuplicate
	rcFaultsReorderWindow
	rcFaultsSpikeProb
	rcFaultsSpike
	rcFaultsCrashNode
	rcFaultsCrashAt
	rcFaultsCrashAfter
	rcFaultsRestartAfter
	rcFaultsPartitionFraction
	rcFaultsPartitionAt
	rcFaultsHealAt
	rcTimeout
	rcRetries
	rcWorkloadKeys
	rcWorkloadRate
	rcWorkloadLookup
	rcWorkloadGet
	rcWorkloadPut
	rcWorkloadPopularity
	rcWorkloadZipfS
	rcWorkloadBefore
	rcWorkloadAfter
	rcWorkloadFingerPeriod
	rcWorkloadFingers
	rcWorkloadHopBudget
	rcWorkloadOpTimeout
	rcWorkloadReplicas
	rcLeavers
	rcOutcome
	rcRingCorrect
	rcDetail
	rcViolation
	rcJoins
	rcJoinsOK
	rcLatP50
	rcLatP99
	rcLatMax
	rcMessages
	rcRedirects
	rcEvents
	rcSimTime
	rcKVKeys
	rcKVOps
	rcKVAnswered
	rcKVOpsOK
	rcKVHops
	rcKVLookups
	rcKVLookupsAnswered
	rcKVLookupsOK
	rcKVLookupHops
	rcKVGets
	rcKVMissing
	rcKVStale
	rcKVKeyChecks
	rcKVKeyFailures
	rcKVLost
	rcKVDuplicated
	rcKVMisplaced
	rcKVFirstFailure
	rcKVFingers
	rcKVFingersStale
	rcKVLookupP50
	rcKVLookupP99
	rcDeparted
	rcKVMessages
	rcKVReplicasMissing
	rcKVReplicasExtra
	rcWall
)

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
	joinsOK     int64
	p50, p99    int64 // -1 when no join succeeded
	max         int64
	messages    int64
	redirects   int64
	events      int64
	simTime     int64

	departed             int64
	kv                   sim.KVSummary
	lookupP50, lookupP99 int64 // -1 when no lookup succeeded

	joins []trace.Join // reused across runs
	// ops is the run's own, dropped once written: rows are recycled, and a row that kept
	// the storage of its largest run would hold thousands of operations for good.
	ops []trace.Op
}

// fill copies a result into the row, reusing the row's join slice; lat is scratch space.
// Operations are copied only with keepOps: they are the bulk of a workload run's result,
// and useless when no ops file is written.
func (r *runRow) fill(res *sim.Result, lat []int64, keepOps bool) []int64 {
	r.outcome, r.ringCorrect, r.detail = res.Outcome, res.RingCorrect, res.Detail
	r.violation = ""
	if res.Violation != nil {
		r.violation = res.Violation.Property
	}
	r.messages, r.redirects, r.events, r.simTime = res.Messages, res.Redirects, res.Events, res.SimTime
	r.joins = r.joins[:0]
	lat = lat[:0]
	for i := range res.Joins {
		j := &res.Joins[i]
		r.joins = append(r.joins, trace.Join{RunID: r.id, Joiner: id64(j.Joiner), Contact: id64(j.Contact),
			StartNs: j.Start, EndNs: j.End, Hops: j.Hops, Messages: j.Messages, Outcome: j.Outcome})
		if j.Outcome == observe.JoinOK {
			lat = append(lat, j.Latency())
		}
	}
	r.joinsOK = int64(len(lat))
	r.p50, r.p99, r.max = -1, -1, -1
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50, r.p99, r.max = nearestRank(lat, 50), nearestRank(lat, 99), lat[len(lat)-1]
	}

	r.kv = res.KV
	r.departed = int64(res.Departed)
	r.ops = nil
	if keepOps && len(res.Ops) > 0 {
		r.ops = make([]trace.Op, 0, len(res.Ops))
	}
	lat = lat[:0]
	for i := range res.Ops {
		o := &res.Ops[i]
		if keepOps {
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
		r.lookupP50, r.lookupP99 = nearestRank(lat, 50), nearestRank(lat, 99)
	}
	return lat
}

// nearestRank is the smallest value with at least pct percent of the sorted values at or
// below it.
func nearestRank(sorted []int64, pct int) int64 {
	k := (pct*len(sorted) + 99) / 100
	return sorted[max(k, 1)-1]
}

// id64 maps a node ID to the trace's integer form, where -1 is null.
func id64(id protocol.ID) int64 {
	if id == protocol.None {
		return -1
	}
	return int64(id)
}

// writeRun appends one row to a runs file. p is the run's grid point.
func writeRun(w *trace.Writer, r *runRow, p *Point) error {
	c := &p.Config
	timing, link, delayKind := c.Timing, c.Link, c.Delay.Kind
	maxMessages, unit, check := c.MaxMessages, c.Unit, !c.NoCheck
	d := effectiveDelay(c)
	if p.Mode == ModeCluster {
		// The row says what ran, as dhtexp cluster's does: the network's own delays, and
		// none of the simulator's timing, budget or per-event checks.
		timing, link, delayKind = "real", "tcp", "real"
		maxMessages, unit, check = 0, 0, false
		d = sim.Delay{Kind: delayKind}
	}
	w.Int64(rcRunID, r.id)
	w.Int64(rcGridPoint, int64(r.point))
	w.Int64(rcReplica, int64(r.replica))
	w.Int64(rcSeed, int64(r.seed))
	w.String(rcMode, p.Mode)
	w.String(rcScenario, c.Scenario)
	w.String(rcProtocol, c.Protocol)
	w.String(rcTiming, timing)
	w.String(rcLink, link)
	w.String(rcDelayKind, delayKind)
	w.Int64(rcNodes, int64(c.Nodes))
	w.Int64(rcJoiners, int64(c.Joiners))
	w.Int64(rcBits, int64(c.Bits))
	w.Int64(rcMaxMessages, maxMessages)
	w.Bool(rcCheck, check)
	w.Int64(rcJoinWindow, c.JoinWindow)
	w.Int64(rcUnit, unit)
	w.Int64(rcHorizon, c.Horizon)
	w.Int64(rcDelayValue, d.Value)
	w.Int64(rcDelayMin, d.Min)
	w.Int64(rcDelayMax, d.Max)
	w.Int64(rcDelayStep, d.Step)
	w.Int64(rcDelayMean, d.Mean)
	w.Int64(rcDelayMedian, d.Median)
	w.Float64(rcDelaySigma, d.Sigma)
	f := &c.Faults
	w.Float64(rcFaultsLoss, f.Loss)
	w.Float64(rcFaultsDuplicate, f.Duplicate)
	w.Int64(rcFaultsReorderWindow, f.ReorderWindow)
	w.Float64(rcFaultsSpikeProb, f.SpikeProb)
	w.Int64(rcFaultsSpike, f.Spike)
	optText(w, rcFaultsCrashNode, f.CrashNode)
	w.Int64(rcFaultsCrashAt, f.CrashAt)
	optText(w, rcFaultsCrashAfter, f.CrashAfter)
	w.Int64(rcFaultsRestartAfter, f.RestartAfter)
	w.Float64(rcFaultsPartitionFraction, f.PartitionFraction)
	w.Int64(rcFaultsPartitionAt, f.PartitionAt)
	w.Int64(rcFaultsHealAt, f.HealAt)
	w.Int64(rcTimeout, c.Timeout)
	w.Int64(rcRetries, int64(c.Retries))
	wl := effectiveWorkload(c) // cluster mode has none (checkCluster)
	w.Int64(rcWorkloadKeys, int64(wl.Keys))
	w.Float64(rcWorkloadRate, wl.Rate)
	w.Float64(rcWorkloadLookup, wl.Lookup)
	w.Float64(rcWorkloadGet, wl.Get)
	w.Float64(rcWorkloadPut, wl.Put)
	w.String(rcWorkloadPopularity, wl.Popularity)
	w.Float64(rcWorkloadZipfS, wl.ZipfS)
	w.Int64(rcWorkloadBefore, wl.Before)
	w.Int64(rcWorkloadAfter, wl.After)
	w.Int64(rcWorkloadFingerPeriod, wl.FingerPeriod)
	w.String(rcWorkloadFingers, wl.Fingers)
	w.Int64(rcWorkloadHopBudget, int64(wl.HopBudget))
	w.Int64(rcWorkloadOpTimeout, wl.OpTimeout)
	w.Int64(rcWorkloadReplicas, int64(wl.Replicas))
	w.Int64(rcLeavers, int64(c.Leavers))
	w.String(rcOutcome, r.outcome)
	w.Bool(rcRingCorrect, r.ringCorrect)
	optText(w, rcDetail, r.detail)
	optText(w, rcViolation, r.violation)
	w.Int64(rcJoins, int64(len(r.joins)))
	w.Int64(rcJoinsOK, r.joinsOK)
	optInt(w, rcLatP50, r.p50)
	optInt(w, rcLatP99, r.p99)
	optInt(w, rcLatMax, r.max)
	w.Int64(rcMessages, r.messages)
	w.Int64(rcRedirects, r.redirects)
	w.Int64(rcEvents, r.events)
	w.Int64(rcSimTime, r.simTime)
	kv := &r.kv
	for _, v := range [...]struct {
		col int
		n   int64
	}{
		{rcKVKeys, int64(kv.Keys)}, {rcKVOps, int64(kv.Ops)}, {rcKVAnswered, int64(kv.Answered)},
		{rcKVOpsOK, int64(kv.OpsOK)}, {rcKVHops, kv.Hops}, {rcKVLookups, int64(kv.Lookups)},
		{rcKVLookupsAnswered, int64(kv.LookupsAnswered)}, {rcKVLookupsOK, int64(kv.LookupsOK)},
		{rcKVLookupHops, kv.LookupHops}, {rcKVGets, int64(kv.Gets)}, {rcKVMissing, int64(kv.Missing)},
		{rcKVStale, int64(kv.Stale)}, {rcKVKeyChecks, int64(kv.KeyChecks)}, {rcKVKeyFailures, int64(kv.KeyFailures)},
		{rcKVLost, int64(kv.Lost)}, {rcKVDuplicated, int64(kv.Duplicated)}, {rcKVMisplaced, int64(kv.Misplaced)},
	} {
		w.Int64(v.col, v.n)
	}
	optText(w, rcKVFirstFailure, kv.FirstFailure)
	w.Int64(rcKVFingers, int64(kv.Fingers))
	w.Int64(rcKVFingersStale, int64(kv.FingersStale))
	optInt(w, rcKVLookupP50, r.lookupP50)
	optInt(w, rcKVLookupP99, r.lookupP99)
	w.Int64(rcDeparted, r.departed)
	w.Int64(rcKVMessages, kv.Messages)
	w.Int64(rcKVReplicasMissing, int64(kv.ReplicasMissing))
	w.Int64(rcKVReplicasExtra, int64(kv.ReplicasExtra))
	w.Int64(rcWall, r.wall)
	return w.EndRow()
}

// effectiveDelay keeps only the delay parameters the distribution uses, so that a column
// is non-zero exactly when it mattered.
func effectiveDelay(c *sim.Config) sim.Delay {
	d := c.Delay
	out := sim.Delay{Kind: d.Kind}
	switch d.Kind {
	case "constant":
		out.Value = d.Value
	case "uniform":
		out.Min, out.Max = d.Min, d.Max
	case "uniform-int":
		out.Min, out.Max, out.Step = d.Min, d.Max, d.Step
		if out.Step <= 0 {
			out.Step = c.Unit
		}
	case "exponential":
		out.Mean = d.Mean
	case "lognormal":
		out.Median, out.Sigma = d.Median, d.Sigma
	}
	return out
}

// effectiveWorkload is the workload as it ran, in the spirit of effectiveDelay: all zero
// without one, the zipf exponent only under zipf popularity, and the protocol's defaults
// where the spec leaves the hop budget and the operation timeout 0.
func effectiveWorkload(c *sim.Config) sim.Workload {
	w := c.Workload
	if !w.Active() {
		return sim.Workload{}
	}
	if w.Popularity != "zipf" {
		w.ZipfS = 0
	}
	if w.HopBudget == 0 {
		w.HopBudget = protocol.DefaultHopBudget
	}
	if w.OpTimeout == 0 {
		w.OpTimeout = protocol.DefaultOpTimeout
	}
	return w
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

// eventBuf collects a run's events as trace rows, column by column, into storage that is
// recycled with its unit, so tracing allocates nothing per event once the buffers have grown.
// Strings are the names' own, copied by reference.
type eventBuf struct {
	run  int64
	cols *trace.EventColumns
}

func (b *eventBuf) Event(e *observe.Event) {
	mt := ""
	if e.MsgType != 0 {
		mt = e.MsgType.String()
	}
	c := b.cols
	c.RunID = append(c.RunID, b.run)
	c.Seq = append(c.Seq, e.Seq)
	c.TimeNs = append(c.TimeNs, e.Time)
	c.Node = append(c.Node, id64(e.Node))
	c.Kind = append(c.Kind, e.Kind.String())
	c.MsgType = append(c.MsgType, mt)
	c.From = append(c.From, id64(e.From))
	c.To = append(c.To, id64(e.To))
	c.Joiner = append(c.Joiner, id64(e.Joiner))
	c.Left = append(c.Left, id64(e.Left))
	c.Right = append(c.Right, id64(e.Right))
	c.Detail = append(c.Detail, e.Detail)
}
