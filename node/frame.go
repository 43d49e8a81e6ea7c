package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dhtexp/dhtexp/protocol"
)

// Wire format constants; docs/wire.md describes the layout byte by byte.
const (
	// Version is the only frame version this package speaks. A frame with another version
	// closes the connection: there is no negotiation.
	Version = 4
	// MaxFrameSize bounds a frame's body (everything after the length prefix), and so what
	// a length prefix can make a node allocate before the bytes have arrived. The largest
	// frame that cannot be split, a put or get reply with a 255-byte key, a 4096-byte value
	// and two 255-byte addresses, is under 5 KiB; a handoff of many keys is split over as
	// many frames as it needs (see Frame.More).
	MaxFrameSize = 16 << 10
	// MaxMessageSize bounds the frames of one message split over several: a receiver closes
	// a connection whose message grows beyond it, and a sender refuses, with a logged error,
	// to send a handoff that would. Memory for a split message grows only with the bytes
	// that actually arrive.
	MaxMessageSize = 64 << 20
	// MaxString bounds every str8 on the wire (addresses, names, errors): its length is
	// one byte.
	MaxString = 255
	// MaxBytes bounds keys and values on the wire (bytes16: a two-byte length). The protocol's
	// own limits are lower; a node refuses a client's key or value beyond those with a reply
	// that says so, which is why the wire can carry them.
	MaxBytes = 1<<16 - 1

	lengthSize = 4
	headerSize = 1 + 1 + 8 + 1 // version, type, sender ID, address length
)

// FrameType names a frame.
type FrameType uint8

// Frame types. Message and Leave travel between nodes; the others are requests from a
// client (a joining node asking its contact for its ID, "dhtexp status", "dhtexp kv") and
// their replies on the same connection.
const (
	FrameMessage       FrameType = iota + 1 // a protocol message
	FrameIdentify                           // client: who are you?
	FrameIdentity                           // reply to FrameIdentify
	FrameStatusRequest                      // client: what is your state?
	FrameStatus                             // reply to FrameStatusRequest
	FrameLeave                              // the sender leaves the ring
	FrameKVRequest                          // client: lookup, get or put a key
	FrameKVReply                            // reply to FrameKVRequest
	FrameError                              // node: the frame just received is refused; the connection closes
	FrameStoreRequest                       // client: which keys and copies do you hold?
	FrameStore                              // reply to FrameStoreRequest: one page of them
	numFrameTypes
)

var frameTypeNames = [...]string{
	FrameMessage: "message", FrameIdentify: "identify", FrameIdentity: "identity",
	FrameStatusRequest: "status_request", FrameStatus: "status", FrameLeave: "leave",
	FrameKVRequest: "kv_request", FrameKVReply: "kv_reply", FrameError: "error",
	FrameStoreRequest: "store_request", FrameStore: "store",
}

