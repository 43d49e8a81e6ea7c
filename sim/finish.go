package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// finish classifies the run once it has ended.
func (s *Sim) finish() *Result {
	for i := range s.sends {
		c := &s.sends[i]
		if j := s.joinOf[i]; j >= 0 {
			s.joins[j].Messages += c.messages
			s.joins[j].Hops += c.hops
		}
		*c = joinSends{}
	}
	var r *Result
	var final []protocol.State
	if !s.reuse {
		r = &Result{}
	} else {
		r = &s.res
		final = grown(r.Final, len(s.nodes))
		*r = Result{Crashed: r.Crashed[:0]}
	}
	if final == nil {
		final = make([]protocol.State, len(s.nodes))
	}
	r.Leaves, r.Departed, r.Joins, r.Messages, r.Redirects = s.leaves, s.departed, s.joins, s.msgs, s.redirs
	r.Events, r.SimTime, r.Violation, r.Final = s.events, s.now, s.violation, final
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
	if !s.cfg.NoCheck && s.violation == nil {
		// The last event was checked incrementally; a full walk confirms it, and the end
		// of a run with nothing in flight is a quiescent state like any other.
		s.check.Recheck()
		s.runSafetyCheck()
		if s.violation == nil && !s.inFlight() {
			s.quiescent(false) // finishKV checks the keys
		}
	}
	live := s.live[:0] // ClassifyFinal keeps none of it: the next run reuses it
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
	s.live = live
	if s.churn.on {
		s.finishChurn(r)
	}
	outcome, detail, correct := s.finals.Classify(live)
	if s.churn.on {
		// Newcomers that gave up and nodes left hanging by a crash are churn's ordinary
		// damage: the end check judges the ring of live connected nodes.
		outcome, detail = s.churnOutcome()
		correct = r.Churn.RingCorrect
	}
	r.RingCorrect = correct
	switch {
	case s.stopped != "":
		r.Outcome, r.Detail = s.stopped, s.stopErr
	case s.violation != nil:
		r.Outcome = observe.OutcomeInvariant
		// Most runs of the seed variant end here: strconv is what fmt would print, cheaper.
		v := s.violation
		r.Detail = v.Property + " at event " + strconv.FormatInt(v.Seq, 10) + " (t=" + strconv.FormatInt(v.Time, 10) + "): " + v.Detail
	case outcome != observe.OutcomeOK && !s.churn.on && s.inFlight():
		r.Outcome = observe.OutcomeTimeout
		r.Detail = fmt.Sprintf("horizon %d reached with messages in flight (%s)", s.cfg.Horizon, detail)
	default:
		r.Outcome, r.Detail = outcome, detail
		if s.quiet.crashed != nil && outcome != observe.OutcomeOK {
			if v, _ := protocol.Lookup(s.cfg.Protocol); v.Repairs {
				r.Detail += "; " + s.quiet.crashed.Detail + " (seen once nothing was in flight; the variant repairs crashes)"
			} else {
				r.Detail += "; " + s.quiet.crashed.Detail + " (no variant repairs crashes)"
			}
		}
	}
	return r
}

// quietState tracks quiescence under the async timing model: the events on the queue that
// inFlight counts (newcomers' starts and membership messages), kept as a count so that
// noticing quiescence costs nothing per event.
type quietState struct {
	flight  int64
	busy    bool               // something was in flight since the last quiescent check
	checks  int64              // quiescent checks made
	crashed *observe.Violation // the first pointer to a crashed node seen at quiescence
}

func (q *quietState) sent(m *protocol.Message, copies int) {
	if !protocol.IsDHTMessage(m.Type) && copies > 0 {
		q.flight += int64(copies)
		q.busy = true
	}
}

func (q *quietState) landed(m *protocol.Message) {
	if !protocol.IsDHTMessage(m.Type) {
		q.flight--
	}
}

// noteQuiet runs the quiescent checks once each time the async model becomes quiescent.
// The seed timing model's loops are always busy polling; its runs are checked at the end.
// Its first test, which the seed timing model always fails, is inlined after every event.
func (s *Sim) noteQuiet() {
	if s.quiet.flight <= 0 && s.quiet.busy {
		s.quietChecks()
	}
}

func (s *Sim) quietChecks() {
	if s.cfg.Timing == "seed" || s.cfg.NoCheck || s.violation != nil {
		return
	}
	s.quiet.busy = false
	s.check.Recheck()
	s.runSafetyCheck()
	if s.violation == nil {
		s.quiescent(true)
	}
}

// quiescent checks what must hold once nothing is in flight: no connected node points at
// a node that gave up its join or departed (a violation: no exchange is left to fix it), or
// at a crashed one, and key safety.
//
// No variant repairs crashes, so a pointer to a crashed node is the fault's direct damage:
// it goes into the run's detail, not into a violation, and crash runs keep their outcome
// class. Once a node has crashed, a newcomer that gave up may have done so because the
// crashed node never answered; a pointer to it counts as crash damage too.
func (s *Sim) quiescent(keys bool) {
	s.quiet.checks++
	crashed, failed := s.check.Dangling()
	if failed != nil && s.faults.crashed {
		crashed, failed = cmp.Or(crashed, failed), nil
	}
	if crashed != nil && s.quiet.crashed == nil {
		s.quiet.crashed = crashed
	}
	if failed != nil && s.violation == nil {
		failed.Seq, failed.Time = s.events-1, s.now
		s.violation = failed
		s.check.Disable()
		if i, ok := s.idx.get(failed.Node); ok {
			s.emitDetail(observe.KindViolation, &s.nodes[i], failed.Property+": "+failed.Detail)
		}
	}
	if keys && s.kv.on {
		s.checkKeys(false)
	}
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
		if l := s.nodes[i].loop; l != nil && (l.landing || int(l.actPos) < len(l.acts) || len(l.inbox) > 0) {
			return true
		}
	}
	return false
}
