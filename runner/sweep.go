package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// Part size defaults. A part is cut at the end of a unit, or of a piece of a unit whose
// events outgrow pieceRows, once either limit is reached; limits and pieces depend only on
// the runs' contents, so a sweep cuts the same parts whatever the number of workers.
const (
	// DefaultPartRuns bounds the work a kill -9 can lose and the time between commits.
	DefaultPartRuns = 8192
	// DefaultPartEvents bounds the events (or DHT operations) of a part, so that a kill
	// loses at most about a second of a sweep that keeps every event. Events go to their
	// file as they come, so the bound no longer limits memory; every part costs about 9 ms
	// of CPU time (its files, footers, syncs and manifest), and at 2 million events the
	// concurrency spec's 830 million events made 408 parts, which took a tenth of the
	// sweep's time.
	DefaultPartEvents = 16_000_000
	// opsRowGroupRows is the row group size of ops files.
	opsRowGroupRows = 1 << 18
)

// InputError marks a problem with what the user asked for (the spec, the output folder,
// flags), as opposed to a failure while running.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// Options control a sweep.
type Options struct {
	Dir     string // output folder
	Workers int    // parallel simulations; 0 means GOMAXPROCS
	// Resume continues the result set in Dir, which must have been started by the same spec.
	Resume bool
	Shard  Shard       // zero value: the whole experiment
	Trace  trace.Level // 0: the spec's trace level
	// PartRuns and PartEvents bound a part's size; 0 means the defaults.
	PartRuns   int
	PartEvents int
	// Progress receives progress reports; nil reports nothing.
	Progress Progress
	// Real runs the cluster-mode configurations on real nodes; a spec with cluster-mode
	// points needs it. The runner leaves real nodes to an implementation it is handed so
	// that it depends on the simulator only. Real runs never overlap each other or a
	// simulation: each waits for the simulations in flight and holds the others back, so
	// that measured latencies are the network's and not the load of other runs.
	Real RealRunner

	// cpuClock, when set, reads the calling thread's CPU time; workers then stay on their
	// threads and SimTime counts their CPU time while they run units (the simulations and
	// the copying of each result into its row), which other processes on a busy machine do
	// not inflate. Benchmarks use it.
	cpuClock func() int64
	// simulate, when set, replaces the simulator, so that tests can give runs results it
	// does not produce.
	simulate func(sim.Config, observe.Tracer) (*sim.Result, error)
	// writeFirstManifest, when set, replaces trace.WriteManifest for the manifest of a new
	// result set, so that tests can delay it or make it fail.
	writeFirstManifest func(dir string, m *trace.Manifest) error
}

// RealRunner runs configurations on real nodes.
type RealRunner interface {
	// RunReal runs one configuration (cfg.Seed set) and reports it as the simulator
	// would. Joins' Start and End are nanoseconds since the joins were released (the
	// simulator's time 0); Result.Events and SimTime are whatever the implementation
	// observes. An error, other than ctx's, fails the sweep.
	RunReal(ctx context.Context, cfg sim.Config) (*sim.Result, error)
}

// RealFunc adapts a function to a RealRunner.
type RealFunc func(ctx context.Context, cfg sim.Config) (*sim.Result, error)

// RunReal calls f.
func (f RealFunc) RunReal(ctx context.Context, cfg sim.Config) (*sim.Result, error) {
	return f(ctx, cfg)
}

// Summary tells what a sweep did.
type Summary struct {
	Dir         string
	Runs        int64 // runs in the result set when complete
	Skipped     int64 // runs already committed before this sweep started
	Done        int64 // runs committed by this sweep
	Failed      int64 // runs committed by this sweep whose outcome is not ok
	Parts       int   // parts committed by this sweep
	Interrupted bool  // the context was cancelled before every run was done
	Elapsed     time.Duration
	// SimTime is the time spent inside sim.Run, summed over workers: wall time, or the
	// workers' thread CPU time when Options.cpuClock is set.
	SimTime time.Duration
}

// Complete reports whether the result set holds every run.
func (s *Summary) Complete() bool { return s.Skipped+s.Done == s.Runs }

// Progress is told how a sweep advances. Update is called from one goroutine at a time.
type Progress interface {
	Start(total, skipped int64)
	Update(done, failed int64)
	Finish(interrupted bool)
}