func (t FrameType) String() string {
	if t > 0 && t < numFrameTypes {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

// Errors a frame can fail with. Each wraps one of these, so callers can tell a peer that
// speaks another version from one that sends garbage.
var (
	ErrTruncated = errors.New("truncated frame")
	ErrTooLarge  = errors.New("frame too large")
	ErrVersion   = errors.New("unsupported frame version")
	ErrMalformed = errors.New("malformed frame")
)

// Frame is one decoded frame. Only the fields of its Type are meaningful; the others are
// zero.
type Frame struct {
	Type FrameType
	From protocol.ID // the sender's node ID; protocol.None from a client
	Addr string      // the sender's listen address; "" from a client

	// FrameMessage: Msg.From equals From. JoinerAddr and NeighbourAddr are the sender's
	// knowledge of where Msg.Joiner and Msg.Neighbour listen ("" when it has none), so that
	// the receiver can reach nodes it only hears about.
	Msg                       protocol.Message
	JoinerAddr, NeighbourAddr string
	// SuccAddrs are, likewise, where the IDs of Msg.Data.Succs listen, in their order; nil
	// when the sender knows none of them. A node that adopts a successor list can reach
	// only successors it has an address for.
	SuccAddrs []string
	// More: the message goes on in the next frame on the connection. A message whose
	// handoff items do not fit in one frame travels as several frames, each with the whole
	// message and a share of Msg.Data.Items; only the last has More unset (AppendMessage).
	More bool

	Identity  Identity  // FrameIdentity; ID and Addr mirror From and Addr
	Status    Status    // FrameStatus; ID and Addr mirror From and Addr
	Leave     Leave     // FrameLeave
	KVRequest KVRequest // FrameKVRequest
	KVReply   KVReply   // FrameKVReply
	Error     string    // FrameError: why the node refuses the frame it received
	// StoreFrom is FrameStoreRequest's first entry wanted, an index into the node's keys
	// followed by its copies.
	StoreFrom int
	Store     Store // FrameStore
}

// Store is one page of what a node holds: entries From.. of its keys followed by the copies
// it keeps for its predecessors, as many as fit in a frame. A cluster reads every page to
// check a ring's replication (Client.Store).
type Store struct {
	Total    int // keys and copies the node holds
	From     int
	Items    []protocol.Item // keys among the page's entries, sorted by (ID, Key)
	Replicas []protocol.Item // copies among them, after the keys
}

// KVRequest is a client's key-value operation. Kind and the sizes of Key and Value are
// checked by the node, not by the wire, so that a bad request gets a reply saying what is
// wrong with it.
type KVRequest struct {
	Kind  protocol.OpKind
	Op    uint64 // the client's number for the request, echoed in the reply
	Key   string
	Value []byte // put: the value to store
}

// StatusRefused is the KVReply status of a request the node did not carry out (bad input,
// or a node that cannot serve); KVReply.Error says why. Protocol statuses start at 1.
const StatusRefused protocol.OpStatus = 0

// KVReply is the end of a client's operation.
type KVReply struct {
	Kind      protocol.OpKind
	Status    protocol.OpStatus // a protocol status, or StatusRefused
	Op        uint64            // the request's Op
	KeyID     protocol.ID       // the key's place on the ring; None when refused
	Owner     protocol.ID       // the node that answered as the key's owner, or None
	OwnerAddr string            // where Owner listens, if the node knows
	Hops      int               // forwards the operation took
	Value     []byte            // get: the value found
	Error     string            // why the request was refused or failed, for people
}

// StatusName spells a reply status: the protocol's names, and "refused".
func StatusName(s protocol.OpStatus) string {
	if s == StatusRefused {
		return "refused"
	}
	return s.String()
}

func validStatus(s uint8) bool {
	return s == uint8(StatusRefused) || !strings.HasPrefix(protocol.OpStatus(s).String(), "status(")
}

// Identity is what a node tells a client that asks who it is.
type Identity struct {
	ID       protocol.ID
	Addr     string
	Bits     uint8
	Protocol string
}

// Leave is what a node that leaves without the protocol's exchange tells its neighbours:
// its own neighbours at the time, so that a receiver could patch the ring once the
// protocol has a way to (see docs/nodes.md).
type Leave struct {
	Left, Right         protocol.ID
	LeftAddr, RightAddr string
}

// Status is a node's observable state, as "dhtexp status" and the cluster read it.
type Status struct {
	ID        protocol.ID
	Addr      string
	Protocol  string
	Bits      uint8
	Left      protocol.ID
	Right     protocol.ID
	LeftAddr  string
	RightAddr string
	Connected bool
	Waiting   bool
	Locked    bool
	Member    bool // started inside the ring rather than joining it
	// Failed: the newcomer gave up its join after its bounded retries and reports it
	// (protocol.State.Failed); only variants that retry set it.
	Failed bool
	// Leaving: the node has handed its keys to its right neighbour in the protocol's leave
	// exchange and forwards what still reaches it; Departed: its left neighbour points past
	// it, so it is out of the ring (protocol.State.Leaving and Departed). Only variants
	// with the exchange set them.
	Leaving  bool
	Departed bool
	Queue    int
	// Timers counts the protocol timers set and not yet handled. Stale ones among them
	// change nothing when they fire, but the driver cannot tell them apart, so a node is
	// sure to stay as it is only once this is 0 and no message is in flight. Maintenance
	// (protocol.Timer.Background: finger refresh, and the lookups it starts) is left out:
	// it never ends by itself and cannot change the ring.
	Timers int
	// Keys is the number of keys the node stores; Fingers the routing shortcuts it knows.
	Keys    int
	Fingers int
	Contact protocol.ID // newcomers: the node the join went through
	// JoinStart and JoinEnd are Unix nanoseconds on the node's own clock; 0 when the join
	// has not started or not ended (and always for members).
	JoinStart int64
	JoinEnd   int64
	// Message counters: sent counts every message the protocol asked to send (self-addressed
	// ones too), delivered every message handed to the protocol, dropped every message that
	// could not be sent or was refused on arrival.
	Sent      int64
	Delivered int64
	Dropped   int64
	// AuthRefused counts the connections the node closed because their hello or a frame
	// did not authenticate (with a cluster secret; always 0 without one). None of those
	// frames changed anything.
	AuthRefused int64
	// Error is the protocol error that stopped the node's state machine, if any.
	Error string
}

// State returns the protocol-level part of the status, as the ring checks take it.
func (s *Status) State() protocol.State {
	return protocol.State{ID: s.ID, Left: s.Left, Right: s.Right, Connected: s.Connected,
		Waiting: s.Waiting, Locked: s.Locked, Queue: s.Queue, Failed: s.Failed, Leaving: s.Leaving, Departed: s.Departed}
}

// Status flag bits on the wire.
const (
	flagConnected = 1 << iota
	flagWaiting
	flagLocked
	flagMember
	flagFailed
	flagLeaving
	flagDeparted
	flagsKnown = flagConnected | flagWaiting | flagLocked | flagMember | flagFailed | flagLeaving | flagDeparted
)

// validMsgType says which message types the protocol package knows. Unknown types are
// refused on the wire so that every message a node accepts has a name in its trace.
var validMsgType [256]bool

func init() {
	// The known types run from 1 to the last one named: String names an unknown type
	// msg(N), and from there on every type is unknown. Asking ParseMsgType about each
	// unknown type built an error for it, at every command's start.
	for t := 1; t < 256; t++ {
		s := protocol.MsgType(t).String()
		if strings.HasPrefix(s, "msg(") {
			break
		}
		if _, err := protocol.ParseMsgType(s); err == nil {
			validMsgType[t] = true
		}
	}
}

// AppendFrame appends f, length prefix included, to dst.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, Version, byte(f.Type))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.From))
	var err error
	if dst, err = appendString(dst, f.Addr); err != nil {
		return dst[:start], err
	}
	switch f.Type {
	case FrameMessage:
		m := &f.Msg
		if !validMsgType[m.Type] {
			return dst[:start], fmt.Errorf("%w: unknown message type %d", ErrMalformed, m.Type)
		}
		if m.From != f.From {
			return dst[:start], fmt.Errorf("%w: message from %v in a frame from %v", ErrMalformed, m.From, f.From)
		}
		dst = append(dst, byte(m.Type), m.Status)
		dst = binary.BigEndian.AppendUint16(dst, m.Hops)
		for _, v := range [...]uint64{uint64(m.To), uint64(m.Joiner), uint64(m.Neighbour), uint64(m.Key), m.Op} {
			dst = binary.BigEndian.AppendUint64(dst, v)
		}
		if dst, err = appendString(dst, f.JoinerAddr); err == nil {
			dst, err = appendString(dst, f.NeighbourAddr)
		}
		if err == nil {
			dst, err = appendData(dst, m.Data, f.More, f.SuccAddrs)
		}
	case FrameIdentify, FrameStatusRequest:
	case FrameIdentity:
		dst = append(dst, f.Identity.Bits)
		dst, err = appendString(dst, f.Identity.Protocol)
	case FrameStatus:
		s := &f.Status
		if s.Queue < 0 || int64(s.Queue) > int64(^uint32(0)) {
			return dst[:start], fmt.Errorf("%w: queue length %d", ErrMalformed, s.Queue)
		}
		if s.Timers < 0 || int64(s.Timers) > int64(^uint32(0)) {
			return dst[:start], fmt.Errorf("%w: %d timers", ErrMalformed, s.Timers)
		}
		var flags byte
		if s.Connected {
			flags |= flagConnected
		}
		if s.Waiting {
			flags |= flagWaiting
		}
		if s.Locked {
			flags |= flagLocked
		}
		if s.Member {
			flags |= flagMember
		}
		if s.Failed {
			flags |= flagFailed
		}
		if s.Leaving {
			flags |= flagLeaving
		}
		if s.Departed {
			flags |= flagDeparted
		}
		for _, c := range [...]struct {
			v    int
			name string
		}{{s.Keys, "keys"}, {s.Fingers, "fingers"}} {
			if c.v < 0 || int64(c.v) > int64(^uint32(0)) {
				return dst[:start], fmt.Errorf("%w: %d %s", ErrMalformed, c.v, c.name)
			}
		}
		dst = append(dst, s.Bits, flags)
		for _, v := range [...]int{s.Queue, s.Timers, s.Keys, s.Fingers} {
			dst = binary.BigEndian.AppendUint32(dst, uint32(v))
		}
		for _, v := range [...]uint64{uint64(s.Left), uint64(s.Right), uint64(s.Contact),
			uint64(s.JoinStart), uint64(s.JoinEnd), uint64(s.Sent), uint64(s.Delivered), uint64(s.Dropped), uint64(s.AuthRefused)} {
			dst = binary.BigEndian.AppendUint64(dst, v)
		}
		for _, str := range [...]string{s.Protocol, s.LeftAddr, s.RightAddr, s.Error} {
			if dst, err = appendString(dst, str); err != nil {
				break
			}
		}
	case FrameLeave:
		l := &f.Leave
		dst = binary.BigEndian.AppendUint64(dst, uint64(l.Left))
		dst = binary.BigEndian.AppendUint64(dst, uint64(l.Right))
		if dst, err = appendString(dst, l.LeftAddr); err == nil {
			dst, err = appendString(dst, l.RightAddr)
		}
	case FrameKVRequest:
		q := &f.KVRequest
		dst = append(dst, byte(q.Kind))
		dst = binary.BigEndian.AppendUint64(dst, q.Op)
		if dst, err = appendBytes(dst, q.Key, "key"); err == nil {
			dst, err = appendBytes(dst, q.Value, "value")
		}
	case FrameKVReply:
		r := &f.KVReply
		if !validStatus(uint8(r.Status)) {
			return dst[:start], fmt.Errorf("%w: unknown reply status %d", ErrMalformed, r.Status)
		}
		if r.Hops < 0 || r.Hops > 0xffff {
			return dst[:start], fmt.Errorf("%w: %d hops", ErrMalformed, r.Hops)
		}
		dst = append(dst, byte(r.Kind), byte(r.Status))
		for _, v := range [...]uint64{r.Op, uint64(r.KeyID), uint64(r.Owner)} {
			dst = binary.BigEndian.AppendUint64(dst, v)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.Hops))
		if dst, err = appendString(dst, r.OwnerAddr); err == nil {
			if dst, err = appendBytes(dst, r.Value, "value"); err == nil {
				dst, err = appendString(dst, r.Error)
			}
		}
	case FrameError:
		dst, err = appendString(dst, f.Error)
	case FrameStoreRequest:
		if f.StoreFrom < 0 || int64(f.StoreFrom) > int64(^uint32(0)) {
			return dst[:start], fmt.Errorf("%w: store entry %d", ErrMalformed, f.StoreFrom)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(f.StoreFrom))
	case FrameStore:
		st := &f.Store
		n := len(st.Items) + len(st.Replicas)
		if st.From < 0 || st.Total < 0 || int64(st.Total) > int64(^uint32(0)) || n > 0xffff || st.From+n > st.Total {
			return dst[:start], fmt.Errorf("%w: store page of %d entries from %d of %d", ErrMalformed, n, st.From, st.Total)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(st.Total))
		dst = binary.BigEndian.AppendUint32(dst, uint32(st.From))
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		dst, err = appendItems(dst, st.Items, st.Replicas)
	default:
		return dst[:start], fmt.Errorf("%w: unknown frame type %d", ErrMalformed, f.Type)
	}
	if err != nil {
		return dst[:start], err
	}
	body := len(dst) - start - lengthSize
	if body > MaxFrameSize {
		return dst[:start], fmt.Errorf("%w: %d bytes", ErrTooLarge, body)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(body))
	return dst, nil
}

