package sim

import (
	"runtime"
	"testing"
	"time"
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

// BenchmarkRunReset compares runs made by New (new) with runs of one Sim reset for every
// run (reset), as sweep workers make them. cpu-ns/run is the process's CPU time, garbage
// collection included, which a busy machine does not inflate as it does ns/op.
func BenchmarkRunReset(b *testing.B) {
	for _, name := range []string{"simple-seed", "random-1000-async"} {
		for _, reuse := range []bool{false, true} {
			cfg := benchConfigs()[name]
			mode := "new"
			if reuse {
				mode = "reset"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				var s Sim
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