// Sweep runs the spec's runs that Dir does not hold yet and commits them to Dir. Cancelling
// ctx stops it cleanly: runs in flight are discarded and every part already written is
// committed, so a later Sweep with Resume continues where this one stopped. While it runs,
// the collector runs at TuneGC's pace unless GOGC is set or the process set a slower one.
func Sweep(ctx context.Context, spec *Spec, opts Options) (*Summary, error) {
	started := time.Now()
	level := spec.Trace
	if opts.Trace != 0 {
		level = opts.Trace
	}
	shard := opts.Shard
	if shard.Count == 0 {
		shard = Whole
	}
	if err := shard.validate(); err != nil {
		return nil, &InputError{err}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	partRuns, partEvents := int64(opts.PartRuns), int64(opts.PartEvents)
	if partRuns <= 0 {
		partRuns = DefaultPartRuns
	}
	if partEvents <= 0 {
		partEvents = DefaultPartEvents
	}

	hasCluster := spec.HasCluster()
	if hasCluster && opts.Real == nil {
		return nil, inputErrorf("%s: grid points with mode = %q need real nodes, which this program cannot start", spec.Path, ModeCluster)
	}

	m, fresh, err := prepare(opts.Dir, spec, level, shard, opts.Resume, started)
	if err != nil {
		return nil, err
	}
	done, err := doneRanges(m.Done)
	if err != nil {
		return nil, inputErrorf("%s: %v", filepath.Join(opts.Dir, trace.ManifestName), err)
	}
	sum := &Summary{Dir: opts.Dir, Runs: m.ShardRuns, Skipped: m.RunsDone()}
	if opts.Progress != nil {
		opts.Progress.Start(sum.Runs, sum.Skipped)
		if pp, ok := opts.Progress.(PointProgress); ok && sum.Skipped < sum.Runs {
			pp.Plan(toGo(spec, shard, done), pointKeys(spec))
		}
	}
	w := &writer{dir: opts.Dir, spec: spec, level: level, m: m, partRuns: partRuns,
		partEvents: partEvents, sum: sum, progress: opts.Progress, cpuClock: opts.cpuClock, real: opts.Real,
		simulate: opts.simulate, writeManifest: opts.writeFirstManifest}
	if w.writeManifest == nil {
		w.writeManifest = trace.WriteManifest
	}
	w.doneBase = len(m.Done)
	if hasCluster {
		w.gate = &sync.RWMutex{}
	}
	for _, p := range m.Parts {
		if n, ok := partNumber(p); ok && n >= w.nextPart {
			w.nextPart = n + 1
		}
	}
	switch {
	case sum.Skipped < sum.Runs:
		restore := paceGC()
		err = w.run(ctx, shard, done, workers, fresh)
		restore()
	case fresh:
		err = w.firstManifest(m)
	}
	if err == nil && sum.Complete() && m.Finished == "" {
		m.Finished = time.Now().UTC().Format(time.RFC3339)
		err = trace.WriteManifest(opts.Dir, m)
	}
	sum.Interrupted = !sum.Complete()
	sum.Elapsed = time.Since(started)
	if opts.Progress != nil {
		opts.Progress.Finish(sum.Interrupted)
	}
	return sum, err
}

// prepare creates or reopens the output folder and returns its manifest. A new result set
// (fresh) has its folders made and its manifest still to write (see writer.firstManifest).
func prepare(dir string, spec *Spec, level trace.Level, shard Shard, resume bool, started time.Time) (m *trace.Manifest, fresh bool, err error) {
	if dir == "" {
		return nil, false, inputErrorf("no output folder")
	}
	info := trace.Shard{Index: shard.Index, Count: shard.Count, BlockRuns: BlockRuns}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, false, inputErrorf("output folder %s: %v", dir, err)
	case !unstarted(dir, entries):
		m, err := reopen(dir, spec, level, info, resume)
		return m, false, err
	}
	m, err = newManifest(spec, level, info, shard.runs(spec.Runs()), started.UTC().Format(time.RFC3339))
	if err != nil {
		return nil, false, err
	}
	if err := cleanStrays(dir, m); err != nil {
		return nil, false, inputErrorf("output folder %s: %v", dir, err)
	}
	for _, t := range level.Tables() {
		if err := os.MkdirAll(filepath.Join(dir, t), 0o755); err != nil {
			return nil, false, inputErrorf("cannot create output folder: %v", err)
		}
	}
	return m, true, nil
}

