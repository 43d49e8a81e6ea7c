// Package analysistest writes small synthetic result sets laid out exactly
// as docs/results.md describes, for tests and benchmarks of code that reads
// them. It writes the tables and the manifest through package trace, so the
// files are what a sweep would write, and it streams: a Set's runs are
// generated one at a time, so large sets cost no more memory than small ones.
package analysistest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/trace"
)

// RunsSchema is the runs table as version 1 laid it out, before the mode,
// workload and kv columns: sweeps write a newer layout (runner.RunSchema),
// and analysis must go on reading this one, so the fixtures keep it.
var RunsSchema = trace.Schema{
	Name:    trace.RunsSchemaName,
	Version: 1,
	Columns: []trace.Column{
		{Name: "run_id", Type: trace.Int64},
		{Name: "grid_point", Type: trace.Int64},
		{Name: "replica", Type: trace.Int64},
		{Name: "seed", Type: trace.Int64},
		{Name: "scenario", Type: trace.String},
		{Name: "protocol", Type: trace.String},
		{Name: "timing", Type: trace.String},
		{Name: "link", Type: trace.String},
		{Name: "delay_kind", Type: trace.String},
		{Name: "nodes", Type: trace.Int64},
		{Name: "joiners", Type: trace.Int64},
		{Name: "bits", Type: trace.Int64},
		{Name: "max_messages", Type: trace.Int64},
		{Name: "check", Type: trace.Bool},
		{Name: "join_window_ns", Type: trace.Int64},
		{Name: "unit_ns", Type: trace.Int64},
		{Name: "horizon_ns", Type: trace.Int64},
		{Name: "delay_value_ns", Type: trace.Int64},
		{Name: "delay_min_ns", Type: trace.Int64},
		{Name: "delay_max_ns", Type: trace.Int64},
		{Name: "delay_step_ns", Type: trace.Int64},
		{Name: "delay_mean_ns", Type: trace.Int64},
		{Name: "delay_median_ns", Type: trace.Int64},
		{Name: "delay_sigma", Type: trace.Float64},
		{Name: "faults_loss", Type: trace.Float64},
		{Name: "faults_duplicate", Type: trace.Float64},
		{Name: "faults_reorder_window_ns", Type: trace.Int64},
		{Name: "faults_spike_prob", Type: trace.Float64},
		{Name: "faults_spike_ns", Type: trace.Int64},
		{Name: "faults_crash_node", Type: trace.String, Nullable: true},
		{Name: "faults_crash_at_ns", Type: trace.Int64},
		{Name: "faults_crash_after", Type: trace.String, Nullable: true},
		{Name: "faults_restart_after_ns", Type: trace.Int64},
		{Name: "faults_partition_fraction", Type: trace.Float64},
		{Name: "faults_partition_at_ns", Type: trace.Int64},
		{Name: "faults_heal_at_ns", Type: trace.Int64},
		{Name: "outcome", Type: trace.String},
		{Name: "ring_correct", Type: trace.Bool},
		{Name: "detail", Type: trace.Text, Nullable: true},
		{Name: "violation", Type: trace.String, Nullable: true},
		{Name: "joins", Type: trace.Int64},
		{Name: "joins_ok", Type: trace.Int64},
		{Name: "latency_p50_ns", Type: trace.Int64, Nullable: true},
		{Name: "latency_p99_ns", Type: trace.Int64, Nullable: true},
		{Name: "latency_max_ns", Type: trace.Int64, Nullable: true},
		{Name: "messages", Type: trace.Int64},
		{Name: "redirects", Type: trace.Int64},
		{Name: "events", Type: trace.Int64},
		{Name: "sim_time_ns", Type: trace.Int64},
		{Name: "wall_ns", Type: trace.Int64},
	},
}

