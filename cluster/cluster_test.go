package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/trace"
)

// The joins table of a process cluster comes from the merged events: spans from the
// joiners' own join events, messages and hops from the sends made on their behalf.
func TestJoinsOf(t *testing.T) {
	send := func(from, joiner int64, mt string) trace.Event {
		return trace.Event{Kind: trace.KindSend, Node: from, From: from, Joiner: joiner, MsgType: mt}
	}
	at := func(kind string, node, ns int64) trace.Event {
		return trace.Event{Kind: kind, Node: node, TimeNs: ns, Joiner: node}
	}
	joiners := []joiner{{id: 7, contact: 1}, {id: 8, contact: 1}, {id: 9, contact: 2, failed: true}, {id: 10, contact: 2}}
	events := []trace.Event{
		at(trace.KindJoinStart, 7, 100),
		send(7, 7, "connect"),
		send(1, 7, "connect_redirect"),
		send(2, 7, "connect_redirect"),
		at(trace.KindJoinEnd, 7, 400),
		at(trace.KindJoinEnd, 7, 500), // only the first end counts
		send(1, 8, "connect"),
		at(trace.KindJoinEnd, 8, 300), // a join whose start was not traced
		at(trace.KindJoinStart, 9, 150),
		send(3, -1, "connect_redirect"), // a member's redirect no joiner claims
		send(3, 3, "connect_redirect"),  // a member's own join (--build join): not a joiner
		at(trace.KindJoinStart, 10, 160),
	}
	joins, redirects := joinsOf(events, joiners, 50)
	want := []trace.Join{
		{Joiner: 7, Contact: 1, StartNs: 100, EndNs: 400, Hops: 2, Messages: 3, Outcome: trace.OutcomeOK},
		{Joiner: 8, Contact: 1, StartNs: 50, EndNs: 300, Hops: 0, Messages: 1, Outcome: trace.OutcomeOK},
		{Joiner: 9, Contact: 2, StartNs: 150, EndNs: -1, Outcome: trace.OutcomeFailed},
		{Joiner: 10, Contact: 2, StartNs: 160, EndNs: -1, Outcome: trace.OutcomeNotJoined},
	}
	if !slices.Equal(joins, want) {
		t.Errorf("joins\n got %+v\nwant %+v", joins, want)
	}
	if redirects != 4 {
		t.Errorf("%d redirects, want 4", redirects)
	}
}

