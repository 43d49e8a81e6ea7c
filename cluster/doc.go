// Package cluster runs the join protocol on real nodes over loopback TCP and judges the
// ring as the simulator does: Run starts one node process per node and writes a result
// set, and InProcess runs a sweep's cluster-mode configurations on in-process nodes for
// the runner.
package cluster