func appendString(dst []byte, s string) ([]byte, error) {
	if len(s) > MaxString {
		return dst, fmt.Errorf("%w: string of %d bytes (at most %d)", ErrMalformed, len(s), MaxString)
	}
	return append(append(dst, byte(len(s))), s...), nil
}

// appendBytes appends a bytes16: a two-byte length and the bytes.
func appendBytes[T string | []byte](dst []byte, b T, what string) ([]byte, error) {
	if len(b) > MaxBytes {
		return dst, fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrMalformed, what, len(b), MaxBytes)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...), nil
}

// Data flag bits of a message.
const (
	dataPresent = 1 << iota
	dataMore
	dataSuccs // a successor list follows the items (protocol.Data.Succs; version 4)
	// dataSuccAddrs: the successors' addresses follow their IDs (Frame.SuccAddrs). Without
	// it a message is the size protocol.Message.WireSize counts with empty addresses.
	dataSuccAddrs
	dataKnown = dataPresent | dataMore | dataSuccs | dataSuccAddrs
)

func appendData(dst []byte, d *protocol.Data, more bool, succAddrs []string) ([]byte, error) {
	if d == nil {
		if more || succAddrs != nil {
			return dst, fmt.Errorf("%w: a message with no data cannot go on in another frame or name successors", ErrMalformed)
		}
		return append(dst, 0), nil
	}
	if succAddrs != nil && (len(succAddrs) != len(d.Succs) || len(d.Succs) == 0) {
		return dst, fmt.Errorf("%w: %d successor addresses for %d successors", ErrMalformed, len(succAddrs), len(d.Succs))
	}
	flags := byte(dataPresent)
	if more {
		flags |= dataMore
	}
	if len(d.Succs) > 0 {
		flags |= dataSuccs
	}
	if succAddrs != nil {
		flags |= dataSuccAddrs
	}
	if len(d.Items)+len(d.Replicas) > 0xffff {
		return dst, fmt.Errorf("%w: %d items in one frame", ErrMalformed, len(d.Items)+len(d.Replicas))
	}
	if len(d.Succs) > 0xff {
		return dst, fmt.Errorf("%w: a successor list of %d IDs", ErrMalformed, len(d.Succs))
	}
	dst = append(dst, flags)
	var err error
	if dst, err = appendBytes(dst, d.Key, "key"); err != nil {
		return dst, err
	}
	if dst, err = appendBytes(dst, d.Value, "value"); err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(d.Items)+len(d.Replicas)))
	if dst, err = appendItems(dst, d.Items, d.Replicas); err != nil {
		return dst, err
	}
	if len(d.Succs) > 0 {
		dst = append(dst, byte(len(d.Succs)))
		for _, id := range d.Succs {
			dst = binary.BigEndian.AppendUint64(dst, uint64(id))
		}
		for _, addr := range succAddrs {
			if dst, err = appendString(dst, addr); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// appendItems appends stored items and then replicas, each as id u64, flags u8, key
// bytes16, value bytes16; the count goes before them, written by the caller.
func appendItems(dst []byte, items, replicas []protocol.Item) ([]byte, error) {
	var err error
	for k, list := range [2][]protocol.Item{items, replicas} {
		for i := range list {
			it := &list[i]
			dst = binary.BigEndian.AppendUint64(dst, uint64(it.ID))
			dst = append(dst, byte(k)) // item flags: bit 0 marks a replica
			if dst, err = appendBytes(dst, it.Key, "item key"); err != nil {
				return dst, err
			}
			if dst, err = appendBytes(dst, it.Value, "item value"); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// Item flag bits.
const (
	itemReplica = 1 << iota
	itemKnown   = itemReplica
)

// itemSize is what an item adds to a message frame.
func itemSize(it *protocol.Item) int { return 8 + 1 + 2 + len(it.Key) + 2 + len(it.Value) }

// shareOf is the part [lo, hi) of a handoff whose items are d.Items followed by d.Replicas.
func shareOf(d *protocol.Data, lo, hi int) *protocol.Data {
	n := len(d.Items)
	part := &protocol.Data{Key: d.Key, Value: d.Value, Succs: d.Succs}
	if lo < n {
		part.Items = d.Items[lo:min(hi, n)]
	}
	if hi > n {
		part.Replicas = d.Replicas[max(lo, n)-n : hi-n]
	}
	return part
}

// AppendMessage appends a FrameMessage: one frame when it fits, else as many frames as its
// handoff items need, all with the whole message and a share of the items, all but the
// last with More set. A receiver puts them back together (Assembler). Written in one piece
// on one connection, the frames of a message are never interleaved with others.
func AppendMessage(dst []byte, f *Frame) ([]byte, error) {
	d := f.Msg.Data
	if f.Type != FrameMessage || d == nil || len(d.Items)+len(d.Replicas) < 2 {
		return AppendFrame(dst, f)
	}
	all := d.Items
	if len(d.Replicas) > 0 {
		all = append(append(make([]protocol.Item, 0, len(d.Items)+len(d.Replicas)), d.Items...), d.Replicas...)
	}
	// The frame without its items, with More set: what every part costs besides its items.
	bare := *f
	bare.More = true
	bare.Msg.Data = &protocol.Data{Key: d.Key, Value: d.Value, Succs: d.Succs}
	head, err := AppendFrame(nil, &bare)
	if err != nil {
		return dst, err
	}
	room := MaxFrameSize - (len(head) - lengthSize)
	total := 0
	for i := range all {
		sz := itemSize(&all[i])
		if sz > room {
			return dst, fmt.Errorf("%w: item %q of %d bytes does not fit in a frame", ErrTooLarge, all[i].Key, sz)
		}
		total += sz
	}
	if total <= room {
		return AppendFrame(dst, f)
	}
	// Parts are packed greedily, in order; the receiver counts the same bodies against
	// MaxMessageSize.
	var cuts []int
	body := 0
	for lo := 0; lo < len(all); {
		hi, sz := lo, 0
		for hi < len(all) && sz+itemSize(&all[hi]) <= room {
			sz += itemSize(&all[hi])
			hi++
		}
		cuts = append(cuts, hi)
		body += len(head) - lengthSize + sz
		lo = hi
	}
	if body > MaxMessageSize {
		return dst, fmt.Errorf("%w: message of %d items and %d bytes (at most %d)", ErrTooLarge, len(all), body, MaxMessageSize)
	}
	start, part, lo := len(dst), bare, 0
	for _, hi := range cuts {
		part.Msg.Data = shareOf(d, lo, hi)
		part.More = hi < len(all)
		if dst, err = AppendFrame(dst, &part); err != nil {
			return dst[:start], err
		}
		lo = hi
	}
	return dst, nil
}

// Assembler puts split messages back together from the frames of one connection, in
// order. It holds at most one message at a time.
type Assembler struct {
	part *Frame
	size int // body bytes of the frames held
}

// Add takes the next message frame of the connection (body is its size after the length
// prefix). It returns the whole message once its last frame has come, or nil while more
// frames are due. A frame that does not continue the message held, or a message that grows
// beyond MaxMessageSize, is an error.
func (a *Assembler) Add(f *Frame, body int) (*Frame, error) {
	if a.part == nil {
		if !f.More {
			return f, nil
		}
		cp := *f
		d := *f.Msg.Data
		cp.Msg.Data = &d
		a.part, a.size = &cp, body
		return nil, nil
	}
	if !sameMessage(a.part, f) {
		held := a.part.Msg.Type
		a.Reset()
		return nil, fmt.Errorf("%w: a %s message interrupts a %s message split over frames", ErrMalformed, f.Msg.Type, held)
	}
	a.size += body
	if a.size > MaxMessageSize {
		size := a.size
		a.Reset()
		return nil, fmt.Errorf("%w: message split over frames exceeds %d bytes (%d so far)", ErrTooLarge, MaxMessageSize, size)
	}
	d := a.part.Msg.Data
	d.Items = append(d.Items, f.Msg.Data.Items...)
	d.Replicas = append(d.Replicas, f.Msg.Data.Replicas...)
	if f.More {
		return nil, nil
	}
	whole := a.part
	whole.More = false
	a.Reset()
	return whole, nil
}

// Pending reports whether a message is partly received; its size in bytes so far.
func (a *Assembler) Pending() (bool, int) { return a.part != nil, a.size }

// Reset drops the message held.
func (a *Assembler) Reset() { a.part, a.size = nil, 0 }

// sameMessage reports whether b continues a's message: everything but the items agrees.
func sameMessage(a, b *Frame) bool {
	if b.Type != FrameMessage || b.Msg.Data == nil {
		return false
	}
	am, bm := a.Msg, b.Msg
	ad, bd := am.Data, bm.Data
	am.Data, bm.Data = nil, nil
	return a.From == b.From && a.Addr == b.Addr && am == bm &&
		a.JoinerAddr == b.JoinerAddr && a.NeighbourAddr == b.NeighbourAddr && slices.Equal(a.SuccAddrs, b.SuccAddrs) &&
		ad.Key == bd.Key && string(ad.Value) == string(bd.Value)
}

// DecodeFrame decodes exactly one frame, length prefix included. Every byte must belong
// to the frame: the encoding is canonical, so a frame that decodes re-encodes to the same
// bytes.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < lengthSize {
		return Frame{}, fmt.Errorf("%w: %d bytes, no length prefix", ErrTruncated, len(b))
	}
	n, err := checkLength(b[:lengthSize])
	if err != nil {
		return Frame{}, err
	}
	switch body := b[lengthSize:]; {
	case len(body) < n:
		return Frame{}, fmt.Errorf("%w: %d of %d body bytes", ErrTruncated, len(body), n)
	case len(body) > n:
		return Frame{}, fmt.Errorf("%w: %d bytes after the frame", ErrMalformed, len(body)-n)
	default:
		return decodeBody(body)
	}
}

// checkLength validates a length prefix before anything is allocated for the body.
func checkLength(p []byte) (int, error) {
	n := binary.BigEndian.Uint32(p)
	if n > MaxFrameSize {
		return 0, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, n, MaxFrameSize)
	}
	if n < headerSize {
		return 0, fmt.Errorf("%w: body of %d bytes is shorter than a header", ErrMalformed, n)
	}
	return int(n), nil
}

// ReadFrame reads one frame from r. buf is scratch space for the body, returned for
// reuse. A connection closed cleanly between frames gives io.EOF; closed inside a frame,
// ErrTruncated. Read errors (deadlines included) are returned as they are.
func ReadFrame(r io.Reader, buf []byte) (Frame, []byte, error) {
	var p [lengthSize]byte
	if k, err := io.ReadFull(r, p[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: connection closed after %d length bytes", ErrTruncated, k)
		}
		return Frame{}, buf, err
	}
	n, err := checkLength(p[:])
	if err != nil {
		return Frame{}, buf, err
	}
	if cap(buf) < n {
		buf = make([]byte, n, MaxFrameSize)
	}
	buf = buf[:n]
	if k, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: connection closed after %d of %d body bytes", ErrTruncated, k, n)
		}
		return Frame{}, buf, err
	}
	f, err := decodeBody(buf)
	return f, buf, err
}

