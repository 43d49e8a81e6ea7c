package runner

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

func TestBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		key  string
		msg  string
	}{
		{"bad-unknown-key.toml", 6, "base.nodez", "unknown key"},
		{"bad-top-level.toml", 2, "seedz", "unknown key"},
		{"bad-wrong-type.toml", 6, "base.nodes", "want an integer, got a string"},
		{"bad-duration.toml", 6, "base.horizon", `bad duration "10 parsecs"`},
		{"bad-impossible.toml", 14, "sweep.delay.max", "must not be below delay.min"},
		{"bad-base-impossible.toml", 8, "base.joiners", "do not fit a 3-bit ID space"},
		{"bad-empty-axis.toml", 9, "sweep.nodes", "empty list"},
		{"bad-protocol.toml", 8, "sweep.protocol", `unknown protocol "nonesuch"`},
		{"bad-sweep-key.toml", 6, "sweep.delay.maks", `unknown parameter "delay.maks"`},
		{"bad-sweep-type.toml", 5, "sweep.joiners", "value 2: want an integer, got a string"},
		{"bad-sweep-duration.toml", 5, "sweep.horizon", `value 2: bad duration "2 fortnights"`},
		{"bad-faults.toml", 7, "base.faults", `fault injection needs timing = "async"`},
		{"bad-faults-axis.toml", 13, "sweep.faults.heal_at", "must come after faults.partition_at"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := Load(path)
			if err == nil {
				t.Fatal("spec accepted")
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a SpecError: %v", err, err)
			}
			if se.File != path || se.Line != tc.line || se.Key != tc.key {
				t.Errorf("error at %s:%d key %q, want %s:%d key %q\n%v", se.File, se.Line, se.Key, path, tc.line, tc.key, err)
			}
			// What users read must name the same things.
			for _, want := range []string{path + ":" + strconv.Itoa(tc.line) + ":", tc.key, tc.msg} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestShippedSpecsValidate(t *testing.T) {
	paths, _ := filepath.Glob("../experiments/*.toml")
	more, _ := filepath.Glob("testdata/[a-z]*.toml")
	for _, p := range append(paths, more...) {
		if strings.HasPrefix(filepath.Base(p), "bad-") {
			continue
		}
		if _, err := Load(p); err != nil {
			t.Errorf("%v", err)
		}
	}
	if len(paths) < 3 {
		t.Errorf("found %d specs in experiments/, want at least 3", len(paths))
	}
}

func TestSpecDefaultsAndGridOrder(t *testing.T) {
	s, err := Parse("x.toml", []byte(`
seeds = 3
[base]
scenario = "random"
[base.delay]
max = "7ms"
[sweep]
link = ["fifo", "reorder"]
"delay.max" = ["2ms", "20ms", "30ms"]
joiners = [1, 2]
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || s.Trace != trace.LevelJoins || s.Runs() != 36 {
		t.Errorf("name %q trace %v runs %d", s.Name, s.Trace, s.Runs())
	}
	want := sim.DefaultConfig()
	want.Scenario = "random"
	want.Delay.Max = int64(7 * time.Millisecond)
	if !reflect.DeepEqual(s.Base, want) {
		t.Errorf("base %+v, want %+v", s.Base, want)
	}
	var names []string
	for _, a := range s.Axes {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "link,delay.max,joiners" {
		t.Errorf("axes in order %s, want the file's order", got)
	}
	// The first axis varies slowest, the last fastest.
	if got := s.Describe(&s.Points[1]); got != "link=fifo, delay.max=2ms, joiners=2" {
		t.Errorf("point 1 is %s", got)
	}
	if got := s.Describe(&s.Points[2]); got != "link=fifo, delay.max=20ms, joiners=1" {
		t.Errorf("point 2 is %s", got)
	}
	if p := s.Points[11]; p.Config.Link != "reorder" || p.Config.Delay.Max != int64(30*time.Millisecond) || p.Config.Joiners != 2 {
		t.Errorf("point 11 config %+v", p.Config)
	}
}

// The runs table's columns are the run's identity, every parameter in registry order, then
// the outcomes, and writeRun's positions agree with the schema.
func TestRunSchemaLayout(t *testing.T) {
	for i, p := range params.All {
		if c := RunSchema.Columns[rcParams+i]; c.Name != p.Column {
			t.Errorf("column %d is %s, want parameter %s's %s", rcParams+i, c.Name, p.Name, p.Column)
		}
	}
	for _, c := range []struct {
		pos  int
		name string
	}{{rcSeed, "seed"}, {rcOutcome, "outcome"}, {rcOutcome + ocKVKeys, "kv_keys"}, {rcOutcome + ocDeparted, "departed"}, {rcOutcome + ocWall, "wall_ns"}} {
		if got := RunSchema.Columns[c.pos].Name; got != c.name {
			t.Errorf("column %d is %s, want %s", c.pos, got, c.name)
		}
	}
	if n := rcOutcome + ocWall + 1; n != len(RunSchema.Columns) {
		t.Errorf("writeRun writes %d columns, the schema has %d", n, len(RunSchema.Columns))
	}
}

func TestSeedsDependOnValuesNotPositions(t *testing.T) {
	parse := func(sweep string, seeds int) *Spec {
		t.Helper()
		s, err := Parse("s.toml", []byte("seeds = "+strconv.Itoa(seeds)+"\nbase_seed = 9\n[base]\nscenario = \"random\"\n[sweep]\n"+sweep))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := parse("joiners = [1, 4]\nlink = [\"fifo\", \"reorder\"]\n", 3)
	// More values on both axes, listed in another order, and more seeds.
	b := parse("joiners = [2, 1, 4, 8]\nlink = [\"reorder\", \"fifo\"]\n", 5)
	c := parse("link = [\"fifo\", \"reorder\"]\njoiners = [1, 4]\n", 3) // axes swapped
	seedsOf := func(s *Spec) map[string][]uint64 {
		out := map[string][]uint64{}
		for id := int64(0); id < s.Runs(); id++ {
			p, _, seed := s.Run(id)
			key := pointKey(s.Axes, p.Values)
			out[key] = append(out[key], seed)
		}
		return out
	}
	sa, sb, sc := seedsOf(a), seedsOf(b), seedsOf(c)
	for key, seeds := range sa {
		if !reflect.DeepEqual(sb[key][:3], seeds) {
			t.Errorf("point %q: seeds %v after adding values and seeds, were %v", key, sb[key][:3], seeds)
		}
		if !reflect.DeepEqual(sc[key], seeds) {
			t.Errorf("point %q: seeds %v after reordering axes, were %v", key, sc[key], seeds)
		}
	}
	seen := map[uint64]bool{}
	for _, seeds := range sb {
		for _, s := range seeds {
			if seen[s] {
				t.Errorf("seed %d used twice", s)
			}
			seen[s] = true
		}
	}
	// Equal values written differently are the same point.
	d1 := parse(`horizon = ["10ms"]`+"\n", 1)
	d2 := parse(`horizon = ["10000us"]`+"\n", 1)
	if d1.Points[0].Hash != d2.Points[0].Hash {
		t.Error("10ms and 10000us hash differently")
	}
}

func TestDurationRejectsNumbers(t *testing.T) {
	_, err := Parse("d.toml", []byte("[base.delay]\nmax = 10\n"))
	var se *SpecError
	if !errors.As(err, &se) || se.Key != "base.delay.max" || se.Line != 2 {
		t.Fatalf("got %v", err)
	}
}

func TestShardFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		env   func(string) string
		count int
		want  Shard
		err   string
	}{
		{env(), 0, Whole, ""},
		{env("JOB_COMPLETION_INDEX", "2"), 4, Shard{2, 4}, ""},
		{env("JOB_COMPLETION_INDEX", "2", "DHTEXP_SHARDS", "3"), 0, Shard{2, 3}, ""},
		{env("JOB_COMPLETION_INDEX", "2"), 0, Shard{}, "shard count"},
		{env("JOB_COMPLETION_INDEX", "5", "DHTEXP_SHARDS", "3"), 0, Shard{}, "index is 0..2"},
		{env("SLURM_ARRAY_TASK_ID", "4", "SLURM_ARRAY_TASK_COUNT", "5"), 0, Shard{4, 5}, ""},
		{env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_COUNT", "5"), 0, Shard{4, 5}, ""},
		{env(), 3, Shard{}, "no shard index"},
	} {
		got, _, err := ShardFromEnv(tc.env, tc.count)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("want error with %q, got %v, %v", tc.err, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("got %v, %v; want %v", got, err, tc.want)
		}
	}
}

// I/N counts from 0 and K-of-N from 1; anything out of range names the valid range, so that
// a shard counted from 1 is never run as a slice other than the one meant.
func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/3", Shard{0, 3}, ""},
		{"2/3", Shard{2, 3}, ""},
		{" 1 / 2 ", Shard{1, 2}, ""},
		{"1-of-3", Shard{0, 3}, ""},
		{"3-of-3", Shard{2, 3}, ""},
		{"1-of-1", Whole, ""},
		{"3/3", Shard{}, "shards count from 0, so with 3 shards the index is 0..2 (the last one is 2/3, or 3-of-3"},
		{"-1/3", Shard{}, "index is 0..2"},
		{"0/0", Shard{}, "at least 1"},
		{"0-of-3", Shard{}, "K is 1..3"},
		{"4-of-3", Shard{}, "K is 1..3"},
		{"1-of-0", Shard{}, "K is 1..1"},
		{"x-of-3", Shard{}, "K-of-N counting from 1"},
		{"2", Shard{}, "I/N counting from 0"},
		{"a/b", Shard{}, "I/N counting from 0"},
	} {
		got, err := ParseShard(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestMissingShards(t *testing.T) {
	for _, tc := range []struct {
		count int
		have  []int
		want  []int
	}{
		{3, []int{0, 1, 2}, nil},
		{3, []int{1, 2}, []int{0}},
		{3, []int{2, 2, 7}, []int{0, 1}},
		{1, nil, []int{0}},
	} {
		if got := MissingShards(tc.count, tc.have); !slices.Equal(got, tc.want) {
			t.Errorf("MissingShards(%d, %v) = %v, want %v", tc.count, tc.have, got, tc.want)
		}
	}
}

// Shards partition the runs, and units skip exactly the committed runs.
func TestShardUnits(t *testing.T) {
	for _, tc := range []struct {
		total int64
		count int
	}{{1000, 3}, {1000, 1}, {64, 2}, {65, 2}, {129, 3}, {1, 4}, {640, 10}, {641, 10}, {5000, 7}} {
		seen := make([]int, tc.total)
		for i := range tc.count {
			s := Shard{i, tc.count}
			var n int64
			s.eachUnit(tc.total, nil, func(u unit) bool {
				for id := u.lo; id < u.hi; id++ {
					seen[id]++
				}
				n += u.hi - u.lo
				return true
			})
			if n != s.runs(tc.total) {
				t.Errorf("total %d, shard %v: units hold %d runs, runs() says %d", tc.total, s, n, s.runs(tc.total))
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("total %d: run %d in %d shards", tc.total, id, c)
			}
		}
	}
	var got [][2]int64
	Whole.eachUnit(300, [][2]int64{{0, 9}, {60, 70}, {128, 191}, {250, 299}}, func(u unit) bool {
		got = append(got, [2]int64{u.lo, u.hi})
		return true
	})
	want := [][2]int64{{10, 60}, {71, 128}, {192, 250}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("units %v, want %v", got, want)
	}
}

func TestSweepGroups(t *testing.T) {
	s, err := Parse("g.toml", []byte(`
seeds = 2
[[sweep]]
scenario = ["simple"]
[[sweep]]
scenario = ["advanced"]
nodes = [5, 10]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != 3 || len(s.Axes) != 2 {
		t.Fatalf("%d points, %d axes", len(s.Points), len(s.Axes))
	}
	if got := s.Describe(&s.Points[0]); got != "scenario=simple" {
		t.Errorf("point 0: %s", got)
	}
	if got := s.Describe(&s.Points[2]); got != "scenario=advanced, nodes=10" {
		t.Errorf("point 2: %s", got)
	}
	if s.Points[0].Config.Nodes != sim.DefaultConfig().Nodes || s.Points[2].Config.Nodes != 10 {
		t.Error("a point outside a group's axes must keep the base value")
	}
	// A point's seeds depend only on its own values, so moving it into a group keeps them.
	single, err := Parse("g.toml", []byte("seeds = 2\n[sweep]\nscenario = [\"advanced\"]\nnodes = [5, 10]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if single.Points[1].Hash != s.Points[2].Hash {
		t.Error("the same point hashes differently inside a group")
	}
	_, err = Parse("g.toml", []byte("[[sweep]]\nnodes = [5]\n[[sweep]]\nnodes = [5, 6]\n"))
	if err == nil || !strings.Contains(err.Error(), "sweep groups overlap") {
		t.Errorf("overlapping groups: %v", err)
	}
}

// The spec hash says which experiment a result set holds: writing the same experiment
// differently keeps it, changing what runs changes it.
func TestSpecHashMeansTheExperiment(t *testing.T) {
	const spec = `name = "h"
description = "first words"
seeds = 3
base_seed = 5
[base]
scenario = "random"
timing = "async"
horizon = "10ms"
[base.delay]
kind = "uniform"
min = "1ms"
max = "3ms"
[sweep]
joiners = [1, 2]
"delay.max" = ["3ms", "5ms"]
`
	hash := func(text string) string {
		t.Helper()
		s, err := Parse("h.toml", []byte(text))
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return s.Hash
	}
	want := hash(spec)
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(spec, old) {
			t.Fatalf("spec lacks %q", old)
		}
		return strings.Replace(spec, old, new, 1)
	}
	for _, tc := range []struct {
		what, text string
		same       bool
	}{
		{"a comment", "# why\n" + edit("[sweep]\n", "[sweep] # axes\n"), true},
		{"keys reordered in a table", edit("scenario = \"random\"\ntiming = \"async\"\n", "timing = \"async\"\nscenario = \"random\"\n"), true},
		{"a duration spelled otherwise", edit(`horizon = "10ms"`, `horizon = "10000us"`), true},
		{"a default written out", edit("[base]\n", "[base]\nbits = 16\n"), true},
		{"an inline table", edit("[base.delay]\nkind = \"uniform\"\nmin = \"1ms\"\nmax = \"3ms\"\n", "delay = { max = \"3ms\", kind = \"uniform\", min = \"1ms\" }\n"), true},
		{"the description", edit("first words", "other words"), true},
		{"a base value", edit(`horizon = "10ms"`, `horizon = "11ms"`), false},
		{"a parameter set to a non-default", edit("[base]\n", "[base]\nbits = 12\n"), false},
		{"an axis value", edit("joiners = [1, 2]", "joiners = [1, 3]"), false},
		{"axis values reordered", edit("joiners = [1, 2]", "joiners = [2, 1]"), false},
		{"axes reordered", edit("joiners = [1, 2]\n\"delay.max\" = [\"3ms\", \"5ms\"]\n", "\"delay.max\" = [\"3ms\", \"5ms\"]\njoiners = [1, 2]\n"), false},
		{"seeds", edit("seeds = 3", "seeds = 4"), false},
		{"base_seed", edit("base_seed = 5", "base_seed = 6"), false},
		{"trace level", edit("seeds = 3\n", "seeds = 3\ntrace = \"none\"\n"), false},
		{"name", edit(`name = "h"`, `name = "g"`), false},
	} {
		if got := hash(tc.text); (got == want) != tc.same {
			t.Errorf("%s: hash changed %v, want %v", tc.what, got != want, !tc.same)
		}
	}
}

// [base] is walked key by key: whatever is not a parameter, or not of its kind, is an error
// at its own line and column, however the TOML spells the table.
func TestBaseKeys(t *testing.T) {
	for _, tc := range []struct {
		doc       string
		line, col int
		key, msg  string
	}{
		{"[base]\nnodes = 3\n[base.delay]\nmaks = \"1ms\"\n", 4, 1, "base.delay.maks", "unknown key"},
		{"[base.nodes]\nx = 1\n", 1, 2, "base.nodes", "unknown key"},
		{"[base]\ndelay = \"5ms\"\n", 2, 9, "base.delay", "want a table, got a string"},
		{"base = 3\n", 1, 1, "base", "must be a table"},
		{"[base]\nnodes.x = 1\n", 2, 1, "base.nodes.x", "unknown key"},
		{"[base]\nnodes = [1, 2]\n", 2, 1, "base.nodes", "want an integer, got a list"},
		{"[base]\ndelay = { max = 5 }\n", 2, 17, "base.delay.max", "want a duration"},
		{"[base]\n  workload.replicas = \"two\"\n", 2, 23, "base.workload.replicas", "want an integer, got a string"},
		{"[base]\nbits = 99\n", 2, 8, "base.bits", "out of range 0..64"},
		{"[base]\nmode = \"grid\"\n", 2, 8, "base.mode", `unknown mode "grid"`},
	} {
		_, err := Parse("b.toml", []byte(tc.doc))
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v is not a SpecError", tc.doc, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || se.Key != tc.key || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%q:\n%v\nwant b.toml:%d:%d: %s: %s", tc.doc, err, tc.line, tc.col, tc.key, tc.msg)
		}
	}

	// The same parameters, however the table is written.
	s, err := Parse("b.toml", []byte("[base]\nscenario = \"random\"\ntiming = \"async\"\nprotocol = \"predlock\"\nleavers = 2\n"+
		"workload = { keys = 5, replicas = 3 }\ndelay.max = \"20ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Base; c.Leavers != 2 || c.Workload.Keys != 5 || c.Workload.Replicas != 3 || c.Delay.Max != int64(20*time.Millisecond) {
		t.Errorf("base %+v", c)
	}
}
