package sim

import "github.com/dhtexp/dhtexp/protocol"

// Outcome classes of a run.
const (
	OutcomeOK              = "ok"
	OutcomeWrongNeighbours = "wrong_neighbours" // everyone joined but some pointers are wrong
	OutcomeNotJoined       = "not_joined"       // a newcomer never got both neighbours
	OutcomeDeadlock        = "deadlock"         // a node ended locked or with requests it never served
	OutcomeLivelock        = "livelock"         // the message budget ran out
	OutcomeInvariant       = "invariant"        // a safety property broke during the run
	OutcomeCrash           = "crash"            // a handler met a state the original crashed on
	OutcomeTimeout         = "timeout"          // the horizon came with joins unfinished and messages still in flight
	OutcomeJoinFailed      = "join_failed"      // the ring is right, and some newcomers reported that their join failed
)

// Outcomes lists every outcome class, ok first.
var Outcomes = []string{OutcomeOK, OutcomeWrongNeighbours, OutcomeNotJoined, OutcomeDeadlock,
	OutcomeLivelock, OutcomeInvariant, OutcomeCrash, OutcomeTimeout, OutcomeJoinFailed}

// Join outcomes.
const (
	JoinOK        = "ok"
	JoinNotJoined = "not_joined" // never finished, never reported failure: a silent hang
	JoinFailed    = "failed"     // the newcomer gave up and reported it
	JoinCrashed   = "crashed"    // the newcomer itself crashed
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

// Violation is the first safety property that broke.
type Violation struct {
	Seq      int64
	Time     int64
	Property string
	Node     protocol.ID
	Detail   string
}

// Result is everything a run produced.
type Result struct {
	Outcome     string
	RingCorrect bool   // every node's neighbours are its true ring neighbours, all connected
	Detail      string // why the outcome is not ok, for people
	Violation   *Violation
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
		if r.Joins[i].Outcome == JoinOK {
			n++
		}
	}
	return n
}
