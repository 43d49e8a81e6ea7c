package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// churnConfig is a small ring under churn with a DHT workload: sessions of median 20 s, ten
// seconds of warm-up and thirty of churn.
func churnConfig(seed uint64, crash float64) Config {
	c := DefaultConfig()
	c.Scenario, c.Timing, c.Protocol, c.Seed = "random", "async", "predlock-retry", seed
	c.Nodes, c.Joiners, c.Bits = 40, 0, 32
	c.Delay = Delay{Kind: "uniform", Min: int64(time.Millisecond), Max: int64(20 * time.Millisecond)}
	c.Horizon = int64(10 * time.Minute)
	c.MaxMessages = 10_000_000
	c.Churn = Churn{Session: "exponential", Median: int64(20 * time.Second), CrashFraction: crash,
		Warmup: int64(5 * time.Second), Duration: int64(30 * time.Second), Settle: int64(10 * time.Second)}
	c.Workload.Keys, c.Workload.Rate, c.Workload.Replicas = 100, 40, 2
	c.Workload.FingerPeriod = int64(500 * time.Millisecond)
	return c
}

func churnHash(t *testing.T, cfg Config) string {
	t.Helper()
	r, err := Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hashRun(t, cfg) + fmt.Sprintf("|%+v", r.Churn)
}

func TestChurnDeterminism(t *testing.T) {
	for _, crash := range []float64{0, 0.5, 1} {
		t.Run(fmt.Sprint("crash=", crash), func(t *testing.T) {
			a, b := churnHash(t, churnConfig(3, crash)), churnHash(t, churnConfig(3, crash))
			if a != b {
				t.Errorf("the same seed gave two traces")
			}
			if c := churnHash(t, churnConfig(4, crash)); c == a {
				t.Errorf("seeds 3 and 4 gave the same trace")
			}
		})
	}
}

// TestChurnKeepsOtherStreams: switching churn on adds nodes but moves none of the initial
// members, which come from the topology stream.
func TestChurnKeepsOtherStreams(t *testing.T) {
	on := churnConfig(5, 1)
	off := on
	off.Churn.Session = ""
	a, err := Layout(on)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Layout(off)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) <= len(b) || !slices.Equal(a[:len(b)], b) {
		t.Errorf("churn changed the initial members (%d specs with churn, %d without)", len(a), len(b))
	}
}

func TestChurnSessionMedians(t *testing.T) {
	med := int64(time.Minute)
	for _, tc := range []struct {
		kind  string
		shape float64
	}{{"exponential", 0}, {"weibull", 0.6}, {"weibull", 3}, {"pareto", 1.2}, {"pareto", 2.5}} {
		t.Run(fmt.Sprint(tc.kind, tc.shape), func(t *testing.T) {
			d := newSessionDist(&Churn{Session: tc.kind, Median: med, Shape: tc.shape})
			r := newStream(1, streamChurnRun)
			x := make([]int64, 200_000)
			for i := range x {
				x[i] = d.draw(r)
			}
			slices.Sort(x)
			got := float64(x[len(x)/2])
			if math.Abs(got/float64(med)-1) > 0.01 {
				t.Errorf("sample median %v, asked for %v", time.Duration(got), time.Duration(med))
			}
			if tc.kind == "pareto" && x[0] < int64(d.scale) {
				t.Errorf("a pareto session %d below the minimum %g", x[0], d.scale)
			}
		})
	}
}