func TestResultPrint(t *testing.T) {
	o := &Options{Members: 3, Joiners: 4, Build: "prebuilt", Protocol: "predlock-retry", Bits: 16, Seed: 4, Out: "results/c",
		ChurnSettle: DefaultChurnSettle, ChurnInterval: time.Second}
	signal := time.Unix(100, 0)
	for _, tc := range []struct {
		name string
		res  Result
		want string
	}{
		{"ok", Result{Outcome: "ok", Joins: 4, JoinSignal: signal, Settled: signal.Add(1500 * time.Millisecond),
			Latencies: []int64{1e6, 2e6, 3e6, 4e6}, FirstStart: 0, LastEnd: 5e6,
			Statuses: []node.Status{{Sent: 10, Dropped: 1}, {Sent: 5}}},
			`cluster: 3 members (prebuilt) + 4 joiners, protocol predlock-retry, 16 bits, seed 4
outcome: ok
joins: 4/4 ok in 5ms (800 joins/s); latency p50 2ms p99 4ms max 4ms
messages: 15 sent, 1 dropped; settled 1.5s after the join signal
results: results/c
`},
		{"failed and late", Result{Outcome: "not_joined", Detail: "2 joiners not connected", Violation: "ordered_ring",
			Failed: 1, Joins: 4, Late: true, JoinSignal: signal, Settled: signal.Add(30 * time.Second)},
			`cluster: 3 members (prebuilt) + 4 joiners, protocol predlock-retry, 16 bits, seed 4
outcome: not_joined (2 joiners not connected)
safety: ordered_ring broken in the final state
joins: 0/4 ok, 1 failed (gave up and reported it)
messages: 0 sent, 0 dropped; settled 30s after the join signal (deadline passed)
results: results/c
`},
		{"churn", Result{Outcome: "under_replicated", Detail: "3 of 64 keys have fewer than 3 live copies (fewest 2)", Joins: 2,
			Latencies: []int64{1e6, 3e6}, FirstStart: 0, LastEnd: 4e9,
			JoinSignal: signal, Settled: signal.Add(9 * time.Second),
			Churn: &Churn{Killed: []protocol.ID{1, 2, 3}, Started: []protocol.ID{4, 5}, Start: signal.Add(time.Second),
				End: signal.Add(5 * time.Second), RingCorrect: signal.Add(5*time.Second + 500*time.Millisecond)},
			Keys: &KeyCheck{Keys: 64, Want: 3, MinCopies: 2, MaxCopies: 4, Under: 3, Got: true}},
			`cluster: 3 members (prebuilt) + 4 joiners, protocol predlock-retry, 16 bits, seed 4
outcome: under_replicated (3 of 64 keys have fewer than 3 live copies (fewest 2))
joins: 2/2 ok; latency p50 1ms p99 3ms max 3ms
messages: 0 sent, 0 dropped; settled 9s after the join signal
churn: 3 killed (SIGKILL), 2 started, one event every 1s over 4s; ring correct 500ms (0.5 stabilization periods) after the last event
keys: 64 put, 64 reachable, live copies min 2 max 4 (want 3), 3 under-replicated
results: results/c
`},
		{"churn not repaired", Result{Outcome: "wrong_neighbours", Detail: "node 5 has left=1 right=3, want left=1 right=4",
			JoinSignal: signal, Settled: signal.Add(9 * time.Second), Late: true,
			Churn: &Churn{Killed: []protocol.ID{3}, Start: signal, End: signal},
			Keys:  &KeyCheck{Keys: 10, Want: 1, MinCopies: 0, MaxCopies: 1, Lost: 2, Under: 2, Unreachable: 4, Got: true}},
			`cluster: 3 members (prebuilt) + 4 joiners, protocol predlock-retry, 16 bits, seed 4
outcome: wrong_neighbours (node 5 has left=1 right=3, want left=1 right=4)
joins: 0/0 ok
messages: 0 sent, 0 dropped; settled 9s after the join signal (deadline passed)
churn: 1 killed (SIGKILL), 0 started, one event every 1s over 0s; ring not correct 20 stabilization periods after the last event
keys: 10 put, 6 reachable, live copies min 0 max 1 (want 1), 2 lost
results: results/c
`},
	} {
		var b strings.Builder
		tc.res.Print(&b, o)
		if b.String() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, b.String(), tc.want)
		}
	}
}

// A node process that ended without being killed is found by the poll that fails, and
// becomes the run's crash rather than an error of the cluster; killed nodes are not polled.
func TestFindCrash(t *testing.T) {
	running, gone, killed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	close(gone)
	close(killed)
	cl := &cluster{procs: []*proc{{id: 1, exited: running}, {id: 2, exited: killed, killed: true},
		{id: 3, exited: gone, waitErr: errors.New("exit status 2")}}}
	poll := errors.New("node 3: connection refused")
	err := cl.findCrash(poll)
	var c *crashedNode
	if !errors.As(err, &c) || c.p.id != 3 || c.Error() != "node 3 exited by itself (exit status 2)" {
		t.Fatalf("got %v", err)
	}
	if live := cl.live(); len(live) != 1 || live[0].id != 1 || !slices.Equal(cl.dead, []protocol.ID{3}) {
		t.Errorf("live %v, dead %v", live, cl.dead)
	}
	if err := cl.findCrash(poll); err != poll {
		t.Errorf("no other node ended: got %v, want the poll's error", err)
	}
}
