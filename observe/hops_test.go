package observe

import (
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

func TestJoinSends(t *testing.T) {
	const a, b = protocol.ID(5), protocol.ID(9)
	s := NewJoinSends()
	for _, send := range []struct {
		t      protocol.MsgType
		joiner protocol.ID
	}{
		{protocol.ConnectRedirect, a},
		{protocol.ConnectRedirect, a},
		{protocol.ConnectRedirect, protocol.None}, // a redirect no join claims
		{protocol.ConnectRedirect, b},
		{protocol.Connect, a},
		{protocol.Connect, protocol.None},
	} {
		s.Send(send.t, send.joiner)
	}
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"redirects", s.Redirects, 4},
		{"messages a", s.Messages[a], 3},
		{"hops a", s.Hops[a], 2},
		{"messages b", s.Messages[b], 1},
		{"hops b", s.Hops[b], 1},
		{"messages none", s.Messages[protocol.None], 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
