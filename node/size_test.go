package node

import (
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// TestWireSize holds protocol.Message.WireSize to the frames AppendMessage really writes,
// for every message type, with and without data, and for a handoff split over frames.
func TestWireSize(t *testing.T) {
	item := func(k, v int) protocol.Item {
		return protocol.Item{ID: protocol.ID(k), Key: strings.Repeat("k", k), Value: make([]byte, v)}
	}
	var many []protocol.Item
	for k := 1; k <= 200; k++ {
		many = append(many, item(k%200+1, 300))
	}
	datas := []struct {
		name string
		d    *protocol.Data
	}{
		{"none", nil},
		{"key", &protocol.Data{Key: "some-key"}},
		{"key value", &protocol.Data{Key: "some-key", Value: []byte("a value of some length")}},
		{"one item", &protocol.Data{Items: []protocol.Item{item(5, 8)}}},
		{"items and replicas", &protocol.Data{Items: []protocol.Item{item(5, 8), item(7, 0)}, Replicas: []protocol.Item{item(9, 100)}}},
		{"replicas only", &protocol.Data{Replicas: []protocol.Item{item(3, 1), item(4, 2)}}},
		{"split handoff", &protocol.Data{Items: many[:120], Replicas: many[120:]}},
	}
	types := 0
	for ty := protocol.MsgType(1); ; ty++ {
		if _, err := protocol.ParseMsgType(ty.String()); err != nil {
			break
		}
		types++
		for _, d := range datas {
			t.Run(ty.String()+"/"+d.name, func(t *testing.T) {
				m := protocol.Message{Type: ty, Status: 1, Hops: 3, From: 10, To: 20, Joiner: 30, Neighbour: 40,
					Key: 50, Op: 1<<63 | 7, Data: d.d}
				f := Frame{Type: FrameMessage, From: m.From, Msg: m}
				b, err := AppendMessage(nil, &f)
				if err != nil {
					t.Fatal(err)
				}
				if got := m.WireSize(); got != len(b) {
					t.Errorf("WireSize %d, the frames take %d bytes", got, len(b))
				}
				if d.name == "split handoff" && len(b) <= MaxFrameSize {
					t.Errorf("the handoff of %d bytes was meant to need more than one frame", len(b))
				}
			})
		}
	}
	if types < int(protocol.Unlinked) {
		t.Errorf("only %d message types tried", types)
	}
}
