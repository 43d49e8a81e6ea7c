package sim

import (
	"flag"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// BenchmarkEngine is the classic hold model on the bare event queue: pop the earliest event
// and schedule its successor a random time later, with a fixed number pending.
func BenchmarkEngine(b *testing.B) {
	for _, pending := range []int{10_000, 1_000_000} {
		b.Run(itoa(pending)+"-pending", func(b *testing.B) {
			var q queue
			r := newStream(1, 0)
			for i := range pending {
				q.push(r.Int64N(1_000_000), evWake, int32(i))
			}
			delays := make([]int64, 4096)
			for i := range delays {
				delays[i] = 1 + r.Int64N(1_000_000)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				top := q.peek()
				q.replaceTop(top.at+delays[i&4095], evWake, top.idx())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
		})
	}
}

func itoa(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmtInt(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return fmtInt(n/1000) + "k"
	}
	return fmtInt(n)
}

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for ; n > 0; n /= 10 {
		i--
		buf[i] = byte('0' + n%10)
	}
	return string(buf[i:])
}

func benchConfigs() map[string]Config {
	simple := DefaultConfig()
	big := DefaultConfig()
	big.Scenario, big.Nodes, big.Joiners, big.Timing = "random", 1000, 100, "async"
	big.Protocol = "seed"
	big.JoinWindow, big.Horizon = 50e6, 60e9
	big.Delay = Delay{Kind: "uniform", Min: 1e6, Max: 10e6}
	big.Bits = 32
	// The checker stays on for the whole of a predlock run: seed's first violation stops it.
	pl := big
	pl.Protocol = "predlock"
	// The runs of runner/testdata/tiny.toml: a few microseconds each, where what a run costs
	// to set up and to finish shows.
	tiny := DefaultConfig()
	tiny.Scenario, tiny.Nodes, tiny.Joiners, tiny.Timing, tiny.Link = "random", 8, 1, "async", "reorder"
	tiny.Horizon = 10e9
	tiny.Delay = Delay{Kind: "uniform", Min: 1e6, Max: 20e6}
	return map[string]Config{"simple-seed": simple, "random-1000-async": big, "random-1000-predlock": pl, "tiny": tiny}
}

// BenchmarkRun measures whole runs with the checker on: events per second and allocations
// per event (setup allocations are amortised over the run's events).
func BenchmarkRun(b *testing.B) {
	for _, name := range []string{"simple-seed", "random-1000-async", "random-1000-predlock"} {
		cfg := benchConfigs()[name]
		b.Run(name, func(b *testing.B) {
			var events, steady int64
			var allocs uint64
			var ms runtime.MemStats
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				cfg.Seed = uint64(i + 1)
				s, err := New(cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				r := s.Run()
				runtime.ReadMemStats(&ms)
				allocs += ms.Mallocs - before
				events += r.Events
				steady++
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds()/1e6, "Mevents/s")
			b.ReportMetric(float64(allocs)/float64(events), "allocs/event")
			b.ReportMetric(float64(events)/float64(steady), "events/run")
		})
	}
}

// BenchmarkRingAtRest reports the memory one simulated node costs in a 100,000-node ring
// with nothing happening.
func BenchmarkRingAtRest(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Scenario, cfg.Nodes, cfg.Joiners, cfg.Timing, cfg.Bits = "random", 100_000, 0, "async", 32
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(cfg.Nodes), "B/node")
		runtime.KeepAlive(s)
	}
}

// BenchmarkLookups reports lookups per second of wall time through the simulator on a stable
// ring of 100,000 nodes with exact fingers (each lookup ~8.3 hops plus its answer and its
// timeout timer), and the memory a node costs with its fingers and keys.
func BenchmarkLookups(b *testing.B) {
	const nodes, lookups = 100_000, 50_000
	cfg := stableRing(nodes, lookups, "fresh", 1)
	cfg.Workload.Keys = 10_000
	cfg.Workload.FingerPeriod = int64(time.Hour) // fingers start exact: no maintenance traffic
	cfg.NoCheck = true
	var done int
	var mem float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		mem = float64(after.HeapAlloc-before.HeapAlloc) / nodes
		b.StartTimer()
		r := s.Run()
		done += r.KV.LookupsOK
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(mem, "B/node")
}

