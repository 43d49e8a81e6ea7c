package observe

import (
	"strconv"

	"github.com/dhtexp/dhtexp/protocol"
)

// ClassifyFinal judges the states of every node at the end of a run: the outcome class (ok,
// not_joined, deadlock or wrong_neighbours), a sentence saying why, and whether the ring is
// exactly right with every node connected. The simulator and the real-node drivers both use it.
func ClassifyFinal(all []protocol.State) (outcome, detail string, ringCorrect bool) {
	var f Finals
	return f.Classify(all)
}

// Finals classifies final states as ClassifyFinal does, keeping its working storage from
// one call to the next: a driver that judges one short run after another then allocates
// nothing for it but the sentence of a failure. The zero value is ready to use.
type Finals struct {
	final []protocol.State
	ids   []protocol.ID
	text  []byte // a failure's sentence, built here and copied once into its string
}

// Classify is ClassifyFinal.
func (f *Finals) Classify(all []protocol.State) (outcome, detail string, ringCorrect bool) {
	final := f.final[:0]
	if cap(final) < len(all) {
		final = make([]protocol.State, 0, len(all)) // cleared by the system, unlike slices.Grow's
	}
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
	f.final = final // kept for the next call
	var wrong ringFault
	f.ids, wrong = finalRing(final, f.ids)
	correct := wrong.at < 0
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
	// The sentences are built by appending, not by fmt: a sweep of short runs, a fifth of
	// which failed, spent 6 % of its CPU time here, most of it formatting a sentence that
	// was then thrown away, in twenty allocations a failed run.
	b := f.text[:0]
	switch {
	case notJoined > 0 && stuck > 0:
		outcome = OutcomeDeadlock
		b = appendFirst(b, notJoined, " newcomer(s) not joined (first ", firstNotJoined)
		b = append(b, " while "...)
		b = appendFirst(b, stuck, " node(s) stay locked or hold requests (first ", firstStuck)
	case notJoined > 0:
		outcome = OutcomeNotJoined
		b = appendFirst(b, notJoined, " newcomer(s) never got both neighbours (first ", firstNotJoined)
	case !correct:
		outcome = OutcomeWrongNeighbours
		b = wrong.appendTo(b, final)
	case stuck > 0:
		outcome = OutcomeDeadlock
		b = appendFirst(b, stuck, " node(s) end locked or with unserved requests (first ", firstStuck)
	case failed > 0:
		outcome = OutcomeJoinFailed
		b = strconv.AppendInt(b, int64(failed), 10)
		b = append(b, " newcomer(s) reported a failed join"...)
	default:
		return OutcomeOK, "", ringCorrect
	}
	f.text = b
	return outcome, string(b), ringCorrect
}

// appendFirst appends n, then what, then the first node's ID and a closing parenthesis.
func appendFirst(b []byte, n int, what string, first protocol.ID) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, what...)
	b = first.AppendTo(b)
	return append(b, ')')
}

// CheckSafety checks the right-pointer properties (at_least_one_ring, at_most_one_ring,
// ordered_ring, connected_appendages) once over a set of node states. The exhaustive
// explorer and the real-node drivers judge states with it; they were built on these four,
// and a dead real node stands in as a newcomer without pointers, which only they accept.
func CheckSafety(states []protocol.State, ring protocol.Ring) *Violation {
	return checkOnce(states, ring, true)
}

// CheckSafetyAll checks every per-event property (CheckSafety's, members_on_ring and
// left_pointers) once over a set of node states, as the simulator does after every event.
func CheckSafetyAll(states []protocol.State, ring protocol.Ring) *Violation {
	return checkOnce(states, ring, false)
}

func checkOnce(states []protocol.State, ring protocol.Ring, ringOnly bool) *Violation {
	ids := make([]protocol.ID, len(states))
	index := make(map[protocol.ID]int32, len(states))
	for i := range states {
		ids[i] = states[i].ID
		index[states[i].ID] = int32(i)
	}
	var c Checker
	c.Init(ids, states, index, ring, true)
	c.ringOnly = ringOnly
	return c.Run()
}
