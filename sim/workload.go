package sim

import (
	"fmt"

	"github.com/dhtexp/dhtexp/protocol"
)

// Key popularity distributions of a workload.
var Popularities = []string{"uniform", "zipf"}

// Finger start states of the initial ring members.
var FingerStarts = []string{"fresh", "empty"}

// Workload is the DHT traffic of a run: keys stored in the ring from the start, and lookups,
// gets and puts issued by clients at random ring members, before, during and after the wave
// of joins. It needs the async timing model. A zero Workload (no keys, no rate) is off.
type Workload struct {
	Keys int     // distinct keys; every one is stored at its owner when the run starts
	Rate float64 // operations per second of virtual time over the whole ring (a Poisson process)
	// The operation mix: relative weights of lookups, gets and puts.
	Lookup, Get, Put float64
	Popularity       string  // uniform | zipf: which keys the operations pick
	ZipfS            float64 // zipf: the exponent s > 1
	// Operations start Before ahead of the joins (the joins' start times move back by it)
	// and go on for After once every join has ended.
	Before, After int64
	// FingerPeriod is how often a node refreshes one finger; 0 turns fingers off (routing
	// then follows right pointers only).
	FingerPeriod int64
	// Fingers is what the initial members know at the start: "fresh" (exact fingers, like
	// a ring that has run for a while) or "empty" (refresh must find them).
	Fingers   string
	HopBudget int   // forwards before an operation fails (0: protocol.DefaultHopBudget)
	OpTimeout int64 // how long a client waits for an answer (0: protocol.DefaultOpTimeout)
	// Replicas is how many successors of a key's owner keep a copy of it (0: none).
	Replicas int
}

// Active reports whether the run has a DHT workload.
func (w *Workload) Active() bool { return w.Keys > 0 || w.Rate > 0 }

// inEffect is the workload as a run carries it out: all zero without one, the zipf exponent
// only under zipf popularity, and the protocol's defaults for a hop budget or operation
// timeout left 0.
func (w Workload) inEffect() Workload {
	if !w.Active() {
		return Workload{}
	}
	if w.Popularity != "zipf" {
		w.ZipfS = 0
	}
	if w.HopBudget == 0 {
		w.HopBudget = protocol.DefaultHopBudget
	}
	if w.OpTimeout == 0 {
		w.OpTimeout = protocol.DefaultOpTimeout
	}
	return w
}

// Validate names the first workload field that makes the configuration unusable.
func (w *Workload) Validate() error {
	if !w.Active() {
		return nil
	}
	switch {
	case w.Keys < 0:
		return fmt.Errorf("workload.keys must not be negative, got %d", w.Keys)
	case w.Rate < 0:
		return fmt.Errorf("workload.rate must not be negative, got %g", w.Rate)
	case w.Rate > 0 && w.Keys == 0:
		return fmt.Errorf("workload.keys: operations need at least one key")
	case w.Lookup < 0 || w.Get < 0 || w.Put < 0:
		return fmt.Errorf("workload.lookup, get and put are weights and must not be negative")
	case w.Rate > 0 && w.Lookup+w.Get+w.Put == 0:
		return fmt.Errorf("workload.lookup, get, put: at least one operation needs a positive weight")
	case !oneOf(w.Popularity, Popularities):
		return fmt.Errorf("workload.popularity: unknown popularity %q (known: %v)", w.Popularity, Popularities)
	case w.Popularity == "zipf" && w.ZipfS <= 1:
		return fmt.Errorf("workload.zipf_s must be greater than 1 for zipf popularity, got %g", w.ZipfS)
	case w.Before < 0 || w.After < 0:
		return fmt.Errorf("workload.before and workload.after must not be negative")
	case w.FingerPeriod < 0:
		return fmt.Errorf("workload.finger_period must not be negative")
	case !oneOf(w.Fingers, FingerStarts):
		return fmt.Errorf("workload.fingers: unknown finger start %q (known: %v)", w.Fingers, FingerStarts)
	case w.HopBudget < 0 || w.HopBudget > 65535:
		return fmt.Errorf("workload.hop_budget must be in 0..65535, got %d", w.HopBudget)
	case w.OpTimeout < 0:
		return fmt.Errorf("workload.op_timeout must not be negative")
	case w.Replicas < 0 || w.Replicas > 16:
		return fmt.Errorf("workload.replicas must be in 0..16, got %d", w.Replicas)
	}
	return nil
}

// Operation phases relative to the wave of joins.
const (
	PhaseBefore = "before" // started before the first join
	PhaseDuring = "during" // started while joins were under way
	PhaseAfter  = "after"  // started once every join had ended
)

// Inconsistency classes of a get, judged by the global observer when the answer is sent.
const (
	ClassMissing = "missing" // answered not found while the true owner holds the key
	ClassStale   = "stale"   // answered a value other than the true owner's
)

// OpRecord is one client operation.
type OpRecord struct {
	Op      uint64
	Kind    protocol.OpKind
	Key     protocol.ID // the key's ID on the ring
	Origin  protocol.ID // the ring member the client asked
	Start   int64
	End     int64 // -1 when no answer came before the run ended
	Hops    int
	Status  string      // ok, not_found, hop_budget, timeout, unavailable; "" when unanswered
	Owner   protocol.ID // the node that answered as the key's owner
	Correct bool        // the answer named (lookup) or came from (get, put) the true owner
	Class   string      // gets: "", missing or stale
	Phase   string      // before, during or after
	key     int32       // index into the run's keys
	// Churn: a lookup issued in the measurement window, and whether its answer named the
	// true owner exactly when it was sent.
	measured, exact bool
}

// Latency is End-Start, or -1 for an unanswered operation.
func (o *OpRecord) Latency() int64 {
	if o.End < 0 {
		return -1
	}
	return o.End - o.Start
}

// KVSummary is what a run's workload came to. Hop and latency figures are sums and counts,
// so that they add up exactly over many runs.
type KVSummary struct {
	Keys     int
	Messages int64 // DHT messages sent: operations, answers and finger maintenance
	Ops      int   // operations issued
	Answered int   // operations answered, whatever the status
	OpsOK    int   // answered ok, or not_found for a key the true owner does not hold either
	Hops     int64 // forwards over all answered operations
	// Lookups, and those answered ok naming the true owner, with their forwards.
	Lookups, LookupsAnswered, LookupsOK int
	LookupHops                          int64 // over LookupsOK
	Gets                                int
	Missing, Stale                      int // gets of class missing and stale
	KeyChecks                           int // key-safety checks made (after every completed join, and at the end)
	KeyFailures                         int // checks that found a key lost, duplicated or misplaced
	// At the end of the run: keys stored nowhere, stored at more than one node, or stored at
	// one node that is not their owner.
	Lost, Duplicated, Misplaced int
	FirstFailure                string // the first key-safety failure, for people
	// Fingers of live connected nodes at the end of the run, and those that are not the true
	// successor of any of their levels' targets (left behind by joins).
	Fingers, FingersStale int
	// With replication, at the end: copies missing at a successor that should hold one, and
	// copies held beyond the owner's Replicas successors (left behind by joins; never served).
	ReplicasMissing, ReplicasExtra int
}
