//go:build linux

package runner

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// threadCPU is the calling thread's CPU time.
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return ts.Nano()
}

// settle flushes what the file system still has to do for earlier benchmarks, so that it is
// not charged to the sweeps timed next. Removing a benchmark's output (b.TempDir does so once
// the benchmark ends) leaves work behind: on a file system mounted with online discard, such
// as this project's machines' ext4, creating a file or a folder takes 0.5 to 1.7 ms instead of
// 0.1 to 0.3 ms for a second or more after a removal, and a sweep of tiny runs creates about
// ten. Without it, the workers=2 benchmarks ran right after the removal of the workers=1
// benchmarks' output and were charged for it.
func settle() { syscall.Sync() }

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSweepOverhead sweeps 10,000 runs of about 10 µs each (tiny) and of a few tens of
// microseconds (short), where any cost of the runner shows. Metrics:
//   - sim% (plain, and workers=N/sim-time): CPU time of the workers' threads while
//     simulating, over the process's CPU time,
//     which also holds garbage collection and the writer. The plain loop, whose one thread
//     does nothing but simulate, shows how much of the rest is the simulator's own garbage
//     collection.
//   - cpu-vs-plain%: CPU time of the plain loop over that of the sweep, for the same runs.
//     The plain loop builds a simulator for every run (sim.Run), as a program of its own
//     would; reused/goroutines=N instead resets one per goroutine, as the sweep's workers do,
//     and keeps nothing: vs-reused% is the sweep's runs/s over that loop's with as many
//     goroutines as workers, what the runner leaves of the fastest loop.
//   - cores: the process's CPU time over the elapsed time, the cores it kept busy; short of
//     the number of workers, either the sweep leaves cores idle or other processes hold them.
//
// Comparing runs/s of workers=1 and workers=2 gives the scaling; speedup measures it as
// x-1-worker, alternating the two. The sweeps write under TMPDIR: on a disk, each sweep's
// start and end wait for its folders and syncs, a few milliseconds that one worker and two
// pay alike (TMPDIR=/dev/shm leaves them out).
func BenchmarkSweepOverhead(b *testing.B) {
	for _, name := range []string{"tiny", "short"} {
		b.Run(name, func(b *testing.B) { benchOverhead(b, "testdata/"+name+".toml") })
	}
}

