package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// The test binary doubles as a sweep process for tests that kill or shard sweeps: with
// childEnv set it runs one sweep, configured by environment variables, and exits.
const childEnv = "DHTEXP_RUNNER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childSweep())
	}
	os.Exit(m.Run())
}

func childSweep() int {
	spec, err := Load(os.Getenv("SPEC"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts := Options{Dir: os.Getenv("OUT"), Resume: os.Getenv("RESUME") != "", simulate: withFakeOps}
	opts.Workers, _ = strconv.Atoi(os.Getenv("WORKERS"))
	opts.PartRuns, _ = strconv.Atoi(os.Getenv("PART_RUNS"))
	if v := os.Getenv("SHARD"); v != "" {
		if opts.Shard, err = ParseShard(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if _, err := Sweep(context.Background(), spec, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func child(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1"}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func load(t testing.TB, path string) *Spec {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sweep(t testing.TB, ctx context.Context, spec *Spec, opts Options) *Summary {
	t.Helper()
	sum, err := Sweep(ctx, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// tableRows fingerprints every row of one table of a result set, wall_ns excluded, as a
// sorted list of hashes, so result sets compare regardless of how rows are split into parts.
func tableRows(t testing.TB, dir, table string) []uint64 {
	t.Helper()
	out := rowsInOrder(t, dir, table)
	slices.Sort(out)
	return out
}

// rowsInOrder is tableRows with the rows in the order of the parts and of the rows in them.
func rowsInOrder(t testing.TB, dir, table string) []uint64 {
	t.Helper()
	m, err := trace.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, p := range m.Done {
		if table == trace.TableOps && p.Ops == 0 {
			continue
		}
		path := filepath.Join(dir, table, p.Part)
		r, err := trace.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		schema := r.Schema()
		r.Close()
		var names []string
		for _, c := range schema.Columns {
			if c.Name != "wall_ns" {
				names = append(names, c.Name)
			}
		}
		var b []byte
		err = trace.ForEachRowGroup(path, names, func(c *trace.Chunk) error {
			for i := range c.NumRows() {
				b = b[:0]
				for _, col := range schema.Columns {
					if col.Name == "wall_ns" {
						continue
					}
					if v := c.Valid(col.Name); v != nil && !v[i] {
						b = append(b, "null|"...)
						continue
					}
					switch col.Type {
					case trace.Int64:
						b = strconv.AppendInt(b, c.Int64(col.Name)[i], 10)
					case trace.Float64:
						b = strconv.AppendFloat(b, c.Float64(col.Name)[i], 'g', -1, 64)
					case trace.Bool:
						b = strconv.AppendBool(b, c.Bool(col.Name)[i])
					default:
						b = append(b, c.String(col.Name)[i]...)
					}
					b = append(b, '|')
				}
				h := fnv.New64a()
				h.Write(b)
				out = append(out, h.Sum64())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameResults(t *testing.T, a, b string, level trace.Level) {
	t.Helper()
	for _, table := range level.Tables() {
		ra, rb := tableRows(t, a, table), tableRows(t, b, table)
		if len(ra) == 0 {
			t.Errorf("%s: %s has no rows", a, table)
		}
		if !slices.Equal(ra, rb) {
			t.Errorf("%s differs: %d rows in %s, %d in %s", table, len(ra), a, len(rb), b)
		}
	}
	if level >= trace.LevelJoins {
		if ra, rb := tableRows(t, a, trace.TableOps), tableRows(t, b, trace.TableOps); !slices.Equal(ra, rb) {
			t.Errorf("ops differ: %d rows in %s, %d in %s", len(ra), a, len(rb), b)
		}
	}
}

// checkComplete verifies a result set's manifest against its runs files.
func checkComplete(t *testing.T, dir string) *trace.Manifest {
	t.Helper()
	m, err := trace.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete() || m.Finished == "" {
		t.Errorf("%s: %d of %d runs done, finished %q", dir, m.RunsDone(), m.ShardRuns, m.Finished)
	}
	for _, p := range m.Done {
		if err := checkRunIDs(filepath.Join(dir, trace.TableRuns, p.Part), p); err != nil {
			t.Error(err)
		}
	}
	if _, err := doneRanges(m.Done); err != nil {
		t.Error(err)
	}
	return m
}

func TestSweepDeterministicAcrossWorkers(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "w1"), filepath.Join(dir, "w2")
	sa := sweep(t, context.Background(), spec, Options{Dir: a, Workers: 1, PartRuns: 100})
	sb := sweep(t, context.Background(), spec, Options{Dir: b, Workers: 2, PartRuns: 100})
	if sa.Done != spec.Runs() || sb.Done != spec.Runs() || sa.Failed != sb.Failed {
		t.Errorf("summaries %+v and %+v", sa, sb)
	}
	ma, mb := checkComplete(t, a), checkComplete(t, b)
	// Parts are cut by content alone, so even the file layout is the same.
	if !reflect.DeepEqual(ma.Done, mb.Done) {
		t.Errorf("parts differ:\n%v\n%v", ma.Done, mb.Done)
	}
	sameResults(t, a, b, trace.LevelMessages)
	// Events arrive in run and sequence order, and joins belong to runs that exist.
	var last [2]int64 = [2]int64{-1, -1}
	err := trace.ReadEvents(filepath.Join(a, trace.TableEvents, ma.Parts[0]), func(es []trace.Event) error {
		for _, e := range es {
			if e.RunID < last[0] || e.RunID == last[0] && e.Seq != last[1]+1 {
				return fmt.Errorf("event run %d seq %d after run %d seq %d", e.RunID, e.Seq, last[0], last[1])
			}
			last = [2]int64{e.RunID, e.Seq}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A result set does not depend on the number of workers, down to the bytes: the same parts,
// the runs rows in the same order with the same values (wall_ns, a clock reading, aside),
// and the same joins, ops and events files. Also with units handed over in pieces.
func TestSweepFilesIndependentOfWorkers(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		pieces bool
	}{{"small", false}, {"small", true}, {"workload", false}} {
		t.Run(fmt.Sprintf("%s/pieces=%v", tc.spec, tc.pieces), func(t *testing.T) {
			spec := load(t, "testdata/"+tc.spec+".toml")
			if tc.pieces {
				defer func(p, f int) { pieceRows, flightBytes = p, f }(pieceRows, flightBytes)
				pieceRows, flightBytes = 50, 200
			}
			dir := t.TempDir()
			ref := filepath.Join(dir, "1")
			sweep(t, context.Background(), spec, Options{Dir: ref, Workers: 1, PartRuns: 40})
			mref := checkComplete(t, ref)
			if len(mref.Parts) < 3 {
				t.Fatalf("%d parts: the test wants several", len(mref.Parts))
			}
			for _, workers := range []int{2, 3} {
				out := filepath.Join(dir, strconv.Itoa(workers))
				sweep(t, context.Background(), spec, Options{Dir: out, Workers: workers, PartRuns: 40})
				if m := checkComplete(t, out); !reflect.DeepEqual(m.Done, mref.Done) {
					t.Errorf("%d workers: parts differ:\n%v\n%v", workers, m.Done, mref.Done)
					continue
				}
				if a, b := rowsInOrder(t, ref, trace.TableRuns), rowsInOrder(t, out, trace.TableRuns); !slices.Equal(a, b) {
					t.Errorf("%d workers: runs rows differ", workers)
				}
				files := 0
				for _, table := range []string{trace.TableJoins, trace.TableOps, trace.TableEvents} {
					for _, p := range mref.Parts {
						a, errA := os.ReadFile(filepath.Join(ref, table, p))
						b, errB := os.ReadFile(filepath.Join(out, table, p))
						if errors.Is(errA, os.ErrNotExist) && errors.Is(errB, os.ErrNotExist) {
							continue
						}
						files++
						if errA != nil || errB != nil || !slices.Equal(a, b) {
							t.Errorf("%d workers: %s/%s differs (%v, %v)", workers, table, p, errA, errB)
						}
					}
				}
				if want := len(mref.Parts); files < want {
					t.Errorf("%d workers: %d trace files compared, want at least %d", workers, files, want)
				}
			}
		})
	}
}

// Units handed over in pieces, with workers held back by the bound on events in flight,
// give the same rows.
func TestSweepInPieces(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "whole"), filepath.Join(dir, "pieces")
	sweep(t, context.Background(), spec, Options{Dir: a, Workers: 2})
	defer func(p, f int) { pieceRows, flightBytes = p, f }(pieceRows, flightBytes)
	pieceRows, flightBytes = 50, 200
	sweep(t, context.Background(), spec, Options{Dir: b, Workers: 2, PartEvents: 3000})
	checkComplete(t, a)
	mb := checkComplete(t, b)
	if len(mb.Parts) < 2 {
		t.Errorf("%d parts", len(mb.Parts))
	}
	sameResults(t, a, b, trace.LevelMessages)
}

func TestSweepRowsMatchSimulator(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := filepath.Join(t.TempDir(), "r")
	sweep(t, context.Background(), spec, Options{Dir: dir, Trace: trace.LevelJoins})
	m := checkComplete(t, dir)
	if m.Trace != "joins" {
		t.Errorf("trace %s, want the override", m.Trace)
	}
	if _, err := os.Stat(filepath.Join(dir, trace.TableEvents)); err == nil {
		t.Error("events folder written at trace level joins")
	}
	err := trace.ForEachRowGroup(filepath.Join(dir, trace.TableRuns, m.Parts[0]), nil, func(c *trace.Chunk) error {
		for i := range c.NumRows() {
			id := c.Int64("run_id")[i]
			p, replica, seed := spec.Run(id)
			if c.Int64("grid_point")[i] != int64(p.Index) || c.Int64("replica")[i] != int64(replica) || uint64(c.Int64("seed")[i]) != seed {
				return fmt.Errorf("run %d: identity columns wrong", id)
			}
			if c.Int64("joiners")[i] != int64(p.Config.Joiners) || c.String("link")[i] != p.Config.Link || c.Int64("delay_max_ns")[i] != p.Config.Delay.Max {
				return fmt.Errorf("run %d: parameter columns wrong", id)
			}
			if c.Int64("delay_mean_ns")[i] != 0 || c.Int64("delay_value_ns")[i] != 0 {
				return fmt.Errorf("run %d: unused delay parameters are not 0", id)
			}
			if ok, p50 := c.Int64("joins_ok")[i], c.Valid("latency_p50_ns")[i]; (ok > 0) != p50 {
				return fmt.Errorf("run %d: %d joins ok but latency null=%v", id, ok, !p50)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cancelAt is a Progress that cancels the sweep once enough runs are written, as Ctrl-C would.
type cancelAt struct {
	after  int64
	cancel context.CancelFunc
}

func (c *cancelAt) Start(int64, int64) {}
func (c *cancelAt) Update(done, _ int64) {
	if done >= c.after {
		c.cancel()
	}
}
func (c *cancelAt) Finish(bool) {}

func TestCancelThenResume(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := t.TempDir()
	full, part := filepath.Join(dir, "full"), filepath.Join(dir, "part")
	sweep(t, context.Background(), spec, Options{Dir: full})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum := sweep(t, ctx, spec, Options{Dir: part, PartRuns: 100, Progress: &cancelAt{after: 150, cancel: cancel}})
	if !sum.Interrupted || sum.Done < 150 || sum.Done >= spec.Runs() {
		t.Fatalf("cancelled sweep: %+v", sum)
	}
	m, err := trace.ReadManifest(part)
	if err != nil {
		t.Fatal(err)
	}
	if m.RunsDone() != sum.Done || m.Finished != "" {
		t.Errorf("manifest holds %d runs (finished %q), the sweep wrote %d", m.RunsDone(), m.Finished, sum.Done)
	}
	// Without --resume the folder is refused; with it the sweep continues.
	if _, err := Sweep(context.Background(), spec, Options{Dir: part}); !isInputError(err) || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("non-empty folder without resume: %v", err)
	}
	sum2 := sweep(t, context.Background(), spec, Options{Dir: part, Resume: true, PartRuns: 100})
	if sum2.Skipped != sum.Done || sum2.Skipped+sum2.Done != spec.Runs() || sum2.Interrupted {
		t.Errorf("resumed sweep: %+v", sum2)
	}
	checkComplete(t, part)
	sameResults(t, full, part, trace.LevelMessages)
	// Resuming a complete result set does nothing.
	if sum3 := sweep(t, context.Background(), spec, Options{Dir: part, Resume: true}); sum3.Done != 0 || !sum3.Complete() {
		t.Errorf("resume of a complete set: %+v", sum3)
	}
}

func isInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func TestResumeAfterKill(t *testing.T) {
	spec := load(t, "testdata/kill.toml")
	dir := t.TempDir()
	full, killed := filepath.Join(dir, "full"), filepath.Join(dir, "killed")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sweep(t, context.Background(), spec, Options{Dir: full})
	}()

	cmd := child(t, "SPEC=testdata/kill.toml", "OUT="+killed, "WORKERS=1", "PART_RUNS=32")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	var parts int
	for time.Now().Before(deadline) {
		if m, err := trace.ReadManifest(killed); err == nil && len(m.Parts) >= 3 {
			parts = len(m.Parts)
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wg.Wait()
	m, err := trace.ReadManifest(killed)
	if err != nil {
		t.Fatal(err)
	}
	if parts < 3 || m.Complete() {
		t.Fatalf("the sweep was not killed half-way: %d parts seen, %d of %d runs done", parts, m.RunsDone(), m.ShardRuns)
	}
	t.Logf("killed after %d parts, %d of %d runs", len(m.Parts), m.RunsDone(), m.ShardRuns)

	// A stray part and temporary files, as a kill between rename and commit leaves them.
	stray := filepath.Join(killed, trace.TableRuns, partName(900))
	for _, p := range []string{stray, stray + ".tmp-123", filepath.Join(killed, "."+trace.ManifestName+".tmp-9")} {
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resume := child(t, "SPEC=testdata/kill.toml", "OUT="+killed, "WORKERS=2", "RESUME=1")
	if err := resume.Run(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stray, stray + ".tmp-123", filepath.Join(killed, "."+trace.ManifestName+".tmp-9")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived the resume", p)
		}
	}
	checkComplete(t, killed)
	sameResults(t, full, killed, trace.LevelMessages)
}

func TestShardsMergeToSingleSweep(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := t.TempDir()
	single := filepath.Join(dir, "single")
	sweep(t, context.Background(), spec, Options{Dir: single, Workers: 2})

	var shards []string
	var cmds []*exec.Cmd
	for i := range 3 {
		out := filepath.Join(dir, "shard-"+strconv.Itoa(i))
		shards = append(shards, out)
		cmd := child(t, "SPEC=testdata/small.toml", "OUT="+out, "WORKERS=1", "SHARD="+strconv.Itoa(i)+"/3", "PART_RUNS=50")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var total int64
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		m := checkComplete(t, shards[i])
		if m.Shard.Index != i || m.Shard.Count != 3 {
			t.Errorf("shard %d manifest says %+v", i, m.Shard)
		}
		total += m.RunsDone()
	}
	if total != spec.Runs() {
		t.Errorf("shards hold %d runs, want %d", total, spec.Runs())
	}

	// Incomplete or mismatched inputs are refused and leave nothing behind.
	bad := filepath.Join(dir, "bad")
	// The missing shard is named, also shard 0, which is the one left out by counting from 1.
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{shards[:2], "missing shard 2/3 (3-of-3 counting from 1)"},
		{shards[1:], "missing shard 0/3 (1-of-3 counting from 1)"},
	} {
		if _, err := Merge(bad, tc.dirs); !isInputError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("merge of %v: %v, want %q", tc.dirs, err, tc.want)
		}
	}
	if _, err := Merge(bad, []string{shards[0], shards[1], shards[2], shards[1]}); !isInputError(err) || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("merge with a shard twice: %v", err)
	}
	other := filepath.Join(dir, "other")
	sweep(t, context.Background(), load(t, "testdata/tiny.toml"), Options{Dir: other, Shard: Shard{1, 3}})
	if _, err := Merge(bad, []string{shards[0], other, shards[2]}); !isInputError(err) || !strings.Contains(err.Error(), "another spec") {
		t.Errorf("merge across specs: %v", err)
	}
	if entries, _ := os.ReadDir(dir); slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		return strings.Contains(e.Name(), "bad")
	}) {
		t.Error("a failed merge left files behind")
	}

	// A shard whose manifest holds the hash of the spec file's bytes, as earlier builds
	// wrote it, is the same spec.
	m1, err := trace.ReadManifest(shards[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(m1.Spec))
	m1.SpecHash = hex.EncodeToString(sum[:])
	if err := trace.WriteManifest(shards[1], m1); err != nil {
		t.Fatal(err)
	}

	merged := filepath.Join(dir, "merged")
	m, err := Merge(merged, shards)
	if err != nil {
		t.Fatal(err)
	}
	if m.SpecHash != spec.Hash {
		t.Errorf("merged spec_hash %s, want %s", m.SpecHash, spec.Hash)
	}
	if m.Shard.Count != 1 || len(m.MergedFrom) != 3 {
		t.Errorf("merged manifest: shard %+v from %v", m.Shard, m.MergedFrom)
	}
	checkComplete(t, merged)
	sameResults(t, single, merged, trace.LevelMessages)
	if _, err := Merge(merged, shards); !isInputError(err) {
		t.Errorf("merge into a non-empty folder: %v", err)
	}
}

func TestOutputFolderErrors(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A regular file where a folder must go: unwritable even for root.
	for _, out := range []string{file, filepath.Join(file, "sub")} {
		_, err := Sweep(context.Background(), spec, Options{Dir: out})
		if !isInputError(err) || !strings.Contains(err.Error(), file) {
			t.Errorf("output %s: %v", out, err)
		}
	}
	foreign := filepath.Join(dir, "foreign")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(context.Background(), spec, Options{Dir: foreign, Resume: true}); !isInputError(err) || !strings.Contains(err.Error(), "holds no manifest.json") {
		t.Errorf("folder of other files: %v", err)
	}
}

func TestResumeWithAnotherSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	small := load(t, "testdata/small.toml")
	sweep(t, context.Background(), small, Options{Dir: dir, PartRuns: 100})
	before, err := os.ReadFile(filepath.Join(dir, trace.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Parse("testdata/small.toml", []byte(strings.Replace(small.Text, `horizon = "10s"`, `horizon = "11s"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Sweep(context.Background(), changed, Options{Dir: dir, Resume: true})
	if !isInputError(err) || !strings.Contains(err.Error(), "different spec") {
		t.Fatalf("resume with another spec: %v", err)
	}
	_, err = Sweep(context.Background(), changed, Options{Dir: dir})
	if !isInputError(err) || !strings.Contains(err.Error(), "another spec") {
		t.Fatalf("sweep of another spec into a used folder: %v", err)
	}
	_, err = Sweep(context.Background(), small, Options{Dir: dir, Resume: true, Trace: trace.LevelNone})
	if !isInputError(err) || !strings.Contains(err.Error(), "trace level") {
		t.Fatalf("resume at another trace level: %v", err)
	}
	after, err := os.ReadFile(filepath.Join(dir, trace.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("a refused resume changed the manifest")
	}
	checkComplete(t, dir)
}

func TestPlainProgress(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, "exp", false, time.Hour)
	p.Start(200, 50)
	p.Update(30, 4)
	p.Finish(true)
	out := b.String()
	for _, want := range []string{"exp: 50 of 200 runs already done, 150 to go", "exp: 80/200 runs (40.0%)", "4 not ok", "ETA"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%s", want, out)
		}
	}
}

// Tracing allocates nothing per event once the encoder's storage has grown (only a few
// objects per page it encodes), and a piece's events, which flow through the buffer
// trace.ChunkEvents at a time, come out in order, whole and the same again and again.
func TestEventBufAllocatesPerPageOnly(t *testing.T) {
	b, err := newEventBuf()
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	b.run = 9
	e := &observe.Event{Seq: 3, Time: 5, Kind: observe.KindDeliver, MsgType: protocol.Connect, Node: 1,
		From: 2, To: 1, Joiner: 2, Left: protocol.None, Right: 7, Detail: "x"}
	n := 3*trace.ChunkEvents + 5
	var piece trace.Encoded
	fill := func() {
		for i := range n {
			e.Seq = int64(i)
			b.Event(e)
		}
		if got := b.rows(); got != n {
			t.Fatalf("%d events buffered, want %d", got, n)
		}
		if err := b.take(&piece); err != nil {
			t.Fatal(err)
		}
	}
	fill()
	if allocs := testing.AllocsPerRun(10, fill); allocs > 100 {
		t.Errorf("%v allocations per %d events", allocs, n)
	}
	if piece.Rows() != int64(n) || b.rows() != 0 {
		t.Fatalf("took %d events, %d left; want %d, 0", piece.Rows(), b.rows(), n)
	}
	path := filepath.Join(t.TempDir(), "events.parquet")
	ew, err := trace.CreateEvents(path, trace.ClockVirtual, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEncoded(&piece); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	if err := trace.ReadEvents(path, func(es []trace.Event) error {
		for _, got := range es {
			if got.Seq != seq || got.RunID != 9 || got.Kind != "deliver" || got.MsgType != "connect" ||
				got.Left != -1 || got.Right != 7 || got.From != 2 || got.Detail != "x" {
				t.Fatalf("event %d: %+v", seq, got)
			}
			seq++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seq != int64(n) {
		t.Fatalf("read %d events, want %d", seq, n)
	}
}

// A sweep killed before its first manifest was in place leaves a folder that is not yet a
// result set: its folders, a temporary manifest, and the temporary files of its first part,
// which its first runs may have begun. Another sweep starts there afresh, with or without
// --resume; a finished part file without a manifest is somebody else's.
func TestStartInKilledEmptyFolder(t *testing.T) {
	// The names WriteManifest's and the part writers' temporary files have.
	manifestTemp := "." + trace.ManifestName + ".tmp-1"
	partTemp := filepath.Join(trace.TableRuns, partName(0)+".tmp-2k9")
	joinsTemp := filepath.Join(trace.TableJoins, partName(0)+".tmp-7")
	for _, tc := range []struct {
		name   string
		files  []string
		resume bool
		fresh  bool
	}{
		{"folders and manifest", []string{manifestTemp}, true, true},
		{"first part begun", []string{manifestTemp, partTemp, joinsTemp}, true, true},
		{"first part begun, no resume", []string{partTemp}, false, true},
		{"finished part", []string{filepath.Join(trace.TableRuns, partName(0))}, true, false},
		{"other temporary file", []string{filepath.Join(trace.TableRuns, "notes.txt.tmp-1")}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			for _, d := range []string{trace.TableRuns, trace.TableJoins} {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("{"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Sweep(context.Background(), load(t, "testdata/tiny.toml"), Options{Dir: dir, Resume: tc.resume})
			if !tc.fresh {
				if !isInputError(err) || !strings.Contains(err.Error(), "holds no manifest.json") {
					t.Fatalf("got %v, want the folder refused", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, dir)
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s left behind", f)
				}
			}
		})
	}
}

// holdFirstManifest makes opts' sweep count the runs it simulates and hold its first manifest
// back until at least runs of them are done, or 20 s have passed; then write is called with
// the count instead of trace.WriteManifest. Had the runs waited for the manifest, none would
// be done by then.
func holdFirstManifest(opts *Options, runs int64, write func(dir string, m *trace.Manifest, done int64) error) {
	var simulated atomic.Int64
	opts.simulate = func(cfg sim.Config, tr observe.Tracer) (*sim.Result, error) {
		simulated.Add(1)
		return sim.Run(cfg, tr)
	}
	opts.writeFirstManifest = func(dir string, m *trace.Manifest) error {
		deadline := time.Now().Add(20 * time.Second)
		for simulated.Load() < runs && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		return write(dir, m, simulated.Load())
	}
}

// The manifest of a new result set is written beside the first runs, not before them, and
// no part is completed before it is in place.
func TestFirstManifestBesideFirstRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var ranFirst int64
	opts := Options{Dir: dir, Workers: 2, PartRuns: 100}
	// Held back until a few parts' worth of runs are done.
	holdFirstManifest(&opts, 150, func(dir string, m *trace.Manifest, done int64) error {
		ranFirst = done
		entries, err := os.ReadDir(filepath.Join(dir, trace.TableRuns))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !trace.IsTemp(e.Name()) {
				t.Errorf("%s completed before the first manifest", e.Name())
			}
		}
		return trace.WriteManifest(dir, m)
	})
	sum := sweep(t, context.Background(), load(t, "testdata/tiny.toml"), opts)
	if ranFirst < 150 {
		t.Errorf("%d runs done before the first manifest was written, want at least 150", ranFirst)
	}
	if sum.Parts < 2 {
		t.Errorf("%d parts, want several", sum.Parts)
	}
	checkComplete(t, dir)
}

// A sweep interrupted before its first manifest is in place still leaves a result set that
// --resume continues: the sweep returns only once the manifest is written, with no run
// counted that it does not list.
func TestCancelBeforeFirstManifest(t *testing.T) {
	spec := load(t, "testdata/tiny.toml")
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{Dir: dir, Workers: 2, PartRuns: 100}
	// Interrupted once runs are done and parts cut, before the manifest is written.
	holdFirstManifest(&opts, 400, func(dir string, m *trace.Manifest, _ int64) error {
		cancel()
		return trace.WriteManifest(dir, m)
	})
	sum := sweep(t, ctx, spec, opts)
	if !sum.Interrupted {
		t.Fatalf("sweep not interrupted: %+v", sum)
	}
	m, err := trace.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The parts cut before the manifest was written are committed after it.
	if sum.Done < 100 || m.RunsDone() != sum.Done {
		t.Errorf("the manifest lists %d runs, the summary says %d, want the same, at least a part's", m.RunsDone(), sum.Done)
	}
	opts.simulate, opts.writeFirstManifest, opts.Resume = nil, nil, true
	sum2 := sweep(t, context.Background(), spec, opts)
	if sum2.Skipped != sum.Done || sum2.Skipped+sum2.Done != spec.Runs() {
		t.Errorf("resumed sweep: %+v after %+v", sum2, sum)
	}
	checkComplete(t, dir)
}

// A first manifest that cannot be written stops the sweep with an input error, and leaves no
// part behind, neither completed nor begun.
func TestFirstManifestFailure(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run("workers="+strconv.Itoa(workers), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			opts := Options{Dir: dir, Workers: workers, PartRuns: 100}
			// Fails once parts are cut, so that they must be discarded.
			holdFirstManifest(&opts, 150, func(string, *trace.Manifest, int64) error {
				return errors.New("no space left on device")
			})
			sum, err := Sweep(context.Background(), load(t, "testdata/tiny.toml"), opts)
			if !isInputError(err) || !strings.Contains(err.Error(), "cannot write to output folder "+dir) ||
				!strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("got %v, want the input error of the manifest", err)
			}
			if sum != nil && sum.Done != 0 {
				t.Errorf("%d runs reported done", sum.Done)
			}
			entries, err := os.ReadDir(filepath.Join(dir, trace.TableRuns))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("%s left behind", e.Name())
			}
			if _, err := os.Stat(filepath.Join(dir, trace.ManifestName)); err == nil {
				t.Error("a manifest was written")
			}
		})
	}
}

// A result set's spec is compared by meaning: a comment does not stop a resume, and a
// manifest of an earlier build, which holds the hash of the file's bytes, resumes by the
// spec text it records.
func TestResumeComparesSpecMeaning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	small := load(t, "testdata/small.toml")
	sweep(t, context.Background(), small, Options{Dir: dir, PartRuns: 100})
	commented, err := Parse("testdata/small.toml", append([]byte(small.Text), "\n# edited\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(context.Background(), commented, Options{Dir: dir, Resume: true}); err != nil {
		t.Errorf("resume after adding a comment: %v", err)
	}
	m, err := trace.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(m.Spec))
	m.SpecHash = hex.EncodeToString(sum[:])
	if err := trace.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(context.Background(), small, Options{Dir: dir, Resume: true}); err != nil {
		t.Errorf("resume of a manifest with a file hash: %v", err)
	}
	m.Spec = "[base]\nnodez = 3\n"
	if err := trace.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(context.Background(), small, Options{Dir: dir, Resume: true}); !isInputError(err) || !strings.Contains(err.Error(), "does not parse with this build") {
		t.Errorf("resume of a manifest whose spec no longer parses: %v", err)
	}
}

// A piece delivered while another worker waits is written by the waiting worker, and the
// worker that delivered it goes back to simulating at once; with no worker waiting, the one
// that delivers writes. The writing worker is told by its reads of the CPU clock, which
// waitFlight takes around what it writes.
func TestWaitingWorkerWrites(t *testing.T) {
	spec := load(t, "testdata/small.toml")
	for _, waiting := range []bool{false, true} {
		t.Run(fmt.Sprintf("waiting=%v", waiting), func(t *testing.T) {
			var clockReads atomic.Int64
			w := &writer{dir: t.TempDir(), spec: spec, level: trace.LevelNone, m: &trace.Manifest{},
				partRuns: 100, partEvents: 100, sum: &Summary{}, colsOf: -1,
				cpuClock: func() int64 { clockReads.Add(1); return 0 }}
			w.cond.L = &w.mu
			w.pending = map[pieceKey]*unitResult{}
			w.cancel = func() {}
			if err := os.MkdirAll(filepath.Join(w.dir, trace.TableRuns), 0o755); err != nil {
				t.Fatal(err)
			}
			defer w.abort()
			ctx := context.Background()

			// The worker of unit 1 waits: the events in flight are at their bound, and unit 0
			// is to be written first.
			w.inFlight = flightBytes
			returned := make(chan struct{})
			if waiting {
				go func() {
					defer close(returned)
					w.waitFlight(ctx, 1)
				}()
				for {
					w.mu.Lock()
					idle := w.idle
					w.mu.Unlock()
					if idle == 1 {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}

			// written fails the test unless unit 0 has been written.
			written := func(when string) {
				t.Helper()
				w.mu.Lock()
				next, err := w.next, w.err
				w.mu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
				if next != (pieceKey{1, 0}) {
					t.Fatalf("%s, the piece is not written (next %v)", when, next)
				}
			}
			w.deliver(ctx, &unitResult{u: unit{seq: 0}, last: true})
			if !waiting {
				written("with no worker waiting, once deliver returned")
				if n := clockReads.Load(); n != 0 {
					t.Errorf("%d clock reads: some other goroutine wrote", n)
				}
				return
			}
			<-returned
			written("once the waiting worker returned")
			if n := clockReads.Load(); n != 2 {
				t.Errorf("%d clock reads by the waiting worker, want 2 around its writing", n)
			}
		})
	}
}

// A part whose completion starts after the next part was handed over writes no manifest of
// its own: the next part's manifest lists both, and until then neither is listed.
func TestManifestListsPartLeftToNext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	spec := load(t, "testdata/tiny.toml")
	m, _, err := prepare(dir, spec, trace.LevelNone, Whole, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{dir: dir, spec: spec, level: trace.LevelNone, m: m, partRuns: 10,
		partEvents: DefaultPartEvents, sum: &Summary{Runs: m.ShardRuns}, colsOf: -1, writeManifest: trace.WriteManifest}
	if err := w.firstManifest(w.m); err != nil {
		t.Fatal(err)
	}
	listedAtSecond := -1
	w.beforeComplete = func(seq int64) {
		switch seq {
		case 1:
			// The first part's completion waits until the second part is handed over.
			for w.commits.Load() < 2 {
				runtime.Gosched()
			}
		case 2:
			onDisk, err := trace.ReadManifest(dir)
			if err != nil {
				t.Error(err)
				return
			}
			listedAtSecond = len(onDisk.Parts)
		}
	}
	var s sim.Sim
	for _, lo := range []int64{0, 10} {
		r := &unitResult{}
		for id := lo; id < lo+10; id++ {
			if _, err := w.runOne(context.Background(), id, r.addRow(), &s, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.write(r); err != nil { // commits the part: it holds partRuns runs
			t.Fatal(err)
		}
	}
	if err := w.committing.wait(); err != nil {
		t.Fatal(err)
	}
	if listedAtSecond != 0 {
		t.Errorf("the manifest on disk listed %d parts when the second part's completion started, want 0: the first part wrote its own", listedAtSecond)
	}
	got, err := trace.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{partName(0), partName(1)}; !slices.Equal(got.Parts, want) {
		t.Fatalf("manifest lists %v, want %v", got.Parts, want)
	}
	for i, p := range got.Done {
		if want := [][2]int64{{int64(10 * i), int64(10*i + 9)}}; p.Rows != 10 || !slices.Equal(p.Runs, want) {
			t.Errorf("part %s: %d rows, runs %v; want 10 rows, runs %v", p.Part, p.Rows, p.Runs, want)
		}
		if _, err := os.Stat(filepath.Join(dir, trace.TableRuns, p.Part)); err != nil {
			t.Error(err)
		}
	}
	if w.sum.Parts != 2 || w.unlisted != 0 {
		t.Errorf("summary counts %d parts and %d unlisted, want 2 and 0", w.sum.Parts, w.unlisted)
	}
}