// KVColumns are the DHT columns of the runs table at version 3: the
// workload parameters, then what the workload came to. A Set with KV
// writes its runs table as RunsSchema followed by these.
var KVColumns = []trace.Column{
	{Name: "workload_keys", Type: trace.Int64},
	{Name: "workload_rate", Type: trace.Float64},
	{Name: "workload_lookup", Type: trace.Float64},
	{Name: "workload_get", Type: trace.Float64},
	{Name: "workload_put", Type: trace.Float64},
	{Name: "workload_popularity", Type: trace.String},
	{Name: "workload_zipf_s", Type: trace.Float64},
	{Name: "workload_before_ns", Type: trace.Int64},
	{Name: "workload_after_ns", Type: trace.Int64},
	{Name: "workload_finger_period_ns", Type: trace.Int64},
	{Name: "workload_fingers", Type: trace.String},
	{Name: "workload_hop_budget", Type: trace.Int64},
	{Name: "workload_op_timeout_ns", Type: trace.Int64},
	{Name: "kv_keys", Type: trace.Int64},
	{Name: "kv_ops", Type: trace.Int64},
	{Name: "kv_answered", Type: trace.Int64},
	{Name: "kv_ops_ok", Type: trace.Int64},
	{Name: "kv_hops", Type: trace.Int64},
	{Name: "kv_lookups", Type: trace.Int64},
	{Name: "kv_lookups_answered", Type: trace.Int64},
	{Name: "kv_lookups_ok", Type: trace.Int64},
	{Name: "kv_lookup_hops", Type: trace.Int64},
	{Name: "kv_gets", Type: trace.Int64},
	{Name: "kv_missing", Type: trace.Int64},
	{Name: "kv_stale", Type: trace.Int64},
	{Name: "kv_key_checks", Type: trace.Int64},
	{Name: "kv_key_failures", Type: trace.Int64},
	{Name: "kv_lost", Type: trace.Int64},
	{Name: "kv_duplicated", Type: trace.Int64},
	{Name: "kv_misplaced", Type: trace.Int64},
	{Name: "kv_first_failure", Type: trace.Text, Nullable: true},
	{Name: "kv_fingers", Type: trace.Int64},
	{Name: "kv_fingers_stale", Type: trace.Int64},
	{Name: "kv_lookup_latency_p50_ns", Type: trace.Int64, Nullable: true},
	{Name: "kv_lookup_latency_p99_ns", Type: trace.Int64, Nullable: true},
	{Name: "leavers", Type: trace.Int64},
	{Name: "departed", Type: trace.Int64},
	{Name: "workload_replicas", Type: trace.Int64},
	{Name: "kv_replicas_missing", Type: trace.Int64},
	{Name: "kv_replicas_extra", Type: trace.Int64},
}

// KVRunsSchema is the runs table of a Set with KV.
var KVRunsSchema = trace.Schema{
	Name:    RunsSchema.Name,
	Version: 3,
	Columns: append(slices.Clone(RunsSchema.Columns), KVColumns...),
}

// ChurnColumns are the stabilize and churn parameters and the churn_
// outcome columns of the runs table at version 7. A Set with Churn writes
// its runs table as KVRunsSchema followed by these.
var ChurnColumns = []trace.Column{
	{Name: "stabilize_ns", Type: trace.Int64},
	{Name: "churn_session", Type: trace.String, Nullable: true},
	{Name: "churn_median_ns", Type: trace.Int64},
	{Name: "churn_shape", Type: trace.Float64},
	{Name: "churn_crash_fraction", Type: trace.Float64},
	{Name: "churn_warmup_ns", Type: trace.Int64},
	{Name: "churn_duration_ns", Type: trace.Int64},
	{Name: "churn_settle_ns", Type: trace.Int64},
	{Name: "churn_arrivals", Type: trace.Int64},
	{Name: "churn_leaves", Type: trace.Int64},
	{Name: "churn_crashes", Type: trace.Int64},
	{Name: "churn_window_ns", Type: trace.Int64},
	{Name: "churn_live_mean", Type: trace.Float64},
	{Name: "churn_lookups", Type: trace.Int64},
	{Name: "churn_lookups_ok", Type: trace.Int64},
	{Name: "churn_lookups_consistent", Type: trace.Int64},
	{Name: "churn_lookup_p50_ns", Type: trace.Int64, Nullable: true},
	{Name: "churn_lookup_p99_ns", Type: trace.Int64, Nullable: true},
	{Name: "churn_maint_messages", Type: trace.Int64},
	{Name: "churn_maint_bytes", Type: trace.Int64},
	{Name: "churn_keys_lost", Type: trace.Int64},
	{Name: "churn_keys_under_replicated", Type: trace.Int64},
	{Name: "churn_first_key_loss_ns", Type: trace.Int64, Nullable: true},
	{Name: "churn_ring_correct", Type: trace.Bool},
	{Name: "churn_repair_ns", Type: trace.Int64, Nullable: true},
	{Name: "churn_repair_periods", Type: trace.Float64, Nullable: true},
}

