package sim

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// finish classifies the run once it has ended.
func (s *Sim) finish() *Result {
	r := &Result{
		Leaves:    s.leaves,
		Departed:  s.departed,
		Joins:     s.joins,
		Messages:  s.msgs,
		Redirects: s.redirs,
		Events:    s.events,
		SimTime:   s.now,
		Violation: s.violation,
		Final:     make([]protocol.State, len(s.nodes)),
	}
	for i := range s.nodes {
		r.Final[i] = s.nodes[i].p.State()
	}
	slices.SortFunc(r.Final, func(a, b protocol.State) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	live := make([]protocol.State, 0, len(s.nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.down {
			r.Crashed = append(r.Crashed, n.id)
			if n.join >= 0 && s.joins[n.join].Outcome != JoinOK {
				s.joins[n.join].Outcome = JoinCrashed
			}
			continue
		}
		st := n.p.State()
		if n.join >= 0 && st.Failed && s.joins[n.join].Outcome != JoinOK {
			s.joins[n.join].Outcome = JoinFailed
		}
		live = append(live, st)
	}
	if s.kv.on {
		s.finishKV(r)
	}
	outcome, detail, correct := ClassifyFinal(live)
	r.RingCorrect = correct
	switch {
	case s.stopped != "":
		r.Outcome, r.Detail = s.stopped, s.stopErr
	case s.violation != nil:
		r.Outcome = OutcomeInvariant
		r.Detail = fmt.Sprintf("%s at event %d (t=%d): %s", s.violation.Property, s.violation.Seq, s.violation.Time, s.violation.Detail)
	case outcome != OutcomeOK && s.inFlight():
		r.Outcome = OutcomeTimeout
		r.Detail = fmt.Sprintf("horizon %d reached with messages in flight (%s)", s.cfg.Horizon, detail)
	default:
		r.Outcome, r.Detail = outcome, detail
	}
	return r
}

// ClassifyFinal judges the states of every node at the end of a run: the outcome class (ok,
// not_joined, deadlock or wrong_neighbours), a sentence saying why, and whether the ring is
// exactly right with every node connected. The simulator and the real-node cluster both use it.
func ClassifyFinal(all []protocol.State) (outcome, detail string, ringCorrect bool) {
	final := make([]protocol.State, 0, len(all))
	failed := 0
	for i := range all {
		if all[i].Departed {
			continue // left the ring gracefully: not part of the final ring
		}
		if all[i].Failed && !all[i].Connected {
			failed++
			continue
		}
		final = append(final, all[i])
	}
	correct, ringDetail := finalRing(final)
	notJoined, stuck := 0, 0
	var firstNotJoined, firstStuck protocol.ID
	for i := range final {
		st := &final[i]
		if !st.Connected {
			if notJoined == 0 {
				firstNotJoined = st.ID
			}
			notJoined++
		}
		if st.Locked || st.Queue > 0 {
			if st.Connected || st.Queue > 0 {
				if stuck == 0 {
					firstStuck = st.ID
				}
				stuck++
			}
		}
	}
	ringCorrect = correct && notJoined == 0
	switch {
	case notJoined > 0 && stuck > 0:
		return OutcomeDeadlock, fmt.Sprintf("%d newcomer(s) not joined (first %v) while %d node(s) stay locked or hold requests (first %v)",
			notJoined, firstNotJoined, stuck, firstStuck), ringCorrect
	case notJoined > 0:
		return OutcomeNotJoined, fmt.Sprintf("%d newcomer(s) never got both neighbours (first %v)", notJoined, firstNotJoined), ringCorrect
	case !correct:
		return OutcomeWrongNeighbours, ringDetail, ringCorrect
	case stuck > 0:
		return OutcomeDeadlock, fmt.Sprintf("%d node(s) end locked or with unserved requests (first %v)", stuck, firstStuck), ringCorrect
	case failed > 0:
		return OutcomeJoinFailed, fmt.Sprintf("%d newcomer(s) reported a failed join", failed), ringCorrect
	}
	return OutcomeOK, "", ringCorrect
}

// CheckSafety runs the per-event safety checker once over a set of node states.
func CheckSafety(states []protocol.State, ring protocol.Ring) *Violation {
	nodes := make([]node, len(states))
	index := make(map[protocol.ID]int32, len(states))
	for i := range states {
		nodes[i] = node{id: states[i].ID, st: states[i]}
		index[states[i].ID] = int32(i)
	}
	var c checker
	c.init(nodes, index, ring, true)
	return c.run()
}

// inFlight reports whether protocol work was still under way when the run ended: a message
// on the wire, a node blocked sending, or a message waiting in an inbox. Polls do not count.
func (s *Sim) inFlight() bool {
	for i := range s.q.items {
		switch it := &s.q.items[i]; it.kind() {
		case evStart:
			return true
		case evDeliver:
			// DHT operations still on the wire say nothing about the joins.
			if !protocol.IsDHTMessage(s.slots[it.idx()].msg.Type) {
				return true
			}
		}
	}
	for i := range s.nodes {
		if l := s.nodes[i].loop; l != nil && (l.landing || l.actPos < len(l.acts) || len(l.inbox) > 0) {
			return true
		}
	}
	return false
}
