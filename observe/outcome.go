package observe

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
	OutcomeKeysLost        = "keys_lost"        // churn: the ring is right, and some key has no live copy at the end check
	OutcomeUnderReplicated = "under_replicated" // churn: the ring is right, every key lives, some have fewer than replicas+1 copies
)

// Outcomes lists every outcome class, ok first.
var Outcomes = []string{OutcomeOK, OutcomeWrongNeighbours, OutcomeNotJoined, OutcomeDeadlock,
	OutcomeLivelock, OutcomeInvariant, OutcomeCrash, OutcomeTimeout, OutcomeJoinFailed, OutcomeKeysLost, OutcomeUnderReplicated}

// Join outcomes.
const (
	JoinOK        = "ok"
	JoinNotJoined = "not_joined" // never finished, never reported failure: a silent hang
	JoinFailed    = "failed"     // the newcomer gave up and reported it
	JoinCrashed   = "crashed"    // the newcomer itself crashed
)

// JoinOutcomes lists every join outcome, ok first.
var JoinOutcomes = []string{JoinOK, JoinNotJoined, JoinFailed, JoinCrashed}

// Violation is the first safety property that broke.
type Violation struct {
	Seq      int64
	Time     int64
	Property string
	Node     protocol.ID
	Detail   string
}
