package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
)

// InProcess runs a sweep's cluster-mode configurations (runner.Options.Real): the random
// scenario's layout on in-process nodes that talk TCP over loopback, judged as Run judges
// its processes. In-process nodes start in milliseconds, where processes take a good part
// of a second each, which is what makes a grid of real runs affordable.
type InProcess struct{}

var _ runner.RealRunner = InProcess{}

const (
	// realPoll is how often a run's statuses are read while it settles. It bounds how long
	// a run lasts after it went quiet, not any latency: those are the nodes' own times.
	realPoll = 5 * time.Millisecond
	// realPeerTimeout is the nodes' PeerTimeout, as "dhtexp cluster" passes it. On
	// loopback no live peer is unreachable, so it only matters if a node failed.
	realPeerTimeout = 2 * time.Second
	// realJoinTimeout bounds a joiner's identify exchange with its contact, which is up
	// before the joiners start.
	realJoinTimeout = 5 * time.Second
)

// counter counts one node's events; the node calls it from its protocol goroutine only,
// and it is read once the node has stopped.
type counter struct {
	events int64
	sends  *observe.JoinSends
}

func (c *counter) Event(e *observe.Event) {
	c.events++
	if e.Kind == observe.KindSend {
		c.sends.Send(e.MsgType, e.Joiner)
	}
}

// RunReal runs a cluster-mode configuration: members start as a correct ring on pre-bound
// listeners, joiners identify their contacts and then start their joins at the scenario's
// start times after one common instant (time 0), and the run ends when the nodes are quiet
// or cfg.Horizon after time 0. Every node is stopped before it returns.
func (InProcess) RunReal(ctx context.Context, cfg sim.Config) (*sim.Result, error) {
	specs, err := sim.Layout(cfg)
	if err != nil {
		return nil, err
	}
	ring := protocol.Ring{Bits: cfg.Bits}
	nodes := make([]*node.Node, len(specs))
	counters := make([]*counter, len(specs))
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			if n != nil {
				wg.Go(n.Close)
			}
		}
		wg.Wait()
	}()
	base := func(i int) node.Config {
		counters[i] = &counter{sends: observe.NewJoinSends()}
		return node.Config{Protocol: cfg.Protocol, Bits: cfg.Bits, ID: specs[i].ID,
			Timeout: time.Duration(cfg.Timeout), Retries: cfg.Retries, Tracer: counters[i],
			PeerTimeout: realPeerTimeout, JoinTimeout: realJoinTimeout}
	}

	// Every member's port is bound before any member starts, so that each can be told
	// where its neighbours listen.
	lns := map[protocol.ID]net.Listener{}
	defer func() {
		for _, ln := range lns {
			ln.Close() // those no node took over; closing one twice is harmless
		}
	}()
	for _, sp := range specs {
		if sp.Member {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			lns[sp.ID] = ln
		}
	}
	addr := func(id protocol.ID) string { return lns[id].Addr().String() }
	for i, sp := range specs {
		if !sp.Member {
			continue
		}
		c := base(i)
		c.Listener, c.Member = lns[sp.ID], true
		c.Left, c.Right = node.Peer{ID: sp.Left, Addr: addr(sp.Left)}, node.Peer{ID: sp.Right, Addr: addr(sp.Right)}
		if nodes[i], err = node.StartContext(ctx, c); err != nil {
			return nil, fmt.Errorf("member %v: %w", sp.ID, err)
		}
	}
	// Joiners start (and identify their contacts) in parallel, and hold their joins.
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		if sp.Member {
			continue
		}
		c := base(i)
		c.Listen, c.Join, c.DeferJoin = "127.0.0.1:0", addr(sp.Contact), true
		wg.Go(func() {
			if nodes[i], errs[i] = node.StartContext(ctx, c); errs[i] != nil {
				errs[i] = fmt.Errorf("joiner %v: %w", sp.ID, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	t0 := time.Now()
	var timers []*time.Timer
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	for i, sp := range specs {
		switch {
		case sp.Member:
		case sp.Start == 0:
			nodes[i].StartJoin()
		default:
			timers = append(timers, time.AfterFunc(time.Duration(sp.Start), nodes[i].StartJoin))
		}
	}

	// Settle: every join started, nothing in flight, no timer pending, and nothing
	// changed between two polls; or the horizon.
	deadline := t0.Add(time.Duration(cfg.Horizon))
	sts := make([]node.Status, len(nodes))
	var prev []node.Status
	late := false
	for {
		for i, n := range nodes {
			sts[i] = n.Status()
		}
		if node.Quiet(sts) && slices.Equal(sts, prev) {
			break
		}
		if time.Now().After(deadline) {
			late = true
			break
		}
		prev = slices.Clone(sts)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(realPoll):
		}
	}
	settled := time.Since(t0)

	res := &sim.Result{SimTime: int64(settled)}
	res.Outcome, res.Detail, res.RingCorrect = node.Classify(sts, ring, late)
	res.Final = make([]protocol.State, len(sts))
	for i := range sts {
		res.Final[i] = sts[i].State()
		res.Messages += sts[i].Sent
	}
	res.Violation = observe.CheckSafety(res.Final, ring)
	slices.SortFunc(res.Final, func(a, b protocol.State) int { return cmp.Compare(a.ID, b.ID) })

	// The counters are read once every node has stopped.
	for _, n := range nodes {
		n.Close()
	}
	zero := t0.UnixNano()
	for i, sp := range specs {
		c := counters[i]
		res.Events += c.events
		res.Redirects += c.sends.Redirects
		if sp.Member {
			continue
		}
		// In the simulator's order: newcomers in creation order.
		st := &sts[i]
		j := sim.JoinRecord{Joiner: sp.ID, Contact: sp.Contact, Start: -1, End: -1, Outcome: observe.JoinNotJoined}
		for _, cn := range counters {
			j.Messages += cn.sends.Messages[sp.ID]
			j.Hops += cn.sends.Hops[sp.ID]
		}
		if st.JoinStart != 0 {
			j.Start = st.JoinStart - zero
		}
		switch {
		case st.JoinEnd != 0:
			j.End, j.Outcome = st.JoinEnd-zero, observe.JoinOK
		case st.Failed && !st.Connected:
			j.Outcome = observe.JoinFailed
		}
		res.Joins = append(res.Joins, j)
	}
	return res, nil
}