// ChurnRunsSchema is the runs table of a Set with Churn.
var ChurnRunsSchema = trace.Schema{
	Name:    RunsSchema.Name,
	Version: 7,
	Columns: append(slices.Clone(KVRunsSchema.Columns), ChurnColumns...),
}

// Churn is what a synthetic run's churn came to (churn_ columns without the
// prefix). The parameters come from the axes (churn.median, stabilize)
// when swept, else median 1 min, stabilize 0, warm-up 10 s, session
// exponential.
type Churn struct {
	Arrivals, Leaves, Crashes int64
	WindowNs                  int64
	LiveMean                  float64
	Lookups, LookupsOK        int64
	LookupsConsistent         int64
	LookupP50Ns, LookupP99Ns  int64 // -1 writes null
	MaintMessages, MaintBytes int64
	KeysLost, UnderReplicated int64
	RingCorrect               bool
	// RepairPeriods < 0 writes null (not repaired by the end check).
	RepairPeriods float64
}

// Axis is a sweep axis: its name as a spec writes it and its values
// (numbers, strings, durations as Go duration strings).
type Axis struct {
	Name   string
	Values []any
}

// Column is the runs-table column of the axis: dots become underscores,
// and durations get _ns.
func (a Axis) Column() string {
	c := strings.ReplaceAll(a.Name, ".", "_")
	if len(a.Values) > 0 {
		if s, ok := a.Values[0].(string); ok {
			if _, err := time.ParseDuration(s); err == nil {
				c += "_ns"
			}
		}
	}
	return c
}

// Join is one join of a synthetic run.
type Join struct {
	// LatencyNs is end - start, or -1 for a join that never ended.
	LatencyNs int64
	Hops      int64
	Messages  int64
	// Outcome defaults to observe.JoinOK when LatencyNs >= 0 and
	// observe.JoinNotJoined otherwise.
	Outcome string
}

// KV is what a synthetic run's DHT workload came to, column by column of
// the runs table (kv_ without the prefix).
type KV struct {
	Keys, Ops, Answered, OpsOK, Hops       int64
	Lookups, LookupsAnswered, LookupsOK    int64
	LookupHops                             int64
	Gets, Missing, Stale                   int64
	KeyChecks, KeyFailures                 int64
	Lost, Duplicated, Misplaced            int64
	FirstFailure                           string // "" writes null
	Fingers, FingersStale                  int64
	LookupLatencyP50Ns, LookupLatencyP99Ns int64 // 0: from the run's Ops, null when it has no successful lookup
	// Graceful leaves asked for and completed, the replicas setting, and copies missing and
	// extra at the end.
	Leavers, Departed, Replicas    int64
	ReplicasMissing, ReplicasExtra int64
}

// Run is one synthetic run.
type Run struct {
	// Outcome defaults to observe.OutcomeOK.
	Outcome string
	Joins   []Join
	// Nodes is the nodes column where no axis sets it; 0 means 32.
	Nodes int
	// KV fills the kv_ columns of a Set with KV; nil writes zeros.
	KV *KV
	// Churn fills the churn_ columns of a Set with Churn; nil writes a run
	// without churn (zeros, nulls, no session).
	Churn *Churn
	// Ops go to the ops table of a Set with Ops; the writer numbers them
	// and sets their RunID.
	Ops []trace.Op
	// Messages and Redirects default to the sums over Joins.
	Messages, Redirects int64
	Events              int64
	SimTimeNs           int64
	WallNs              int64
}

