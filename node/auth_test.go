package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

var (
	testSecret  = []byte("a cluster secret for the tests")
	otherSecret = []byte("another secret, not the cluster's")
	nonceA      = bytes.Repeat([]byte{0xa1}, nonceSize)
	nonceB      = bytes.Repeat([]byte{0xb2}, nonceSize)
)

// seal appends each frame with the tag of its place in one direction of a connection.
func seal(k *authKey, dialer, acceptor []byte, dir byte, frames ...[]byte) []byte {
	a := newAuthChan(k, dialer, acceptor, dir)
	var out []byte
	for _, f := range frames {
		out = append(append(out, f...), a.next(f)...)
	}
	return out
}

// Frames authenticate only in the order, direction, connection and key they were sealed
// for: a replayed, reordered, dropped, reflected, altered or foreign frame fails, and so
// does everything after it.
func TestAuthFrameOrder(t *testing.T) {
	k := deriveKey(testSecret)
	f := [3][]byte{}
	for i := range f {
		f[i] = frameBytes(t, Frame{Type: FrameKVRequest, From: protocol.None,
			KVRequest: KVRequest{Kind: protocol.OpPut, Op: uint64(i), Key: "k", Value: []byte{byte(i)}}})
	}
	in := func(frames ...[]byte) []byte { return seal(k, nonceA, nonceB, dirDialer, frames...) }
	tagged := func(i int) []byte { // f[i] with the tag of its own place
		s := in(f[:i+1]...)
		return s[len(s)-len(f[i])-TagSize:]
	}
	cases := []struct {
		name   string
		stream []byte
		ok     int // frames read before the stream fails or ends
		fails  bool
	}{
		{"in order", in(f[0], f[1], f[2]), 3, false},
		{"replayed", append(in(f[0], f[1]), tagged(1)...), 2, true},
		{"reordered", append(tagged(1), tagged(0)...), 0, true},
		{"one dropped", append(tagged(0), tagged(2)...), 1, true},
		{"another connection's", seal(k, nonceA, nonceA, dirDialer, f[0]), 0, true},
		{"reflected", seal(k, nonceA, nonceB, dirAcceptor, f[0]), 0, true},
		{"another key", seal(deriveKey(otherSecret), nonceA, nonceB, dirDialer, f[0]), 0, true},
		{"altered", func() []byte { s := in(f[0]); s[len(f[0])-1] ^= 1; return s }(), 0, true},
		{"tag cut short", in(f[0])[:len(f[0])+TagSize-1], 0, true},
		{"no tag", f[0], 0, true},
		{"oversized length", []byte{0, 1, 0, 0}, 0, true},
		{"length below header", []byte{0, 0, 0, 1, 0}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.stream)
			recv := newAuthChan(k, nonceA, nonceB, dirDialer)
			var buf []byte
			for i := 0; ; i++ {
				var err error
				var fr Frame
				fr, buf, err = readAuthFrame(r, buf, recv)
				if err == nil {
					if fr.KVRequest.Op != uint64(i) {
						t.Fatalf("frame %d is request %d", i, fr.KVRequest.Op)
					}
					continue
				}
				if i != tc.ok {
					t.Errorf("%d frames read, want %d", i, tc.ok)
				}
				if got := errors.Is(err, ErrAuth); got != tc.fails {
					t.Errorf("err %v; authentication failure %v, want %v", err, got, tc.fails)
				}
				if !tc.fails && err != io.EOF {
					t.Errorf("err %v, want io.EOF", err)
				}
				return
			}
		})
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "0123456789abcdef0123\n")
	short := write("short", "tooshort\n")
	cases := []struct {
		name, file, env string
		want            string // the secret, or "error"
	}{
		{"neither", "", "", ""},
		{"file, final newline dropped", good, "", "0123456789abcdef0123"},
		{"file before the environment", good, "an environment secret", "0123456789abcdef0123"},
		{"environment", "", "an environment secret", "an environment secret"},
		{"short file", short, "", "error"},
		{"short environment", "", "short", "error"},
		{"missing file", dir + "/none", "", "error"},
	}
	for _, tc := range cases {
		got, err := ReadSecret(tc.file, tc.env)
		switch {
		case tc.want == "error" && err == nil:
			t.Errorf("%s: %q, want an error", tc.name, got)
		case tc.want != "error" && (err != nil || string(got) != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// trap is a listener that counts the connections it gets: a forged frame naming its
// address must never make a node dial it.
type trap struct {
	ln   net.Listener
	hits atomic.Int64
}

func newTrap(t *testing.T) *trap {
	tr := &trap{ln: listeners(t, 1)[0]}
	t.Cleanup(func() { tr.ln.Close() })
	go func() {
		for {
			c, err := tr.ln.Accept()
			if err != nil {
				return
			}
			tr.hits.Add(1)
			c.Close()
		}
	}()
	return tr
}

func (tr *trap) addr() string { return tr.ln.Addr().String() }

// forged is a connect from a newcomer that claims to listen at addr: a node that took it
// would answer there.
func forged(t *testing.T, to protocol.ID, addr string) []byte {
	return frameBytes(t, Frame{Type: FrameMessage, From: 7, Addr: addr, JoinerAddr: addr,
		Msg: protocol.Message{Type: protocol.Connect, From: 7, To: to, Joiner: 7, Neighbour: protocol.None}})
}

// capture relays one connection to target and returns its address and a function that
// waits for the connection to end and returns the bytes the client sent.
func capture(t *testing.T, target string) (string, func() []byte) {
	ln := listeners(t, 1)[0]
	var sent bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer s.Close()
		go io.Copy(c, s)
		io.Copy(io.MultiWriter(s, &sent), c)
	}()
	return ln.Addr().String(), func() []byte { <-done; return sent.Bytes() }
}

// dialWith opens a connection to addr and sends b on it, after a hello when k is set.
func dialWith(t *testing.T, addr string, k *authKey, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := io.Writer(c)
	if k != nil {
		fio, err := newFrameIO(c, c, k, true)
		if err != nil {
			t.Fatal(err)
		}
		w = fio.w
	}
	w.Write(b)
	return c
}

// With a cluster secret, nothing a node receives from outside the cluster changes it:
// frames without a hello, under another key, replayed from a real connection, and
// garbage of every shape are refused, counted and close their connections, while the
// ring keeps its pointers and keys, serves puts and gets, and never dials an address
// such a frame names.
func TestAuthKeepsStrangersOut(t *testing.T) {
	rc := ringConfig{protocol: "predlock-retry", secret: testSecret,
		tune: func(c *Config) { c.IdleTimeout = 5 * time.Second }}
	d := startDHT(t, rc, []protocol.ID{1000, 22000, 45000})
	target := d.nodes[1]
	keys := map[string]string{}
	for i, k := range []string{"colour", "size", "shape", "weight"} {
		keys[k] = string(rune('a' + i))
		d.kv(d.nodes[i%3], KVRequest{Kind: protocol.OpPut, Key: k, Value: []byte(keys[k])})
	}
	pointers := func() [][4]string {
		var p [][4]string
		for _, n := range d.nodes {
			s := n.Status()
			p = append(p, [4]string{s.Left.String(), s.LeftAddr, s.Right.String(), s.RightAddr})
		}
		return p
	}
	before := pointers()
	trp := newTrap(t)
	wrong := deriveKey(otherSecret)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	hello := func(v byte) []byte {
		return append(append([]byte(helloMagic), v), nonceA...)
	}

	cases := []struct {
		name string
		// attack sends its frames to the target and returns the connections it expects
		// the target to refuse.
		attack func(t *testing.T) int
	}{
		{"no hello", func(t *testing.T) int {
			dialWith(t, target.Addr(), nil, forged(t, target.ID(), trp.addr()))
			if _, err := QueryStatus(ctx, target.Addr()); err == nil {
				t.Error("a client without the secret got a status")
			}
			return 2
		}},
		{"wrong key", func(t *testing.T) int {
			dialWith(t, target.Addr(), wrong, forged(t, target.ID(), trp.addr()))
			_, err := KV(ctx, target.Addr(), KVRequest{Kind: protocol.OpPut, Key: "colour", Value: []byte("evil")},
				WithSecret(otherSecret))
			if err == nil {
				t.Error("a put under another secret got a reply")
			}
			return 2
		}},
		{"replayed put", func(t *testing.T) int {
			via, sent := capture(t, target.Addr())
			cl := NewClient(via, WithSecret(testSecret))
			if rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpPut, Key: "colour", Value: []byte("old")}); err != nil || rep.Status != protocol.StatusOK {
				t.Fatalf("put through the relay: %v %s", err, rep.Problem())
			}
			cl.Close()
			recorded := sent()
			d.kv(target, KVRequest{Kind: protocol.OpPut, Key: "colour", Value: []byte("new")})
			keys["colour"] = "new"
			c := dialWith(t, target.Addr(), nil, recorded)
			if !closedWithin(c, 2*time.Second) {
				t.Error("the replay's connection stays open")
			}
			return 1
		}},
		{"garbage", func(t *testing.T) int {
			k := deriveKey(testSecret) // the hello proves nothing; the first frame does
			streams := [][]byte{
				hello(Version)[:helloSize-1],                   // hello cut short
				hello(2),                                       // an older version's hello
				append(hello(Version), 0, 1, 0, 0),             // oversized length
				append(hello(Version), 0xff, 0xff, 0xff, 0xff), // huge length
				append(hello(Version), 0, 0, 0, 2, Version),    // length below the header
				forged(t, target.ID(), trp.addr())[:20],        // a frame cut short, no hello
			}
			for range 200 {
				streams = append(streams, noise(1+r.IntN(4096)))
			}
			sent := len(streams)
			// A flood from 8 connections at a time, while a client keeps putting and
			// getting through the same node.
			work := make(chan []byte)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for s := range work {
						c, err := net.Dial("tcp", target.Addr())
						if err != nil {
							t.Error(err)
							continue
						}
						c.Write(s)
						c.(*net.TCPConn).CloseWrite()
						if !closedWithin(c, 2*time.Second) {
							t.Errorf("connection after % x... stays open", s[:min(8, len(s))])
						}
						c.Close()
					}
				})
			}
			served := make(chan error, 1)
			go func() {
				cl := NewClient(target.Addr(), WithSecret(testSecret))
				defer cl.Close()
				for i := range 50 {
					v := []byte{byte(i)}
					rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpPut, Key: "during the flood", Value: v})
					if err == nil && rep.Status == protocol.StatusOK {
						rep, err = cl.KV(ctx, KVRequest{Kind: protocol.OpGet, Key: "during the flood"})
					}
					if err != nil || rep.Status != protocol.StatusOK || !bytes.Equal(rep.Value, v) {
						served <- fmt.Errorf("round %d: %v %s %v", i, err, rep.Problem(), rep.Value)
						return
					}
				}
				served <- nil
			}()
			for _, s := range streams {
				work <- s
			}
			close(work)
			wg.Wait()
			if err := <-served; err != nil {
				t.Errorf("serving during the flood: %v", err)
			}
			keys["during the flood"] = string([]byte{49})
			// After a valid hello: noise, a frame cut short, a frame without its tag.
			for _, s := range [][]byte{noise(100), noise(5000),
				forged(t, target.ID(), trp.addr())[:30], forged(t, target.ID(), trp.addr())} {
				c := dialWith(t, target.Addr(), k, nil)
				c.Write(s)
				c.(*net.TCPConn).CloseWrite()
				if !closedWithin(c, 2*time.Second) {
					t.Error("connection after a hello stays open")
				}
				sent++
			}
			return sent
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := target.Status().AuthRefused
			want := refused + int64(tc.attack(t))
			waitFor(t, 2*time.Second, "count of refused connections", func() bool { return target.Status().AuthRefused >= want })
			if got := target.Status().AuthRefused; got != want {
				t.Errorf("%d connections refused, want %d", got-refused, want-refused)
			}
		})
		// The ring serves as before: same pointers, the keys where they belong, a new key
		// put and found.
		key := "after " + tc.name
		keys[key] = "ok"
		d.kv(target, KVRequest{Kind: protocol.OpPut, Key: key, Value: []byte("ok")})
		d.check(keys)
		if got := pointers(); !equalPointers(got, before) {
			t.Errorf("after %s: pointers %v, were %v", tc.name, got, before)
		}
	}
	time.Sleep(200 * time.Millisecond) // a node that took a forged connect would dial by now
	if h := trp.hits.Load(); h != 0 {
		t.Errorf("the node dialled an address only a refused frame named (%d times)", h)
	}
}