// unstarted reports whether a folder holds nothing but what a sweep killed before its first
// manifest was in place leaves: table folders holding at most the temporary files of a first
// part, and a temporary manifest.
func unstarted(dir string, entries []os.DirEntry) bool {
	for _, e := range entries {
		switch name := e.Name(); {
		case trace.IsManifestTemp(name):
		case e.IsDir() && (name == trace.TableRuns || name == trace.TableJoins || name == trace.TableOps || name == trace.TableEvents):
			sub, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				return false
			}
			for _, f := range sub {
				if !strings.HasPrefix(f.Name(), "part-") || !trace.IsTemp(f.Name()) {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

func reopen(dir string, spec *Spec, level trace.Level, shard trace.Shard, resume bool) (*trace.Manifest, error) {
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, inputErrorf("output folder %s is not empty and holds no %s: choose another folder with -o", dir, trace.ManifestName)
	}
	if err != nil {
		return nil, &InputError{err}
	}
	same := m.SpecHash == spec.Hash
	if !same {
		// Result sets started by earlier builds record the SHA-256 of the spec file's bytes;
		// the spec text they also record gives this build's hash of it.
		h, err := recordedHash(m)
		switch {
		case err != nil && resume:
			return nil, inputErrorf("--resume: the spec recorded in %s (manifest format %d) does not parse with this build, so it cannot be compared with this spec: sweep into a new folder (%v)", filepath.Join(dir, trace.ManifestName), m.Format, err)
		case err == nil && h == spec.Hash:
			same = true
			m.SpecHash = spec.Hash
		}
	}
	if !resume {
		if same {
			return nil, inputErrorf("output folder %s already holds this experiment (%d of %d runs done): add --resume to continue it, or choose another folder with -o", dir, m.RunsDone(), m.ShardRuns)
		}
		return nil, inputErrorf("output folder %s holds results of another spec (experiment %q from %s): choose another folder with -o", dir, m.Experiment, m.SpecPath)
	}
	if !same {
		return nil, inputErrorf("--resume: output folder %s was written by a different spec (experiment %q from %s, spec_hash %.12s…; this spec %.12s…): its results are left as they are; choose another folder with -o", dir, m.Experiment, m.SpecPath, m.SpecHash, spec.Hash)
	}
	if m.Trace != level.String() {
		return nil, inputErrorf("--resume: output folder %s was written at trace level %s, not %s", dir, m.Trace, level)
	}
	if m.Shard != shard {
		return nil, inputErrorf("--resume: output folder %s holds shard %d/%d, not %d/%d", dir, m.Shard.Index, m.Shard.Count, shard.Index, shard.Count)
	}
	if err := cleanStrays(dir, m); err != nil {
		return nil, fmt.Errorf("cleaning up %s: %w", dir, err)
	}
	if err := checkParts(dir, m, level); err != nil {
		return nil, &InputError{err}
	}
	for _, p := range m.Parts {
		// New parts get this build's runs table; one result set holds one version.
		path := filepath.Join(dir, trace.TableRuns, p)
		rs, err := runsSchema(path)
		if err != nil {
			return nil, &InputError{err}
		}
		if rs.Version != RunSchema.Version {
			return nil, inputErrorf("--resume: %s holds runs table version %d and this build writes version %d: sweep into a new folder", path, rs.Version, RunSchema.Version)
		}
		// The parameter columns come from the registry: a parameter added without a
		// version bump must not slip a second layout into the result set.
		if err := sameColumns(rs, RunSchema); err != nil {
			return nil, inputErrorf("--resume: %s: the runs table of version %d %v in this build: sweep into a new folder", path, rs.Version, err)
		}
	}
	for _, t := range level.Tables() {
		if err := os.MkdirAll(filepath.Join(dir, t), 0o755); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// recordedHash is the hash, as this build computes it, of the spec a manifest records.
func recordedHash(m *trace.Manifest) (string, error) {
	s, err := Parse(m.SpecPath, []byte(m.Spec))
	if err != nil {
		return "", err
	}
	return s.Hash, nil
}

// unitResult is a piece of a unit's finished runs: the whole unit, unless its events
// outgrow pieceRows, when the worker hands them over in pieces of whole runs so that a unit
// of long runs is never held whole. Results are recycled through writer.free, so the rows'
// join slices keep their storage from piece to piece; the event chunks go back to the
// writer's chunk pool.
type unitResult struct {
	u     unit
	piece int  // 0, 1, ... within the unit
	last  bool // the unit's last piece
	rows  []runRow
	// events holds the piece's runs' events, in run order, encoded (trace level messages).
	events trace.Encoded
	// flight is what r counts in writer.inFlight: the size of its events when delivered.
	flight int
	err    error
}

// Variables so that tests can make pieces small.
var (
	// pieceRows is the number of events after which a worker hands over the runs it has
	// finished, encoded: about a megabyte.
	pieceRows = 1 << 16
	// flightBytes bounds the encoded events of pieces that wait for the writer (about
	// five million events), beyond which workers wait before they start another run,
	// except the worker of the unit being written, so that the writer always gets what it
	// waits for. A unit of 64 of the largest runs of the concurrency spec holds a few
	// million events: with a bound of half a million, the worker of the next unit stood
	// idle for most of the unit being written, and a sweep that keeps every event used 1.3
	// of its 2 cores over the last fifth of its time.
	flightBytes = 64 << 20
)

// messagesMemoryLimit is the soft memory limit of a sweep that keeps every event, unless
// the process has one: events come and go by the gigabyte, and a collector told to let the
// heap grow to several times the live heap (as short runs want) would let it. The live heap
// of the concurrency spec's sweep is about 170 MB; at 512 MB the sweep collects a little
// more often than at 768 MB, in no more time, and peaks a third lower.
const messagesMemoryLimit = 512 << 20

// addRow extends rows by one, reusing the storage of an earlier row there.
func (r *unitResult) addRow() *runRow {
	if len(r.rows) < cap(r.rows) {
		r.rows = r.rows[:len(r.rows)+1]
	} else {
		r.rows = append(r.rows, runRow{})
	}
	return &r.rows[len(r.rows)-1]
}

// unitSize is the number of runs a worker takes at a time: a block, or a sixteenth of the
// shard's runs when that is less, so that a few long runs (54 hour-long churn runs would fit
// one block) still spread over the workers. It depends on the runs alone, not on the number
// of workers, so that parts are cut in the same places whatever that number.
func unitSize(runs int64) int64 {
	return max(1, min(BlockRuns, runs/16))
}

// writer owns the output: the workers hand it their finished units, which it appends to
// the current part in unit order. It has no goroutine of its own: whichever worker hands
// over the unit that is next in order writes it, and every later one already handed over,
// while the other workers go on simulating. A goroutine that the workers woke for every
// unit had to wait for a core the workers held, and with as many workers as cores that
// wait left cores idle (the trace of a sweep of tiny runs showed a quarter of its time
// with no goroutine running). Parts are completed on a goroutine of their own (see commit).
type writer struct {
	dir        string
	spec       *Spec
	level      trace.Level
	m          *trace.Manifest
	partRuns   int64
	partEvents int64
	sum        *Summary
	progress   Progress
	nextPart   int

	// The part being written; nil runs writer when no part is open. The ops file is opened
	// with the part's first operation, so that result sets without a workload have none.
	runs   *trace.Writer
	joins  *trace.JoinWriter
	ops    *trace.OpWriter
	events *trace.EventWriter
	part   trace.PartInfo
	opts   trace.Options // of the part's files
	// cols holds the columns of grid point colsOf: a unit's runs are consecutive, so they
	// belong to one point or a few.
	cols   pointColumns
	colsOf int32
	// committing is the part being completed in the background, if any.
	committing *job
	// commits counts the parts handed to commit; a part's completion that finds a later
	// part handed over leaves it to list both in the manifest (see complete).
	commits atomic.Int64
	// unlisted counts the parts at the end of m that are complete but in no manifest on
	// disk yet. Only the goroutine completing a part, one at a time, and commit once that
	// has finished, use it, and failedOf, which holds the failed runs of each part this
	// sweep added to m.Done (from doneBase on).
	unlisted int
	failedOf []int64
	doneBase int
	// written and writtenFailed count the runs written to parts, which progress reports;
	// partFailed the failed runs of the part being written. The summary counts only the
	// runs of parts a manifest lists.
	written, writtenFailed, partFailed int64
	// beforeComplete, if set (by tests), is called as the completion of part seq starts.
	beforeComplete func(seq int64)
	// writeManifest writes the manifest of a new result set (trace.WriteManifest but in
	// tests), as the job firstManifestJob when the sweep starts.
	writeManifest    func(dir string, m *trace.Manifest) error
	firstManifestJob *job
	// encodeHere makes commit encode the part's last rows before it hands the part over,
	// leaving the goroutine that completes it the footer, the syncing and the manifest:
	// with a worker on every core, that goroutine waited for a core, a time slice of the
	// scheduler or more, and a sweep of tiny runs ended waiting for the encoding of a part
	// handed over a fifth of the sweep before.
	encodeHere bool

	simNanos atomic.Int64
	cpuClock func() int64
	simulate func(sim.Config, observe.Tracer) (*sim.Result, error) // nil: each worker's own sim.Sim, under ctx

	// mu guards what follows: the hand-out of units, the units waiting to be written, and
	// the right to write (writing), which one goroutine holds at a time.
	mu      sync.Mutex
	cond    sync.Cond // signalled when next moves on, writing ends or the sweep stops
	units   unitQueue
	window  int64 // units handed out and not yet written at most
	pending map[pieceKey]*unitResult
	next    pieceKey // the piece to write next
	writing bool
	idle    int // workers waiting in take or waitFlight, one of which writes what is delivered
	// inFlight counts the bytes of encoded events that finished pieces hold until they are
	// written.
	inFlight int
	closed   bool  // the sweep has stopped waiting for its workers: nothing more is written
	err      error // the first failure; nothing more is written
	cancel   context.CancelFunc
	free     []*unitResult // recycled results, so that their storage is reused
	maxFree  int

	real RealRunner
	// gate, when the spec has cluster-mode points, is held shared by each simulation and
	// exclusively by each real run; Go's RWMutex makes new simulations wait behind a real
	// run that waits, so real runs are not starved.
	gate *sync.RWMutex
}

// pieceKey orders the pieces of units as they are written.
type pieceKey struct {
	seq   int64
	piece int
}

// unitQueue cuts the shard's units into units of at most size runs and numbers them in
// the order they are written.
type unitQueue struct {
	cursor *unitCursor
	size   int64
	// From run tailFrom on, units have tailSize runs: the shard's last runs are often its
	// longest (grids put their largest values last), and a worker that took the last unit
	// of 64 of them kept the sweep waiting on one core.
	tailFrom, tailSize int64
	rest               unit // what is left of the cursor's last unit
	seq                int64
}

// newUnitQueue deals the shard's runs out of total, except those in done.
func newUnitQueue(shard Shard, total int64, done [][2]int64) unitQueue {
	q := unitQueue{cursor: shard.cursor(total, done), size: unitSize(shard.runs(total)), tailFrom: total}
	if q.size == BlockRuns {
		// The shard's last two blocks: shards of at least 16 blocks have two.
		blocks := (total + BlockRuns - 1) / BlockRuns
		last := int64(shard.Index) + (blocks-1-int64(shard.Index))/int64(shard.Count)*int64(shard.Count)
		q.tailFrom = (last - int64(shard.Count)) * BlockRuns
		q.tailSize = BlockRuns / tailSplit
	}
	return q
}

// tailSplit is the number of units a block of the shard's tail is cut into.
const tailSplit = 8

func (q *unitQueue) take() (unit, bool) {
	if q.rest.lo >= q.rest.hi {
		u, ok := q.cursor.next()
		if !ok {
			return unit{}, false
		}
		q.rest = u
	}
	size := q.size
	if q.rest.lo >= q.tailFrom {
		size = q.tailSize
	}
	hi := min(q.rest.lo+size, q.rest.hi)
	u := unit{seq: q.seq, lo: q.rest.lo, hi: hi}
	q.seq++
	q.rest.lo = hi
	return u, true
}

// run runs the units left and commits them. For a new result set (fresh), the manifest that
// marks the folder as this spec's is written beside the first runs (see startFirstManifest).
func (w *writer) run(parent context.Context, shard Shard, done [][2]int64, workers int, fresh bool) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	// window bounds how far the workers may run ahead of the writing, and with it the
	// memory held by finished but unwritten units. With every event kept, a unit of large
	// runs holds a hundred megabytes, so the window is smaller. Without joins, operations
	// and events, a unit holds its rows alone, tens of kilobytes, and the window is wide
	// enough for the others to go on while the worker of the next unit is off its core for a
	// time slice (10 ms: the part being completed, the collector, other processes), which
	// on units of tiny runs narrower windows were not.
	window := 4 * workers
	if w.level == trace.LevelNone {
		window = 16 * workers
	}
	if w.level == trace.LevelMessages {
		window = 2 * workers
	}
	if w.level == trace.LevelMessages && debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(messagesMemoryLimit)
		defer debug.SetMemoryLimit(math.MaxInt64)
	}
	w.cond.L = &w.mu
	w.cancel = cancel
	w.units = newUnitQueue(shard, w.spec.Runs(), done)
	w.window = int64(window)
	w.pending = map[pieceKey]*unitResult{}
	// Room for every result in flight, pieces included (their events take at least 8 bytes
	// each), so that their storage is reused.
	w.maxFree = window + workers + flightBytes/(8*pieceRows)
	w.colsOf = -1
	w.encodeHere = workers >= runtime.GOMAXPROCS(0)
	wake := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer wake()
	if fresh {
		w.startFirstManifest()
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(ctx)
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()

	// abandon is closed abandonGrace after the sweep is cancelled, when the sweep stops
	// waiting for runs that do not look at the context (the building of a huge ring does
	// not): what they would produce is discarded anyway, and they end on their own.
	abandon := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		time.AfterFunc(abandonGrace, func() { close(abandon) })
	})
	defer stopWatch()
	select {
	case <-finished:
	case <-abandon:
	}

	w.mu.Lock()
	w.closed = true
	for w.writing {
		w.cond.Wait()
	}
	firstErr := w.err
	w.mu.Unlock()
	if firstErr != nil && w.runs != nil && !errors.Is(firstErr, errSimulation) {
		w.abort()
	}
	if w.runs != nil {
		// Interrupted or failed in a run: what was written is valid and is kept. commit
		// encodes the last part while the one before is completed, and waits for it; if it
		// failed, the last part is discarded.
		w.commit()
	}
	if err := w.committing.wait(); err != nil && firstErr == nil {
		firstErr = err
	}
	if err := w.firstManifestJob.wait(); err != nil && firstErr == nil {
		firstErr = err
	}
	// Runs in parts that failed to complete, or were discarded after a failure, are not in
	// the result set, and the summary does not count them.
	for i, p := range w.m.Done[w.doneBase:] {
		w.sum.Done += p.Rows
		w.sum.Failed += w.failedOf[i]
	}
	w.sum.SimTime = time.Duration(w.simNanos.Load())
	return firstErr
}

// firstManifest writes m, the manifest of a new result set, which marks the folder as this
// spec's: from then on a sweep killed before its first commit can be resumed.
func (w *writer) firstManifest(m *trace.Manifest) error {
	if err := w.writeManifest(w.dir, m); err != nil {
		return inputErrorf("cannot write to output folder %s: %v", w.dir, err)
	}
	return nil
}

// startFirstManifest writes the manifest of a new result set on a goroutine of its own, so
// that the first runs need not wait for its syncs: about a millisecond on a disk, which one
// worker and two paid alike, a thirtieth of a sweep of 10,000 tiny runs with two. A part is
// completed only once the manifest is in place (see complete), and a sweep killed before
// that leaves a folder that unstarted accepts. If it fails, the sweep stops.
func (w *writer) startFirstManifest() {
	// w.m does not change before the first part is completed, which waits for this copy.
	m := *w.m
	w.firstManifestJob = w.start(func() error { return w.firstManifest(&m) })
}

// abandonGrace is how long a cancelled sweep waits for its runs in flight before it
// commits and returns without them. Simulations look at the context every few thousand
// events, so only a run stuck outside its event loop is left behind.
const abandonGrace = 100 * time.Millisecond

// errSimulation marks errors of a run, after which the output is still sound.
var errSimulation = errors.New("simulation failed")

// failLocked records the sweep's first failure and stops it. w.mu is held.
func (w *writer) failLocked(err error) {
	if w.err == nil {
		w.err = err
	}
	w.cancel()
	w.cond.Broadcast()
}

// take hands out the next unit, once the window has room for it; false when there is none
// or the sweep stops.
func (w *writer) take(ctx context.Context) (unit, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.closed || w.err != nil || ctx.Err() != nil {
			return unit{}, false
		}
		if w.writeReadyLocked(ctx) {
			continue
		}
		if w.units.seq < w.next.seq+w.window {
			return w.units.take()
		}
		w.idleLocked()
	}
}

// waitFlight blocks the worker of unit seq while too many events wait for the writer, and
// returns the CPU time (by w.cpuClock, if set) it spent writing pieces meanwhile.
func (w *writer) waitFlight(ctx context.Context, seq int64) (writing int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.closed && w.err == nil && ctx.Err() == nil {
		if w.canWriteLocked() {
			c0 := w.cpuNow()
			w.writeReadyLocked(ctx)
			writing += w.cpuNow() - c0
			continue
		}
		if w.inFlight < flightBytes || seq == w.next.seq {
			break
		}
		w.idleLocked()
	}
	return writing
}

// cpuNow reads w.cpuClock, or returns 0 without one.
func (w *writer) cpuNow() int64 {
	if w.cpuClock == nil {
		return 0
	}
	return w.cpuClock()
}

// idleLocked waits for w.cond as a worker with nothing to do, which deliver may leave the
// writing to. w.mu is held.
func (w *writer) idleLocked() {
	w.idle++
	w.cond.Wait()
	w.idle--
}

// addFlight counts r's events as waiting for the writer.
func (w *writer) addFlight(r *unitResult) {
	r.flight = r.events.Size()
	w.mu.Lock()
	w.inFlight += r.flight
	w.mu.Unlock()
}

// result returns a result to fill with piece piece of unit u.
func (w *writer) result(u unit, piece int) *unitResult {
	w.mu.Lock()
	r := pop(&w.free)
	w.mu.Unlock()
	if r == nil {
		r = &unitResult{}
	}
	r.u, r.piece, r.last, r.err, r.flight = u, piece, false, nil, 0
	r.rows = r.rows[:0]
	return r
}

// recycleLocked keeps r's storage for a later result. w.mu is held.
func (w *writer) recycleLocked(r *unitResult) {
	r.events.Reset()
	if len(w.free) < w.maxFree {
		w.free = append(w.free, r)
	}
}

// deliver hands over a finished piece of a unit. If it is the piece to write next and no
// other goroutine is writing, it is written, with every piece after it that is waiting: by
// a worker that waits in take or waitFlight if there is one, and otherwise by the caller
// before deliver returns.
func (w *writer) deliver(ctx context.Context, r *unitResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.err != nil {
		w.failLocked(r.err)
		return
	}
	// Once stopped, finished units are discarded, so that Ctrl-C stops at once however far
	// the workers ran ahead.
	if w.closed || w.err != nil || ctx.Err() != nil {
		w.recycleLocked(r)
		return
	}
	w.pending[pieceKey{r.u.seq, r.piece}] = r
	if w.idle > 0 && !w.writing {
		// A worker held back by the window or by the events in flight writes it, and this
		// one goes on simulating: the writing took one of two workers' time while the
		// other waited for it.
		w.cond.Broadcast()
		return
	}
	w.writeReadyLocked(ctx)
}

// canWriteLocked reports whether the piece to write next is there and nobody writes.
func (w *writer) canWriteLocked() bool {
	if w.writing {
		return false
	}
	_, ok := w.pending[w.next]
	return ok
}

// writeReadyLocked writes the pieces that are next in order, unless another goroutine is
// writing, and reports whether it wrote any. w.mu is held, and released while writing.
func (w *writer) writeReadyLocked(ctx context.Context) bool {
	if !w.canWriteLocked() {
		return false
	}
	w.writing = true
	for !w.closed && w.err == nil && ctx.Err() == nil {
		r, ok := w.pending[w.next]
		if !ok {
			break
		}
		delete(w.pending, w.next)
		w.mu.Unlock()
		err := w.write(r)
		w.mu.Lock()
		if err != nil {
			w.failLocked(err)
		}
		if r.last {
			w.next = pieceKey{w.next.seq + 1, 0}
		} else {
			w.next.piece++
		}
		w.inFlight -= r.flight
		w.recycleLocked(r)
		w.cond.Broadcast()
	}
	w.writing = false
	w.cond.Broadcast()
	return true
}

func (w *writer) work(ctx context.Context) {
	var (
		lat    []int64
		tracer *eventBuf
		// Reset for every run, so that runs after the first reuse its storage; runOne copies
		// each result into its row before the next Reset.
		s sim.Sim
	)
	s.ReuseResults()
	if w.level == trace.LevelMessages {
		var err error
		if tracer, err = newEventBuf(); err != nil {
			w.mu.Lock()
			w.failLocked(err)
			w.mu.Unlock()
			return
		}
		defer tracer.release()
	}
	if w.cpuClock != nil {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	for {
		u, ok := w.take(ctx)
		if !ok {
			return
		}
		r := w.result(u, 0)
		n := int(u.hi - u.lo)
		// Per unit, not per run: reading a thread's CPU clock is a system call, which on
		// some virtual machines costs as much as a small run.
		var simNanos int64
		c0 := w.cpuNow()
		for i := range n {
			if tracer != nil {
				// Writing is not simulating.
				c0 += w.waitFlight(ctx, u.seq)
			}
			if ctx.Err() != nil {
				break
			}
			id := u.lo + int64(i)
			row := r.addRow()
			lat, r.err = w.runOne(ctx, id, row, &s, tracer, lat)
			if r.err != nil {
				if ctx.Err() != nil {
					// A real run cut short by the cancellation: the unit is dropped below.
					r.err = nil
				}
				break
			}
			simNanos += row.wall
			if tracer != nil && tracer.rows() >= pieceRows && i < n-1 {
				r.err = tracer.take(&r.events)
				w.addFlight(r)
				c1 := w.cpuNow()
				// r belongs to the writer once delivered: written and recycled, it may be
				// another worker's result before deliver returns.
				piece := r.piece + 1
				w.deliver(ctx, r)
				c0 += w.cpuNow() - c1 // writing is not simulating
				r = w.result(u, piece)
			}
		}
		if w.cpuClock != nil {
			simNanos = w.cpuClock() - c0
		}
		w.simNanos.Add(simNanos)
		if tracer != nil {
			// Also the events of runs cut short, which must not join the next unit's.
			if err := tracer.take(&r.events); r.err == nil {
				r.err = err
			}
		}
		if ctx.Err() != nil {
			// Half-done units are dropped; the writing stops at the first missing piece. An
			// error after the cancellation is dropped too.
			continue
		}
		r.last = true
		w.addFlight(r)
		w.deliver(ctx, r)
	}
}

// runOne simulates run id into row, or runs it on real nodes in cluster mode. A panic in the
// simulator becomes an error that names the run, so it can be replayed.
func (w *writer) runOne(ctx context.Context, id int64, row *runRow, s *sim.Sim, tracer *eventBuf, lat []int64) (_ []int64, err error) {
	p, replica, seed := w.spec.Run(id)
	cfg := p.Config
	cfg.Seed = seed
	*row = runRow{id: id, point: int32(p.Index), replica: int32(replica), seed: seed, joins: row.joins}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: run %d (grid point %d: %s; replica %d, seed %d) panicked: %v\n%s",
				errSimulation, id, p.Index, w.spec.Describe(p), replica, seed, v, debug.Stack())
		}
	}()
	var (
		res *sim.Result
		t0  time.Time
	)
	if p.Mode == ModeCluster {
		// Real runs trace no events: nodes on their own goroutines would need the event
		// buffer locked, and their wall-clock events would not merge with virtual ones.
		w.gate.Lock()
		defer w.gate.Unlock()
		t0 = time.Now()
		res, err = w.real.RunReal(ctx, cfg)
		row.wall = int64(time.Since(t0))
	} else {
		var tr observe.Tracer
		if tracer != nil {
			tracer.run = id
			tr = tracer
		}
		if w.gate != nil {
			w.gate.RLock()
			defer w.gate.RUnlock()
		}
		t0 = time.Now()
		if w.simulate != nil {
			res, err = w.simulate(cfg, tr)
		} else if err = s.Reset(cfg, tr); err == nil {
			res, err = s.RunContext(ctx)
		}
		row.wall = int64(time.Since(t0))
	}
	if err != nil {
		return lat, fmt.Errorf("%w: run %d (grid point %d: %s; replica %d, seed %d): %v",
			errSimulation, id, p.Index, w.spec.Describe(p), replica, seed, err)
	}
	return row.fill(res, lat, w.level >= trace.LevelJoins), nil
}