// Set describes a result set to write. The grid is the cartesian product
// of the axes, the first axis varying slowest.
type Set struct {
	Experiment string
	Spec       string // verbatim TOML; its SHA-256 is the spec hash
	Axes       []Axis
	Seeds      int
	// Trace is the trace level: none writes only the runs table, joins
	// (the default) adds the joins table, messages adds an (empty) events
	// table too.
	Trace trace.Level
	// Parts splits the runs (and joins) into this many parts, as merged
	// shards would; 0 means 1.
	Parts int
	// RowGroupRows bounds row groups, to exercise streaming; 0 means the
	// trace default.
	RowGroupRows int
	// Run returns the run of a grid point's replica.
	Run func(point, replica int) Run
	// Skip, if set, leaves a run out, as an unfinished sweep would.
	Skip func(point, replica int) bool
	// KV writes the runs table with the DHT columns (KVRunsSchema).
	KV bool
	// Churn writes the runs table with the DHT and churn columns
	// (ChurnRunsSchema).
	Churn bool
	// Ops writes an ops table, ops/part-*.parquet beside runs/ and joins/,
	// from each Run's Ops.
	Ops bool
}

// Grid returns the grid points' parameters in point order.
func (s *Set) Grid() []map[string]any {
	grid := []map[string]any{{}}
	for _, a := range s.Axes {
		var next []map[string]any
		for _, g := range grid {
			for _, v := range a.Values {
				p := make(map[string]any, len(g)+1)
				for k, x := range g {
					p[k] = x
				}
				p[a.Name] = v
				next = append(next, p)
			}
		}
		grid = next
	}
	return grid
}

// Write writes the result set to dir, which it creates.
func Write(dir string, s *Set) error {
	if s.Seeds < 1 || s.Run == nil {
		return fmt.Errorf("analysistest: Set needs Seeds >= 1 and Run")
	}
	level := s.Trace
	if level == 0 {
		level = trace.LevelJoins
	}
	parts := max(s.Parts, 1)
	grid := s.Grid()
	tables := level.Tables()
	if s.Ops {
		tables = append(tables, trace.TableOps)
	}
	for _, t := range tables {
		if err := os.MkdirAll(filepath.Join(dir, t), 0o755); err != nil {
			return err
		}
	}
	opts := trace.Options{RowGroupRows: s.RowGroupRows, Metadata: map[string]string{
		"dhtexp.experiment": s.Experiment, "dhtexp.spec_hash": SpecHash(s.Spec),
	}}
	total := int64(len(grid)) * int64(s.Seeds)
	var names []string
	for part := 0; part < parts; part++ {
		name := fmt.Sprintf("part-%06d.parquet", part)
		names = append(names, name)
		lo, hi := total*int64(part)/int64(parts), total*int64(part+1)/int64(parts)
		if err := writePart(dir, name, s, grid, lo, hi, level, opts); err != nil {
			return err
		}
	}
	return writeManifest(dir, s, grid, level, names)
}

