package sim

import (
	"testing"
)

// The calendar must not change the order of anything: random wakes, polls and other items,
// on and off whole units, near and far, pop in the same order from a queue with the calendar
// as from the heap alone, renumberings included.
func TestCalendarPopsInHeapOrder(t *testing.T) {
	const unit = 1000
	for seed := range uint64(50) {
		r := newStream(seed+1, 0)
		var cal, heap queue
		cal.near(unit)
		if seed%5 == 0 {
			cal.seq, heap.seq = 1<<31-40, 1<<31-40 // renumbers midway
		}
		var now int64
		// Two gap items at one instant with no push between them tie exactly; the simulator
		// merges them (Sim.tie) and so does this test.
		gaps := map[int64]bool{}
		kinds := []evKind{evWake, evPolls, evTimer, evWake, evPolls}
		for step := range 3000 {
			if cal.Len() != heap.Len() {
				t.Fatalf("seed %d step %d: %d items, heap alone %d", seed, step, cal.Len(), heap.Len())
			}
			if cal.Len() > 0 && r.IntN(3) == 0 {
				if p, h := *cal.peek(), *heap.peek(); p != h {
					t.Fatalf("seed %d step %d: peek %+v, heap alone %+v", seed, step, p, h)
				}
				a, b := cal.pop(), heap.pop()
				if a != b {
					t.Fatalf("seed %d step %d: popped %+v, heap alone %+v", seed, step, a, b)
				}
				now = a.at
				continue
			}
			at := now + unit*r.Int64N(80)
			if r.IntN(10) == 0 {
				at += r.Int64N(unit) // off the units
			}
			k := kinds[r.IntN(len(kinds))]
			if k == evPolls {
				if gaps[at] {
					continue
				}
				gaps[at] = true
				cal.pushGap(at, k, int32(step))
				heap.pushGap(at, k, int32(step))
			} else {
				clear(gaps)
				cal.push(at, k, int32(step))
				heap.push(at, k, int32(step))
			}
		}
		if seed%5 == 0 && cal.epoch == 0 || cal.epoch != heap.epoch {
			t.Fatalf("seed %d: %d renumberings, heap alone %d", seed, cal.epoch, heap.epoch)
		}
	}
}

// Runs of the seed timing model are the same, trace and result, with the calendar and with
// the heap alone, also with delays beyond the calendar's span and with protocol timers.
func TestCalendarKeepsRuns(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for name, family := range seedFamilies() {
		t.Run(name, func(t *testing.T) {
			for k := range seeds {
				cfg := family(k)
				cfg.Seed = uint64(k + 1)
				if k%3 == 1 {
					cfg.Delay.Max = 100 * cfg.Unit // some sends land beyond the calendar
				}
				want := runHashWith(t, cfg, func(s *Sim) { s.q.unslot(); s.q.unit = 0 })
				got := runHashWith(t, cfg, func(*Sim) {})
				if got != want {
					t.Fatalf("seed %d (%s n=%d protocol=%s delay max %d): trace or result differs from the heap alone",
						cfg.Seed, cfg.Scenario, cfg.Nodes, cfg.Protocol, cfg.Delay.Max)
				}
			}
		})
	}
}
