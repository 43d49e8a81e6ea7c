// Package observe is the global observer's vocabulary and judgement, shared by every driver
// of the protocol: the simulator (sim) and the real TCP node (node).
//
// It owns the trace event kinds, the outcome classes of a run and of a join, the safety
// properties and their per-event checker, and the final classification of a set of node
// states. Nodes never see any of it: only an observer that can look at every node's state
// may judge the ring, so this package sits beside the protocol, not inside it.
package observe