func writePart(dir, name string, s *Set, grid []map[string]any, lo, hi int64, level trace.Level, opts trace.Options) error {
	sc := RunsSchema
	if s.KV {
		sc = KVRunsSchema
	}
	if s.Churn {
		sc = ChurnRunsSchema
	}
	rw, err := trace.Create(filepath.Join(dir, trace.TableRuns, name), sc, opts)
	if err != nil {
		return err
	}
	defer rw.Abort()
	var ow *trace.OpWriter
	if s.Ops {
		if ow, err = trace.CreateOps(filepath.Join(dir, trace.TableOps, name), trace.ClockVirtual, opts); err != nil {
			return err
		}
		defer ow.Abort()
	}
	var jw *trace.JoinWriter
	if level >= trace.LevelJoins {
		if jw, err = trace.CreateJoins(filepath.Join(dir, trace.TableJoins, name), trace.ClockVirtual, opts); err != nil {
			return err
		}
		defer jw.Abort()
	}
	for id := lo; id < hi; id++ {
		point, replica := int(id/int64(s.Seeds)), int(id%int64(s.Seeds))
		if s.Skip != nil && s.Skip(point, replica) {
			continue
		}
		run := s.Run(point, replica)
		if err := writeRun(rw, sc, id, point, replica, grid[point], s.Axes, &run); err != nil {
			return err
		}
		for i := range run.Ops {
			if ow == nil {
				break
			}
			o := run.Ops[i]
			o.RunID, o.Op = id, int64(i+1)
			if o.Phase == "" {
				o.Phase = "during"
			}
			if err := ow.WriteOp(&o); err != nil {
				return err
			}
		}
		if jw == nil {
			continue
		}
		var t int64
		for i, j := range run.Joins {
			row := trace.Join{RunID: id, Joiner: int64(100 + i), Contact: 1, StartNs: t, EndNs: -1,
				Hops: j.Hops, Messages: j.Messages, Outcome: joinOutcome(j)}
			if j.LatencyNs >= 0 {
				row.EndNs = t + j.LatencyNs
			}
			if err := jw.WriteJoin(&row); err != nil {
				return err
			}
			t += 1000
		}
	}
	if jw != nil {
		if err := jw.Close(); err != nil {
			return err
		}
	}
	if ow != nil {
		if err := ow.Close(); err != nil {
			return err
		}
	}
	if level >= trace.LevelMessages {
		ew, err := trace.CreateEvents(filepath.Join(dir, trace.TableEvents, name), trace.ClockVirtual, opts)
		if err != nil {
			return err
		}
		if err := ew.Close(); err != nil {
			return err
		}
	}
	return rw.Close()
}

func joinOutcome(j Join) string {
	switch {
	case j.Outcome != "":
		return j.Outcome
	case j.LatencyNs >= 0:
		return observe.JoinOK
	}
	return observe.JoinNotJoined
}