// write appends a unit's runs to the current part, committing the part when it is full.
func (w *writer) write(r *unitResult) error {
	if w.runs == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	var failed int64
	for i := range r.rows {
		row := &r.rows[i]
		if row.point != w.colsOf {
			w.cols.set(&w.spec.Points[row.point])
			w.colsOf = row.point
		}
		if err := writeRun(w.runs, row, &w.cols); err != nil {
			return err
		}
		if row.outcome != observe.OutcomeOK {
			failed++
		}
		if w.joins != nil {
			if err := w.joins.WriteJoins(row.joins); err != nil {
				return err
			}
			w.part.Joins += int64(len(row.joins))
		}
		if len(row.ops) > 0 {
			if err := w.writeOps(row.ops); err != nil {
				return err
			}
			row.ops = nil
		}
		if n := len(w.part.Runs); n > 0 && w.part.Runs[n-1][1] == row.id-1 {
			w.part.Runs[n-1][1] = row.id
		} else {
			w.part.Runs = append(w.part.Runs, [2]int64{row.id, row.id})
		}
	}
	if n := r.events.Rows(); w.events != nil && n > 0 {
		if err := w.events.WriteEncoded(&r.events); err != nil {
			return err
		}
		w.part.Events += n
	}
	w.part.Rows += int64(len(r.rows))
	w.written += int64(len(r.rows))
	w.writtenFailed += failed
	w.partFailed += failed
	if pp, ok := w.progress.(PointProgress); ok {
		reportCosts(pp, r.rows)
	}
	if w.progress != nil {
		w.progress.Update(w.written, w.writtenFailed)
	}
	if w.part.Rows >= w.partRuns || w.part.Events >= w.partEvents || w.part.Ops >= w.partEvents {
		w.commit()
	}
	return nil
}