// decoder reads a body front to back; the first short read sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) need(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("body ends inside %s", what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) uint8 {
	if v := d.need(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if v := d.need(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// bytes reads a bytes16 into memory of its own (the body buffer is reused); empty is nil.
func (d *decoder) bytes(what string) []byte {
	n := d.u16(what + " length")
	v := d.need(int(n), what)
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// data reads a message's data section, its More flag and the successors' addresses (nil
// when the frame has none).
func (d *decoder) data() (*protocol.Data, bool, []string) {
	flags := d.u8("data flags")
	if flags&^dataKnown != 0 {
		d.fail("unknown data flags %#x", flags&^dataKnown)
	}
	if flags&dataPresent == 0 {
		if flags != 0 {
			d.fail("data flags %#x without data", flags)
		}
		return nil, false, nil
	}
	data := &protocol.Data{Key: string(d.bytes("data key")), Value: d.bytes("data value")}
	data.Items, data.Replicas = d.items()
	var succAddrs []string
	if flags&dataSuccs != 0 {
		k := int(d.u8("successor count"))
		if k == 0 {
			d.fail("an empty successor list")
		}
		if d.err == nil && k > len(d.b)/8 {
			d.fail("%d successors in %d bytes", k, len(d.b))
		}
		if d.err == nil {
			data.Succs = make([]protocol.ID, k)
			for i := range data.Succs {
				data.Succs[i] = d.id("successor ID")
			}
		}
		if d.err == nil && flags&dataSuccAddrs != 0 {
			succAddrs = make([]string, k)
			for i := range succAddrs {
				succAddrs[i] = d.str("successor address")
			}
		}
	} else if flags&dataSuccAddrs != 0 {
		d.fail("successor addresses without successors")
	}
	if d.err != nil {
		return nil, false, nil
	}
	return data, flags&dataMore != 0, succAddrs
}

// items reads an item count and that many items: the stored ones, then the replicas.
func (d *decoder) items() (items, replicas []protocol.Item) {
	n := int(d.u16("item count"))
	// Every item takes at least its ID and two lengths: a count the body cannot hold is
	// refused before anything is allocated for it.
	if d.err == nil && n > len(d.b)/13 {
		d.fail("%d items in %d bytes", n, len(d.b))
	}
	if d.err != nil || n == 0 {
		return nil, nil
	}
	all := make([]protocol.Item, n)
	primary := 0
	for i := 0; i < n && d.err == nil; i++ {
		var it protocol.Item
		it.ID = d.id("item ID")
		flags := d.u8("item flags")
		if flags&^itemKnown != 0 {
			d.fail("unknown item flags %#x", flags&^itemKnown)
		}
		it.Key = string(d.bytes("item key"))
		it.Value = d.bytes("item value")
		if flags&itemReplica == 0 {
			if i != primary {
				d.fail("a stored item after a replica")
			}
			primary++
		}
		all[i] = it
	}
	if primary > 0 {
		items = all[:primary:primary]
	}
	if primary < n {
		replicas = all[primary:]
	}
	return items, replicas
}

func (d *decoder) u32(what string) uint32 {
	if v := d.need(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if v := d.need(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) id(what string) protocol.ID { return protocol.ID(d.u64(what)) }

func (d *decoder) str(what string) string {
	n := d.u8(what + " length")
	return string(d.need(int(n), what))
}

func decodeBody(b []byte) (Frame, error) {
	if b[0] != Version {
		return Frame{}, fmt.Errorf("%w %d (this node speaks %d)", ErrVersion, b[0], Version)
	}
	d := decoder{b: b[2:]}
	f := Frame{Type: FrameType(b[1])}
	f.From = d.id("sender")
	f.Addr = d.str("sender address")
	switch f.Type {
	case FrameMessage:
		t := d.u8("message type")
		if d.err == nil && !validMsgType[t] {
			d.fail("unknown message type %d", t)
		}
		f.Msg = protocol.Message{Type: protocol.MsgType(t), From: f.From, Status: d.u8("status"), Hops: d.u16("hops"),
			To: d.id("addressee"), Joiner: d.id("joiner"), Neighbour: d.id("neighbour"), Key: d.id("key"), Op: d.u64("op")}
		f.JoinerAddr = d.str("joiner address")
		f.NeighbourAddr = d.str("neighbour address")
		f.Msg.Data, f.More, f.SuccAddrs = d.data()
	case FrameIdentify, FrameStatusRequest:
	case FrameIdentity:
		f.Identity = Identity{ID: f.From, Addr: f.Addr, Bits: d.u8("bits"), Protocol: d.str("protocol")}
	case FrameStatus:
		s := &f.Status
		s.ID, s.Addr = f.From, f.Addr
		s.Bits = d.u8("bits")
		flags := d.u8("flags")
		if flags&^flagsKnown != 0 {
			d.fail("unknown status flags %#x", flags&^flagsKnown)
		}
		s.Connected, s.Waiting = flags&flagConnected != 0, flags&flagWaiting != 0
		s.Locked, s.Member = flags&flagLocked != 0, flags&flagMember != 0
		s.Failed = flags&flagFailed != 0
		s.Leaving, s.Departed = flags&flagLeaving != 0, flags&flagDeparted != 0
		s.Queue = int(d.u32("queue"))
		s.Timers = int(d.u32("timers"))
		s.Keys = int(d.u32("keys"))
		s.Fingers = int(d.u32("fingers"))
		s.Left, s.Right, s.Contact = d.id("left"), d.id("right"), d.id("contact")
		s.JoinStart, s.JoinEnd = int64(d.u64("join start")), int64(d.u64("join end"))
		s.Sent, s.Delivered, s.Dropped = int64(d.u64("sent")), int64(d.u64("delivered")), int64(d.u64("dropped"))
		s.AuthRefused = int64(d.u64("auth refused"))
		s.Protocol = d.str("protocol")
		s.LeftAddr, s.RightAddr = d.str("left address"), d.str("right address")
		s.Error = d.str("error")
	case FrameLeave:
		f.Leave = Leave{Left: d.id("left"), Right: d.id("right")}
		f.Leave.LeftAddr = d.str("left address")
		f.Leave.RightAddr = d.str("right address")
	case FrameKVRequest:
		q := &f.KVRequest
		q.Kind = protocol.OpKind(d.u8("operation"))
		q.Op = d.u64("op")
		q.Key = string(d.bytes("key"))
		q.Value = d.bytes("value")
	case FrameKVReply:
		r := &f.KVReply
		r.Kind = protocol.OpKind(d.u8("operation"))
		st := d.u8("status")
		if d.err == nil && !validStatus(st) {
			d.fail("unknown reply status %d", st)
		}
		r.Status = protocol.OpStatus(st)
		r.Op, r.KeyID, r.Owner = d.u64("op"), d.id("key ID"), d.id("owner")
		r.Hops = int(d.u16("hops"))
		r.OwnerAddr = d.str("owner address")
		r.Value = d.bytes("value")
		r.Error = d.str("error")
	case FrameError:
		f.Error = d.str("error")
	case FrameStoreRequest:
		f.StoreFrom = int(d.u32("first entry"))
	case FrameStore:
		st := &f.Store
		st.Total, st.From = int(d.u32("total")), int(d.u32("first entry"))
		st.Items, st.Replicas = d.items()
		if d.err == nil && st.From+len(st.Items)+len(st.Replicas) > st.Total {
			d.fail("store page of %d entries from %d of %d", len(st.Items)+len(st.Replicas), st.From, st.Total)
		}
	default:
		d.fail("unknown frame type %d", uint8(f.Type))
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the %s payload", len(d.b), f.Type)
	}
	if d.err != nil {
		return Frame{}, d.err
	}
	return f, nil
}
