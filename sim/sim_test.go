package sim

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// hashRun hashes every trace event and the outcome of one run.
func hashRun(t *testing.T, cfg Config) string {
	t.Helper()
	h := sha256.New()
	r, err := Run(cfg, observe.TracerFunc(func(e *observe.Event) { writeEvent(h, e) }))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(h, "%s|%s|%v|%d|%d|%+v\n", r.Outcome, r.Detail, r.RingCorrect, r.Messages, r.Events, r.KV)
	for _, o := range r.Ops {
		fmt.Fprintf(h, "%+v\n", o)
	}
	for _, j := range r.Joins {
		fmt.Fprintf(h, "%+v\n", j)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func writeEvent(h hash.Hash, e *observe.Event) {
	fmt.Fprintf(h, "%d %d %s %s %v %v %v %v %v %v %s\n", e.Seq, e.Time, e.Kind, e.MsgType, e.Node,
		e.From, e.To, e.Joiner, e.Left, e.Right, e.Detail)
}

func determinismConfigs() map[string]Config {
	simple := DefaultConfig()
	simple.Seed = 42
	adv := DefaultConfig()
	adv.Scenario, adv.Nodes, adv.Seed = "advanced", 30, 7
	rnd := DefaultConfig()
	rnd.Scenario, rnd.Nodes, rnd.Joiners, rnd.Timing, rnd.Seed = "random", 40, 20, "async", 99
	rnd.JoinWindow, rnd.Horizon = 5e6, 10e9
	rnd.Delay = Delay{Kind: "lognormal", Median: 3e6, Sigma: 1}
	rnd.Link = "reorder"
	// The DHT: operations around joins and leaves, zipf keys, replicas, fingers refreshed.
	dht := rnd
	dht.Protocol, dht.Leavers, dht.Seed = "predlock-retry", 5, 5
	dht.Workload.Keys, dht.Workload.Rate, dht.Workload.Replicas = 300, 20_000, 2
	dht.Workload.Popularity, dht.Workload.Before, dht.Workload.After = "zipf", 2e6, 5e6
	dht.Workload.FingerPeriod = 3e6
	return map[string]Config{"simple": simple, "advanced": adv, "random-async": rnd, "dht": dht}
}

// Same configuration and seed give the same bytes, whatever GOMAXPROCS is and whatever else
// runs concurrently.
func TestDeterminism(t *testing.T) {
	for name, cfg := range determinismConfigs() {
		t.Run(name, func(t *testing.T) {
			prev := runtime.GOMAXPROCS(1)
			one := hashRun(t, cfg)
			runtime.GOMAXPROCS(prev)
			var wg sync.WaitGroup
			hashes := make([]string, 4)
			for i := range hashes {
				wg.Add(1)
				go func() { defer wg.Done(); hashes[i] = hashRun(t, cfg) }()
			}
			wg.Wait()
			for i, h := range hashes {
				if h != one {
					t.Fatalf("run %d hashed %s, GOMAXPROCS=1 run hashed %s", i, h, one)
				}
			}
			other := cfg
			other.Seed++
			if hashRun(t, other) == one {
				t.Fatalf("seed %d and %d gave the same trace", cfg.Seed, other.Seed)
			}
		})
	}
}

func member(id, left, right protocol.ID) protocol.State {
	return protocol.State{ID: id, Left: left, Right: right, Connected: true}
}

// The original's two failure shapes, built by hand.
func TestClassifyFinalShapes(t *testing.T) {
	tests := []struct {
		name    string
		states  []protocol.State
		outcome string
		correct bool
	}{
		{"correct ring", []protocol.State{member(1, 50, 2), member(2, 1, 3), member(3, 2, 49),
			member(49, 3, 50), member(50, 49, 1)}, observe.OutcomeOK, true},
		{"two accepts into one gap", []protocol.State{member(1, 50, 3), member(2, 1, 49), member(3, 1, 49),
			member(49, 3, 50), member(50, 49, 1)}, observe.OutcomeWrongNeighbours, false},
		{"newcomer left unconnected", []protocol.State{member(1, 50, 2), member(2, 1, 49),
			{ID: 3, Left: protocol.None, Right: 49, Waiting: true, Locked: true},
			member(49, 2, 50), member(50, 49, 1)}, observe.OutcomeNotJoined, false},
		{"contact never unlocked", []protocol.State{member(1, 50, 2), member(2, 1, 49),
			{ID: 3, Left: protocol.None, Right: protocol.None, Waiting: true, Locked: true},
			{ID: 49, Left: 2, Right: 50, Connected: true, Locked: true, Queue: 1}, member(50, 49, 1)}, observe.OutcomeDeadlock, false},
		{"correct ring, lock left behind", []protocol.State{member(1, 49, 49),
			{ID: 49, Left: 1, Right: 1, Connected: true, Locked: true}}, observe.OutcomeDeadlock, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome, detail, correct := observe.ClassifyFinal(tt.states)
			if outcome != tt.outcome || correct != tt.correct {
				t.Fatalf("got %s (correct=%v, %s), want %s (correct=%v)", outcome, correct, detail, tt.outcome, tt.correct)
			}
			if outcome != observe.OutcomeOK && detail == "" {
				t.Fatal("a failure without a reason")
			}
		})
	}
}

func TestCheckSafety(t *testing.T) {
	ring := protocol.Ring{Bits: 8}
	pendingJoiner := protocol.State{ID: 2, Left: protocol.None, Right: protocol.None, Waiting: true}
	tests := []struct {
		name   string
		states []protocol.State
		want   string // property, or "" for none
	}{
		{"ring", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1)}, ""},
		{"single node", []protocol.State{member(1, 1, 1)}, ""},
		{"appendage into the ring", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), member(3, 1, 5)}, ""},
		{"walk pending on a joiner", []protocol.State{member(1, 9, 2), member(5, 2, 9), member(9, 5, 1), pendingJoiner}, ""},
		{"two rings", []protocol.State{member(1, 5, 5), member(5, 1, 1), member(7, 9, 9), member(9, 7, 7)}, observe.PropAtMostOneRing},
		{"ring out of order", []protocol.State{member(1, 9, 9), member(5, 9, 1), member(9, 1, 5)}, observe.PropOrderedRing},
		{"dangling pointer", []protocol.State{member(1, 9, 5), member(5, 1, 9), member(9, 5, 1), member(3, 1, 77)}, observe.PropConnectedAppendages},
		{"no ring", []protocol.State{member(1, 5, 5), member(5, 1, 2), {ID: 2, Left: 5, Right: protocol.None, Connected: true}}, observe.PropConnectedAppendages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := observe.CheckSafety(tt.states, ring)
			got := ""
			if v != nil {
				got = v.Property
			}
			if got != tt.want {
				t.Fatalf("got violation %q (%+v), want %q", got, v, tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"unknown scenario", func(c *Config) { c.Scenario = "huge" }, "unknown scenario"},
		{"unknown protocol", func(c *Config) { c.Protocol = "chord" }, "unknown protocol"},
		{"negative joiners", func(c *Config) { c.Scenario, c.Joiners = "random", -1 }, "joiners must not be negative"},
		{"no members", func(c *Config) { c.Scenario, c.Nodes = "random", 0 }, "at least one ring member"},
		{"joiners exceed ID space", func(c *Config) { c.Scenario, c.Bits, c.Nodes, c.Joiners = "random", 4, 10, 7 }, "do not fit"},
		{"advanced too small", func(c *Config) { c.Scenario, c.Nodes = "advanced", 4 }, "n >= 5"},
		{"bits too wide", func(c *Config) { c.Bits = 63 }, "bits"},
		{"bad delay", func(c *Config) { c.Delay = Delay{Kind: "uniform", Min: 5, Max: 1} }, "delay.max"},
		{"unknown delay", func(c *Config) { c.Delay.Kind = "pareto" }, "unknown delay"},
		{"unknown timing", func(c *Config) { c.Timing = "sync" }, "unknown timing"},
		{"zero horizon", func(c *Config) { c.Horizon = 0 }, "horizon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			_, err := Run(c, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// Every delay distribution stays inside its bounds and is reproducible.
func TestDelaySamplers(t *testing.T) {
	const ms = 1_000_000
	tests := []struct {
		d        Delay
		min, max int64
	}{
		{Delay{Kind: "constant", Value: 3 * ms}, 3 * ms, 3 * ms},
		{Delay{Kind: "uniform", Min: ms, Max: 2 * ms}, ms, 2 * ms},
		{Delay{Kind: "uniform-int", Min: ms, Max: 10 * ms}, ms, 10 * ms},
		{Delay{Kind: "exponential", Mean: ms}, 1, 1 << 62},
		{Delay{Kind: "lognormal", Median: ms, Sigma: 0.5}, 1, 1 << 62},
	}
	for _, tt := range tests {
		t.Run(tt.d.Kind, func(t *testing.T) {
			if err := tt.d.Validate(); err != nil {
				t.Fatal(err)
			}
			s := newSampler(tt.d, ms)
			r1, r2 := newStream(1, streamDelay), newStream(1, streamDelay)
			var sum float64
			for range 10000 {
				v := s.draw(r1)
				if v != s.draw(r2) {
					t.Fatal("same stream, different draws")
				}
				if v < tt.min || v > tt.max {
					t.Fatalf("draw %d outside [%d, %d]", v, tt.min, tt.max)
				}
				if tt.d.Kind == "uniform-int" && v%ms != 0 {
					t.Fatalf("uniform-int drew %d, not a whole unit", v)
				}
				sum += float64(v)
			}
			if tt.d.Kind == "exponential" {
				if mean := sum / 10000; mean < 0.9*ms || mean > 1.1*ms {
					t.Fatalf("exponential mean %.0f, want about %d", mean, ms)
				}
			}
		})
	}
}

// drawUnits, the seed timing model's draw in whole units, is the draw rounded up, from the
// same stream: with and without its shortcut for uniform-int delays in whole units.
func TestDrawUnitsIsDrawRoundedUp(t *testing.T) {
	const ms = 1_000_000
	for _, d := range []Delay{
		{Kind: "uniform-int", Min: ms, Max: 10 * ms},                   // whole units: the shortcut
		{Kind: "uniform-int", Min: 3 * ms, Max: 40 * ms, Step: 2 * ms}, // a step of two units
		{Kind: "uniform-int", Min: ms / 2, Max: 10 * ms},               // half a unit off
		{Kind: "uniform-int", Min: ms, Max: 10 * ms, Step: ms / 3},     // a step below the unit
		{Kind: "uniform", Min: ms, Max: 5 * ms},
		{Kind: "constant", Value: 2*ms + 1},
		{Kind: "exponential", Mean: ms},
	} {
		t.Run(d.String(), func(t *testing.T) {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			s := newSampler(d, ms)
			src := rand.NewPCG(SplitMix64(7^streamDelay), SplitMix64(7+streamDelay))
			r1, r2 := newStream(7, streamDelay), rand.New(src)
			for k := range 5000 {
				want := (s.draw(r1) + ms - 1) / ms
				if got := s.drawUnits(r2, src); got != want {
					t.Fatalf("draw %d: drawUnits = %d, want %d", k, got, want)
				}
			}
		})
	}
}

// int64N draws what rand.Rand's Int64N draws from the same stream, bound by bound: powers of
// two, bounds whose rejection threshold is large, and the delays' usual few steps.
func TestInt64NMatchesRand(t *testing.T) {
	bounds := []int64{1, 2, 3, 7, 10, 64, 1000, 1 << 40, 1<<62 + 1, 3 << 61, math.MaxInt64}
	for _, n := range bounds {
		src := rand.NewPCG(11, uint64(n))
		want, got := rand.New(rand.NewPCG(11, uint64(n))), rand.New(src)
		for k := range 20_000 {
			w, g := want.Int64N(n), int64N(got, src, n)
			if g != w {
				t.Fatalf("n=%d draw %d: int64N = %d, Int64N = %d", n, k, g, w)
			}
		}
	}
}

func TestQueueOrder(t *testing.T) {
	var q queue
	r := newStream(3, 0)
	for i := range 5000 {
		q.push(r.Int64N(100), evWake, int32(i))
	}
	var last item
	for i := 0; q.Len() > 0; i++ {
		it := q.pop()
		if i > 0 && it.before(&last) {
			t.Fatalf("popped %+v after %+v", it, last)
		}
		if i > 0 && it.at == last.at && it.seq < last.seq {
			t.Fatal("ties not broken by scheduling order")
		}
		last = it
	}
}

// The simple scenario under the seed timing model ends every run at the horizon with both
// joins accounted for.
func TestJoinRecords(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 3
	r, err := Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Joins) != 2 {
		t.Fatalf("%d join records, want 2", len(r.Joins))
	}
	for _, j := range r.Joins {
		if j.Outcome == observe.JoinOK && (j.End < j.Start || j.Messages < 4) {
			t.Errorf("implausible join record %+v", j)
		}
	}
	if r.SimTime >= cfg.Horizon {
		t.Errorf("an event ran at %d, at or after the horizon %d", r.SimTime, cfg.Horizon)
	}
}

// Scheduling numbers are 31 bits (the low bit of an item's seq tells a push from a group of
// sleeping loops); when they run out the pending events are renumbered in order, and ties
// must keep their order across that.
func TestQueueRenumbersWithoutReordering(t *testing.T) {
	var q queue
	q.seq = 1<<31 - 1 - 5
	for i := range 20 {
		q.push(int64(i%3), evWake, int32(i)) // many ties at 0, 1, 2
	}
	var got []int32
	for q.Len() > 0 {
		it := q.pop()
		got = append(got, it.idx())
	}
	want := []int32{0, 3, 6, 9, 12, 15, 18, 1, 4, 7, 10, 13, 16, 19, 2, 5, 8, 11, 14, 17}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestSetStateCopiesEveryField holds setState, which copies a node's state field by field, to
// every field protocol.State has: a field added there and missed here would go unobserved.
func TestSetStateCopiesEveryField(t *testing.T) {
	var src protocol.State
	v := reflect.ValueOf(&src).Elem()
	for k := 0; k < v.NumField(); k++ {
		f := v.Field(k)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(k + 1))
		case reflect.Uint64:
			f.SetUint(uint64(k + 1))
		default:
			t.Fatalf("protocol.State.%s: a field of kind %v that this test cannot set", v.Type().Field(k).Name, f.Kind())
		}
	}
	var dst protocol.State
	setState(&dst, &src)
	if dst != src {
		t.Errorf("setState copied %+v, want %+v", dst, src)
	}
}

// The simulator reuses one event and sets its fields one by one, so that nothing of an
// event carries over into the next: events of a message carry it and no detail, events of
// no message carry none of a message's fields, and the count of fields guards against one
// added to observe.Event without being set.
func TestTracedEventsCarryNothingOver(t *testing.T) {
	if n := reflect.TypeFor[observe.Event]().NumField(); n != 11 {
		t.Fatalf("observe.Event has %d fields: set each one in emitEvent and emitDetail, then update this count", n)
	}
	cfg := determinismConfigs()["random-async"]
	cfg.Protocol, cfg.Timeout = "predlock-retry", 20e6
	cfg.Faults.Loss, cfg.Faults.Duplicate, cfg.Faults.CrashNode, cfg.Faults.CrashAt = 0.1, 0.05, "random", 3e6
	kinds := map[observe.EventKind]int{}
	noMessage := func(e *observe.Event) bool {
		return e.MsgType == 0 && e.From == protocol.None && e.To == protocol.None && e.Joiner == protocol.None
	}
	for seed := range uint64(5) {
		cfg.Seed = seed + 1
		_, err := Run(cfg, observe.TracerFunc(func(e *observe.Event) {
			kinds[e.Kind]++
			switch e.Kind {
			case observe.KindSend, observe.KindDeliver, observe.KindDrop:
				if e.MsgType == 0 || e.Detail != "" {
					t.Fatalf("%s event with message type %v and detail %q", e.Kind, e.MsgType, e.Detail)
				}
			case observe.KindTimer, observe.KindJoinStart, observe.KindJoinEnd:
				if !noMessage(e) || e.Detail != "" {
					t.Fatalf("%s event %+v carries a message or a detail", e.Kind, *e)
				}
			case observe.KindState: // the detail names the node's flags, none for a node without any
				if !noMessage(e) {
					t.Fatalf("state event %+v carries a message", *e)
				}
			case observe.KindViolation:
				if !noMessage(e) || e.Detail == "" {
					t.Fatalf("violation event %+v carries a message or no detail", *e)
				}
			case observe.KindFault:
				if e.Detail == "" {
					t.Fatalf("fault event %+v without a detail", *e)
				}
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []observe.EventKind{observe.KindSend, observe.KindDeliver, observe.KindDrop, observe.KindTimer,
		observe.KindJoinStart, observe.KindJoinEnd, observe.KindState, observe.KindFault} {
		if kinds[k] == 0 {
			t.Errorf("no %s event in the runs: the test does not see every kind of event", k)
		}
	}
}
