package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// Faults are failures the simulator injects (async timing model only). Every decision draws
// from the run's fault stream, so switching a fault on does not reshuffle message delays.
type Faults struct {
	Loss          float64 // probability that a message is lost
	Duplicate     float64 // probability that a message is delivered twice (the copy has its own delay)
	ReorderWindow int64   // extra delay drawn uniformly from [0, ReorderWindow] per message; reorders non-FIFO links
	SpikeProb     float64 // probability that a message suffers a delay spike
	Spike         int64   // extra delay of a spike
	// CrashNode picks the node that crashes: "" (none), "random", "member", "joiner", or an ID.
	CrashNode string
	// CrashAt is when it crashes, unless CrashAfter names a message type: then it crashes
	// right after it first sends one (with CrashNode "random", whichever node sends it first).
	CrashAt    int64
	CrashAfter string
	// RestartAfter brings the crashed node back after this long with the state it had (its
	// state is durable) and none of its timers, which it re-arms (protocol.Restarter);
	// messages sent to it while it was down are lost. Zero: it stays down.
	RestartAfter int64
	// PartitionFraction > 0 splits the nodes at PartitionAt: each node lands on the minority
	// side with this probability; messages across the cut are lost until HealAt (0: never).
	PartitionFraction float64
	PartitionAt       int64
	HealAt            int64
}

// Active reports whether any fault is configured.
func (f *Faults) Active() bool {
	return f.Loss > 0 || f.Duplicate > 0 || f.ReorderWindow > 0 || f.SpikeProb > 0 ||
		f.CrashNode != "" || f.PartitionFraction > 0
}

func probability(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("faults.%s must be a probability in [0, 1], got %g", name, p)
	}
	return nil
}

// Validate names the first impossible fault parameter.
func (f *Faults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.Loss}, {"duplicate", f.Duplicate}, {"spike_prob", f.SpikeProb}, {"partition_fraction", f.PartitionFraction}} {
		if err := probability(p.name, p.v); err != nil {
			return err
		}
	}
	if f.Loss == 1 {
		return fmt.Errorf("faults.loss = 1 loses every message; use a value below 1")
	}
	if f.ReorderWindow < 0 || f.Spike < 0 || f.CrashAt < 0 || f.RestartAfter < 0 || f.PartitionAt < 0 || f.HealAt < 0 {
		return fmt.Errorf("fault durations must not be negative")
	}
	if f.SpikeProb > 0 && f.Spike == 0 {
		return fmt.Errorf("faults.spike must be positive when faults.spike_prob is set")
	}
	switch f.CrashNode {
	case "", "random", "member", "joiner":
	default:
		if _, err := strconv.ParseUint(f.CrashNode, 10, 64); err != nil {
			return fmt.Errorf("faults.crash_node must be random, member, joiner or a node ID, got %q", f.CrashNode)
		}
	}
	if f.CrashAfter != "" {
		if _, err := protocol.ParseMsgType(f.CrashAfter); err != nil {
			return fmt.Errorf("faults.crash_after: %v", err)
		}
		if f.CrashNode == "" {
			return fmt.Errorf("faults.crash_after needs faults.crash_node")
		}
	}
	if f.HealAt > 0 && f.HealAt <= f.PartitionAt {
		return fmt.Errorf("faults.heal_at must come after faults.partition_at")
	}
	return nil
}

// faultState is the simulator's side of fault injection.
type faultState struct {
	on          bool
	rng         *rand.Rand
	crashIdx    int32            // the chosen node, or -1 for "whoever first sends CrashAfter"
	crashType   protocol.MsgType // zero: crash at CrashAt
	crashed     bool             // the crash fault has fired
	partitioned bool
	side        []bool
}