func writeRun(w *trace.Writer, sc trace.Schema, id int64, point, replica int, params map[string]any, axes []Axis, r *Run) error {
	set := map[string]any{
		"run_id": id, "grid_point": int64(point), "replica": int64(replica), "seed": int64(1000 + id),
		"scenario": "random", "protocol": "seed", "timing": "async", "link": "fifo", "delay_kind": "uniform",
		"nodes": int64(32), "joiners": int64(len(r.Joins)), "bits": int64(16), "max_messages": int64(1_000_000),
		"unit_ns": int64(time.Millisecond), "horizon_ns": int64(10 * time.Second),
		"delay_min_ns": int64(time.Millisecond), "delay_max_ns": int64(10 * time.Millisecond),
	}
	if r.Nodes != 0 {
		set["nodes"] = int64(r.Nodes)
	}
	if r.Churn != nil {
		set["churn_session"] = "exponential"
		set["churn_median_ns"] = int64(time.Minute)
		set["churn_warmup_ns"] = int64(10 * time.Second)
		set["churn_duration_ns"] = r.Churn.WindowNs
	}
	for _, a := range axes {
		col := a.Column()
		ci := sc.ColumnIndex(col)
		if ci < 0 {
			continue
		}
		if sc.Columns[ci].Type == trace.Float64 {
			switch v := params[a.Name].(type) {
			case int:
				set[col] = float64(v)
			case float64:
				set[col] = v
			}
			continue
		}
		switch v := params[a.Name].(type) {
		case string:
			if d, err := time.ParseDuration(v); err == nil {
				set[col] = int64(d)
			} else {
				set[col] = v
			}
		case int:
			set[col] = int64(v)
		case float64:
			set[col] = int64(v)
		}
	}
	outcome := r.Outcome
	if outcome == "" {
		outcome = observe.OutcomeOK
	}
	var lat []int64
	var ok, msgs, hops int64
	for _, j := range r.Joins {
		if joinOutcome(j) == observe.JoinOK {
			ok++
			lat = append(lat, j.LatencyNs)
		}
		msgs += j.Messages
		hops += j.Hops
	}
	if r.Messages != 0 {
		msgs = r.Messages
	}
	if r.Redirects != 0 {
		hops = r.Redirects
	}
	slices.Sort(lat)
	var kv map[string]int64
	if sc.ColumnIndex("kv_ops") >= 0 {
		kv = kvColumns(r)
	}
	churn := churnColumns(r.Churn)
	for i, c := range sc.Columns {
		if v, ok := churn[c.Name]; ok {
			switch v := v.(type) {
			case int64:
				if v < 0 {
					w.Null(i)
				} else {
					w.Int64(i, v)
				}
			case float64:
				if v < 0 {
					w.Null(i)
				} else {
					w.Float64(i, v)
				}
			case bool:
				w.Bool(i, v)
			}
			continue
		}
		if c.Name == "churn_session" && set[c.Name] == nil {
			w.Null(i)
			continue
		}
		if v, ok := kv[c.Name]; ok {
			if v < 0 {
				w.Null(i)
			} else {
				w.Int64(i, v)
			}
			continue
		}
		switch c.Name {
		case "outcome":
			w.String(i, outcome)
		case "ring_correct":
			w.Bool(i, outcome == observe.OutcomeOK)
		case "check":
			w.Bool(i, true)
		case "delay_sigma", "faults_loss", "faults_duplicate", "faults_spike_prob", "faults_partition_fraction":
			w.Float64(i, 0)
		case "faults_crash_node", "faults_crash_after":
			w.Null(i)
		case "detail", "violation":
			if outcome == observe.OutcomeOK {
				w.Null(i)
			} else {
				w.String(i, "synthetic "+outcome)
			}
		case "joins":
			w.Int64(i, int64(len(r.Joins)))
		case "joins_ok":
			w.Int64(i, ok)
		case "latency_p50_ns", "latency_p99_ns", "latency_max_ns":
			if len(lat) == 0 {
				w.Null(i)
				continue
			}
			pct := map[string]int{"latency_p50_ns": 50, "latency_p99_ns": 99, "latency_max_ns": 100}[c.Name]
			w.Int64(i, stats.NearestRank(lat, pct))
		case "messages":
			w.Int64(i, msgs)
		case "redirects":
			w.Int64(i, hops)
		case "events":
			w.Int64(i, r.Events)
		case "sim_time_ns":
			w.Int64(i, r.SimTimeNs)
		case "wall_ns":
			w.Int64(i, r.WallNs)
		case "kv_first_failure":
			if r.KV == nil || r.KV.FirstFailure == "" {
				w.Null(i)
			} else {
				w.String(i, r.KV.FirstFailure)
			}
		case "workload_popularity":
			w.String(i, "uniform")
		case "workload_fingers":
			w.String(i, "fresh")
		default:
			switch v := set[c.Name].(type) {
			case string:
				w.String(i, v)
			case int64:
				w.Int64(i, v)
			case float64:
				w.Float64(i, v)
			default:
				if c.Type == trace.Float64 {
					w.Float64(i, 0)
				} else {
					w.Int64(i, 0)
				}
			}
		}
	}
	return w.EndRow()
}

// kvColumns maps the integer kv_ columns to the run's values; -1 writes
// null.
func kvColumns(r *Run) map[string]int64 {
	k := r.KV
	if k == nil {
		k = &KV{}
	}
	p50, p99 := k.LookupLatencyP50Ns, k.LookupLatencyP99Ns
	if p50 == 0 && p99 == 0 {
		var lat []int64
		for _, o := range r.Ops {
			if o.Kind == "lookup" && o.Status == "ok" && o.Correct && o.EndNs >= 0 {
				lat = append(lat, o.EndNs-o.StartNs)
			}
		}
		p50, p99 = -1, -1
		if len(lat) > 0 {
			slices.Sort(lat)
			p50, p99 = stats.NearestRank(lat, 50), stats.NearestRank(lat, 99)
		}
	}
	return map[string]int64{
		"kv_keys": k.Keys, "kv_ops": k.Ops, "kv_answered": k.Answered, "kv_ops_ok": k.OpsOK, "kv_hops": k.Hops,
		"kv_lookups": k.Lookups, "kv_lookups_answered": k.LookupsAnswered, "kv_lookups_ok": k.LookupsOK,
		"kv_lookup_hops": k.LookupHops, "kv_gets": k.Gets, "kv_missing": k.Missing, "kv_stale": k.Stale,
		"kv_key_checks": k.KeyChecks, "kv_key_failures": k.KeyFailures, "kv_lost": k.Lost,
		"kv_duplicated": k.Duplicated, "kv_misplaced": k.Misplaced, "kv_fingers": k.Fingers,
		"kv_fingers_stale": k.FingersStale, "kv_lookup_latency_p50_ns": p50, "kv_lookup_latency_p99_ns": p99,
		"leavers": k.Leavers, "departed": k.Departed, "workload_replicas": k.Replicas,
		"kv_replicas_missing": k.ReplicasMissing, "kv_replicas_extra": k.ReplicasExtra,
	}
}

