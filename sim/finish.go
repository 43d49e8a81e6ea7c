package sim

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
)

// finish classifies the run once it has ended.
func (s *Sim) finish() *Result {
	r := &Result{
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
	correct, ringDetail := finalRing(r.Final)
	notJoined, stuck := 0, 0
	var firstNotJoined, firstStuck protocol.ID
	for i := range s.nodes {
		st := &s.nodes[i].st
		if !st.Connected {
			if notJoined == 0 {
				firstNotJoined = st.ID
			}
			notJoined++
		}
		if st.Locked && st.Queue > 0 || (st.Connected && (st.Locked || st.Queue > 0)) {
			if stuck == 0 {
				firstStuck = st.ID
			}
			stuck++
		}
	}
	r.RingCorrect = correct && notJoined == 0
	switch {
	case s.stopped != "":
		r.Outcome, r.Detail = s.stopped, s.stopErr
	case s.violation != nil:
		r.Outcome = OutcomeInvariant
		r.Detail = fmt.Sprintf("%s at event %d (t=%d): %s", s.violation.Property, s.violation.Seq, s.violation.Time, s.violation.Detail)
	case notJoined > 0 && stuck > 0:
		r.Outcome = OutcomeDeadlock
		r.Detail = fmt.Sprintf("%d newcomer(s) not joined (first %v) while %d node(s) stay locked or hold requests (first %v)", notJoined, firstNotJoined, stuck, firstStuck)
	case notJoined > 0:
		r.Outcome = OutcomeNotJoined
		r.Detail = fmt.Sprintf("%d newcomer(s) never got both neighbours (first %v)", notJoined, firstNotJoined)
	case !correct:
		r.Outcome, r.Detail = OutcomeWrongNeighbours, ringDetail
	case stuck > 0:
		r.Outcome = OutcomeDeadlock
		r.Detail = fmt.Sprintf("%d node(s) end locked or with unserved requests (first %v)", stuck, firstStuck)
	default:
		r.Outcome = OutcomeOK
	}
	return r
}
