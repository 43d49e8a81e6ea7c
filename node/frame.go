package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/dhtexp/dhtexp/protocol"
)

// Wire format constants; docs/wire.md describes the layout byte by byte.
const (
	// Version is the only frame version this package speaks. A frame with another version
	// closes the connection: there is no negotiation.
	Version = 1
	// MaxFrameSize bounds a frame's body (everything after the length prefix). The largest
	// legitimate frame, a status with three 255-byte addresses and a 255-byte error, is
	// about 1.2 KiB, so 4 KiB leaves room without letting a peer make us allocate much.
	MaxFrameSize = 4096
	// MaxString bounds every string on the wire (addresses, names, errors): its length is
	// one byte.
	MaxString = 255

	lengthSize = 4
	headerSize = 1 + 1 + 8 + 1 // version, type, sender ID, address length
)

// FrameType names a frame.
type FrameType uint8

// Frame types. Message and Leave travel between nodes; the others are requests from a
// client (a joining node asking its contact for its ID, or "dhtexp status") and their
// replies on the same connection.
const (
	FrameMessage       FrameType = iota + 1 // a protocol message
	FrameIdentify                           // client: who are you?
	FrameIdentity                           // reply to FrameIdentify
	FrameStatusRequest                      // client: what is your state?
	FrameStatus                             // reply to FrameStatusRequest
	FrameLeave                              // the sender leaves the ring
	numFrameTypes
)

var frameTypeNames = [...]string{
	FrameMessage: "message", FrameIdentify: "identify", FrameIdentity: "identity",
	FrameStatusRequest: "status_request", FrameStatus: "status", FrameLeave: "leave",
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

	Identity Identity // FrameIdentity; ID and Addr mirror From and Addr
	Status   Status   // FrameStatus; ID and Addr mirror From and Addr
	Leave    Leave    // FrameLeave
}

// Identity is what a node tells a client that asks who it is.
type Identity struct {
	ID       protocol.ID
	Addr     string
	Bits     uint8
	Protocol string
}

// Leave is what a leaving node tells its neighbours: its own neighbours at the time, so
// that a receiver could patch the ring once the protocol has a way to (see docs/nodes.md).
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
	Queue  int
	// Timers counts the protocol timers set and not yet handled. Stale ones among them
	// change nothing when they fire, but the driver cannot tell them apart, so a node is
	// sure to stay as it is only once this is 0 and no message is in flight.
	Timers  int
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
	// Error is the protocol error that stopped the node's state machine, if any.
	Error string
}

// State returns the protocol-level part of the status, as the ring checks take it.
func (s *Status) State() protocol.State {
	return protocol.State{ID: s.ID, Left: s.Left, Right: s.Right, Connected: s.Connected,
		Waiting: s.Waiting, Locked: s.Locked, Queue: s.Queue, Failed: s.Failed}
}

// Status flag bits on the wire.
const (
	flagConnected = 1 << iota
	flagWaiting
	flagLocked
	flagMember
	flagFailed
	flagsKnown = flagConnected | flagWaiting | flagLocked | flagMember | flagFailed
)

// validMsgType says which message types the protocol package knows. Unknown types are
// refused on the wire so that every message a node accepts has a name in its trace.
var validMsgType [256]bool

func init() {
	for t := 1; t < 256; t++ {
		if _, err := protocol.ParseMsgType(protocol.MsgType(t).String()); err == nil {
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
		dst = append(dst, byte(m.Type))
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.To))
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.Joiner))
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.Neighbour))
		if dst, err = appendString(dst, f.JoinerAddr); err == nil {
			dst, err = appendString(dst, f.NeighbourAddr)
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
		dst = append(dst, s.Bits, flags)
		dst = binary.BigEndian.AppendUint32(dst, uint32(s.Queue))
		dst = binary.BigEndian.AppendUint32(dst, uint32(s.Timers))
		for _, v := range [...]uint64{uint64(s.Left), uint64(s.Right), uint64(s.Contact),
			uint64(s.JoinStart), uint64(s.JoinEnd), uint64(s.Sent), uint64(s.Delivered), uint64(s.Dropped)} {
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
		f.Msg = protocol.Message{Type: protocol.MsgType(t), From: f.From,
			To: d.id("addressee"), Joiner: d.id("joiner"), Neighbour: d.id("neighbour")}
		f.JoinerAddr = d.str("joiner address")
		f.NeighbourAddr = d.str("neighbour address")
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
		s.Queue = int(d.u32("queue"))
		s.Timers = int(d.u32("timers"))
		s.Left, s.Right, s.Contact = d.id("left"), d.id("right"), d.id("contact")
		s.JoinStart, s.JoinEnd = int64(d.u64("join start")), int64(d.u64("join end"))
		s.Sent, s.Delivered, s.Dropped = int64(d.u64("sent")), int64(d.u64("delivered")), int64(d.u64("dropped"))
		s.Protocol = d.str("protocol")
		s.LeftAddr, s.RightAddr = d.str("left address"), d.str("right address")
		s.Error = d.str("error")
	case FrameLeave:
		f.Leave = Leave{Left: d.id("left"), Right: d.id("right")}
		f.Leave.LeftAddr = d.str("left address")
		f.Leave.RightAddr = d.str("right address")
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
