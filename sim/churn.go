package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// Churn draws from two streams of its own, so that switching it on reshuffles nothing else:
// the arrivals (times and IDs) as the scenario is laid out, and what happens during the run
// (sessions, crash or leave, contacts).
const (
	streamChurn    uint64 = 0x636875726e000000 // arrival times and IDs
	streamChurnRun uint64 = 0x636875726e72756e // sessions, departure kinds, contacts
)

// internalOp marks operation numbers a node uses for its own maintenance (finger refresh);
// protocol.Request says that numbers with the top bit set are the node's own.
const internalOp = uint64(1) << 63

// sessionDist turns the configured median and shape into a sampler and its mean.
type sessionDist struct {
	kind  string
	scale float64 // exponential: mean; weibull: lambda; pareto: x_m
	shape float64
}

func newSessionDist(c *Churn) sessionDist {
	m := float64(c.Median)
	switch c.Session {
	case "weibull":
		return sessionDist{kind: c.Session, scale: m / math.Pow(math.Ln2, 1/c.Shape), shape: c.Shape}
	case "pareto":
		return sessionDist{kind: c.Session, scale: m / math.Pow(2, 1/c.Shape), shape: c.Shape}
	}
	return sessionDist{kind: "exponential", scale: m / math.Ln2}
}

// mean is the distribution's mean session length in ns.
func (d sessionDist) mean() float64 {
	switch d.kind {
	case "weibull":
		return d.scale * math.Gamma(1+1/d.shape)
	case "pareto":
		return d.shape * d.scale / (d.shape - 1)
	}
	return d.scale
}

// draw is one session length in ns, at least 1.
func (d sessionDist) draw(r *rand.Rand) int64 {
	var x float64
	switch d.kind {
	case "weibull":
		x = d.scale * math.Pow(r.ExpFloat64(), 1/d.shape)
	case "pareto":
		x = d.scale * math.Pow(1-r.Float64(), -1/d.shape)
	default:
		x = d.scale * r.ExpFloat64()
	}
	if x >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return max(int64(x), 1)
}

// churnArrivals appends the newcomers that arrive while churn runs: a Poisson process of rate
// nodes / mean session, with IDs distinct from every other node. Their contacts are chosen
// when they arrive, among the nodes live then.
func churnArrivals(c *Config, specs []Spec) ([]Spec, error) {
	r := newStream(c.Seed, streamChurn)
	d := newSessionDist(&c.Churn)
	rate := float64(c.Nodes) / d.mean() // arrivals per ns
	space := (protocol.Ring{Bits: c.Bits}).Size()
	stop := c.Churn.Stop()
	var times []int64
	for t := 0.0; ; {
		t += r.ExpFloat64() / rate
		if t >= float64(stop) {
			break
		}
		times = append(times, int64(t))
		if len(specs)+len(times) > MaxNodes {
			return nil, fmt.Errorf("churn.median: %d arrivals exceed the %d nodes a run may have", len(times), MaxNodes)
		}
		if uint64(len(specs)+len(times)) > space/2 {
			return nil, fmt.Errorf("churn.median: %d members and %d arrivals crowd a %d-bit ID space; use more bits", c.Nodes, len(times), c.Bits)
		}
	}
	seen := newIDSet(len(specs) + len(times))
	for i := range specs {
		seen.add(specs[i].ID)
	}
	for _, t := range times {
		var id protocol.ID
		for {
			if id = protocol.ID(r.Uint64N(space)); seen.add(id) {
				break
			}
		}
		specs = append(specs, Spec{ID: id, Contact: protocol.None, Start: t})
	}
	return specs, nil
}

// churnState is the simulator's side of churn.
type churnState struct {
	on        bool
	rng       *rand.Rand
	stop      int64 // churn stops: no arrival or departure from here on
	from      int64 // the measurement window is [from, stop)
	judge     int64 // the end check
	period    int64 // stabilization period
	tick      int64 // interval of the ring checks after churn stops
	crash     []bool
	deferred  []bool // the departure came while the node was still joining
	counted   []bool // the node counts as live
	live      int
	liveSince int64
	liveArea  float64
	judged    bool
	lat       []int64
	lostKey   []bool
	guard     int64         // churn.crash_guard in ns (0: off)
	recent    []recentCrash // crashes within the last guard
	ringBuf   []protocol.ID
	sum       ChurnSummary
}

// recentCrash is a crash the guard still holds against the crashing node's neighbours.
type recentCrash struct {
	id protocol.ID
	at int64
}

