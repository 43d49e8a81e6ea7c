package observe

import "github.com/dhtexp/dhtexp/protocol"

// IsHop reports whether sending a message of type t is a hop of the join it serves. Each
// connect_redirect moves a join one node along the ring, so a join's hops are its
// redirects; the simulator, the real-node runs and the cluster's trace all count them so.
func IsHop(t protocol.MsgType) bool { return t == protocol.ConnectRedirect }

// JoinSends tallies sends by the join they serve. The zero value is not ready; use
// NewJoinSends.
type JoinSends struct {
	Redirects int64                 // every connect_redirect sent, whoever it served
	Messages  map[protocol.ID]int64 // sends on behalf of each joiner's join
	Hops      map[protocol.ID]int64 // hops of each joiner's join
}

// NewJoinSends returns an empty tally.
func NewJoinSends() *JoinSends {
	return &JoinSends{Messages: map[protocol.ID]int64{}, Hops: map[protocol.ID]int64{}}
}

// Send counts one message of type t sent on behalf of joiner (protocol.None: no join).
func (s *JoinSends) Send(t protocol.MsgType, joiner protocol.ID) {
	hop := IsHop(t)
	if hop {
		s.Redirects++
	}
	if joiner == protocol.None {
		return
	}
	s.Messages[joiner]++
	if hop {
		s.Hops[joiner]++
	}
}
