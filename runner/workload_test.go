package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// withFakeOps runs the simulator and, for a run with a workload whose result holds no
// operations, makes some up from the seed, nulls included, so that the runner's handling of
// operations is tested whether or not the simulator issues them. Some runs get none.
func withFakeOps(cfg sim.Config, tr observe.Tracer) (*sim.Result, error) {
	res, err := sim.Run(cfg, tr)
	if err != nil || !cfg.Workload.Active() || len(res.Ops) > 0 {
		return res, err
	}
	kv := sim.KVSummary{Keys: cfg.Workload.Keys}
	for i := range int(cfg.Seed % 7) {
		o := sim.OpRecord{Op: uint64(i + 1), Kind: protocol.OpKind(1 + i%3), Key: protocol.ID(cfg.Seed>>i) & 0xffff,
			Origin: protocol.ID(i), Start: int64(i) * 1000, End: int64(i)*1000 + int64(cfg.Seed%997), Hops: i % 4,
			Status: "ok", Owner: protocol.ID(i + 1), Correct: i != 3, Phase: sim.PhaseDuring}
		switch i {
		case 1:
			o.Class, o.Status = sim.ClassMissing, "not_found"
		case 5:
			o.End, o.Status, o.Owner, o.Phase = -1, "", protocol.None, sim.PhaseAfter
		}
		kv.Ops++
		if o.End >= 0 {
			kv.Answered++
		}
		if o.Kind == protocol.OpLookup {
			kv.Lookups++
			if o.Status == "ok" && o.Correct {
				kv.LookupsOK++
				kv.LookupHops += int64(o.Hops)
			}
		}
		res.Ops = append(res.Ops, o)
	}
	if cfg.Seed%5 == 0 {
		kv.KeyFailures, kv.FirstFailure = 1, "key 7 lost"
	}
	res.KV = kv
	return res, nil
}