// BenchmarkRunReset compares runs made by New (new) with runs of one Sim reset for every
// run (reset), as sweep workers make them. cpu-ns/run is the process's CPU time, garbage
// collection included, which a busy machine does not inflate as it does ns/op.
func BenchmarkRunReset(b *testing.B) {
	for _, name := range []string{"simple-seed", "tiny", "random-1000-async"} {
		for _, reuse := range []bool{false, true} {
			cfg := benchConfigs()[name]
			mode := "new"
			if reuse {
				mode = "reset"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				var s Sim
				s.ReuseResults()
				var events int64
				b.ReportAllocs()
				cpu0, cpuOK := processCPU()
				for i := 0; i < b.N; i++ {
					cfg.Seed = uint64(i + 1)
					if !reuse {
						r, err := Run(cfg, nil)
						if err != nil {
							b.Fatal(err)
						}
						events += r.Events
						continue
					}
					if err := s.Reset(cfg, nil); err != nil {
						b.Fatal(err)
					}
					events += s.Run().Events
				}
				cpu1, _ := processCPU()
				if cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/run")
				}
				b.ReportMetric(float64(events)/b.Elapsed().Seconds()/1e6, "Mevents/s")
			})
		}
	}
}

// checkerStream is a ring of n members and 10,000 newcomers, driven through predlock's
// pointer changes one event at a time: every newcomer is inserted into its own gap (welcome,
// link, set_left, connected), then every one leaves again (leaving, left switch, bypass,
// departed, reset to a fresh newcomer), and round again.
type checkerStream struct {
	sts   []protocol.State
	c     observe.Checker
	steps []func() int32
	pos   int
}

func newCheckerStream(n int, full bool) *checkerStream {
	const joiners = 10_000
	cs := &checkerStream{sts: make([]protocol.State, n+joiners)}
	ids := make([]protocol.ID, n+joiners)
	index := make(map[protocol.ID]int32, n+joiners)
	const gap = 1 << 20
	for i := 0; i < n; i++ {
		ids[i] = protocol.ID(i * gap)
		cs.sts[i] = protocol.State{ID: ids[i], Left: protocol.ID(((i + n - 1) % n) * gap), Right: protocol.ID(((i + 1) % n) * gap), Connected: true}
	}
	r := newStream(1, 0)
	gaps := r.Perm(n)
	for j := 0; j < joiners; j++ {
		k := n + j
		p := gaps[j%n]
		ids[k] = protocol.ID(p*gap + 1 + j/n) // several newcomers share a gap only when n < joiners
		cs.sts[k] = protocol.State{ID: ids[k], Left: protocol.None, Right: protocol.None}
	}
	for i, id := range ids {
		index[id] = int32(i)
	}
	cs.c.Init(ids, cs.sts, index, protocol.Ring{Bits: 62}, true)
	set := func(i int, f func(*protocol.State)) func() int32 {
		return func() int32 { f(&cs.sts[i]); return int32(i) }
	}
	// A newcomer goes after its gap's member, or after the newcomers already in that gap.
	order := make([]int, 0, joiners)
	for j := 0; j < joiners; j++ {
		order = append(order, n+j)
	}
	for _, k := range order {
		var p, rr int // found when the step runs: the ring has moved since the stream was built
		cs.steps = append(cs.steps,
			func() int32 {
				m := gaps[(k-n)%n]
				p = m
				for next := int(index[cs.sts[p].Right]); next != (m+1)%n && cs.sts[next].ID < cs.sts[k].ID; next = int(index[cs.sts[p].Right]) {
					p = next
				}
				rr = int(index[cs.sts[p].Right])
				cs.sts[k].Left, cs.sts[k].Right = cs.sts[p].ID, cs.sts[rr].ID
				return int32(k)
			},
			func() int32 { cs.sts[p].Right = cs.sts[k].ID; return int32(p) },
			func() int32 { cs.sts[rr].Left = cs.sts[k].ID; return int32(rr) },
			set(k, func(st *protocol.State) { st.Connected = true }),
		)
	}
	for _, k := range order {
		cs.steps = append(cs.steps,
			set(k, func(st *protocol.State) { st.Leaving = true }),
			func() int32 { r := index[cs.sts[k].Right]; cs.sts[r].Left = cs.sts[k].Left; return r },
			func() int32 { p := index[cs.sts[k].Left]; cs.sts[p].Right = cs.sts[k].Right; return p },
			set(k, func(st *protocol.State) { st.Departed = true }),
			set(k, func(st *protocol.State) { *st = protocol.State{ID: st.ID, Left: protocol.None, Right: protocol.None} }),
		)
	}
	if full {
		cs.c.Recheck()
	}
	return cs
}

func (cs *checkerStream) event(full bool) *observe.Violation {
	i := cs.steps[cs.pos]()
	if cs.pos++; cs.pos == len(cs.steps) {
		cs.pos = 0
	}
	cs.c.Update(i, &cs.sts[i])
	if full {
		cs.c.Recheck()
	}
	return cs.c.Run()
}

