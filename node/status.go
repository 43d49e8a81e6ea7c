package node

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// MarshalJSON writes unset neighbours and contacts as null rather than as the 64-bit
// sentinel protocol.None stands for.
func (s Status) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        protocol.ID `json:"id"`
		Addr      string      `json:"addr"`
		Protocol  string      `json:"protocol"`
		Bits      uint8       `json:"bits"`
		Left      *uint64     `json:"left"`
		LeftAddr  string      `json:"left_addr,omitempty"`
		Right     *uint64     `json:"right"`
		RightAddr string      `json:"right_addr,omitempty"`
		Connected bool        `json:"connected"`
		Waiting   bool        `json:"waiting"`
		Locked    bool        `json:"locked"`
		Failed    bool        `json:"failed"`
		Leaving   bool        `json:"leaving"`
		Departed  bool        `json:"departed"`
		Queue     int         `json:"queue"`
		Timers    int         `json:"timers"`
		Keys      int         `json:"keys"`
		Fingers   int         `json:"fingers"`
		Member    bool        `json:"member"`
		Contact   *uint64     `json:"contact"`
		JoinStart int64       `json:"join_start_ns"`
		JoinEnd   int64       `json:"join_end_ns"`
		Sent      int64       `json:"sent"`
		Delivered int64       `json:"delivered"`
		Dropped   int64       `json:"dropped"`
		AuthRef   int64       `json:"auth_refused"`
		Error     string      `json:"error,omitempty"`
	}{s.ID, s.Addr, s.Protocol, s.Bits, optID(s.Left), s.LeftAddr, optID(s.Right), s.RightAddr,
		s.Connected, s.Waiting, s.Locked, s.Failed, s.Leaving, s.Departed, s.Queue, s.Timers, s.Keys, s.Fingers, s.Member, optID(s.Contact),
		s.JoinStart, s.JoinEnd, s.Sent, s.Delivered, s.Dropped, s.AuthRefused, s.Error})
}

func optID(id protocol.ID) *uint64 {
	if id == protocol.None {
		return nil
	}
	v := uint64(id)
	return &v
}

// InFlight counts the messages that a set of nodes sent but that none of them has
// delivered or dropped yet: every message ends in exactly one of the two, at its sender or
// its addressee. It is exact only over every node that took part.
func InFlight(sts []Status) int64 {
	var n int64
	for i := range sts {
		n += sts[i].Sent - sts[i].Delivered - sts[i].Dropped
	}
	return n
}

// Quiet reports whether nothing more can happen among a set of nodes without input from
// outside: every join has started, no message is in flight and no protocol timer is
// pending. Like InFlight it is exact only over every node that took part, and only when
// the statuses were read at one instant: callers read them twice and also compare.
func Quiet(sts []Status) bool {
	for i := range sts {
		if (!sts[i].Member && sts[i].JoinStart == 0) || sts[i].Timers > 0 {
			return false
		}
	}
	return InFlight(sts) == 0
}

// Classify judges a ring from the final statuses of all its nodes, in the simulator's
// words and with its precedence: crash (a protocol error stopped a node), invariant (the
// safety checker fails on the final pointers), timeout (the deadline came with messages
// still in flight and the ring not right), else observe.ClassifyFinal's class.
func Classify(sts []Status, ring protocol.Ring, deadlinePassed bool) (outcome, detail string, ringCorrect bool) {
	return ClassifyLive(sts, nil, ring, deadlinePassed)
}

// ClassifyLive is Classify for a ring some of whose nodes died (crashed, killed): sts are
// the statuses of the survivors, dead the IDs of the others. It judges as the simulator
// judges a run with crashed nodes: observe.ClassifyFinal over the survivors, and the safety
// checker with pointers to dead nodes counting as pending, since no variant has a repair
// for them yet. A pointer to an ID that is neither alive nor listed as dead stays broken.
func ClassifyLive(sts []Status, dead []protocol.ID, ring protocol.Ring, deadlinePassed bool) (outcome, detail string, ringCorrect bool) {
	states := make([]protocol.State, len(sts))
	for i := range sts {
		states[i] = sts[i].State()
	}
	slices.SortFunc(states, func(a, b protocol.State) int { return cmp.Compare(a.ID, b.ID) })
	outcome, detail, ringCorrect = observe.ClassifyFinal(states)
	for i := range sts {
		if sts[i].Error != "" {
			return observe.OutcomeCrash, fmt.Sprintf("node %v: %s", sts[i].ID, sts[i].Error), ringCorrect
		}
	}
	if v := CheckLive(sts, dead, ring); v != nil {
		return observe.OutcomeInvariant, fmt.Sprintf("%s at the end: %s", v.Property, v.Detail), ringCorrect
	}
	if outcome != observe.OutcomeOK && deadlinePassed {
		if k := InFlight(sts); k > 0 {
			return observe.OutcomeTimeout, fmt.Sprintf("deadline passed with %d message(s) in flight (%s)", k, detail), ringCorrect
		}
	}
	return outcome, detail, ringCorrect
}

// CheckLive runs observe.CheckSafety over the survivors' pointers. Each dead node stands in as
// a newcomer with no pointers yet, which the checker treats as pending: a walk that reaches
// it is unfinished, not broken, as the simulator's checker treats a pointer to a crashed node.
func CheckLive(sts []Status, dead []protocol.ID, ring protocol.Ring) *observe.Violation {
	states := make([]protocol.State, 0, len(sts)+len(dead))
	for i := range sts {
		states = append(states, sts[i].State())
	}
	for _, id := range dead {
		states = append(states, protocol.State{ID: id, Left: protocol.None, Right: protocol.None})
	}
	return observe.CheckSafety(states, ring)
}