// writeOps appends one run's operations to the part's ops file, opening it first if need be.
func (w *writer) writeOps(ops []trace.Op) error {
	if w.ops == nil {
		dir := filepath.Join(w.dir, trace.TableOps)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// The writer holds a row group's pages and staged values until the group ends, and
		// operations come by the million: at a quarter of the default row group, the live
		// heap of a dht-joins sweep is 70 MB instead of 125 MB.
		opts := w.opts
		opts.RowGroupRows = opsRowGroupRows
		var err error
		if w.ops, err = trace.CreateOps(filepath.Join(dir, w.part.Part), trace.ClockVirtual, opts); err != nil {
			return err
		}
	}
	if err := w.ops.WriteOps(ops); err != nil {
		return err
	}
	w.part.Ops += int64(len(ops))
	return nil
}

func (w *writer) open() error {
	name := partName(w.nextPart)
	w.nextPart++
	w.part = trace.PartInfo{Part: name}
	opts := trace.Options{Metadata: map[string]string{
		"dhtexp.experiment": w.spec.Name,
		"dhtexp.spec_hash":  w.spec.Hash,
	}}
	w.opts = opts
	var err error
	if w.runs, err = trace.Create(filepath.Join(w.dir, trace.TableRuns, name), RunSchema, opts); err != nil {
		return err
	}
	if w.level >= trace.LevelJoins {
		if w.joins, err = trace.CreateJoins(filepath.Join(w.dir, trace.TableJoins, name), trace.ClockVirtual, opts); err != nil {
			w.abort()
			return err
		}
	}
	if w.level >= trace.LevelMessages {
		if w.events, err = trace.CreateEvents(filepath.Join(w.dir, trace.TableEvents, name), trace.ClockVirtual, opts); err != nil {
			w.abort()
			return err
		}
	}
	return nil
}