// BenchmarkCheckerUpdate is the per-event cost of the safety checker on rings of N members
// with 10,000 newcomers joining and leaving: ns per event and allocations, incremental
// against a full walk after every event (the checker's cost before it was incremental).
func BenchmarkCheckerUpdate(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		for _, mode := range []string{"incremental", "full"} {
			if mode == "full" && n > 100_000 && testing.Short() {
				continue
			}
			b.Run("N="+itoa(n)+"/"+mode, func(b *testing.B) {
				full := mode == "full"
				cs := newCheckerStream(n, full)
				if v := cs.c.Run(); v != nil {
					b.Fatal(v)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if v := cs.event(full); v != nil {
						b.Fatalf("event %d: %+v", i, v)
					}
				}
				st := cs.c.Stats()
				b.ReportMetric(float64(st.Fallbacks)/float64(b.N), "fallbacks/event")
			})
		}
	}
}

// seedTimingConfig is the original program's advanced scenario with n nodes, run for units
// time units.
func seedTimingConfig(nodes int, units int64) Config {
	c := DefaultConfig()
	c.Scenario, c.Nodes = "advanced", nodes
	c.Horizon = units * c.Unit
	return c
}

// BenchmarkSeedTiming runs the seed timing model's two yardsticks without a tracer: 1,000
// seeds of advanced n = 15 (one op is the whole batch, on one goroutine) and one seed of
// advanced n = 999 to 10,000 units. It reports the queue items run per op next to the events
// the runs count, idle polls included.
func BenchmarkSeedTiming(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cfg   Config
		seeds int
	}{
		{"advanced-15x1000", seedTimingConfig(15, 200), 1000},
		{"advanced-999-10k-units", seedTimingConfig(999, 10_000), 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var events, popped int64
			// One Sim reset for every seed, as the many-seed summary (runlog.Summarize) runs them.
			var s Sim
			cpu0, cpuOK := processCPU()
			for i := 0; i < b.N; i++ {
				events, popped = 0, 0
				for k := range bc.seeds {
					cfg := bc.cfg
					cfg.Seed = uint64(k + 1)
					if err := s.Reset(cfg, nil); err != nil {
						b.Fatal(err)
					}
					r := s.Run()
					events += r.Events
					popped += s.popped
				}
			}
			cpu1, _ := processCPU()
			if cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(events), "events/op")
			b.ReportMetric(float64(popped), "items/op")
		})
	}
}

// scalingSizes are the ring sizes of BenchmarkJoinScaling; 10^6 runs only when asked for by
// name (-bench 'JoinScaling/nodes=1M'), since one run takes seconds and most of a GiB.
var scalingSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// BenchmarkJoinScaling runs N members and N/100 concurrent joiners to completion under
// predlock with joins routed by fingers, with the per-event checker off (check on walks the
// ring after every pointer change, a cost of its own), and reports events per run, events
// per second and the heap a node costs at the end of a run.
func BenchmarkJoinScaling(b *testing.B) {
	for _, n := range scalingSizes {
		b.Run("nodes="+itoa(n), func(b *testing.B) {
			if n > 100_000 && !strings.Contains(benchFilter(), "nodes="+itoa(n)) {
				b.Skip("run with -bench 'JoinScaling/nodes=" + itoa(n) + "'")
			}
			c := scalingConfig(n)
			var events int64
			var ms runtime.MemStats
			for i := 0; i < b.N; i++ {
				s, err := New(c, nil)
				if err != nil {
					b.Fatal(err)
				}
				r := s.Run()
				if r.Outcome != "ok" || r.JoinsSucceeded() != c.Joiners {
					b.Fatalf("outcome %s (%s), %d of %d joins ok", r.Outcome, r.Detail, r.JoinsSucceeded(), c.Joiners)
				}
				events += s.events
				if i == b.N-1 {
					runtime.ReadMemStats(&ms)
				}
			}
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(ms.HeapAlloc)/float64(n+n/100), "heap-B/node")
		})
	}
}

// scalingConfig is the scaling benchmark's run: dhtexp run --scenario random --nodes N
// --joiners N/100 --bits 40 --protocol predlock --timing async --join-routing fingers --no-check.
func scalingConfig(n int) Config {
	c := DefaultConfig()
	c.Scenario, c.Protocol, c.Timing, c.JoinRouting = "random", "predlock", "async", "fingers"
	c.Nodes, c.Joiners, c.Bits = n, n/100, 40
	c.NoCheck = true
	return c
}

func benchFilter() string {
	if f := flag.Lookup("test.bench"); f != nil {
		return f.Value.String()
	}
	return ""
}

