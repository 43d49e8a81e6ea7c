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
	// Churn is the churn workload's summary; zero without churn.
	Churn ChurnSummary
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

// ChurnSummary is what a churn run came to. Counts of lookups and maintenance traffic cover
// the measurement window, from the end of the warm-up until churn stops; the end check is
// made Settle after churn stops.
type ChurnSummary struct {
	Arrivals, Leaves, Crashes int   // newcomers that arrived, graceful leaves started, crashes
	CrashesPostponed          int   // times churn.crash_guard postponed a crash
	Window                    int64 // length of the measurement window
	LiveMean                  float64
	// Lookups issued in the window; answered ok; and answered ok naming the true owner at
	// the time of the answer (the first live connected node at or after the key).
	Lookups, LookupsOK, LookupsConsistent int
	LookupP50, LookupP99                  int64 // latency of the ok lookups (nearest rank); -1 when none
	MaintMessages, MaintBytes             int64 // everything but client operations and their answers
	// At the end check: keys with no live copy and keys with fewer than replicas+1; the first
	// time a key lost its last live copy (-1: never).
	KeysLost, KeysUnderReplicated int
	FirstKeyLoss                  int64
	RingCorrect                   bool  // the live connected nodes' neighbours form the true ring at the end check
	Repair                        int64 // from churn stop to the first correct ring; -1 when it never was
	RepairPeriods                 float64
}