// checkWorkloadSet checks a result set of testdata/workload.toml: runs table version 3 with
// workload and kv columns, and ops files holding each run's operations in full.
func checkWorkloadSet(t *testing.T, spec *Spec, dir string) {
	t.Helper()
	m := checkComplete(t, dir)
	type opStats struct {
		n   int64
		lat []int64 // of lookups answered ok by the true owner
	}
	ops := map[int64]*opStats{}
	var total int64
	for _, p := range m.Done {
		path := filepath.Join(dir, trace.TableOps, p.Part)
		if p.Ops == 0 {
			if _, err := os.Stat(path); err == nil {
				t.Errorf("%s exists, but the manifest lists no operations for it", path)
			}
			continue
		}
		total += p.Ops
		if err := checkOpRunIDs(path, p); err != nil {
			t.Error(err)
		}
		err := trace.ReadOps(path, func(batch []trace.Op) error {
			for _, o := range batch {
				s := ops[o.RunID]
				if s == nil {
					s = &opStats{}
					ops[o.RunID] = s
				}
				s.n++
				if o.Kind == "lookup" && o.Status == "ok" && o.Correct && o.EndNs >= 0 {
					s.lat = append(s.lat, o.EndNs-o.StartNs)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if total == 0 {
		t.Fatalf("%s: no operations written", dir)
	}
	var workloadRuns int
	for _, p := range m.Parts {
		path := filepath.Join(dir, trace.TableRuns, p)
		if v, err := runsVersion(path); err != nil || v != RunSchema.Version {
			t.Fatalf("%s: runs table version %d (%v), want %d", path, v, err, RunSchema.Version)
		}
		err := trace.ForEachRowGroup(path, nil, func(c *trace.Chunk) error {
			for i := range c.NumRows() {
				id := c.Int64("run_id")[i]
				pt, _, _ := spec.Run(id)
				w := &pt.Config.Workload
				s := ops[id]
				if s == nil {
					s = &opStats{}
				}
				if got := c.Int64("kv_ops")[i]; got != s.n {
					return fmt.Errorf("run %d: kv_ops %d, %d rows in the ops files", id, got, s.n)
				}
				if !w.Active() {
					if c.Int64("workload_keys")[i] != 0 || c.String("workload_popularity")[i] != "" || c.Float64("workload_lookup")[i] != 0 {
						return fmt.Errorf("run %d has no workload, but its workload columns are set", id)
					}
					continue
				}
				workloadRuns++
				if c.Int64("workload_keys")[i] != int64(w.Keys) || c.Float64("workload_rate")[i] != w.Rate ||
					c.String("workload_popularity")[i] != w.Popularity || c.Int64("workload_before_ns")[i] != w.Before ||
					c.Int64("workload_hop_budget")[i] != protocol.DefaultHopBudget || c.Int64("workload_op_timeout_ns")[i] != protocol.DefaultOpTimeout {
					return fmt.Errorf("run %d: workload columns do not match the configuration %+v", id, *w)
				}
				if zipf := c.Float64("workload_zipf_s")[i]; (w.Popularity == "zipf") != (zipf == w.ZipfS) || w.Popularity != "zipf" && zipf != 0 {
					return fmt.Errorf("run %d: %s popularity with workload_zipf_s %g", id, w.Popularity, zipf)
				}
				slices.Sort(s.lat)
				for _, q := range []struct {
					col string
					pct int
				}{{"kv_lookup_latency_p50_ns", 50}, {"kv_lookup_latency_p99_ns", 99}} {
					valid := c.Valid(q.col)[i]
					if valid != (len(s.lat) > 0) || valid && c.Int64(q.col)[i] != stats.NearestRank(s.lat, q.pct) {
						return fmt.Errorf("run %d: %s is %d (null %v) over %d ok lookups", id, q.col, c.Int64(q.col)[i], !valid, len(s.lat))
					}
				}
				if got := c.Int64("kv_lookups_ok")[i]; got != int64(len(s.lat)) {
					return fmt.Errorf("run %d: kv_lookups_ok %d, %d in the ops files", id, got, len(s.lat))
				}
				if (c.Int64("kv_key_failures")[i] > 0) != c.Valid("kv_first_failure")[i] {
					return fmt.Errorf("run %d: kv_key_failures %d, kv_first_failure null %v", id, c.Int64("kv_key_failures")[i], !c.Valid("kv_first_failure")[i])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if workloadRuns == 0 || workloadRuns == int(spec.Runs()) {
		t.Errorf("%d of %d runs with a workload, want some but not all", workloadRuns, spec.Runs())
	}
}

// A workload's operations go to ops files that a resume and a merge keep exactly once.
func TestSweepWorkloadOps(t *testing.T) {
	spec := load(t, "testdata/workload.toml")
	ctx := context.Background()
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	sweep(t, ctx, spec, Options{Dir: full, PartRuns: 30, simulate: withFakeOps})
	checkWorkloadSet(t, spec, full)

	// Without a trace, no operations are kept, but the runs table still sums them up.
	none := filepath.Join(dir, "none")
	sweep(t, ctx, spec, Options{Dir: none, Trace: trace.LevelNone, simulate: withFakeOps})
	if _, err := os.Stat(filepath.Join(none, trace.TableOps)); err == nil {
		t.Error("ops written at trace level none")
	}
	if !slices.Equal(tableRows(t, full, trace.TableRuns), tableRows(t, none, trace.TableRuns)) {
		t.Error("the runs table depends on the trace level")
	}

	// Interrupted, with what a kill leaves in ops/, then resumed.
	part := filepath.Join(dir, "part")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sum := sweep(t, cctx, spec, Options{Dir: part, Workers: 1, PartRuns: 30, Progress: &cancelAt{after: 70, cancel: cancel}, simulate: withFakeOps})
	if !sum.Interrupted {
		t.Fatalf("sweep not interrupted: %+v", sum)
	}
	if err := os.MkdirAll(filepath.Join(part, trace.TableOps), 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(part, trace.TableOps, partName(900))
	for _, p := range []string{stray, stray + ".tmp-1"} {
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sweep(t, ctx, spec, Options{Dir: part, Resume: true, PartRuns: 30, simulate: withFakeOps})
	for _, p := range []string{stray, stray + ".tmp-1"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived the resume", p)
		}
	}
	checkWorkloadSet(t, spec, part)
	sameResults(t, full, part, trace.LevelJoins)

	// Shards, merged.
	var shards []string
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		sweep(t, ctx, spec, Options{Dir: out, Shard: Shard{i, 3}, PartRuns: 20, simulate: withFakeOps})
		shards = append(shards, out)
	}
	// A manifest that miscounts a part's operations, and a missing ops file, are refused.
	sm, err := trace.ReadManifest(shards[0])
	if err != nil {
		t.Fatal(err)
	}
	k := slices.IndexFunc(sm.Done, func(p trace.PartInfo) bool { return p.Ops > 0 })
	if k < 0 {
		t.Fatal("shard 0 has no operations")
	}
	sm.Done[k].Ops--
	if err := trace.WriteManifest(shards[0], sm); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(filepath.Join(dir, "bad"), shards); !isInputError(err) || !strings.Contains(err.Error(), "operations, the manifest lists") {
		t.Errorf("merge with a miscounted ops part: %v", err)
	}
	sm.Done[k].Ops++
	if err := trace.WriteManifest(shards[0], sm); err != nil {
		t.Fatal(err)
	}
	opsFile := filepath.Join(shards[0], trace.TableOps, sm.Done[k].Part)
	if err := os.Rename(opsFile, opsFile+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(filepath.Join(dir, "bad"), shards); !isInputError(err) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("merge with a missing ops part: %v", err)
	}
	if err := os.Rename(opsFile+".away", opsFile); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "merged")
	if _, err := Merge(merged, shards); err != nil {
		t.Fatal(err)
	}
	checkWorkloadSet(t, spec, merged)
	sameResults(t, full, merged, trace.LevelJoins)
}

// A result set whose runs table has another version cannot be resumed: one set, one version.
func TestResumeRefusesOtherRunsVersion(t *testing.T) {
	spec := load(t, "testdata/workload.toml")
	dir := filepath.Join(t.TempDir(), "old")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sweep(t, ctx, spec, Options{Dir: dir, Trace: trace.LevelNone, PartRuns: 10, Progress: &cancelAt{after: 10, cancel: cancel}})
	m, err := trace.ReadManifest(dir)
	if err != nil || len(m.Parts) == 0 {
		t.Fatalf("no part committed: %v", err)
	}
	old := RunSchema
	old.Version = 2
	path := filepath.Join(dir, trace.TableRuns, m.Parts[0])
	if err := writeRow(path, old); err != nil {
		t.Fatal(err)
	}
	_, err = Sweep(context.Background(), spec, Options{Dir: dir, Trace: trace.LevelNone, Resume: true})
	if !isInputError(err) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("resume over a version 2 part: %v", err)
	}
	// A parameter column added without a version bump is refused all the same.
	other := RunSchema
	other.Columns = slices.Concat(RunSchema.Columns[:rcOutcome], []trace.Column{{Name: "new_param", Type: trace.Int64}}, RunSchema.Columns[rcOutcome:])
	if err := writeRow(path, other); err != nil {
		t.Fatal(err)
	}
	_, err = Sweep(context.Background(), spec, Options{Dir: dir, Trace: trace.LevelNone, Resume: true})
	if !isInputError(err) || !strings.Contains(err.Error(), "new_param") {
		t.Errorf("resume over a part with another layout: %v", err)
	}
}

// writeRow replaces path by a one-row file of schema s with every column zero.
func writeRow(path string, s trace.Schema) error {
	w, err := trace.Create(path, s, trace.Options{})
	if err != nil {
		return err
	}
	for i, c := range s.Columns {
		switch c.Type {
		case trace.Int64:
			w.Int64(i, 0)
		case trace.Float64:
			w.Float64(i, 0)
		case trace.Bool:
			w.Bool(i, false)
		default:
			w.String(i, "")
		}
	}
	if err := w.EndRow(); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Close()
}

func TestWorkloadSpec(t *testing.T) {
	s, err := Parse("w.toml", []byte(`
[base]
scenario = "random"
timing = "async"
joiners = 0

[base.workload]
keys = 100
rate = 500
lookup = 1.0
get = 2
put = 0.5
popularity = "zipf"
zipf_s = 1.5
before = "10ms"
after = "1s"
finger_period = "20ms"
fingers = "empty"
hop_budget = 32
op_timeout = "300ms"

[[sweep]]
"workload.keys" = [10, 1000]
workload.fingers = ["fresh"]
"workload.op_timeout" = ["1s"]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := sim.Workload{Keys: 100, Rate: 500, Lookup: 1, Get: 2, Put: 0.5, Popularity: "zipf", ZipfS: 1.5,
		Before: int64(10 * time.Millisecond), After: int64(time.Second), FingerPeriod: int64(20 * time.Millisecond),
		Fingers: "empty", HopBudget: 32, OpTimeout: int64(300 * time.Millisecond)}
	if s.Base.Workload != want {
		t.Errorf("base workload %+v, want %+v", s.Base.Workload, want)
	}
	want.Keys, want.Fingers, want.OpTimeout = 1000, "fresh", int64(time.Second)
	if len(s.Points) != 2 || s.Points[1].Config.Workload != want {
		t.Errorf("point 1 workload %+v, want %+v", s.Points[1].Config.Workload, want)
	}
	var cols []string
	for _, a := range s.Axes {
		cols = append(cols, a.Column)
	}
	if !reflect.DeepEqual(cols, []string{"workload_keys", "workload_fingers", "workload_op_timeout_ns"}) {
		t.Errorf("axis columns %v", cols)
	}
	// Inline and dotted forms set the same parameters.
	for _, doc := range []string{
		"[base]\ntiming = \"async\"\nworkload = { keys = 5, rate = 1.5 }\n",
		"[base]\ntiming = \"async\"\nworkload.keys = 5\nworkload.rate = 1.5\n",
	} {
		s, err := Parse("w.toml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if w := s.Base.Workload; w.Keys != 5 || w.Rate != 1.5 || w.Popularity != "uniform" {
			t.Errorf("%q: workload %+v", doc, w)
		}
	}
}

func TestWorkloadSpecErrors(t *testing.T) {
	const head = "[base]\nscenario = \"random\"\ntiming = \"async\"\n" // lines 1-3
	for _, tc := range []struct {
		doc  string
		line int
		key  string
		msg  string
	}{
		{head + "[base.workload]\nkeys = \"many\"\n", 5, "base.workload.keys", "want an integer, got a string"},
		{head + "[base.workload]\nkeyz = 3\n", 5, "base.workload.keyz", "unknown key"},
		{head + "[base.workload]\nbefore = 5\n", 5, "base.workload.before", "want a duration"},
		{head + "[base.workload]\nafter = \"5 parsecs\"\n", 5, "base.workload.after", "bad duration"},
		{head + "[base.workload]\nrate = \"fast\"\n", 5, "base.workload.rate", "want a number, got a string"},
		{head + "[base.workload]\nkeys = 10\npopularity = \"zipf\"\nzipf_s = 0.5\n", 7, "base.workload.zipf_s", "must be greater than 1"},
		{head + "[base.workload]\nkeys = 10\nrate = 5\nlookup = 1\nget = -1\n", 8, "base.workload.get", "must not be negative"},
		{head + "[base.workload]\nkeys = 10\nrate = 5\nlookup = 0\nget = 0\nput = 0\n", 7, "base.workload.lookup", "at least one operation"},
		{head + "[base.workload]\nkeys = 10\nafter = \"-1s\"\n", 6, "base.workload.after", "must not be negative"},
		{head + "[base.workload]\nkeys = -1\nrate = 5\n", 5, "base.workload.keys", "must not be negative"},
		{head + "[base.workload]\nrate = 5\n", 0, "base.workload.keys", "at least one key (default value)"},
		{head + "[base.workload]\nkeys = 10\nhop_budget = 70000\n", 6, "base.workload.hop_budget", "0..65535"},
		{"[base]\nscenario = \"random\"\n[base.workload]\nkeys = 10\n", 3, "base.workload", `needs timing = "async"`},
		{"[base]\nscenario = \"random\"\n[sweep]\n\"workload.keys\" = [0, 10]\n", 4, "sweep.workload.keys", `needs timing = "async"`},
		{head + "workload.keys = 10\nmode = \"cluster\"\n", 4, "base.workload.keys", "not a DHT workload"},
		{head + "workload.keys = 10\n[sweep]\n\"workload.popularity\" = [\"uniform\", \"pareto\"]\n", 6, "sweep.workload.popularity", `unknown popularity "pareto"`},
		{head + "workload.keys = 10\n[sweep]\n\"workload.fingers\" = [\"stale\"]\n", 6, "sweep.workload.fingers", `unknown finger start "stale"`},
		{head + "[base.workload]\nkeys = 10\n[sweep]\n\"workload.get\" = [1, -2]\n", 7, "sweep.workload.get", "must not be negative"},
		{head + "[sweep]\n\"workload.keyz\" = [1]\n", 5, "sweep.workload.keyz", `unknown parameter "workload.keyz"`},
		{head + "[sweep]\n\"workload.op_timeout\" = [\"1s\", 2]\n", 5, "sweep.workload.op_timeout", "value 2: want a duration"},
	} {
		_, err := Parse("w.toml", []byte(tc.doc))
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v is not a SpecError", tc.doc, err)
			continue
		}
		if se.File != "w.toml" || se.Line != tc.line || se.Key != tc.key || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q:\n%v\nwant line %d key %s and %q", tc.doc, err, tc.line, tc.key, tc.msg)
		}
	}
}