// job is work the writer does on a goroutine of its own: completing a part, or writing a new
// result set's first manifest.
type job struct {
	done chan struct{}
	err  error
}

// start runs fn as a job; an error it returns stops the sweep.
func (w *writer) start(fn func() error) *job {
	j := &job{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		if j.err = fn(); j.err != nil {
			w.mu.Lock()
			w.failLocked(j.err)
			w.mu.Unlock()
		}
	}()
	return j
}

// wait waits for j, if there is one, and returns its error.
func (j *job) wait() error {
	if j == nil {
		return nil
	}
	<-j.done
	return j.err
}

// dropUnlisted takes the parts that no manifest on disk lists off m, after a failure that
// leaves them unlisted for good: their files are strays that a resume deletes.
func (w *writer) dropUnlisted() {
	if w.unlisted == 0 {
		return
	}
	w.keepParts(len(w.m.Parts) - w.unlisted)
	w.sum.Parts -= w.unlisted
	w.unlisted = 0
}

// keepParts cuts the parts of m, and their failed runs, to the first n.
func (w *writer) keepParts(n int) {
	w.m.Parts, w.m.Done = w.m.Parts[:n], w.m.Done[:n]
	w.failedOf = w.failedOf[:n-w.doneBase]
}

// commit hands the current part to a goroutine that completes its files and then records
// them in the manifest, so that the encoding of the part's last row groups and the syncing of
// its files hold up no simulation; with fewer workers than cores, they take a free core, and
// with a worker on every core, the caller encodes first (see encodeHere). A
// crash between the two leaves files the manifest does not list, which a resume deletes.
// Parts are completed one at a time and in order: commit waits for the previous one before
// it hands this one over, and after a failure the parts that follow are discarded.
func (w *writer) commit() {
	f := partFiles{w.runs, w.joins, w.ops, w.events}
	part, failed := w.part, w.partFailed
	w.runs, w.joins, w.ops, w.events = nil, nil, nil, nil
	w.partFailed = 0
	seq := w.commits.Add(1)
	// The encoding goes first: it needs no earlier part complete, so it overlaps the syncing
	// of the previous part, which at a sweep's end would otherwise be waited for twice.
	var flushErr error
	if w.encodeHere {
		if flushErr = f.flush(); flushErr != nil {
			w.mu.Lock()
			w.failLocked(flushErr)
			w.mu.Unlock()
		}
	}
	prevErr := w.committing.wait()
	if prevErr == nil {
		prevErr = flushErr
	}
	if prevErr != nil {
		f.abort()
		w.dropUnlisted()
		w.committing = &job{done: make(chan struct{}), err: prevErr}
		close(w.committing.done)
		return
	}
	w.committing = w.start(func() error { return w.complete(f, part, failed, seq) })
}