func benchOverhead(b *testing.B, path string) {
	spec := load(b, path)
	if spec.Runs() != 10_000 {
		b.Fatalf("%s has %d runs, want 10000", path, spec.Runs())
	}
	var plainCPU time.Duration
	b.Run("plain", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0, t0 := cpuTime(), threadCPU()
		for range b.N {
			for id := range spec.Runs() {
				p, _, seed := spec.Run(id)
				cfg := p.Config
				cfg.Seed = seed
				if _, err := sim.Run(cfg, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		inSim := threadCPU() - t0
		cpu := cpuTime() - c0
		plainCPU = cpu / time.Duration(b.N)
		b.ReportMetric(float64(spec.Runs())*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
		b.ReportMetric(100*float64(inSim)/float64(cpu), "sim%")
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
	b.Run("speedup", func(b *testing.B) { benchSpeedup(b, spec) })
	var bare [3]float64 // runs/s of the reused loop, by number of goroutines
	for _, workers := range []int{1, 2} {
		b.Run("reused/goroutines="+strconv.Itoa(workers), func(b *testing.B) { bare[workers] = benchReused(b, spec, workers) })
		for _, instrumented := range []bool{false, true} {
			name := "workers=" + strconv.Itoa(workers)
			if instrumented {
				name += "/sim-time"
			}
			b.Run(name, func(b *testing.B) { benchSweep(b, spec, workers, instrumented, plainCPU, bare[workers]) })
		}
	}
}

// benchReused runs spec's runs on as many goroutines, each with one simulator Reset for every
// run as a sweep's worker has, handing out runs in blocks of 64 and keeping nothing: the
// fastest a sweep could go. It returns its runs/s, which the sweep of as many workers
// reports itself against (vs-reused%).
func benchReused(b *testing.B, spec *Spec, goroutines int) float64 {
	const block = 64
	total := spec.Runs()
	b.ResetTimer()
	for range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s sim.Sim
				s.ReuseResults()
				for {
					lo := next.Add(block) - block
					if lo >= total {
						return
					}
					for id := lo; id < min(lo+block, total); id++ {
						p, _, seed := spec.Run(id)
						cfg := p.Config
						cfg.Seed = seed
						if err := s.Reset(cfg, nil); err != nil {
							b.Error(err)
							return
						}
						s.Run()
					}
				}
			}()
		}
		wg.Wait()
	}
	runsPerSec := float64(total) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(runsPerSec, "runs/s")
	return runsPerSec
}

// benchSpeedup sweeps spec with one worker and with two in turn, in alternate order, and
// reports the mean time of each and x-1-worker, the one-worker time over the two-worker
// time: the scaling that workers=1 and workers=2 give too, but measured so that the drift of
// the machine's speed over a run of the benchmark, several per cent here, falls on both.
func benchSpeedup(b *testing.B, spec *Spec) {
	dir := b.TempDir()
	settle()
	b.ResetTimer()
	var took [3]time.Duration // by number of workers
	for i := range b.N {
		order := []int{1, 2}
		if i%2 == 1 {
			order = []int{2, 1}
		}
		for _, workers := range order {
			opts := Options{Workers: workers, Dir: filepath.Join(dir, strconv.Itoa(i), strconv.Itoa(workers))}
			t0 := time.Now()
			sweep(b, context.Background(), spec, opts)
			took[workers] += time.Since(t0)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(took[1].Microseconds())/1e3/n, "ms-1-worker")
	b.ReportMetric(float64(took[2].Microseconds())/1e3/n, "ms-2-workers")
	b.ReportMetric(float64(took[1])/float64(took[2]), "x-1-worker")
}

// benchSweep times the sweep of spec with as many workers. Instrumented, it also reads each
// worker thread's CPU clock around every unit, to report the share of CPU spent simulating
// (sim%); that locks the workers to their threads and costs a system call per read, so the
// runs/s of a sweep as "dhtexp sweep" runs it are those of the run without.
func benchSweep(b *testing.B, spec *Spec, workers int, instrumented bool, plainCPU time.Duration, reused float64) {
	dir := b.TempDir()
	settle()
	b.ResetTimer()
	var simTime, cpu time.Duration
	opts := Options{Workers: workers}
	if instrumented {
		opts.cpuClock = threadCPU
	}
	for i := range b.N {
		c0 := cpuTime()
		opts.Dir = filepath.Join(dir, strconv.Itoa(i))
		sum := sweep(b, context.Background(), spec, opts)
		cpu += cpuTime() - c0
		simTime += sum.SimTime
	}
	runsPerSec := float64(spec.Runs()) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(runsPerSec, "runs/s")
	if reused > 0 {
		b.ReportMetric(100*runsPerSec/reused, "vs-reused%")
	}
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	if instrumented {
		b.ReportMetric(100*float64(simTime)/float64(cpu), "sim%")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	if plainCPU > 0 {
		b.ReportMetric(100*float64(plainCPU)*float64(b.N)/float64(cpu), "cpu-vs-plain%")
	}
}

// BenchmarkTraceLevels sweeps the same 600 runs (24 members, 4 to 12 joiners, a few
// hundred events each) at each trace level.
func BenchmarkTraceLevels(b *testing.B) {
	spec := load(b, "testdata/kill.toml")
	for _, level := range []trace.Level{trace.LevelNone, trace.LevelJoins, trace.LevelMessages} {
		b.Run(level.String(), func(b *testing.B) {
			dir := b.TempDir()
			settle()
			b.ResetTimer()
			var events int64
			for i := range b.N {
				out := filepath.Join(dir, strconv.Itoa(i))
				sweep(b, context.Background(), spec, Options{Dir: out, Trace: level})
				events += sweptEvents(b, out)
			}
			b.ReportMetric(float64(spec.Runs())*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			if events > 0 {
				b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			}
		})
	}
}

// BenchmarkFullTrace sweeps testdata/fulltrace.toml (1,536 runs and 14 million events: the
// concurrency spec in small, two thirds of its events from runs of 256 joiners) keeping the
// joins only and keeping every event, with one worker and with two; the output is removed
// between sweeps, and the removal settled, untimed. Metrics: events/s (of the full trace),
// cores (CPU time over elapsed time) and, for messages/workers=2 when the others ran before
// it, x-joins (its time over that of joins/workers=2; the target is under 2) and x-1-worker
// (the time of messages/workers=1 over its own; the target is at least 1.6).
func BenchmarkFullTrace(b *testing.B) {
	spec := load(b, "testdata/fulltrace.toml")
	perOp := map[string]float64{} // ns per sweep, by sub-benchmark
	for _, c := range []struct {
		level   trace.Level
		workers int
	}{{trace.LevelJoins, 2}, {trace.LevelMessages, 1}, {trace.LevelMessages, 2}} {
		name := c.level.String() + "/workers=" + strconv.Itoa(c.workers)
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			var events int64
			var cpu time.Duration
			for i := range b.N {
				out := filepath.Join(dir, strconv.Itoa(i))
				c0 := cpuTime()
				sweep(b, context.Background(), spec, Options{Dir: out, Trace: c.level, Workers: c.workers})
				cpu += cpuTime() - c0
				b.StopTimer()
				events += sweptEvents(b, out)
				if err := os.RemoveAll(out); err != nil {
					b.Fatal(err)
				}
				settle()
				b.StartTimer()
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			perOp[name] = ns
			if events > 0 {
				b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			}
			b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
			if c.level == trace.LevelMessages && c.workers == 2 {
				if j, ok := perOp["joins/workers=2"]; ok {
					b.ReportMetric(ns/j, "x-joins")
				}
				if one, ok := perOp["messages/workers=1"]; ok {
					b.ReportMetric(one/ns, "x-1-worker")
				}
			}
		})
	}
}

// sweptEvents returns the events that the result set in dir holds, by its manifest.
func sweptEvents(b *testing.B, dir string) int64 {
	b.Helper()
	m, err := trace.ReadManifest(dir)
	if err != nil {
		b.Fatal(err)
	}
	var events int64
	for _, p := range m.Done {
		events += p.Events
	}
	return events
}

// BenchmarkRunsPart writes the rows of a part of 8,192 tiny runs (testdata/tiny.toml) to a
// runs file: write is writeRun for each row, flush the encoding of the part's row group,
// which a sweep does once per part (with a worker on every core, on the worker that cuts
// the part). Run with -cpu 1 for the CPU time of one core.
func BenchmarkRunsPart(b *testing.B) {
	spec := load(b, "testdata/tiny.toml")
	rows := make([]runRow, DefaultPartRuns)
	var s sim.Sim
	w := &writer{spec: spec}
	for i := range rows {
		if _, err := w.runOne(context.Background(), int64(i), &rows[i], &s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	fill := func(f *trace.Writer) {
		var pc pointColumns
		at := int32(-1)
		for i := range rows {
			if rows[i].point != at {
				pc.set(&spec.Points[rows[i].point])
				at = rows[i].point
			}
			if err := writeRun(f, &rows[i], &pc); err != nil {
				b.Fatal(err)
			}
		}
	}
	create := func(i int) *trace.Writer {
		f, err := trace.Create(filepath.Join(dir, strconv.Itoa(i)+".parquet"), RunSchema, trace.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	b.Run("write", func(b *testing.B) {
		f := create(-1)
		defer f.Abort()
		for range b.N {
			fill(f)
			b.StopTimer()
			if err := f.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/run")
	})
	b.Run("flush", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			f := create(i)
			fill(f)
			b.StartTimer()
			if err := f.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := f.Abort(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}
