package node

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// A newcomer whose contact is gone gives up after its bounded retries and reports it,
// driven by timers on the wall clock alone: with a timeout of 20 ms and 3 retries it sends
// connect at 0, 20, 60 and 140 ms and gives up at 300 ms.
func TestRetryJoinerGivesUp(t *testing.T) {
	const (
		timeout = 20 * time.Millisecond
		retries = 3
	)
	contact := startOne(t, Config{Protocol: "predlock-retry", Bits: 16, ID: 1000})
	rec := &recorder{}
	j := startOne(t, Config{Protocol: "predlock-retry", Bits: 16, ID: 2000, Join: contact.Addr(), DeferJoin: true,
		Timeout: timeout, Retries: retries, PeerTimeout: time.Second, Tracer: rec})
	contact.Close()

	start := time.Now()
	j.StartJoin()
	var failedAt time.Time
	for time.Since(start) < 5*time.Second {
		if s := j.Status(); s.Failed {
			failedAt = time.Now()
			break
		}
		time.Sleep(time.Millisecond)
	}
	if failedAt.IsZero() {
		t.Fatalf("no reported failure 5s after the join started: %+v", j.Status())
	}
	s := j.Status()
	if s.Connected || s.Waiting || s.Locked || s.JoinEnd != 0 || s.Timers != 0 {
		t.Errorf("status after giving up: %+v", s)
	}

	// The backoff, read off the trace: each timer fires no earlier than its wait after the
	// previous step, and not much later either.
	starts := rec.find(observe.KindJoinStart, "")
	timers := rec.find(observe.KindTimer, "")
	fails := rec.find(observe.KindFault, "join failed")
	if len(starts) != 1 || len(timers) != retries+1 || len(fails) != 1 {
		t.Fatalf("%d join starts, %d timers, %d failures; want 1, %d, 1", len(starts), len(timers), len(fails), retries+1)
	}
	prev, total := starts[0].Time, time.Duration(0)
	for k, e := range timers {
		want := timeout << k
		total += want
		if got := time.Duration(e.Time - prev); got < want || got > want+200*time.Millisecond {
			t.Errorf("timer %d fired %v after the previous step, want %v", k+1, got, want)
		}
		prev = e.Time
	}
	if took := time.Duration(fails[0].Time - starts[0].Time); took < total || took > total+time.Second {
		t.Errorf("gave up %v after the start, want %v", took, total)
	}
	var connects int
	for _, e := range rec.find(observe.KindSend, "") {
		if e.MsgType == protocol.Connect && e.To == 1000 {
			connects++
		}
	}
	if connects != retries+1 {
		t.Errorf("%d connects sent, want %d", connects, retries+1)
	}

	// The connects end as drops once the contact counts as dead; then the failure is final.
	deadline := time.Now().Add(3 * time.Second)
	for InFlight([]Status{j.Status()}) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s = j.Status()
	if InFlight([]Status{s}) != 0 || int(s.Dropped) != retries+1 {
		t.Errorf("after the peer timeout: sent %d, dropped %d", s.Sent, s.Dropped)
	}
	// With its only member dead there is no ring left to check; the join itself is judged
	// as the simulator judges it.
	outcome, detail, _ := observe.ClassifyFinal([]protocol.State{s.State()})
	if outcome != observe.OutcomeJoinFailed {
		t.Errorf("outcome %s (%s), want %s", outcome, detail, observe.OutcomeJoinFailed)
	}
	t.Logf("gave up %v after the start (backoff %v)", time.Duration(fails[0].Time-starts[0].Time).Round(time.Millisecond), total)
}

