// Package node runs the join protocol for real: one protocol.Node per process (or per
// Node value in tests), real time, and TCP connections between nodes.
//
// The driver follows the etcd-raft Node wrapper: one goroutine owns the protocol state
// machine and takes its inputs from a channel, one reader goroutine per inbound connection
// decodes frames and feeds that channel, and one sender goroutine per peer address dials,
// writes and reconnects. The owner feeds each input through a protocol.Stepper, as the
// simulator's async model does, and carries out every Ready it yields (Send: hand the message
// to the addressee's sender; SetTimer: call Fire after the delay; Idle: nothing), so the
// protocol code cannot tell the two drivers apart.
//
// Nodes address each other by protocol ID. Every frame carries its sender's ID and listen
// address, and a message frame also carries the addresses its sender knows for the IDs the
// message names, so a node learns where to reach a peer only from the messages it receives.
//
// Clients (a joining node identifying its contact, "dhtexp status", "dhtexp kv") use
// connections of their own for request/reply pairs. A key-value request is started in the
// protocol goroutine like any other input, and answered when the protocol reports the
// operation's end.
//
// docs/wire.md describes the frames; docs/nodes.md the command-line tools built on this
// package and what a node does when a peer dies or leaves.
package node