// partFiles are the open files of a part.
type partFiles struct {
	runs   *trace.Writer
	joins  *trace.JoinWriter
	ops    *trace.OpWriter
	events *trace.EventWriter
}

// flush encodes what the part's files hold, leaving their footers and syncing to Close.
func (f partFiles) flush() error {
	if err := f.runs.Flush(); err != nil {
		return err
	}
	if f.joins != nil {
		if err := f.joins.Flush(); err != nil {
			return err
		}
	}
	if f.ops != nil {
		if err := f.ops.Flush(); err != nil {
			return err
		}
	}
	if f.events != nil {
		return f.events.Flush()
	}
	return nil
}

// complete closes a part's files and then records them in the manifest. The manifest that
// lists the part is written and synced beside the closing, which syncs the part's files, and
// renamed into place only once they are: a crash leaves the old manifest, or the new one with
// every file it lists whole.
//
// A part whose completion starts after the next part was handed over (seq, its number among
// the parts handed to commit, is behind) writes no manifest: the next part's lists both.
// With a worker on every core, the goroutine that completes a part gets a core only when the
// workers stop, so at a sweep's end the last two parts were recorded one after the other;
// writing one manifest instead took a sweep of tiny runs' end from 3.3 ms to 2.8–3.0 ms.
func (w *writer) complete(f partFiles, part trace.PartInfo, failed, seq int64) error {
	if w.beforeComplete != nil {
		w.beforeComplete(seq)
	}
	if err := w.firstManifestJob.wait(); err != nil {
		f.abort()
		return err
	}
	closers := []func() error{f.runs.Close}
	if f.joins != nil {
		closers = append(closers, f.joins.Close)
	}
	if f.ops != nil {
		closers = append(closers, f.ops.Close)
	}
	if f.events != nil {
		closers = append(closers, f.events.Close)
	}
	prevFinished := w.m.Finished
	w.m.Parts = append(w.m.Parts, part.Part)
	w.m.Done = append(w.m.Done, part)
	w.failedOf = append(w.failedOf, failed)
	if w.m.Complete() {
		w.m.Finished = time.Now().UTC().Format(time.RFC3339)
	}
	type staging struct {
		st  *trace.Staged
		err error
	}
	staged := make(chan staging, 1)
	listLater := w.commits.Load() > seq
	if listLater {
		staged <- staging{}
	} else {
		go func() {
			st, err := trace.StageManifest(w.dir, w.m)
			staged <- staging{st, err}
		}()
	}
	var err error
	for _, c := range closers {
		if err = c(); err != nil {
			f.abort()
			break
		}
	}
	s := <-staged
	if err == nil && s.err != nil {
		err = fmt.Errorf("committing %s: %w", part.Part, s.err)
	}
	if err == nil && s.st != nil {
		if err = s.st.Commit(); err != nil {
			err = fmt.Errorf("committing %s: %w", part.Part, err)
		}
	} else if s.st != nil {
		s.st.Discard()
	}
	if err != nil {
		w.keepParts(len(w.m.Parts) - 1)
		w.m.Finished = prevFinished
		w.dropUnlisted()
		return err
	}
	w.sum.Parts++
	if listLater {
		w.unlisted++
	} else {
		w.unlisted = 0
	}
	return nil
}

