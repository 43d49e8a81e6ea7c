package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// recorder keeps a node's trace events for inspection.
type recorder struct {
	mu     sync.Mutex
	events []observe.Event
}

func (r *recorder) Event(e *observe.Event) {
	r.mu.Lock()
	r.events = append(r.events, *e)
	r.mu.Unlock()
}

func (r *recorder) find(kind observe.EventKind, detail string) []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observe.Event
	for _, e := range r.events {
		if e.Kind == kind && strings.Contains(e.Detail, detail) {
			out = append(out, e)
		}
	}
	return out
}

func startOne(t *testing.T, c Config) *Node {
	t.Helper()
	if c.Listen == "" && c.Listener == nil {
		c.Listen = "127.0.0.1:0"
	}
	if c.Protocol == "" {
		c.Protocol, c.Bits = "predlock", 16
	}
	if c.Logger == nil {
		c.Logger = testLogger()
	}
	n, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// status asks over the network, as a separate client would, with a short timeout: a node
// that is stalled fails it.
func status(t *testing.T, addr string) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := QueryStatus(ctx, addr)
	if err != nil {
		t.Fatalf("status of %s: %v", addr, err)
	}
	return s
}

// closedWithin reports whether the peer closes c within d, reading and discarding
// anything it sends.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

var ring16 = protocol.Ring{Bits: 16}

// handoff encodes a left_set from node 5 to node 100 carrying items, as f says (More).
func handoff(f Frame, items ...protocol.Item) []byte {
	f.Type, f.From, f.Addr = FrameMessage, 5, "127.0.0.1:1"
	f.Msg = protocol.Message{Type: protocol.LeftSet, From: 5, To: 100, Joiner: 100, Neighbour: protocol.None,
		Data: &protocol.Data{Items: items}}
	b, err := AppendFrame(nil, &f)
	if err != nil {
		panic(err)
	}
	return b
}

// Every kind of bad frame closes the connection it came on, and only that one.
func TestBadFramesCloseTheirConnection(t *testing.T) {
	// The idle timeout is long, so that a frame refused on its content is told apart from
	// a connection closed for idling.
	n := startOne(t, Config{ID: 100, IdleTimeout: 5 * time.Second})
	// A well-behaved client keeps one connection open across all the cases.
	good, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	ask := frameBytes(t, Frame{Type: FrameStatusRequest, From: protocol.None})
	cases := badFrames(t)
	cases = append(cases, []struct {
		name string
		b    []byte
		want error
	}{
		{"reply frame from a client", frameBytes(t, Frame{Type: FrameIdentity, From: 1, Identity: Identity{Protocol: "x"}}), nil},
		{"message outside the ring", frameBytes(t, Frame{Type: FrameMessage, From: 1 << 20, Addr: "127.0.0.1:1",
			Msg: protocol.Message{Type: protocol.Connect, From: 1 << 20, To: 100, Joiner: 1 << 20, Neighbour: protocol.None}}), nil},
		{"item not at its key's ID", handoff(Frame{}, protocol.Item{ID: protocol.KeyID(ring16, "a") + 1, Key: "a"}), nil},
		{"item value beyond the limit", handoff(Frame{}, protocol.Item{ID: protocol.KeyID(ring16, "a"), Key: "a",
			Value: make([]byte, protocol.MaxValueLen+1)}), nil},
		{"get of a key not at its ID", frameBytes(t, Frame{Type: FrameMessage, From: 5, Addr: "127.0.0.1:1",
			Msg: protocol.Message{Type: protocol.KeyGet, From: 5, To: 100, Joiner: 5, Neighbour: protocol.None,
				Key: protocol.KeyID(ring16, "a") + 1, Data: &protocol.Data{Key: "a"}}}), nil},
		{"reply with status refused", frameBytes(t, Frame{Type: FrameMessage, From: 5, Addr: "127.0.0.1:1",
			Msg: protocol.Message{Type: protocol.KeyReply, From: 5, To: 100, Joiner: 100, Neighbour: 5}}), nil},
		{"split message interrupted by a leave", append(handoff(Frame{More: true}, protocol.Item{ID: protocol.KeyID(ring16, "a"), Key: "a"}),
			frameBytes(t, Frame{Type: FrameLeave, From: 5, Addr: "127.0.0.1:1", Leave: Leave{Left: 1, Right: 2}})...), nil},
		{"split message interrupted by another", append(handoff(Frame{More: true}, protocol.Item{ID: protocol.KeyID(ring16, "a"), Key: "a"}),
			frameBytes(t, Frame{Type: FrameMessage, From: 5, Addr: "127.0.0.1:1",
				Msg: protocol.Message{Type: protocol.Connect, From: 5, To: 100, Joiner: 5, Neighbour: protocol.None}})...), nil},
	}...)
	for _, tc := range cases {
		if len(tc.b) == 0 || tc.name == "bytes after the frame" {
			continue // nothing to send, or a valid frame followed by the start of another
		}
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", n.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if _, err := c.Write(tc.b); err != nil {
				t.Fatal(err)
			}
			// Truncated frames end when the client closes its side, as a peer that dies
			// mid-frame would; the rest must be refused on their content alone.
			if errors.Is(tc.want, ErrTruncated) {
				c.(*net.TCPConn).CloseWrite()
			}
			if !closedWithin(c, 2*time.Second) {
				t.Fatal("connection still open")
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("closed after %v: the frame should be refused at once, not at the idle timeout", el)
			}
			if _, err := good.Write(ask); err != nil {
				t.Fatal(err)
			}
			good.SetReadDeadline(time.Now().Add(time.Second))
			if f, _, err := ReadFrame(good, nil); err != nil || f.Type != FrameStatus || f.Status.ID != 100 {
				t.Fatalf("the good connection: %v %+v", err, f)
			}
		})
	}
}

