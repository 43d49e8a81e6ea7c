package node

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/sim"
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
		Queue     int         `json:"queue"`
		Member    bool        `json:"member"`
		Contact   *uint64     `json:"contact"`
		JoinStart int64       `json:"join_start_ns"`
		JoinEnd   int64       `json:"join_end_ns"`
		Sent      int64       `json:"sent"`
		Delivered int64       `json:"delivered"`
		Dropped   int64       `json:"dropped"`
		Error     string      `json:"error,omitempty"`
	}{s.ID, s.Addr, s.Protocol, s.Bits, optID(s.Left), s.LeftAddr, optID(s.Right), s.RightAddr,
		s.Connected, s.Waiting, s.Locked, s.Queue, s.Member, optID(s.Contact),
		s.JoinStart, s.JoinEnd, s.Sent, s.Delivered, s.Dropped, s.Error})
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

// Classify judges a ring from the final statuses of all its nodes, in the simulator's
// words and with its precedence: crash (a protocol error stopped a node), invariant (the
// safety checker fails on the final pointers), timeout (the deadline came with messages
// still in flight and the ring not right), else sim.ClassifyFinal's class.
func Classify(sts []Status, ring protocol.Ring, deadlinePassed bool) (outcome, detail string, ringCorrect bool) {
	states := make([]protocol.State, len(sts))
	for i := range sts {
		states[i] = sts[i].State()
	}
	slices.SortFunc(states, func(a, b protocol.State) int { return cmp.Compare(a.ID, b.ID) })
	outcome, detail, ringCorrect = sim.ClassifyFinal(states)
	for i := range sts {
		if sts[i].Error != "" {
			return sim.OutcomeCrash, fmt.Sprintf("node %v: %s", sts[i].ID, sts[i].Error), ringCorrect
		}
	}
	if v := sim.CheckSafety(states, ring); v != nil {
		return sim.OutcomeInvariant, fmt.Sprintf("%s at the end: %s", v.Property, v.Detail), ringCorrect
	}
	if outcome != sim.OutcomeOK && deadlinePassed {
		if k := InFlight(sts); k > 0 {
			return sim.OutcomeTimeout, fmt.Sprintf("deadline passed with %d message(s) in flight (%s)", k, detail), ringCorrect
		}
	}
	return outcome, detail, ringCorrect
}