// BenchmarkNodeIndex looks random node IDs up, in the index and in the map it replaced, on
// rings whose map fits the cache (10^4) and does not (10^6).
func BenchmarkNodeIndex(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		r := newStream(1, 0)
		ids := make([]protocol.ID, n)
		m := make(map[protocol.ID]int32, n)
		for i := range ids {
			ids[i] = protocol.ID(r.Uint64N(1 << 40))
			m[ids[i]] = int32(i)
		}
		x := newNodeIndex(ids, protocol.Ring{Bits: 40})
		probe := make([]protocol.ID, 1<<16)
		for i := range probe {
			probe[i] = ids[r.IntN(n)]
		}
		b.Run("index/"+itoa(n), func(b *testing.B) {
			var sum int32
			for i := 0; i < b.N; i++ {
				j, _ := x.get(probe[i&(1<<16-1)])
				sum += j
			}
			sink = sum
		})
		b.Run("map/"+itoa(n), func(b *testing.B) {
			var sum int32
			for i := 0; i < b.N; i++ {
				sum += m[probe[i&(1<<16-1)]]
			}
			sink = sum
		})
	}
}

var sink int32

// churnLargeConfig is one run of the churn experiment's shape: the repair variant with r = 2
// replicas and stabilization every second, exponential sessions of median 6 min of which half
// end in a crash, joins routed by fingers, and a DHT workload (100 operations/s). n = 1,000 runs 1 h of virtual time
// (5 min warm-up, 55 min of churn, 20 s to settle; 1,000 keys, fingers refreshed every
// second); n = 100,000 runs 10 min (1 min warm-up, 9 min of churn, 20 s to settle; 10,000
// keys, fingers refreshed every 10 s, so that stabilization is most of the traffic).
func churnLargeConfig(n int) Config {
	c := DefaultConfig()
	c.Scenario, c.Timing, c.Protocol, c.Seed = "random", "async", "repair", 1
	c.Nodes, c.Joiners, c.Bits, c.JoinRouting = n, 0, 40, "fingers"
	c.Delay = Delay{Kind: "uniform", Min: int64(time.Millisecond), Max: int64(20 * time.Millisecond)}
	c.Horizon = int64(2 * time.Hour)
	c.MaxMessages = 1 << 40
	c.Stabilize = int64(time.Second)
	c.Churn = Churn{Session: "exponential", Median: int64(6 * time.Minute), CrashFraction: 0.5,
		Warmup: int64(5 * time.Minute), Duration: int64(55 * time.Minute)}
	c.Workload.Keys, c.Workload.Rate, c.Workload.Replicas = 1000, 100, 2
	c.Workload.FingerPeriod = int64(time.Second)
	if n > 1000 {
		c.Churn.Warmup, c.Churn.Duration = int64(time.Minute), int64(9*time.Minute)
		c.Workload.Keys, c.Workload.FingerPeriod = 10_000, int64(10*time.Second)
	}
	return c
}

// BenchmarkChurnLarge runs churnLargeConfig with the per-event checker on: events per second
// of CPU time (cpu-s/run is the process's user and system time), the peak heap sampled while
// it runs, and the process's peak RSS. N=100k takes minutes and GiBs, so it runs only when
// named (-bench 'ChurnLarge/N=100k') or with DHTEXP_BENCH_LARGE set.
func BenchmarkChurnLarge(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		name := "N=" + itoa(n)
		b.Run(name, func(b *testing.B) {
			if n > 1000 && os.Getenv("DHTEXP_BENCH_LARGE") == "" && !strings.Contains(benchFilter(), name) {
				b.Skip("run with -bench 'ChurnLarge/" + name + "' or DHTEXP_BENCH_LARGE=1")
			}
			c := churnLargeConfig(n)
			var events int64
			var peak atomic.Uint64
			done := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // the heap's high-water mark, sampled every 20 ms
				defer close(sampled)
				sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					metrics.Read(sample)
					if v := sample[0].Value.Uint64(); v > peak.Load() {
						peak.Store(v)
					}
					select {
					case <-done:
						return
					case <-t.C:
					}
				}
			}()
			cpu0, cpuOK := processCPU()
			var st observe.CheckerStats
			for i := 0; i < b.N; i++ {
				c.Seed = uint64(i + 1)
				s, err := New(c, nil)
				if err != nil {
					b.Fatal(err)
				}
				r := s.Run()
				events += r.Events
				st = s.check.Stats()
			}
			cpu1, _ := processCPU()
			close(done)
			<-sampled
			if cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/1e9/float64(b.N), "cpu-s/run")
				b.ReportMetric(float64(events)/(float64(cpu1-cpu0)/1e9), "events/cpu-s")
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			if rss, ok := peakRSS(); ok {
				b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			}
			b.ReportMetric(float64(st.Full), "full-checks/run")
		})
	}
}