func (s *Sim) initFaults() {
	f := &s.cfg.Faults
	fs := &s.faults
	fs.on = f.Active()
	fs.crashIdx = -1
	if !fs.on {
		return
	}
	fs.rng = newStream(s.cfg.Seed, streamFaults)
	var candidates []int32
	for i := range s.nodes {
		n := &s.nodes[i]
		switch f.CrashNode {
		case "random":
			candidates = append(candidates, int32(i))
		case "member":
			if n.member {
				candidates = append(candidates, int32(i))
			}
		case "joiner":
			if !n.member {
				candidates = append(candidates, int32(i))
			}
		case "":
		default:
			if id, _ := strconv.ParseUint(f.CrashNode, 10, 64); protocol.ID(id) == n.id {
				candidates = append(candidates, int32(i))
			}
		}
	}
	if f.CrashAfter != "" {
		fs.crashType, _ = protocol.ParseMsgType(f.CrashAfter)
	}
	if len(candidates) > 0 && (f.CrashAfter == "" || f.CrashNode != "random") {
		fs.crashIdx = candidates[fs.rng.IntN(len(candidates))]
	}
	if f.CrashNode != "" && f.CrashAfter == "" && fs.crashIdx >= 0 {
		s.q.push(f.CrashAt, evCrash, fs.crashIdx)
	}
	if f.PartitionFraction > 0 {
		fs.side = make([]bool, len(s.nodes))
		for i := range fs.side {
			fs.side[i] = fs.rng.Float64() < f.PartitionFraction
		}
		s.q.push(f.PartitionAt, evPartition, 0)
		if f.HealAt > 0 {
			s.q.push(f.HealAt, evHeal, 0)
		}
	}
}

// faultOnSend decides a message's fate: lost, delayed further, duplicated. It returns the
// delivery times (0, 1 or 2 of them) in at.
func (s *Sim) faultOnSend(n *node, m *protocol.Message, at int64, out *[2]int64) int {
	f := &s.cfg.Faults
	fs := &s.faults
	if f.Loss > 0 && fs.rng.Float64() < f.Loss {
		s.emitFault(n, m, "loss")
		return 0
	}
	k := 0
	for copy := 0; copy < 2; copy++ {
		t := at
		if copy == 1 {
			if !(f.Duplicate > 0 && fs.rng.Float64() < f.Duplicate) {
				break
			}
			t = s.now + s.sampler.draw(s.delays)
			s.emitFault(n, m, "duplicate")
		}
		if f.ReorderWindow > 0 {
			t += fs.rng.Int64N(f.ReorderWindow + 1)
		}
		if f.SpikeProb > 0 && fs.rng.Float64() < f.SpikeProb {
			t += f.Spike
			s.emitFault(n, m, "spike")
		}
		out[k] = t
		k++
	}
	return k
}

// crashAfterSend reports whether node i must crash now, having just sent m.
func (s *Sim) crashAfterSend(i int32, m *protocol.Message) bool {
	fs := &s.faults
	if fs.crashType == 0 || fs.crashed || m.Type != fs.crashType {
		return false
	}
	if fs.crashIdx >= 0 && fs.crashIdx != i {
		return false
	}
	s.crash(i)
	return true
}

func (s *Sim) crash(i int32) {
	n := &s.nodes[i]
	if n.down {
		return
	}
	s.faults.crashed = true
	n.down = true
	s.check.SetDown(i, true)
	s.keyStepped(i)
	if s.kv.on {
		s.ringUpdate(i)
		if n.join >= 0 {
			s.joinEnded(n.join)
		}
	}
	s.emitDetail(observe.KindFault, n, "crash")
	if r := s.cfg.Faults.RestartAfter; r > 0 {
		s.q.push(s.now+r, evRestart, i)
	}
}

func (s *Sim) restart(i int32) {
	n := &s.nodes[i]
	n.down = false
	n.life++
	s.check.SetDown(i, false)
	s.keyStepped(i)
	s.ringUpdate(i)
	s.emitDetail(observe.KindFault, n, "restart")
	if s.cfg.Timing == "seed" {
		return
	}
	if !n.member && n.p.WantsToJoin() && s.now >= n.start {
		s.asyncStart(i) // it was down when its join was due
		return
	}
	s.perform(i, &protocol.Input{Kind: protocol.InputRestart})
}

// cut reports whether a message from a to b is lost to the partition right now.
func (s *Sim) cut(a, b int32) bool {
	fs := &s.faults
	return fs.partitioned && a >= 0 && b >= 0 && fs.side[a] != fs.side[b]
}

func (s *Sim) emitFault(n *node, m *protocol.Message, what string) {
	if s.tracer == nil {
		return
	}
	e := &s.ev
	*e = observe.Event{Seq: e.Seq, Time: s.now, Kind: observe.KindFault, Node: n.id, MsgType: m.Type, From: m.From, To: m.To,
		Joiner: m.Joiner, Left: n.st.Left, Right: n.st.Right, Detail: what}
	s.tracer.Event(e)
	e.Seq++
}
