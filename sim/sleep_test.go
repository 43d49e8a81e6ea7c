package sim

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"reflect"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

var sleepSeeds = flag.Int("sleep-seeds", 0, "seeds per family in TestSleepingLoopsMatchPolling (0: 10,000 with -long, 300 otherwise, 30 with -short)")
var long = flag.Bool("long", false, "run the long equivalence checks in full")

// traceHash hashes every field of every event of a run.
type traceHash struct {
	h   hash.Hash64
	buf []byte
}

func (t *traceHash) Event(e *observe.Event) {
	b := t.buf[:0]
	for _, v := range []int64{e.Seq, e.Time, int64(e.Kind), int64(e.MsgType), int64(e.Node), int64(e.From),
		int64(e.To), int64(e.Joiner), int64(e.Left), int64(e.Right)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = append(b, e.Detail...)
	b = append(b, 0)
	t.h.Write(b)
	t.buf = b
}

// runHash runs cfg with idle loops polling or sleeping and hashes its trace and its result.
func runHash(t testing.TB, cfg Config, poll bool) (uint64, *Result, int64) {
	var popped int64
	var r *Result
	h := runHashWith(t, cfg, func(s *Sim) { s.pollIdle = poll }, func(s *Sim, res *Result) { r, popped = res, s.popped })
	return h, r, popped
}

// runHashWith runs cfg with set applied to the new Sim and hashes its trace and result; the
// optional after sees the Sim and the result.
func runHashWith(t testing.TB, cfg Config, set func(*Sim), after ...func(*Sim, *Result)) uint64 {
	tr := &traceHash{h: fnv.New64a()}
	s, err := New(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	set(s)
	r := s.Run()
	for _, f := range after {
		f(s, r)
	}
	fmt.Fprintf(tr.h, "%s|%s|%d|%d|%d|%d|%v|%+v|%+v|%+v", r.Outcome, r.Detail, r.Events, r.Messages, r.Redirects,
		r.SimTime, r.RingCorrect, r.Violation, r.Joins, r.Final)
	return tr.h.Sum64()
}

// seedFamilies are the configurations of the seed timing model the sleeping loops are
// checked on, one per seed k: the simple scenario, the advanced one with n = 6..30, and
// random rings in every layout with newcomers spread over a window, under each protocol.
func seedFamilies() map[string]func(k int) Config {
	protocols := []string{"seed", "predlock", "predlock-retry"}
	layouts := []string{"uniform", "clustered", "wrap", "full"}
	return map[string]func(k int) Config{
		"simple": func(k int) Config {
			c := DefaultConfig()
			c.Protocol = protocols[k%len(protocols)]
			return c
		},
		"advanced": func(k int) Config {
			c := DefaultConfig()
			c.Scenario, c.Nodes = "advanced", 6+k%25
			c.Protocol = protocols[k/25%len(protocols)]
			return c
		},
		"random": func(k int) Config {
			c := DefaultConfig()
			c.Scenario, c.Bits = "random", 6
			c.Layout = layouts[k%len(layouts)]
			c.Nodes, c.Joiners, c.JoinWindow = 12+k%9, 2+k%6, int64(k%40)*c.Unit
			if c.Layout == "full" {
				c.Nodes = 64 - c.Joiners
			}
			c.Protocol = protocols[k/4%len(protocols)]
			return c
		},
	}
}

// Sleeping loops must not change a run: the same trace, event for event, and the same
// result, events count included, as when every idle loop polls once per unit.
func TestSleepingLoopsMatchPolling(t *testing.T) {
	seeds := 300
	switch {
	case *sleepSeeds > 0:
		seeds = *sleepSeeds
	case *long:
		seeds = 10_000
	case testing.Short():
		seeds = 30
	}
	for name, family := range seedFamilies() {
		t.Run(name, func(t *testing.T) {
			var polled, slept int64
			outcomes := map[string]int{}
			for k := range seeds {
				cfg := family(k)
				cfg.Seed = uint64(k + 1)
				want, r, pp := runHash(t, cfg, true)
				got, _, sp := runHash(t, cfg, false)
				if got != want {
					t.Fatalf("seed %d (%s n=%d protocol=%s layout=%s): trace or result differs from polling",
						cfg.Seed, cfg.Scenario, cfg.Nodes, cfg.Protocol, cfg.Layout)
				}
				polled, slept = polled+pp, slept+sp
				outcomes[r.Outcome]++
			}
			t.Logf("%d seeds identical; outcomes %v; queue items %d polling, %d sleeping", seeds, outcomes, polled, slept)
		})
	}
}

// sameFlags lists protocol.State's fields by hand; a field added to State must be added there.
func TestSameFlagsCoversState(t *testing.T) {
	if n := reflect.TypeOf(protocol.State{}).NumField(); n != 12 {
		t.Fatalf("protocol.State has %d fields; sameFlags compares 10 of 12 (all but ID and Queue, which observe compares itself): update it", n)
	}
}

// Large rings keep hundreds of loops asleep in one group, and a group with a woken member near
// its front hands the rest over by taking the place of the group pushed after it (takeOver):
// that too must leave every run as polling runs it.
func TestSleepingLoopsMatchPollingLarge(t *testing.T) {
	seeds := 6
	if *long {
		seeds = 60
	}
	takeOvers := 0
	for k := range seeds {
		cfg := DefaultConfig()
		cfg.Scenario, cfg.Nodes, cfg.Seed = "advanced", []int{120, 300, 700}[k%3], uint64(k+1)
		cfg.Horizon = 400 * cfg.Unit
		want, _, _ := runHash(t, cfg, true)
		got := runHashWith(t, cfg, func(s *Sim) {}, func(s *Sim, _ *Result) { takeOvers += s.sl.takeOvers })
		if got != want {
			t.Fatalf("seed %d (advanced n=%d): trace or result differs from polling", cfg.Seed, cfg.Nodes)
		}
	}
	if takeOvers == 0 {
		t.Fatal("no group took another's place: the test no longer covers takeOver")
	}
	t.Logf("%d seeds identical; %d take-overs", seeds, takeOvers)
}

// A group of sleepers stands between the pushes before and after it at the same instant,
// across a renumbering too.
func TestQueueGapItemsKeepTheirPlace(t *testing.T) {
	var q queue
	q.seq = 1<<31 - 2
	q.push(5, evWake, 1)
	q.pushGap(5, evPolls, 2)
	q.push(5, evWake, 3) // renumbers
	q.pushGap(5, evPolls, 4)
	q.pushGap(4, evPolls, 5)
	q.push(5, evWake, 6)
	var got []int32
	for q.Len() > 0 {
		it := q.pop()
		got = append(got, it.idx())
	}
	if want := []int32{5, 1, 2, 3, 4, 6}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