// TestChurnArrivalRate: the number of arrivals is Poisson with mean nodes·stop/E[session].
func TestChurnArrivalRate(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		shape float64
	}{{"exponential", 0}, {"weibull", 0.7}, {"pareto", 2}} {
		t.Run(tc.kind, func(t *testing.T) {
			total, runs := 0, 20
			var want float64
			for seed := range uint64(runs) {
				c := churnConfig(seed, 1)
				c.Nodes = 500
				c.Churn.Session, c.Churn.Shape = tc.kind, tc.shape
				specs, err := Layout(c)
				if err != nil {
					t.Fatal(err)
				}
				arrivals := len(specs) - c.Nodes
				total += arrivals
				want = float64(c.Nodes) * float64(c.Churn.Stop()) / newSessionDist(&c.Churn).mean()
				ids := make(map[protocol.ID]bool)
				for _, sp := range specs {
					if ids[sp.ID] {
						t.Fatalf("ID %v twice", sp.ID)
					}
					ids[sp.ID] = true
					if !sp.Member && (sp.Start < 0 || sp.Start >= c.Churn.Stop()) {
						t.Fatalf("arrival at %d, outside [0, %d)", sp.Start, c.Churn.Stop())
					}
				}
			}
			mean := float64(total) / float64(runs)
			// The mean of 20 Poisson counts has a standard deviation of sqrt(want/20).
			if sd := math.Sqrt(want / float64(runs)); math.Abs(mean-want) > 4*sd {
				t.Errorf("%.1f arrivals per run, want %.1f ± %.1f", mean, want, 4*sd)
			}
		})
	}
}