// abort discards the current part; files already renamed into place are left for a resume
// to remove, since the manifest does not list them.
func (w *writer) abort() {
	partFiles{w.runs, w.joins, w.ops, w.events}.abort()
	w.runs, w.joins, w.ops, w.events = nil, nil, nil, nil
}

func (f partFiles) abort() {
	if f.runs != nil {
		_ = f.runs.Abort()
	}
	if f.joins != nil {
		_ = f.joins.Abort()
	}
	if f.ops != nil {
		_ = f.ops.Abort()
	}
	if f.events != nil {
		_ = f.events.Abort()
	}
}

// maxPlanBlocks bounds the blocks toGo walks through, a few milliseconds' worth; beyond
// it, every grid point is given its share of the runs left, which is near enough for an ETA.
const maxPlanBlocks = 1 << 18

// toGo counts the runs of each grid point that the shard still has to do.
func toGo(spec *Spec, shard Shard, done [][2]int64) []int64 {
	n := make([]int64, len(spec.Points))
	seeds := int64(spec.Seeds)
	total := spec.Runs()
	if len(done) == 0 && shard.Count == 1 || total/BlockRuns > maxPlanBlocks {
		var doneRuns int64
		for _, r := range done {
			doneRuns += r[1] - r[0] + 1
		}
		share := float64(shard.runs(total)-doneRuns) / float64(max(total, 1))
		for p := range n {
			n[p] = int64(math.Round(share * float64(seeds)))
		}
		return n
	}
	shard.eachUnit(total, done, func(u unit) bool {
		for lo := u.lo; lo < u.hi; {
			p := lo / seeds
			end := min(u.hi, (p+1)*seeds)
			n[p] += end - lo
			lo = end
		}
		return true
	})
	return n
}

// pointKeys spells each grid point's axis values, for PointProgress.Plan.
func pointKeys(spec *Spec) [][]string {
	keys := make([][]string, len(spec.Points))
	for i := range spec.Points {
		for _, v := range spec.Points[i].Values {
			keys[i] = append(keys[i], fmt.Sprint(v))
		}
	}
	return keys
}

// reportCosts tells pp the wall time of a unit's runs, a sum per grid point: a unit is
// consecutive runs, so it spans one grid point or a few.
func reportCosts(pp PointProgress, rows []runRow) {
	for i := 0; i < len(rows); {
		j, wall := i, int64(0)
		for ; j < len(rows) && rows[j].point == rows[i].point; j++ {
			wall += rows[j].wall
		}
		pp.Ran(int(rows[i].point), int64(j-i), time.Duration(wall))
		i = j
	}
}