// initChurn schedules every arrival and every departure before churn stops. The initial
// members' sessions start with the run, the newcomers' at their arrival.
func (s *Sim) initChurn() {
	cfg := &s.cfg
	ch := &s.churn
	ch.on = true
	ch.rng = newStream(cfg.Seed, streamChurnRun)
	eff := cfg.churnInEffect()
	ch.stop, ch.from = eff.Stop(), eff.Warmup
	ch.judge = ch.stop + eff.Settle
	ch.period = cfg.stabilizePeriod()
	ch.tick = max(ch.period/10, 1)
	ch.guard = int64(eff.CrashGuard) * ch.period
	ch.sum = ChurnSummary{LookupP50: -1, LookupP99: -1, FirstKeyLoss: -1, Repair: -1, Window: ch.stop - ch.from}
	n := len(s.nodes)
	ch.crash, ch.deferred, ch.counted = make([]bool, n), make([]bool, n), make([]bool, n)
	d := newSessionDist(&cfg.Churn)
	for i := range s.nodes {
		nd := &s.nodes[i]
		end := nd.start + d.draw(ch.rng)
		ch.crash[i] = ch.rng.Float64() < cfg.Churn.CrashFraction
		if nd.member {
			ch.counted[i] = true
			ch.live++
		} else {
			s.q.push(nd.start, evArrive, int32(i))
		}
		if end < ch.stop {
			s.q.push(end, evDepart, int32(i))
		}
	}
	ch.liveSince = 0
	s.q.push(ch.stop, evChurnTick, 0)
	if !s.kv.on {
		// Maintenance timers (a repairing variant's stabilization) start at boot, which the
		// workload does otherwise.
		for i := range s.nodes {
			if s.nodes[i].member {
				s.perform(int32(i), &protocol.Input{Kind: protocol.InputBoot})
			}
		}
	}
	if s.kv.on {
		// Operations run until the end check; the wave of joins plays no part.
		s.kv.waveEnded = true
		ch.lostKey = make([]bool, len(s.kv.keys))
	}
}

// setLive counts node i in (true) or out of the live nodes, integrating the count over the
// measurement window.
func (s *Sim) setLive(i int32, live bool) {
	ch := &s.churn
	if !ch.on || ch.counted[i] == live {
		return
	}
	s.accrueLive()
	ch.counted[i] = live
	if live {
		ch.live++
	} else {
		ch.live--
	}
}

func (s *Sim) accrueLive() {
	ch := &s.churn
	lo, hi := max(ch.liveSince, ch.from), min(s.now, ch.stop)
	if hi > lo {
		ch.liveArea += float64(ch.live) * float64(hi-lo)
	}
	ch.liveSince = s.now
}

// inWindow reports whether now is in the measurement window.
func (s *Sim) inWindow() bool { return s.churn.on && s.now >= s.churn.from && s.now < s.churn.stop }

// churnArrive starts a newcomer's join through a random live connected node, its contact.
func (s *Sim) churnArrive(i int32) {
	ch := &s.churn
	var ring []protocol.ID
	if s.kv.on {
		ring = s.liveRing()
	} else {
		ring = s.churnRing(nil)
	}
	if len(ring) == 0 {
		s.emitDetail(observe.KindFault, &s.nodes[i], "arrival: no live node to join through")
		return
	}
	ch.sum.Arrivals++
	contact := ring[ch.rng.IntN(len(ring))]
	n := &s.nodes[i]
	c := s.cfgs[i]
	c.Contact = contact
	n.p, n.contact = s.newNode(c), contact
	if n.join >= 0 {
		s.joins[n.join].Contact = contact
	}
	s.setLive(i, true)
	if !s.kv.on {
		s.perform(i, &protocol.Input{Kind: protocol.InputBoot, Hold: true}) // as asyncStart does with a workload
	}
	s.quiet.flight++ // asyncStart takes the start off the count of what is in flight
	s.asyncStart(i)
}

