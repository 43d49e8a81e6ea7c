package sim

import (
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// JoinRecord is one newcomer's join.
type JoinRecord struct {
	Joiner   protocol.ID
	Contact  protocol.ID
	Start    int64
	End      int64 // -1 when the join did not finish
	Hops     int64 // connect_redirect messages sent for this join
	Messages int64 // every message sent on behalf of this join
	Outcome  string
}

// Latency is End-Start, or -1 for an unfinished join.
func (j *JoinRecord) Latency() int64 {
	if j.End < 0 {
		return -1
	}
	return j.End - j.Start
}

// Result is everything a run produced.
type Result struct {
	Outcome     string
	RingCorrect bool   // every node's neighbours are its true ring neighbours, all connected
	Detail      string // why the outcome is not ok, for people
	Violation   *observe.Violation
	Joins       []JoinRecord
	Messages    int64
	Redirects   int64
	Events      int64
	SimTime     int64 // virtual time of the last event
	Final       []protocol.State
	Crashed     []protocol.ID // nodes down at the end; they are left out of the final checks
	// Leaves counts the members asked to leave, Departed those that left.
	Leaves, Departed int
	// Ops and KV are the DHT workload's operations and summary; empty without a workload.
	Ops []OpRecord
	KV  KVSummary
}

// JoinsSucceeded counts joins that ended connected.
func (r *Result) JoinsSucceeded() int {
	n := 0
	for i := range r.Joins {
		if r.Joins[i].Outcome == observe.JoinOK {
			n++
		}
	}
	return n
}
