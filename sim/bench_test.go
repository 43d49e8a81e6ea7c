package sim

import (
	"flag"
	"runtime"
	"strings"
	"testing"
	"time"

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
	return map[string]Config{"simple-seed": simple, "random-1000-async": big}
}

// BenchmarkRun measures whole runs with the checker on: events per second and allocations
// per event (setup allocations are amortised over the run's events).
func BenchmarkRun(b *testing.B) {
	for _, name := range []string{"simple-seed", "random-1000-async"} {
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