// Timers outlive the waits they were set for: the joiner's join timer is pending when it
// gets connected, and the owner's when it unlocks. They fire later on the protocol
// goroutine, the variant recognises them as stale by their tag, and nothing changes.
func TestRetryStaleTimersChangeNothing(t *testing.T) {
	var recs recorders
	rc := ringConfig{protocol: "predlock-retry", bits: 16, tune: func(c *Config) {
		c.Timeout = 50 * time.Millisecond
		recs.tune(c)
	}}
	first, err := Start(rc.node(Config{Listen: "127.0.0.1:0", ID: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	j, err := Start(rc.node(Config{Listen: "127.0.0.1:0", ID: 30000, Join: first.Addr()}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	nodes := []*Node{first, j}

	// The moment the join is done, the timers are still pending.
	deadline := time.Now().Add(5 * time.Second)
	var done []Status
	for time.Now().Before(deadline) {
		sts := statuses(nodes)
		if sts[1].Connected && !sts[0].Locked && InFlight(sts) == 0 {
			done = sts
			break
		}
		time.Sleep(time.Millisecond)
	}
	if done == nil {
		t.Fatalf("the join did not finish:\n%s", describe(statuses(nodes)))
	}
	sts, late := settle(nodes, 5*time.Second)
	if late {
		t.Fatalf("timers still pending:\n%s", describe(sts))
	}
	for i := range sts {
		if sts[i].Sent != done[i].Sent || sts[i].Left != done[i].Left || sts[i].Right != done[i].Right ||
			sts[i].Connected != done[i].Connected || sts[i].Locked != done[i].Locked {
			t.Errorf("node %v changed after the join:\nthen %+v\nnow  %+v", sts[i].ID, done[i], sts[i])
		}
	}
	if outcome, detail, _ := Classify(sts, rc.ring(), false); outcome != observe.OutcomeOK {
		t.Errorf("%s (%s)", outcome, detail)
	}
	fired := 0
	for _, n := range nodes {
		fired += len(recs.of(n.ID()).find(observe.KindTimer, ""))
	}
	if fired < 2 {
		t.Errorf("%d timers fired, want one at each node at least", fired)
	}
	t.Logf("timers pending when the join ended: %d and %d; %d fired in all", done[0].Timers, done[1].Timers, fired)
}

// killer closes one node, abruptly, at the first event that its condition picks; it runs
// as part of the nodes' tracers. The node's own goroutine cannot wait for its shutdown,
// so the close runs on a goroutine of its own: the victim may still handle an input or two.
type killer struct {
	mu     sync.Mutex
	nodes  map[protocol.ID]*Node
	pick   func(e *observe.Event) bool
	victim *Node
	at     time.Time
	done   chan struct{}
}

func newKiller(pick func(e *observe.Event) bool) *killer {
	return &killer{nodes: map[protocol.ID]*Node{}, pick: pick, done: make(chan struct{})}
}

func (k *killer) add(ns ...*Node) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range ns {
		k.nodes[n.ID()] = n
	}
}

func (k *killer) saw(e *observe.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.nodes[e.Node]
	if k.victim != nil || n == nil || !k.pick(e) {
		return
	}
	k.victim, k.at = n, time.Now()
	go func() {
		n.Close()
		close(k.done)
	}()
}

// tee sends a node's events to its recorder and to the killer.
type tee struct {
	rec *recorder
	k   *killer
}

func (t tee) Event(e *observe.Event) {
	t.rec.Event(e)
	t.k.saw(e)
}

// settleFinal polls the nodes until every newcomer among them has an outcome (connected,
// or failed and reported), no node is waiting, locked or holding requests, no timer is
// pending, and nothing changed between two polls. Messages in flight do not count: those
// written to a node that then died are never delivered nor dropped.
//
// A node next to a dead node (gone) may stay busy: an insertion it committed, the undo of
// one, or a newcomer's request to be unlinked waits for that node, which no retry can replace, and predlock-retry
// never gives a committed insertion up on its own (docs/protocol.md).
func settleFinal(nodes []*Node, gone protocol.ID, deadline time.Duration) ([]Status, bool) {
	end := time.Now().Add(deadline)
	var prev []Status
	for {
		sts := statuses(nodes)
		final := true
		for i := range sts {
			s := &sts[i]
			if (s.Right == gone || s.Left == gone) && (s.Locked || s.Waiting) {
				continue
			}
			if (!s.Member && (s.JoinStart == 0 || !(s.Connected || s.Failed))) || s.Waiting || s.Locked || s.Queue > 0 || s.Timers > 0 {
				final = false
			}
		}
		if final && slices.Equal(sts, prev) {
			return sts, true
		}
		if time.Now().After(end) {
			return sts, false
		}
		prev = sts
		time.Sleep(20 * time.Millisecond)
	}
}

// backoffSum is how long a predlock-retry node waits without progress before it gives up
// (attempts = retries + 1) or, as an owner, unlocks (attempts = retries).
func backoffSum(timeout time.Duration, attempts int) time.Duration {
	var d time.Duration
	for k := range attempts {
		d += timeout << min(k, 4)
	}
	return d
}

// A node killed in the middle of joins (the in-process equivalent of kill -9: listener and
// connections closed at once, goroutines stopped, nobody told) leaves every surviving
// newcomer with an outcome within its timeouts: connected, or failed and reported. No
// survivor stays waiting, locked or with requests unless it waits for the dead node
// (settleFinal), and the safety checker finds nothing
// wrong among the survivors when pointers to the dead node count as pending.
func TestRetryNodeKilledDuringJoins(t *testing.T) {
	const (
		timeout     = 50 * time.Millisecond
		retries     = 4
		peerTimeout = 500 * time.Millisecond
	)
	// A joiner gives up after backoffSum(timeout, retries+1) of silence; a queue of
	// waits behind owners that unlock after backoffSum(timeout, retries) can add to it.
	bound := 2*backoffSum(timeout, retries+1) + backoffSum(timeout, retries) + 3*time.Second
	isMember := map[protocol.ID]bool{}
	cases := []struct {
		name string
		pick func(e *observe.Event) bool
	}{
		// A member with a newcomer's request in hand, before it answers.
		{"member on a connect", func(e *observe.Event) bool {
			return isMember[e.Node] && e.Kind == observe.KindDeliver && e.MsgType == protocol.Connect
		}},
		// A member that has offered a newcomer its place: locked, its right pointer unmoved.
		{"member after welcome", func(e *observe.Event) bool {
			return isMember[e.Node] && e.Kind == observe.KindSend && e.MsgType == protocol.Welcome
		}},
		// A member whose right pointer already names the newcomer, before the successor
		// has switched its left pointer.
		{"member after set_left", func(e *observe.Event) bool {
			return isMember[e.Node] && e.Kind == observe.KindSend && e.MsgType == protocol.SetLeft && e.To != e.Node
		}},
		// A newcomer that has been offered its place and has both pointers set.
		{"joiner when welcomed", func(e *observe.Event) bool {
			return !isMember[e.Node] && e.Kind == observe.KindDeliver && e.MsgType == protocol.Welcome
		}},
		// A newcomer that is in, and busy inserting another one.
		{"joiner serving a join", func(e *observe.Event) bool {
			return !isMember[e.Node] && e.Kind == observe.KindSend && e.MsgType == protocol.Welcome
		}},
	}
	outcomes := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var recs recorders
			k := newKiller(tc.pick)
			seed := layoutSeed(t, 11)
			tr := startRing(t, ringConfig{members: 6, joiners: 18, protocol: "predlock-retry", seed: seed,
				tune: func(c *Config) {
					c.Timeout, c.Retries, c.PeerTimeout = timeout, retries, peerTimeout
					recs.tune(c)
					c.Tracer = tee{rec: recs.of(c.ID), k: k}
				}})
			for _, m := range tr.members {
				isMember[m.ID()] = true
			}
			k.add(tr.all()...)
			select {
			case <-k.done:
			case <-time.After(5 * time.Second):
				// The joins are over within a fraction of that; in this layout the event
				// did not happen (no newcomer got to insert another, say).
				t.Skipf("seed %d: no node was killed: the event never came", seed)
			}
			victim := k.victim
			survivors := without(tr.all(), victim)
			sts, final := settleFinal(survivors, victim.ID(), bound+2*time.Second)
			if !final {
				t.Fatalf("seed %d: survivors not final %v after the kill of %v:\n%s", seed, bound+2*time.Second, victim.ID(), describe(sts))
			}
			for _, n := range survivors {
				status(t, n.Addr()) // nobody is stuck: each answers over the network
			}

			// Every surviving newcomer's outcome, and when it came.
			joined, failed := 0, 0
			var last time.Duration
			for _, s := range sts {
				if s.Member {
					continue
				}
				var end int64
				switch {
				case s.Connected:
					joined++
					end = s.JoinEnd
				case s.Failed:
					failed++
					fs := recs.of(s.ID).find(observe.KindFault, "join failed")
					if len(fs) != 1 {
						t.Errorf("newcomer %v failed with %d failure events", s.ID, len(fs))
						continue
					}
					end = fs[0].Time
				}
				if after := time.Duration(end - k.at.UnixNano()); after > last {
					last = after
				}
			}
			if last > bound {
				t.Errorf("the last join ended %v after the kill, more than %v", last, bound)
			}
			if v := CheckLive(sts, []protocol.ID{victim.ID()}, tr.ring); v != nil {
				t.Errorf("seed %d: %s: %s\n%s", seed, v.Property, v.Detail, describe(sts))
			}
			outcome, detail, _ := ClassifyLive(sts, []protocol.ID{victim.ID()}, tr.ring, false)
			switch outcome {
			case observe.OutcomeOK, observe.OutcomeJoinFailed, observe.OutcomeWrongNeighbours:
			default:
				t.Errorf("seed %d: outcome %s (%s)\n%s", seed, outcome, detail, describe(sts))
			}
			role := "joiner"
			if isMember[victim.ID()] {
				role = "member"
			}
			outcomes[fmt.Sprintf("%s: %s", tc.name, outcome)]++
			t.Logf("killed %s %v; survivors final %v after the kill: %s (%s); of %d surviving newcomers %d joined, %d failed; last outcome %v after the kill",
				role, victim.ID(), time.Since(k.at).Round(10*time.Millisecond), outcome, detail,
				joined+failed, joined, failed, last.Round(time.Millisecond))
		})
	}
	t.Logf("outcomes: %v", outcomes)
}