func equalPointers(a, b [][4]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The trap above catches something: without a secret, the same forged connect makes the
// ring dial the address it names.
func TestForgedFrameWithoutSecret(t *testing.T) {
	d := startDHT(t, ringConfig{protocol: "predlock-retry"}, []protocol.ID{1000, 22000, 45000})
	trp := newTrap(t)
	dialWith(t, d.nodes[1].Addr(), nil, forged(t, d.nodes[1].ID(), trp.addr()))
	waitFor(t, 3*time.Second, "dial to the forged address", func() bool { return trp.hits.Load() > 0 })
}

// Nodes with one secret form a ring and serve keys; the client helpers authenticate with
// WithSecret.
func TestAuthRingJoins(t *testing.T) {
	tr := startRing(t, ringConfig{members: 3, joiners: 6, protocol: "predlock-retry", seed: 5, secret: testSecret})
	sts, late := settle(tr.all(), 10*time.Second)
	if outcome, detail, _ := Classify(sts, tr.ring, late); outcome != "ok" {
		t.Fatalf("%s (%s)", outcome, detail)
	}
	var wg sync.WaitGroup
	for _, n := range tr.all() {
		if n.Status().AuthRefused != 0 {
			t.Errorf("node %v refused %d connections of its own ring", n.ID(), n.Status().AuthRefused)
		}
		wg.Go(func() {
			if _, err := Identify(context.Background(), n.Addr(), WithSecret(testSecret)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// FuzzAuthReadFrame reads what a node reads from a dialler on an authenticated connection
// (its hello, then frames with tags; the node's own nonce fixed) and checks that nothing
// panics, that every failure before a tag checks out is an authentication failure, and
// that every frame let through is exactly the bytes its tag covers. The seed corpus in
// testdata holds sealed streams of every frame kind, so that mutations start from frames
// that authenticate.
func FuzzAuthReadFrame(f *testing.F) {
	k := deriveKey(testSecret)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		dialer, err := readHello(r)
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrAuth) {
				t.Fatalf("hello: undocumented error %v", err)
			}
			return
		}
		recv := newAuthChan(k, dialer, nonceB, dirDialer)
		var buf []byte
		for {
			start := len(b) - r.Len()
			var fr Frame
			fr, buf, err = readAuthFrame(r, buf, recv)
			if err != nil {
				switch {
				case err == io.EOF, errors.Is(err, ErrAuth):
				case errors.Is(err, ErrMalformed), errors.Is(err, ErrVersion):
					// The tag checked out: only then does the decoder see the bytes.
				default:
					t.Fatalf("undocumented error %v", err)
				}
				return
			}
			end := len(b) - r.Len() - TagSize
			again, err := AppendFrame(nil, &fr)
			if err != nil || !bytes.Equal(again, b[start:end]) {
				t.Fatalf("a frame let through is not the bytes its tag covers: %v\n% x\n% x", err, b[start:end], again)
			}
		}
	})
}

// BenchmarkKVGet measures one get's round trip from a client through a one-node ring, with
// and without a cluster secret: the hello is paid once per connection, the tags on every
// request and reply.
func BenchmarkKVGet(b *testing.B) {
	for _, auth := range []string{"off", "on"} {
		b.Run("auth="+auth, func(b *testing.B) {
			var secret []byte
			if auth == "on" {
				secret = testSecret
			}
			n, err := Start(Config{Listen: "127.0.0.1:0", ID: 100, Protocol: "predlock", Bits: 16, Secret: secret})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			cl := NewClient(n.Addr(), WithSecret(secret))
			defer cl.Close()
			ctx := context.Background()
			if _, err := cl.KV(ctx, KVRequest{Kind: protocol.OpPut, Key: "k", Value: bytes.Repeat([]byte("v"), 100)}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if rep, err := cl.KV(ctx, KVRequest{Kind: protocol.OpGet, Key: "k"}); err != nil || rep.Status != protocol.StatusOK {
					b.Fatal(err, rep.Problem())
				}
			}
		})
	}
}

// BenchmarkAuthTag measures what authentication adds to one frame on each side: the
// sender's tag and the receiver's check, for a kv request of the size of a small put.
func BenchmarkAuthTag(b *testing.B) {
	k := deriveKey(testSecret)
	frame := frameBytes(b, Frame{Type: FrameKVRequest, From: protocol.None,
		KVRequest: KVRequest{Kind: protocol.OpPut, Key: "colour", Value: bytes.Repeat([]byte("v"), 100)}})
	send := newAuthChan(k, nonceA, nonceB, dirDialer)
	recv := newAuthChan(k, nonceA, nonceB, dirDialer)
	var tag [TagSize]byte
	b.SetBytes(int64(len(frame)))
	for range b.N {
		copy(tag[:], send.next(frame))
		if !bytes.Equal(recv.next(frame), tag[:]) {
			b.Fatal("tag does not check out")
		}
	}
}

// relay forwards every connection to target and records what each client sent.
type relay struct {
	ln      net.Listener
	mu      sync.Mutex
	streams []*bytes.Buffer
}

func newRelay(t *testing.T, target string) *relay {
	rl := &relay{ln: listeners(t, 1)[0]}
	t.Cleanup(func() { rl.ln.Close() })
	go func() {
		for {
			c, err := rl.ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			rec := &lockedBuffer{mu: &rl.mu}
			rl.mu.Lock()
			rl.streams = append(rl.streams, &rec.b)
			rl.mu.Unlock()
			go func() { io.Copy(c, s); c.Close() }()
			go func() { io.Copy(io.MultiWriter(s, rec), c); s.Close() }()
		}
	}()
	return rl
}

// recorded returns a copy of what each connection's client has sent so far.
func (rl *relay) recorded() [][]byte {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var out [][]byte
	for _, b := range rl.streams {
		out = append(out, bytes.Clone(b.Bytes()))
	}
	return out
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// A newcomer's real connections to its contact (its identify, and the join's messages
// between the two nodes), replayed on new connections, are refused and change nothing at
// the contact: not its pointers, not what it delivered to the protocol or sent.
func TestAuthReplayBetweenNodes(t *testing.T) {
	cfg := func(c Config) Config {
		c.Protocol, c.Bits, c.Secret, c.Logger = "predlock-retry", 16, testSecret, testLogger()
		return c
	}
	contact, err := Start(cfg(Config{Listen: "127.0.0.1:0", ID: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(contact.Close)
	rl := newRelay(t, contact.Addr())
	joiner, err := Start(cfg(Config{Listen: "127.0.0.1:0", ID: 30000, Join: rl.ln.Addr().String()}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(joiner.Close)
	sts, late := settle([]*Node{contact, joiner}, 5*time.Second)
	if outcome, detail, _ := Classify(sts, ring16, late); outcome != "ok" {
		t.Fatalf("join: %s (%s)", outcome, detail)
	}
	streams := rl.recorded()
	if len(streams) < 2 {
		t.Fatalf("%d connections through the relay, want the identify and the join's", len(streams))
	}
	before := contact.Status()
	for i, s := range streams {
		if len(s) <= helloSize {
			t.Fatalf("connection %d carried no frame: % x", i, s)
		}
		c := dialWith(t, contact.Addr(), nil, s)
		if !closedWithin(c, 2*time.Second) {
			t.Errorf("the replay of connection %d stays open", i)
		}
	}
	after := contact.Status()
	if got, want := after.AuthRefused-before.AuthRefused, int64(len(streams)); got != want {
		t.Errorf("%d replays refused, want %d", got, want)
	}
	if after.Left != before.Left || after.Right != before.Right || after.LeftAddr != before.LeftAddr ||
		after.RightAddr != before.RightAddr || after.Delivered != before.Delivered || after.Sent != before.Sent {
		t.Errorf("the replays changed the contact:\nbefore %+v\nafter  %+v", before, after)
	}
}
