package node

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// recorders hands every node of a test ring its own recorder.
type recorders struct {
	mu sync.Mutex
	by map[protocol.ID]*recorder
}

func (rs *recorders) tune(c *Config) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.by == nil {
		rs.by = map[protocol.ID]*recorder{}
	}
	r := &recorder{}
	rs.by[c.ID] = r
	c.Tracer = r
}

func (rs *recorders) of(id protocol.ID) *recorder {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.by[id]
}

// settleQuiet polls the nodes until their statuses have not changed for quiet, or until
// the deadline; it says whether they went quiet.
func settleQuiet(nodes []*Node, quiet, deadline time.Duration) ([]Status, bool) {
	end := time.Now().Add(deadline)
	prev, since := statuses(nodes), time.Now()
	for time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
		sts := statuses(nodes)
		if !slices.Equal(sts, prev) {
			prev, since = sts, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return sts, true
		}
	}
	return prev, false
}

func without(nodes []*Node, dead *Node) []*Node {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *Node) bool { return n == dead })
}

// A node killed while joins are under way leaves the others with a reported outcome: no
// panic, every survivor answers, messages for the dead node are dropped and traced once
// it has been unreachable for PeerTimeout, and the survivors go quiet.
//
// What cannot hold with the protocols as they are: a newcomer whose insertion the dead
// node was running waits for ever (predlock has no timeouts), so the ring is not repaired
// and the outcome is not ok.
func TestNodeKilledDuringJoins(t *testing.T) {
	const peerTimeout = 500 * time.Millisecond
	for _, when := range []string{"before its joiners' connect", "while locked for an insertion"} {
		t.Run(strings.ReplaceAll(when, " ", "_"), func(t *testing.T) {
			var recs recorders
			tr := startRing(t, ringConfig{members: 6, joiners: 18, protocol: "predlock", seed: 7,
				tune: func(c *Config) { c.PeerTimeout = peerTimeout; recs.tune(c) }})
			// The victim is the contact of the first joiner.
			var victim *Node
			for _, m := range tr.members {
				if m.ID() == tr.contacts[0] {
					victim = m
				}
			}
			switch when {
			case "before its joiners' connect":
				time.Sleep(time.Until(tr.joinAt) - 5*time.Millisecond)
				victim.Close()
			default:
				end := tr.joinAt.Add(2 * time.Second)
				for !victim.Status().Locked && time.Now().Before(end) {
					time.Sleep(50 * time.Microsecond)
				}
				if !victim.Status().Locked {
					t.Skip("the victim never locked: every insertion finished between two polls")
				}
				victim.Close()
			}
			killed := time.Now()
			survivors := without(tr.all(), victim)
			sts, quiet := settleQuiet(survivors, peerTimeout+300*time.Millisecond, 10*time.Second)
			if !quiet {
				t.Fatalf("survivors still busy 10s after the kill:\n%s", describe(sts))
			}
			for _, n := range survivors {
				status(t, n.Addr()) // over the network: nobody is stuck
			}
			outcome, detail, _ := ClassifyLive(sts, []protocol.ID{victim.ID()}, tr.ring, true)
			if !slices.Contains(observe.Outcomes, outcome) || outcome == observe.OutcomeOK || outcome == observe.OutcomeCrash {
				t.Fatalf("outcome %s (%s)", outcome, detail)
			}
			joined := 0
			for _, s := range sts {
				if !s.Member && s.Connected {
					joined++
				}
			}
			t.Logf("killed %v %s: survivors quiet %v after the kill: %s (%s); %d of 18 joined",
				victim.ID(), when, time.Since(killed).Round(10*time.Millisecond), outcome, detail, joined)

			// Whoever had messages for the victim traced them as drops and the victim as
			// unreachable.
			drops, faults := 0, 0
			for _, n := range survivors {
				r := recs.of(n.ID())
				for _, e := range r.find(observe.KindDrop, "") {
					if e.To == victim.ID() {
						drops++
					}
				}
				faults += len(r.find(observe.KindFault, "unreachable"))
			}
			var sent int64
			for _, s := range sts {
				sent += s.Sent
			}
			if when == "before its joiners' connect" && (drops == 0 || faults == 0) {
				t.Errorf("%d drops of messages to the victim, %d unreachable faults; want some of each", drops, faults)
			}
			t.Logf("%d messages to the victim dropped, %d unreachable faults", drops, faults)
		})
	}
}

// With repair a node that dies without a word is found dead by unanswered probes, cut out
// of the ring, and its keys are served by its successor from their copies: every variant is
// booted alike, so the members' stabilization runs from the start.
func TestRepairNodeKilled(t *testing.T) {
	const period = 100 * time.Millisecond
	tune := func(c *Config) {
		c.Replicas, c.Stabilize, c.Timeout, c.PeerTimeout = 2, period, 50*time.Millisecond, 500*time.Millisecond
	}
	d := startDHT(t, ringConfig{protocol: "repair", tune: tune}, []protocol.ID{3000, 14000, 27000, 39000, 52000, 60000})
	keys := d.putKeys(30)
	copies := func() int {
		n := 0
		for _, nd := range d.nodes {
			items, reps, _ := nd.Stored()
			n += len(items) + len(reps)
		}
		return n
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		end := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v\n%s", what, limit, describe(statuses(d.nodes)))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("3 copies of every key", 20*period, func() bool { return copies() == 3*len(keys) })
	// Members laid out beforehand know only their right neighbour: the first rounds fill
	// their successor lists, without which a node cannot see past a dead successor.
	time.Sleep(3 * period)

	victim := d.nodes[2]
	victim.Close()
	d.remove(victim)
	killed := time.Now()
	waitFor("the survivors' ring right and every key copied 3 times again", 30*period, func() bool {
		outcome, _, _ := ClassifyLive(statuses(d.nodes), []protocol.ID{victim.ID()}, d.ring, false)
		return outcome == observe.OutcomeOK && copies() == 3*len(keys)
	})
	t.Logf("repaired %v (%.1f periods) after the kill", time.Since(killed).Round(time.Millisecond), time.Since(killed).Seconds()/period.Seconds())
	d.check(keys)
}
