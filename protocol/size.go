package protocol

// Wire sizes of the node package's message frame (node/frame.go, docs/wire.md), repeated
// here so that the simulator can count the bytes a run would send without depending on the
// node package; a test there holds the two equal.
const (
	wireLength    = 4               // the frame's length prefix
	wireHeader    = 1 + 1 + 8 + 1   // version, frame type, sender ID, address length
	wireMessage   = 1 + 1 + 2 + 5*8 // type, status, hops, to, joiner, neighbour, key, op
	wireAddresses = 2               // the joiner's and the neighbour's address lengths
	wireMaxFrame  = 16 << 10        // node.MaxFrameSize: the largest body of one frame
	wireItemFixed = 8 + 1 + 2 + 2   // item ID, flags, key and value lengths
	wireDataFixed = 1 + 2 + 2 + 2   // data flags, key and value lengths, item count
	wireNoData    = 1               // data flags alone
	wireFixed     = wireHeader + wireMessage + wireAddresses
)

// WireSize is the number of bytes the node package puts on the wire for m, length prefixes
// included, with empty addresses (the simulator's nodes have none; a real node adds the
// length of its own address and of those it passes on). A handoff too large for one frame
// is split as the node package splits it, each part repeating the message.
func (m *Message) WireSize() int {
	d := m.Data
	if d == nil {
		return wireLength + wireFixed + wireNoData
	}
	head := wireFixed + wireDataFixed + len(d.Key) + len(d.Value) // a body without items
	items, n := 0, len(d.Items)+len(d.Replicas)
	size := func(k int) int {
		var it *Item
		if k < len(d.Items) {
			it = &d.Items[k]
		} else {
			it = &d.Replicas[k-len(d.Items)]
		}
		return wireItemFixed + len(it.Key) + len(it.Value)
	}
	for k := range n {
		items += size(k)
	}
	room := wireMaxFrame - head
	if n < 2 || items <= room {
		return wireLength + head + items
	}
	// Greedy parts, in order, as node.AppendMessage cuts them.
	total := 0
	for lo := 0; lo < n; {
		sz := 0
		for lo < n && sz+size(lo) <= room {
			sz += size(lo)
			lo++
		}
		if sz == 0 {
			lo++ // an item too large for any frame: the node refuses the message
		}
		total += wireLength + head + sz
	}
	return total
}