// churnDepart makes node i leave or crash, as drawn for it. A node still joining leaves once
// its join ends; one whose join failed is gone already.
func (s *Sim) churnDepart(i int32) {
	ch := &s.churn
	n := &s.nodes[i]
	if s.now >= ch.stop || n.down || n.st.Departed || n.st.Leaving {
		return
	}
	if !n.st.Connected {
		if !n.member && !n.st.Failed && n.contact != protocol.None {
			ch.deferred[i] = true
		}
		return
	}
	if ch.crash[i] {
		if until := s.crashGuardUntil(i); until > s.now {
			ch.sum.CrashesPostponed++
			s.q.push(until, evDepart, i)
			return
		}
		if ch.guard > 0 {
			ch.recent = append(ch.recent, recentCrash{id: n.id, at: s.now})
		}
		ch.sum.Crashes++
		if s.kv.on {
			held := len(n.p.Items()) + len(n.p.Replicas())
			s.crash(i)
			if held > 0 {
				s.scanKeyLoss()
			}
		} else {
			s.crash(i)
		}
		s.setLive(i, false)
		return
	}
	ch.sum.Leaves++
	s.leaves++
	s.emitDetail(observe.KindState, n, "leave")
	s.perform(i, &protocol.Input{Kind: protocol.InputLeave})
}

// crashGuardUntil is when node i may crash under churn.crash_guard: now, unless a node that
// crashed less than the guard ago lies among i's r nearest neighbours on either side in the
// ring of live connected nodes (fewer than r of them strictly between the two, on one side or
// the other); then when the last such crash ages out of the guard. Without the guard a
// crash happens at once.
func (s *Sim) crashGuardUntil(i int32) int64 {
	ch := &s.churn
	if ch.guard == 0 {
		return s.now
	}
	ch.recent = slices.DeleteFunc(ch.recent, func(c recentCrash) bool { return c.at+ch.guard <= s.now })
	if len(ch.recent) == 0 {
		return s.now
	}
	ch.ringBuf = s.churnRing(ch.ringBuf)
	r := max(s.kv.w.Replicas, 1)
	x := s.nodes[i].id
	until := s.now
	for _, c := range ch.recent {
		if liveBetween(ch.ringBuf, x, c.id) < r || liveBetween(ch.ringBuf, c.id, x) < r {
			until = max(until, c.at+ch.guard)
		}
	}
	return until
}

// liveBetween counts the IDs of the sorted ring strictly between a and b, going up from a
// (and round past the top).
func liveBetween(ring []protocol.ID, a, b protocol.ID) int {
	ia, fa := slices.BinarySearch(ring, a)
	if fa {
		ia++ // a itself is not between
	}
	ib, _ := slices.BinarySearch(ring, b)
	if a < b {
		return max(ib-ia, 0)
	}
	return len(ring) - ia + ib
}

// churnJoined runs a departure that came while node i was still joining.
func (s *Sim) churnJoined(i int32) {
	if s.churn.on && s.churn.deferred[i] {
		s.churn.deferred[i] = false
		s.q.push(s.now, evDepart, i)
	}
}

// churnTick is churn stopping (the first tick) and the ring checks after it, until the end
// check.
func (s *Sim) churnTick() {
	ch := &s.churn
	if ch.judged {
		return
	}
	if s.now == ch.stop {
		s.accrueLive()
	}
	if ch.sum.Repair < 0 && s.churnRingCorrect() {
		ch.sum.Repair = s.now - ch.stop
		ch.sum.RepairPeriods = float64(ch.sum.Repair) / float64(ch.period)
	}
	if s.now >= ch.judge {
		s.churnJudge()
		return
	}
	s.q.push(min(s.now+ch.tick, ch.judge), evChurnTick, 0)
}

// churnRing is the sorted IDs of the settled live nodes: connected, not leaving, not
// departed. A node whose leave failed after it had handed its keys over stays leaving and
// only forwards: the ring is judged without it.
func (s *Sim) churnRing(buf []protocol.ID) []protocol.ID {
	buf = buf[:0]
	for i := range s.nodes {
		if n := &s.nodes[i]; !n.down && n.st.Connected && !n.st.Leaving && !n.st.Departed {
			buf = append(buf, n.id)
		}
	}
	slices.Sort(buf)
	return buf
}

// churnRingCorrect reports whether every live connected node's neighbours are its true
// neighbours among the live connected nodes.
func (s *Sim) churnRingCorrect() bool { return s.churnRingWrong() == "" }

// churnRingWrong names the first live connected node whose neighbours are not its true ones,
// or returns "" when there is none.
func (s *Sim) churnRingWrong() string {
	ring := s.churnRing(nil)
	m := len(ring)
	for k, id := range ring {
		st := &s.nodes[s.idx.at(id)].st
		if l, r := ring[(k+m-1)%m], ring[(k+1)%m]; st.Left != l || st.Right != r {
			return fmt.Sprintf("%v has left %v and right %v, want %v and %v", id, st.Left, st.Right, l, r)
		}
	}
	return ""
}