func TestChurnGracefulLeavesKeepTheRing(t *testing.T) {
	for seed := range uint64(4) {
		r, err := Run(churnConfig(seed, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &r.Churn
		if r.Outcome != observe.OutcomeOK || !c.RingCorrect || c.Crashes != 0 || c.Leaves == 0 || c.Arrivals == 0 || c.KeysLost != 0 {
			t.Errorf("seed %d: %s (%s), churn %+v", seed, r.Outcome, r.Detail, *c)
		}
		if c.Repair != 0 {
			t.Errorf("seed %d: the ring became correct %v after churn stopped, want at once", seed, time.Duration(c.Repair))
		}
		if c.Lookups == 0 || c.LookupsOK > c.Lookups || c.LookupsConsistent > c.LookupsOK || c.LookupP50 <= 0 || c.LookupP99 < c.LookupP50 {
			t.Errorf("seed %d: lookup figures %+v", seed, *c)
		}
		if c.MaintMessages == 0 || c.MaintBytes < 60*c.MaintMessages || c.Window != int64(30*time.Second) {
			t.Errorf("seed %d: maintenance %d messages, %d bytes in %v", seed, c.MaintMessages, c.MaintBytes, time.Duration(c.Window))
		}
		if c.LiveMean < 25 || c.LiveMean > 60 {
			t.Errorf("seed %d: %.1f live nodes on average, want about 40", seed, c.LiveMean)
		}
	}
}

// TestChurnCrashesBreakTheRing: predlock-retry does not repair crashes, so the end check
// finds the ring wrong; this is what a repairing variant is compared with.
func TestChurnCrashesBreakTheRing(t *testing.T) {
	for seed := range uint64(3) {
		r, err := Run(churnConfig(seed, 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &r.Churn
		if r.Outcome != observe.OutcomeWrongNeighbours || c.RingCorrect || c.Crashes == 0 || c.Leaves != 0 || c.Repair != -1 {
			t.Errorf("seed %d: %s (%s), churn %+v", seed, r.Outcome, r.Detail, *c)
		}
		if r.Violation != nil {
			t.Errorf("seed %d: %+v", seed, *r.Violation)
		}
	}
}

func TestChurnValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(c *Config)
	}{
		{"churn.session", func(c *Config) { c.Churn.Session = "gamma" }},
		{"churn.session", func(c *Config) { c.Workload.Keys, c.Workload.Rate, c.Timing = 0, 0, "seed" }},
		{"churn.median", func(c *Config) { c.Churn.Median = 0 }},
		{"churn.shape", func(c *Config) { c.Churn.Session, c.Churn.Shape = "pareto", 1 }},
		{"churn.shape", func(c *Config) { c.Churn.Session, c.Churn.Shape = "weibull", 0 }},
		{"churn.crash_fraction", func(c *Config) { c.Churn.CrashFraction = 1.5 }},
		{"churn.crash_fraction", func(c *Config) { c.Protocol = "seed" }},
		{"churn.warmup", func(c *Config) { c.Churn.Warmup = -1 }},
		{"churn.duration", func(c *Config) { c.Churn.Duration = 0 }},
		{"churn.settle", func(c *Config) { c.Churn.Settle = -1 }},
		{"stabilize", func(c *Config) { c.Stabilize = -1 }},
		{"joiners", func(c *Config) { c.Joiners = 3 }},
		{"horizon", func(c *Config) { c.Horizon = c.Churn.Stop() }},
		{"workload.before", func(c *Config) { c.Workload.Before = 1 }},
		{"faults.crash_node", func(c *Config) { c.Faults.CrashNode = "random" }},
		{"churn.median", func(c *Config) { c.Bits, c.Churn.Median = 10, int64(time.Second) }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := churnConfig(1, 0)
			tc.edit(&c)
			_, err := New(c, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

// TestChurnKeyLoss: without replicas, crashes take keys with them; the first loss is noted
// when it happens and the lost keys are counted at the end check.
func TestChurnKeyLoss(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		crash    float64
		lost     bool
	}{{0, 1, true}, {0, 0, false}, {2, 0, false}} {
		t.Run(fmt.Sprint("replicas=", tc.replicas, ",crash=", tc.crash), func(t *testing.T) {
			c := churnConfig(7, tc.crash)
			c.Workload.Replicas = tc.replicas
			r, err := Run(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			ch := &r.Churn
			if tc.lost != (ch.KeysLost > 0) || tc.lost != (ch.FirstKeyLoss >= 0) {
				t.Fatalf("%d keys lost, the first at %d; churn %+v", ch.KeysLost, ch.FirstKeyLoss, *ch)
			}
			if tc.lost && (ch.FirstKeyLoss > c.Churn.Stop() || ch.KeysUnderReplicated < ch.KeysLost) {
				t.Errorf("first loss at %v, after churn stopped at %v; %d under-replicated", time.Duration(ch.FirstKeyLoss),
					time.Duration(c.Churn.Stop()), ch.KeysUnderReplicated)
			}
			if !tc.lost && (r.Outcome != observe.OutcomeOK || ch.KeysUnderReplicated != 0) {
				t.Errorf("%s (%s), %d keys under-replicated", r.Outcome, r.Detail, ch.KeysUnderReplicated)
			}
		})
	}
}

// BenchmarkChurn runs a 200-member ring under churn with a workload for two minutes of virtual
// time, graceful leaves only or half crashes.
func BenchmarkChurn(b *testing.B) {
	for _, crash := range []float64{0, 0.5} {
		b.Run(fmt.Sprint("crash=", crash), func(b *testing.B) {
			c := churnConfig(1, crash)
			c.Nodes, c.Workload.Keys = 200, 400
			c.Churn.Median, c.Churn.Warmup, c.Churn.Duration = int64(time.Minute), int64(10*time.Second), int64(100*time.Second)
			var events int64
			for i := 0; i < b.N; i++ {
				c.Seed = uint64(i + 1)
				r, err := Run(c, nil)
				if err != nil {
					b.Fatal(err)
				}
				events += r.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds()/1e6, "Mevents/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
		})
	}
}

// TestLiveBetween: the crash guard counts the live ring nodes strictly between two IDs,
// going up and round past the top.
func TestLiveBetween(t *testing.T) {
	ring := []protocol.ID{10, 20, 30, 40}
	for _, tc := range []struct {
		a, b protocol.ID
		want int
	}{
		{10, 40, 2}, {40, 10, 0}, {15, 35, 2}, {35, 15, 2}, {20, 30, 0}, {30, 20, 2}, {5, 45, 4}, {45, 5, 0},
	} {
		if got := liveBetween(ring, tc.a, tc.b); got != tc.want {
			t.Errorf("liveBetween(%v, %d, %d) = %d, want %d", ring, tc.a, tc.b, got, tc.want)
		}
	}
}

// TestCrashGuardPostpones: with the guard, a churn run postpones crashes and stays
// deterministic; without it, none is postponed.
func TestCrashGuardPostpones(t *testing.T) {
	c := DefaultConfig()
	c.Scenario, c.Timing, c.Protocol, c.Seed = "random", "async", "repair", 3
	c.Nodes, c.Joiners, c.Bits = 24, 0, 32
	c.Delay = Delay{Kind: "uniform", Min: int64(time.Millisecond), Max: int64(10 * time.Millisecond)}
	c.Workload.Keys, c.Workload.Rate, c.Workload.Replicas = 20, 5, 2
	c.Churn = Churn{Session: "exponential", Median: int64(5 * time.Second), CrashFraction: 1,
		Warmup: int64(time.Second), Duration: int64(10 * time.Second)}
	c.Horizon = int64(40 * time.Second)
	c.MaxMessages = 10_000_000
	off, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Churn.CrashGuard = 8
	on, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Run(c, nil)
	if off.Churn.CrashesPostponed != 0 || on.Churn.CrashesPostponed == 0 || on.Churn != again.Churn {
		t.Fatalf("postponed without guard %d, with guard %d; reruns equal %v", off.Churn.CrashesPostponed, on.Churn.CrashesPostponed, on.Churn == again.Churn)
	}
}

// TestChurnSessionEndingWhileJoining: a newcomer whose session ends before its join has ended
// leaves or crashes only once the join succeeded, at that instant, and one whose join failed
// does not depart at all. So a short session never makes a join fail: every join that started
// and did not succeed reported its own failure. (An arrival that found no live node to join
// through never starts and stays not_joined.)
func TestChurnSessionEndingWhileJoining(t *testing.T) {
	for seed := range uint64(3) {
		cfg := churnConfig(seed, 0.5)
		cfg.Protocol = "repair"
		// Sessions of median 1 s against joins of about 0.1 s: some sessions end mid-join. The
		// end check comes more than a join's bound after the last arrival, so every join that
		// started has ended by then.
		cfg.Churn.Median, cfg.Churn.Duration = int64(time.Second), int64(5*time.Second)
		cfg.Churn.Settle = 2 * protocol.JoinBound(0, 0)
		joinEnd := map[protocol.ID]int64{}
		failed := map[protocol.ID]bool{}
		departs := map[protocol.ID]int64{}
		var atEnd int
		tr := observe.TracerFunc(func(e *observe.Event) {
			switch {
			case e.Kind == observe.KindJoinEnd:
				joinEnd[e.Node] = e.Time
			case e.Kind == observe.KindFault && strings.HasPrefix(e.Detail, "join failed"):
				failed[e.Node] = true
			case e.Kind == observe.KindFault && e.Detail == "crash", e.Kind == observe.KindState && e.Detail == "leave":
				departs[e.Node] = e.Time
			}
		})
		r, err := Run(cfg, tr)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range r.Joins {
			at, gone := departs[j.Joiner]
			end, joined := joinEnd[j.Joiner]
			switch {
			case gone && failed[j.Joiner]:
				t.Errorf("seed %d: %v departed at %d after its join failed", seed, j.Joiner, at)
			case gone && (!joined || at < end):
				t.Errorf("seed %d: %v departed at %d before its join ended (%v)", seed, j.Joiner, at, joined)
			case gone && at == end:
				atEnd++
			}
			if j.Start >= 0 && j.Outcome != observe.JoinOK && !failed[j.Joiner] {
				t.Errorf("seed %d: %v's join is %s without a reported failure (start %d end %d run end %d)", seed, j.Joiner, j.Outcome, j.Start, j.End, r.SimTime)
			}
		}
		if atEnd == 0 {
			t.Errorf("seed %d: no session ended while its node was joining (%d joins): the case is not exercised", seed, len(r.Joins))
		}
		t.Logf("seed %d: %d joins, %d ok, %d departures deferred to the join's end", seed, len(r.Joins), r.JoinsSucceeded(), atEnd)
	}
}
