package sim

import (
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/observe"
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
	if len(s.idx.entries) == len(s.nodes) {
		// The index holds the IDs in order already: no sort of a million states.
		for k, e := range s.idx.entries {
			r.Final[k] = s.nodes[e.pos].p.State()
		}
	} else {
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
	}
	live := make([]protocol.State, 0, len(s.nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.down {
			r.Crashed = append(r.Crashed, n.id)
			if n.join >= 0 && s.joins[n.join].Outcome != observe.JoinOK {
				s.joins[n.join].Outcome = observe.JoinCrashed
			}
			continue
		}
		st := n.p.State()
		if n.join >= 0 && st.Failed && s.joins[n.join].Outcome != observe.JoinOK {
			s.joins[n.join].Outcome = observe.JoinFailed
		}
		live = append(live, st)
	}
	if s.kv.on {
		s.finishKV(r)
	}
	outcome, detail, correct := observe.ClassifyFinal(live)
	r.RingCorrect = correct
	switch {
	case s.stopped != "":
		r.Outcome, r.Detail = s.stopped, s.stopErr
	case s.violation != nil:
		r.Outcome = observe.OutcomeInvariant
		r.Detail = fmt.Sprintf("%s at event %d (t=%d): %s", s.violation.Property, s.violation.Seq, s.violation.Time, s.violation.Detail)
	case outcome != observe.OutcomeOK && s.inFlight():
		r.Outcome = observe.OutcomeTimeout
		r.Detail = fmt.Sprintf("horizon %d reached with messages in flight (%s)", s.cfg.Horizon, detail)
	default:
		r.Outcome, r.Detail = outcome, detail
	}
	return r
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