// keyCopies counts, per key, the live nodes that hold it as owner or replica.
func (s *Sim) keyCopies() []int32 {
	kv := &s.kv
	clear(kv.counts)
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.down || n.st.Departed {
			continue
		}
		for _, list := range [2][]protocol.Item{n.p.Items(), n.p.Replicas()} {
			for _, it := range list {
				if k, ok := kv.keyIndex[it.Key]; ok {
					kv.counts[k]++
				}
			}
		}
	}
	return kv.counts
}

// scanKeyLoss notes the first time a key has no live copy left, on a node or on its way to
// one (a handoff on the wire, or one its sender keeps for a retransmission).
func (s *Sim) scanKeyLoss() {
	ch := &s.churn
	if ch.sum.FirstKeyLoss >= 0 {
		return
	}
	counts := s.keyCopies()
	var outboxed map[int32]bool
	for k, c := range counts {
		if c > 0 || s.kv.transit[k] > 0 {
			continue
		}
		if outboxed == nil {
			outboxed = s.outboxed()
		}
		if !outboxed[int32(k)] {
			ch.sum.FirstKeyLoss = s.now
			return
		}
	}
}

// outboxed is the keys live nodes keep for a retransmission.
func (s *Sim) outboxed() map[int32]bool {
	out := map[int32]bool{}
	for i := range s.nodes {
		n := &s.nodes[i]
		o, ok := n.p.(interface{ Outbox() []protocol.Item })
		if n.down || !ok {
			continue
		}
		for _, it := range o.Outbox() {
			if k, ok := s.kv.keyIndex[it.Key]; ok {
				out[k] = true
			}
		}
	}
	return out
}

// churnJudge is the end check: the ring of live connected nodes, and every key's live copies.
// The run ends with it (Run's loop stops once judged).
func (s *Sim) churnJudge() {
	ch := &s.churn
	ch.judged = true
	ch.sum.RingCorrect = s.churnRingCorrect()
	if s.kv.on {
		want := int32(min(s.kv.w.Replicas+1, max(len(s.churnRing(nil)), 1)))
		for _, c := range s.keyCopies() {
			if c == 0 {
				ch.sum.KeysLost++
			}
			if c < want {
				ch.sum.KeysUnderReplicated++
			}
		}
	}
	s.kv.over = true
}

// maintenance reports whether m is maintenance rather than a client operation or its answer.
func maintenance(m *protocol.Message) bool {
	if !protocol.IsDHTMessage(m.Type) || m.Type == protocol.KeyReplica {
		return true
	}
	return m.Op&internalOp != 0
}

// churnSent accounts a message sent in the measurement window.
func (s *Sim) churnSent(m *protocol.Message) {
	if s.inWindow() && maintenance(m) {
		s.churn.sum.MaintMessages++
		s.churn.sum.MaintBytes += int64(m.WireSize())
	}
}

// finishChurn makes the end check if the run ended before it, and completes the summary.
func (s *Sim) finishChurn(r *Result) {
	ch := &s.churn
	if !ch.judged {
		s.churnJudge()
	}
	s.accrueLive()
	if ch.sum.Window > 0 {
		ch.sum.LiveMean = ch.liveArea / float64(ch.sum.Window)
	}
	if len(ch.lat) > 0 {
		slices.Sort(ch.lat)
		ch.sum.LookupP50, ch.sum.LookupP99 = nearestRank(ch.lat, 50), nearestRank(ch.lat, 99)
	}
	r.Churn = ch.sum
}

// nearestRank is the p-th percentile of sorted by the nearest-rank method.
func nearestRank(sorted []int64, p int) int64 {
	k := (p*len(sorted) + 99) / 100
	return sorted[max(k, 1)-1]
}

// churnOutcome is the outcome of a churn run that did not fail otherwise: the end check's.
func (s *Sim) churnOutcome() (outcome, detail string) {
	c := &s.churn.sum
	switch {
	case !c.RingCorrect:
		return observe.OutcomeWrongNeighbours, fmt.Sprintf("the live connected nodes do not form the true ring %v after churn stopped (%d crashes): %s",
			time.Duration(s.churn.judge-s.churn.stop), c.Crashes, s.churnRingWrong())
	case c.KeysLost > 0:
		return observe.OutcomeKeysLost, fmt.Sprintf("%d key(s) have no live copy at the end check", c.KeysLost)
	case c.KeysUnderReplicated > 0:
		return observe.OutcomeUnderReplicated, fmt.Sprintf("%d key(s) have fewer than %d live copies at the end check", c.KeysUnderReplicated, s.kv.w.Replicas+1)
	}
	return observe.OutcomeOK, ""
}