// A connection that sends nothing, or trickles a frame a byte at a time, is closed after
// the idle timeout, and other clients are served at full speed meanwhile.
func TestSlowloris(t *testing.T) {
	const idle = time.Second
	n := startOne(t, Config{ID: 100, IdleTimeout: idle})
	silent, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	trickle, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frame := frameBytes(t, Frame{Type: FrameStatusRequest, From: protocol.None})
		for _, b := range frame {
			select {
			case <-stop:
				return
			case <-time.After(idle / 4):
			}
			if _, err := trickle.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Others are served while both connections are held open.
	for time.Since(start) < idle*3/4 {
		t0 := time.Now()
		if s := status(t, n.Addr()); s.ID != 100 {
			t.Fatalf("status: %+v", s)
		}
		if d := time.Since(t0); d > idle/2 {
			t.Errorf("status took %v while slow clients held connections", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "trickling": trickle} {
		if !closedWithin(c, 2*time.Second) {
			t.Errorf("%s connection still open", name)
		}
	}
	if el := time.Since(start); el < idle*3/4 || el > idle+time.Second {
		t.Errorf("slow connections closed after %v, want about %v", el, idle)
	}
	status(t, n.Addr())
}

// A peer sending garbage does not disturb a join that goes on at the same time.
func TestGarbageDuringJoins(t *testing.T) {
	first := startOne(t, Config{ID: 1000})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		junk := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.Dial("tcp", first.Addr())
			if err != nil {
				return
			}
			c.Write(junk)
			c.Close()
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	nodes := []*Node{first}
	for _, id := range []protocol.ID{10, 20000, 50000} {
		nodes = append(nodes, startOne(t, Config{ID: id, Join: first.Addr()}))
	}
	sts, late := settle(nodes, 5*time.Second)
	if outcome, detail, _ := Classify(sts, protocol.Ring{Bits: 16}, late); outcome != observe.OutcomeOK {
		t.Fatalf("%s (%s)\n%s", outcome, detail, describe(sts))
	}
}

func TestListenAddressChecks(t *testing.T) {
	for _, tc := range []struct {
		listen string
		allow  bool
		want   string
	}{
		{":0", false, "has no host"},
		{":0", true, "has no host"},
		{"0.0.0.0:0", false, "not a loopback address"},
		{"0.0.0.0:0", true, "give the address to advertise"},
		{"localhost", false, "missing port"},
	} {
		_, err := Start(Config{Listen: tc.listen, AllowNonLoopback: tc.allow, Protocol: "predlock", Bits: 16, ID: 1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q (allow %v): %v, want %q", tc.listen, tc.allow, err, tc.want)
		}
	}
	// Loopback addresses bind without further ado.
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		n, err := Start(Config{Listen: addr, Protocol: "predlock", Bits: 16, ID: 1})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		n.Close()
	}
}

func TestJoinRefusesAnotherRing(t *testing.T) {
	first := startOne(t, Config{ID: 1})
	for _, c := range []Config{
		{Protocol: "seed", Bits: 16},
		{Protocol: "predlock", Bits: 20},
	} {
		c.Listen, c.Join, c.ID = "127.0.0.1:0", first.Addr(), 5
		if _, err := Start(c); err == nil || !strings.Contains(err.Error(), "runs predlock on a 16-bit ring") {
			t.Errorf("%s/%d: %v", c.Protocol, c.Bits, err)
		}
	}
	if _, err := Start(Config{Listen: "127.0.0.1:0", Join: first.Addr(), ID: 1, Protocol: "predlock", Bits: 16}); err == nil {
		t.Error("a joiner took its contact's ID")
	}
}

// A random ID is drawn on the ring and never collides with the contact.
func TestRandomID(t *testing.T) {
	ring := protocol.Ring{Bits: 1}
	for range 50 {
		id, err := RandomID(ring, nil, 0)
		if err != nil || id != 1 {
			t.Fatalf("%v %v", id, err)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	s := Status{ID: 3, Left: protocol.None, Right: 9, Contact: protocol.None, Protocol: "predlock", Departed: true}
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":3`, `"left":null`, `"right":9`, `"contact":null`, `"protocol":"predlock"`, `"leaving":false`, `"departed":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

// A client keeps its connection between requests and redials once the node has closed it
// as idle.
func TestClientReusesAndRedials(t *testing.T) {
	const idle = 200 * time.Millisecond
	n := startOne(t, Config{ID: 100, IdleTimeout: idle})
	cl := NewClient(n.Addr())
	defer cl.Close()
	ctx := context.Background()
	if _, err := cl.Status(ctx); err != nil {
		t.Fatal(err)
	}
	first := cl.c
	if id, err := cl.Identify(ctx); err != nil || id.ID != 100 || id.Protocol != "predlock" || id.Bits != 16 {
		t.Fatalf("%+v %v", id, err)
	}
	if cl.c != first {
		t.Error("second request on a new connection")
	}
	time.Sleep(2 * idle)
	if s, err := cl.Status(ctx); err != nil || s.ID != 100 {
		t.Fatalf("after the idle close: %+v %v", s, err)
	}
	if cl.c == first {
		t.Error("the closed connection was kept")
	}
}