// churnColumns maps the churn_ outcome columns to the run's values: int64
// or float64 (negative writes null) or bool.
func churnColumns(c *Churn) map[string]any {
	if c == nil {
		c = &Churn{LookupP50Ns: -1, LookupP99Ns: -1, RepairPeriods: -1}
	}
	repairNs := int64(-1)
	if c.RepairPeriods >= 0 {
		repairNs = int64(c.RepairPeriods * 1e9)
	}
	return map[string]any{
		"churn_arrivals": c.Arrivals, "churn_leaves": c.Leaves, "churn_crashes": c.Crashes,
		"churn_window_ns": c.WindowNs, "churn_live_mean": c.LiveMean,
		"churn_lookups": c.Lookups, "churn_lookups_ok": c.LookupsOK, "churn_lookups_consistent": c.LookupsConsistent,
		"churn_lookup_p50_ns": c.LookupP50Ns, "churn_lookup_p99_ns": c.LookupP99Ns,
		"churn_maint_messages": c.MaintMessages, "churn_maint_bytes": c.MaintBytes,
		"churn_keys_lost": c.KeysLost, "churn_keys_under_replicated": c.UnderReplicated,
		"churn_first_key_loss_ns": int64(-1), "churn_ring_correct": c.RingCorrect,
		"churn_repair_ns": repairNs, "churn_repair_periods": c.RepairPeriods,
	}
}

// SpecHash returns the hex SHA-256 of a spec, as the manifest records it.
func SpecHash(spec string) string {
	h := sha256.Sum256([]byte(spec))
	return hex.EncodeToString(h[:])
}

func writeManifest(dir string, s *Set, grid []map[string]any, level trace.Level, parts []string) error {
	m := &trace.Manifest{
		Experiment: s.Experiment, SpecPath: "experiments/" + s.Experiment + ".toml",
		Spec: s.Spec, SpecHash: SpecHash(s.Spec), Seeds: s.Seeds, BaseSeed: 1, Trace: level.String(),
		RunsTotal: int64(len(grid) * s.Seeds), Shard: trace.Shard{Index: 0, Count: 1},
		ToolVersion: "test", VCSRevision: "0000000", GoVersion: "go1.26",
		Started: "2025-01-01T00:00:00Z", Finished: "2025-01-01T00:01:00Z", Parts: parts,
	}
	for _, a := range s.Axes {
		ax := trace.Axis{Name: a.Name, Column: a.Column()}
		for _, x := range a.Values {
			v, err := trace.ValueOf(x)
			if err != nil {
				return fmt.Errorf("analysistest: axis %s: %w", a.Name, err)
			}
			ax.Values = append(ax.Values, v)
		}
		m.Axes = append(m.Axes, ax)
	}
	for i, g := range grid {
		gp := trace.GridPoint{Point: i, Params: trace.Params{}}
		for _, a := range s.Axes {
			v, err := trace.ValueOf(g[a.Name])
			if err != nil {
				return fmt.Errorf("analysistest: axis %s: %w", a.Name, err)
			}
			gp.Params = append(gp.Params, trace.Param{Name: a.Name, Value: v})
		}
		m.Grid = append(m.Grid, gp)
	}
	return trace.WriteManifest(dir, m)
}
