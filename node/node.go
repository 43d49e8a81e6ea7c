package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// Defaults for the Config durations and limits left zero.
const (
	DefaultIdleTimeout  = 30 * time.Second
	DefaultDialTimeout  = time.Second
	DefaultWriteTimeout = 2 * time.Second
	DefaultPeerTimeout  = 5 * time.Second
	DefaultJoinTimeout  = 10 * time.Second
	DefaultMaxConns     = 1024
	// DefaultFingerPeriod is the finger refresh of "dhtexp node": one lookup a second per
	// node keeps routing shortcuts fresh on a ring that changes at human speed, at a cost
	// no network notices.
	DefaultFingerPeriod = time.Second
	// maxHopBudget is what the wire's hop counter holds.
	maxHopBudget = 1<<16 - 1
	// maxPeerQueue bounds the frames waiting for one peer, so that a peer that accepts
	// connections but never reads cannot make the node buffer without end.
	maxPeerQueue = 4096
	inputQueue   = 256
	maxBackoff   = 500 * time.Millisecond
)

// Peer names a node and where it listens.
type Peer struct {
	ID   protocol.ID
	Addr string
}

// Config describes one node. Protocol, Bits and one of the three ways into the ring are
// required; everything else has a default.
type Config struct {
	// Listen is the TCP address to listen on, e.g. "127.0.0.1:0". The host must be given:
	// an empty host would bind every interface. A host that is not a loopback address is
	// refused unless AllowNonLoopback is set.
	Listen           string
	AllowNonLoopback bool
	// Listener, when set, is used instead of Listen, so that a caller can bind every port
	// of a ring before any node knows its neighbours' addresses.
	Listener net.Listener
	// Advertise is the address other nodes should dial; default: the listener's address.
	// It is required when listening on an unspecified address such as 0.0.0.0.
	Advertise string

	Protocol string
	Bits     uint
	// Timeout and Retries tune the variants that retry (predlock-retry, repair; the others
	// ignore them): a node waits Timeout for an answer, doubling the wait with every attempt
	// that brings no progress, and gives up after Retries such attempts in a row. Zero: the
	// variant's defaults (protocol.DefaultTimeout, protocol.DefaultRetries). repair also
	// presumes a peer dead when two probes in a row go unanswered for Timeout each.
	Timeout time.Duration
	Retries int
	// Stabilize is the stabilization period of the variants that repair crashed neighbours
	// (protocol.Variant.Repairs; the others have no stabilization). Zero: the variant's
	// default (protocol.DefaultStabilize).
	Stabilize time.Duration
	// The DHT layer. FingerPeriod is how often the node refreshes one routing shortcut;
	// 0 never (routing then follows right pointers), as in protocol.Config, so that nodes
	// started for join experiments send nothing but the join protocol; DefaultFingerPeriod
	// suits real networks. HopBudget bounds the forwards of one operation (0:
	// protocol.DefaultHopBudget; at most 65535, the wire's hop counter). OpTimeout is how
	// long the node waits for the answer to an operation it started for a client (0:
	// protocol.DefaultOpTimeout); the client's reply waits for it.
	FingerPeriod time.Duration
	// Replicas is how many successors of a key's owner keep a copy of it (0: none).
	Replicas  int
	HopBudget int
	OpTimeout time.Duration
	// ID is the node's ring ID; protocol.None draws one at random from Rand.
	ID   protocol.ID
	Rand io.Reader // nil: crypto/rand

	// The way into the ring. Join (a contact's address) makes the node a newcomer: it asks
	// the contact for its ID and then joins through it: at once, at JoinAt if that is set,
	// or when StartJoin is called if DeferJoin is set. Member makes it a member of a ring
	// laid out beforehand, between Left and Right. With neither, the node is a one-node
	// ring (left = right = itself).
	Join        string
	JoinAt      time.Time
	DeferJoin   bool
	Member      bool
	Left, Right Peer

	// Tracer receives every event, from the protocol goroutine only, with wall-clock Unix
	// nanosecond times and Seq counting this node's events from 0.
	Tracer observe.Tracer
	Logger *slog.Logger // nil: discard

	// IdleTimeout closes an inbound connection that has not completed a frame for this
	// long. Senders close their own idle connections after half of it, so that a receiver
	// never closes a connection that is about to carry a message.
	IdleTimeout  time.Duration
	DialTimeout  time.Duration
	WriteTimeout time.Duration
	// PeerTimeout is how long a peer may stay unreachable (dial failures, with backoff)
	// before it counts as dead and the messages for it are dropped.
	PeerTimeout time.Duration
	// JoinTimeout bounds the identify exchange with the contact.
	JoinTimeout time.Duration
	MaxConns    int

	// Secret, when set, is the cluster secret: every connection then starts with a hello
	// and every frame carries a tag made with it (docs/wire.md#authentication), and frames
	// that do not authenticate are refused and counted (Status.AuthRefused). At least
	// MinSecretLen bytes. Nil: no authentication, fit for loopback only.
	Secret []byte
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.PeerTimeout, DefaultPeerTimeout)
	def(&c.JoinTimeout, DefaultJoinTimeout)
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node is a running node. Its methods are safe for concurrent use.
type Node struct {
	cfg    Config
	ring   protocol.Ring
	id     protocol.ID
	addr   string // advertised listen address
	ln     net.Listener
	log    *slog.Logger
	tracer observe.Tracer

	inputs   chan input
	ctx      context.Context // cancelled on shutdown; aborts dials
	cancel   context.CancelFunc
	quit     <-chan struct{}
	loopDone chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	status atomic.Pointer[Status]

	connMu sync.Mutex
	conns  map[net.Conn]struct{} // inbound; nil once shut down

	// assembling counts the bytes of split messages that readers hold until their last
	// frame comes, over all connections (maxAssembling).
	assembling atomic.Int64

	// Owned by the protocol goroutine.
	p         protocol.Node
	step      protocol.Stepper
	st        protocol.State
	member    bool
	contact   protocol.ID
	dir       map[protocol.ID]string
	peers     map[string]*peer
	local     []protocol.Message // self-addressed messages not yet handled
	timers    map[uint64]armedTimer
	timerSeq  uint64
	fgTimers  int                       // timers not counted as maintenance: what Status.Timers shows
	ops       map[uint64]chan<- KVReply // client operations under way, by the node's own number
	lastOp    uint64
	ev        observe.Event
	joinStart int64
	joinEnd   int64
	lastTime  int64
	sent      int64
	delivered int64
	dropped   int64
	failure   string
	// leaving: the node stopped taking part (the leave notice); it drops whatever it
	// receives or sends. A graceful leave does not set it: the node forwards until it has
	// departed.
	leaving bool

	// The graceful leave. leaves: the variant has the exchange. departed is closed by the
	// protocol goroutine once the protocol reports the node out of the ring; leaveStart is
	// when the exchange began (Unix nanoseconds, 0 before).
	leaves     bool
	departed   chan struct{}
	leaveStart int64
	// lastHeard is when the last message from a peer was handled (Unix nanoseconds), so
	// that a departed node can tell when stragglers have stopped coming.
	lastHeard atomic.Int64

	refusals refusals // duplicate IDs: claims of taken IDs, and the own join's refusal

	key         *authKey     // from Config.Secret; nil: no authentication
	authRefused atomic.Int64 // connections closed for a hello or frame that did not authenticate
}

type inputKind uint8

const (
	inFrame    inputKind = iota + 1 // a message or leave frame from a peer
	inTimer                         // a protocol timer fired
	inJoin                          // time to start the own join
	inDrop                          // a sender could not deliver a message
	inDead                          // a sender gave up on a peer
	inLeave                         // a step of the node's leave (leaveMode)
	inRequest                       // a client's key-value operation
	inItems                         // an observer asks for the stored keys
	inReplicas                      // an observer asks for the copies kept for predecessors
	inStore                         // an observer asks for both, keys first
)

// armedTimer is a wall-clock timer for a protocol timer. Maintenance timers, and those
// armed while one is handled (the lookup a finger refresh starts, and its timeout), are
// left out of Status.Timers: they never end by themselves and cannot change the ring.
type armedTimer struct {
	t  *time.Timer
	bg bool
}

// leaveMode is the step of a leave that an inLeave input asks for.
type leaveMode uint8

const (
	leaveGraceful leaveMode = iota + 1 // start the protocol's leave exchange, or fall back to the notice
	leaveNotice                        // tell both neighbours and stop taking part
	leaveFlush                         // departed: name the senders whose queues must drain
	leaveTimedOut                      // the exchange did not end in time: the notice after all
)

// leaveReply is the protocol goroutine's answer to an inLeave input.
type leaveReply struct {
	exchange bool    // the exchange has started: wait for the departure
	drain    []*peer // senders whose queues the caller waits to drain before stopping
}

type input struct {
	kind   inputKind
	frame  *Frame
	timer  protocol.Timer
	tm     uint64 // which timer fired
	msg    protocol.Message
	addr   string
	reason string
	mode   leaveMode
	leave  chan<- leaveReply
	req    protocol.Request
	result chan<- KVReply
	items  chan<- []protocol.Item
}

// Start binds the listener, identifies the contact when joining, and starts the node's
// goroutines. The join, if any, begins at once, at cfg.JoinAt, or on StartJoin.
func Start(cfg Config) (*Node, error) { return StartContext(context.Background(), cfg) }

// StartContext is Start with a context that can abort the start-up, which may wait up to
// cfg.JoinTimeout for the contact to answer. Once StartContext has returned, ctx no longer
// matters: stop the node with Leave or Close.
func StartContext(ctx context.Context, cfg Config) (*Node, error) {
	cfg.setDefaults()
	variant, err := protocol.Lookup(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	ring := protocol.Ring{Bits: cfg.Bits}
	if err := ring.Validate(); err != nil {
		return nil, err
	}
	if cfg.Join != "" && cfg.Member {
		return nil, errors.New("a node either joins through a contact or starts as a member, not both")
	}
	if cfg.Timeout < 0 || cfg.Retries < 0 {
		return nil, fmt.Errorf("timeout %v and retries %d must not be negative", cfg.Timeout, cfg.Retries)
	}
	if cfg.Stabilize < 0 {
		return nil, fmt.Errorf("stabilization period %v must not be negative", cfg.Stabilize)
	}
	switch {
	case cfg.FingerPeriod < 0:
		return nil, fmt.Errorf("finger period %v must not be negative", cfg.FingerPeriod)
	case cfg.Replicas < 0 || cfg.Replicas > 16:
		return nil, fmt.Errorf("replicas must be in 0..16, got %d", cfg.Replicas)
	case cfg.HopBudget < 0 || cfg.HopBudget > maxHopBudget:
		return nil, fmt.Errorf("hop budget %d must be in 0..%d", cfg.HopBudget, maxHopBudget)
	case cfg.OpTimeout < 0:
		// The protocol would wait for ever, and so would the client.
		return nil, fmt.Errorf("operation timeout %v must not be negative", cfg.OpTimeout)
	}
	if cfg.Secret != nil {
		if err := CheckSecret(cfg.Secret); err != nil {
			return nil, err
		}
	}
	if cfg.ID != protocol.None && !ring.Contains(cfg.ID) {
		return nil, fmt.Errorf("ID %v is outside the %d-bit ring", cfg.ID, cfg.Bits)
	}
	if cfg.Member {
		for _, p := range []Peer{cfg.Left, cfg.Right} {
			if !ring.Contains(p.ID) {
				return nil, fmt.Errorf("neighbour ID %v is outside the %d-bit ring", p.ID, cfg.Bits)
			}
			if p.ID != cfg.ID {
				if _, _, err := net.SplitHostPort(p.Addr); err != nil {
					return nil, fmt.Errorf("neighbour %v: address %q: %v", p.ID, p.Addr, err)
				}
			}
		}
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = listen(cfg.Listen, cfg.AllowNonLoopback); err != nil {
			return nil, err
		}
	}
	addr, err := advertised(ln, cfg.Advertise)
	if err != nil {
		ln.Close()
		return nil, err
	}

	contact := Identity{ID: protocol.None}
	if cfg.Join != "" {
		if contact, err = identifyContact(ctx, cfg); err != nil {
			ln.Close()
			return nil, err
		}
	}
	id := cfg.ID
	if id == protocol.None {
		if id, err = RandomID(ring, cfg.Rand, contact.ID); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if cfg.Join != "" && id == contact.ID {
		ln.Close()
		return nil, &IDTakenError{ID: id, HolderAddr: cfg.Join, By: id}
	}

	pc := protocol.Config{ID: id, Ring: ring, Contact: protocol.None,
		Timeout: int64(cfg.Timeout), Retries: cfg.Retries,
		FingerPeriod: int64(cfg.FingerPeriod), HopBudget: cfg.HopBudget, OpTimeout: int64(cfg.OpTimeout),
		Replicas: cfg.Replicas, Stabilize: int64(cfg.Stabilize)}
	switch {
	case cfg.Join != "":
		pc.Contact = contact.ID
	case cfg.Member:
		pc.Member, pc.Left, pc.Right = true, cfg.Left.ID, cfg.Right.ID
	default:
		pc.Member, pc.Left, pc.Right = true, id, id
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, ring: ring, id: id, addr: addr, ln: ln,
		log:    cfg.Logger.With("node", uint64(id)),
		tracer: cfg.Tracer,
		inputs: make(chan input, inputQueue),
		ctx:    nctx, cancel: cancel, quit: nctx.Done(),
		loopDone: make(chan struct{}),
		done:     make(chan struct{}),
		conns:    map[net.Conn]struct{}{},
		p:        variant.New(pc),
		member:   pc.Member,
		contact:  pc.Contact,
		dir:      map[protocol.ID]string{},
		peers:    map[string]*peer{},
		timers:   map[uint64]armedTimer{},
		ops:      map[uint64]chan<- KVReply{},
		leaves:   variant.Leaves,
		departed: make(chan struct{}),
	}
	if cfg.Secret != nil {
		n.key = deriveKey(cfg.Secret)
	}
	n.st = n.p.State()
	if cfg.Join != "" {
		n.learn(contact.ID, cfg.Join)
	}
	if cfg.Member {
		n.learn(cfg.Left.ID, cfg.Left.Addr)
		n.learn(cfg.Right.ID, cfg.Right.Addr)
	}
	n.publish()
	n.wg.Add(1)
	go n.acceptLoop()
	go n.run()
	if cfg.Join != "" && !cfg.DeferJoin {
		if wait := time.Until(cfg.JoinAt); !cfg.JoinAt.IsZero() && wait > 0 {
			t := time.AfterFunc(wait, func() { n.push(input{kind: inJoin}) })
			context.AfterFunc(nctx, func() { t.Stop() })
		} else {
			n.push(input{kind: inJoin})
		}
	}
	n.log.Info("node started", "addr", addr, "protocol", cfg.Protocol, "bits", cfg.Bits,
		"member", pc.Member, "contact", pc.Contact.String(), "authenticated", n.key != nil)
	if a, ok := ln.Addr().(*net.TCPAddr); ok && n.key == nil && !a.IP.IsLoopback() {
		n.log.Warn("listening on a non-loopback address without a cluster secret: anyone who can reach it can "+
			"change the ring and its keys (give --secret-file or "+SecretEnv+")", "addr", a.String())
	}
	return n, nil
}

// listen binds addr after checking that binding it is what the caller meant.
func listen(addr string, allowNonLoopback bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %v", addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("listen address %q has no host; write 127.0.0.1%s for loopback or 0.0.0.0%s to bind every interface", addr, addr, addr)
	}
	if !isLoopback(host) && !allowNonLoopback {
		return nil, fmt.Errorf("listen address %q is not a loopback address; binding it needs AllowNonLoopback", addr)
	}
	return net.Listen("tcp", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func advertised(ln net.Listener, adv string) (string, error) {
	if adv != "" {
		if _, _, err := net.SplitHostPort(adv); err != nil {
			return "", fmt.Errorf("advertised address %q: %v", adv, err)
		}
		return adv, nil
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return ln.Addr().String(), nil
	}
	if a.IP.IsUnspecified() {
		return "", fmt.Errorf("listening on %v, which other nodes cannot dial: give the address to advertise", a)
	}
	return a.String(), nil
}

// identifyContact asks the contact for its ID, retrying with backoff while it is not up
// yet, and checks that it runs the same ring.
func identifyContact(ctx context.Context, cfg Config) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		id, err := Identify(ctx, cfg.Join, WithSecret(cfg.Secret))
		if err == nil {
			if id.Protocol != cfg.Protocol || uint(id.Bits) != cfg.Bits {
				return id, fmt.Errorf("contact %s runs %s on a %d-bit ring, not %s on %d bits",
					cfg.Join, id.Protocol, id.Bits, cfg.Protocol, cfg.Bits)
			}
			if id.ID == protocol.None {
				return id, fmt.Errorf("contact %s has no ID", cfg.Join)
			}
			return id, nil
		}
		cfg.Logger.Debug("contact not reachable yet", "contact", cfg.Join, "err", err)
		select {
		case <-ctx.Done():
			return id, fmt.Errorf("identify contact %s: %w", cfg.Join, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// RandomID draws an ID on the ring from r (crypto/rand when nil), avoiding avoid.
func RandomID(ring protocol.Ring, r io.Reader, avoid protocol.ID) (protocol.ID, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return protocol.None, fmt.Errorf("random ID: %w", err)
		}
		id := protocol.ID(binary.LittleEndian.Uint64(b[:]) & (ring.Size() - 1))
		if id != avoid {
			return id, nil
		}
	}
}

// ID returns the node's ring ID.
func (n *Node) ID() protocol.ID { return n.id }

// Addr returns the address other nodes dial to reach this one.
func (n *Node) Addr() string { return n.addr }

// Status returns the state as of the last input the node handled.
func (n *Node) Status() Status {
	s := *n.status.Load()
	s.AuthRefused = n.authRefused.Load()
	return s
}

// StartJoin starts the node's join now if it has not started yet; it is how a node
// started with DeferJoin is told to go.
func (n *Node) StartJoin() { n.push(input{kind: inJoin}) }

// Done is closed once the node has shut down.
func (n *Node) Done() <-chan struct{} { return n.done }

// Leave takes the node out of the ring and shuts it down, all within about timeout.
//
// When the variant has a leave exchange (protocol.Variant.Leaves) and the node is in the
// ring with at least one other node, the node runs the exchange: it hands its keys to its
// right neighbour and goes on receiving and forwarding messages until its left neighbour
// lets it go (protocol.State.Departed) and stragglers stop coming (departedQuiet), then
// writes out what it still has queued and stops. Four fifths of timeout are for the
// exchange and the stragglers; if the node has not departed by then, it falls back to the
// leave notice below.
//
// Otherwise (a variant without the exchange, a node not in the ring) it tells both
// neighbours with a leave frame that it is going, waits up to timeout for those frames to
// be written, and stops; its keys go with it. See docs/nodes.md for what the neighbours do.
func (n *Node) Leave(timeout time.Duration) {
	n.shutdown(true, true, timeout)
}

// LeaveNotice is Leave without the protocol's exchange, whatever the variant: the node
// tells both neighbours that it is going and stops, taking its keys with it. It suits a
// ring that is being torn down as a whole, where every node's exchange would wait for a
// left neighbour that is leaving too.
func (n *Node) LeaveNotice(timeout time.Duration) {
	n.shutdown(true, false, timeout)
}

// Close shuts the node down without telling anyone, which is what a crash looks like to
// the other nodes.
func (n *Node) Close() {
	n.shutdown(false, false, 0)
}

// exchangeShare is the part of a leave's timeout that the exchange (and the lingering
// after it) may take; the rest is kept for writing out what the node still has to send
// (its last forwards, or the leave notice when the exchange did not end), so that the
// whole leave fits in the timeout.
const exchangeShare = 0.8

// departedQuiet is how long a departed node goes on forwarding after the last message
// reached it. Its left neighbour's messages cannot come after leave_bye (one connection,
// in order), but its right neighbour may have routed a join request to it just before
// taking over its keys, on a connection of its own that can lag by a dial and a few
// scheduling delays; a request lost there would leave a predlock newcomer waiting for
// ever.
const departedQuiet = 50 * time.Millisecond

func (n *Node) shutdown(leave, graceful bool, timeout time.Duration) {
	n.stopOnce.Do(func() {
		if leave {
			n.leaveRing(graceful && n.leaves, timeout)
		}
		n.cancel()
		n.ln.Close()
		n.connMu.Lock()
		for c := range n.conns {
			c.Close()
		}
		n.conns = nil
		n.connMu.Unlock()
		<-n.loopDone
		n.wg.Wait()
		n.log.Info("node stopped")
		close(n.done)
	})
}

// leaveRing runs the leave up to the point where the node may stop: the exchange and the
// departure, or the notice, and the senders' queues drained, or the deadline.
func (n *Node) leaveRing(graceful bool, timeout time.Duration) {
	start := time.Now()
	deadline := start.Add(timeout)
	mode := leaveNotice
	if graceful {
		mode = leaveGraceful
	}
	r, ok := n.askLeave(mode, deadline)
	if ok && r.exchange {
		end := start.Add(time.Duration(float64(timeout) * exchangeShare))
		t := time.NewTimer(time.Until(end))
		select {
		case <-n.departed:
			mode = leaveFlush
			n.linger(end)
		case <-t.C:
			mode = leaveTimedOut
		}
		t.Stop()
		r, ok = n.askLeave(mode, deadline)
	}
	if !ok {
		return
	}
	for _, p := range r.drain {
		p.waitIdle(deadline)
	}
}

// linger lets a departed node go on forwarding until no message has reached it for
// departedQuiet, or until end.
func (n *Node) linger(end time.Time) {
	for {
		wake := time.Unix(0, n.lastHeard.Load()).Add(departedQuiet)
		if end.Before(wake) {
			wake = end
		}
		wait := time.Until(wake)
		if wait <= 0 {
			return
		}
		time.Sleep(wait)
	}
}

// askLeave hands one step of the leave to the protocol goroutine and waits for its answer,
// until the deadline.
func (n *Node) askLeave(mode leaveMode, deadline time.Time) (leaveReply, bool) {
	reply := make(chan leaveReply, 1)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case n.inputs <- input{kind: inLeave, mode: mode, leave: reply}:
	case <-t.C:
		return leaveReply{}, false
	}
	select {
	case r := <-reply:
		return r, true
	case <-t.C:
		return leaveReply{}, false
	}
}

// push hands an input to the protocol goroutine; false once the node is shutting down.
func (n *Node) push(in input) bool {
	select {
	case n.inputs <- in:
		return true
	case <-n.quit:
		return false
	}
}

// run is the protocol goroutine: the only one that touches the protocol node, the
// directory, the tracer and the counters.
func (n *Node) run() {
	defer close(n.loopDone)
	defer func() {
		for _, t := range n.timers {
			t.t.Stop()
		}
	}()
	n.perform(&protocol.Input{Kind: protocol.InputBoot}, false)
	n.publish()
	for {
		select {
		case in := <-n.inputs:
			n.handle(&in)
			// Self-addressed messages are handled before the next input, as soon as the
			// step that sent them is complete.
			for len(n.local) > 0 {
				m := n.local[0]
				n.local = n.local[1:]
				n.deliver(m)
			}
			n.local = n.local[:0:0]
			n.publish()
		case <-n.quit:
			return
		}
	}
}

func (n *Node) handle(in *input) {
	switch in.kind {
	case inFrame:
		f := in.frame
		n.learn(f.From, f.Addr)
		if p := n.peers[f.Addr]; p != nil {
			p.revive()
		}
		switch f.Type {
		case FrameMessage:
			n.lastHeard.Store(time.Now().UnixNano())
			n.learn(f.Msg.Joiner, f.JoinerAddr)
			n.learn(f.Msg.Neighbour, f.NeighbourAddr)
			for i, addr := range f.SuccAddrs {
				n.learn(f.Msg.Data.Succs[i], addr)
			}
			n.noteRefusal(f)
			switch {
			case n.leaving:
				n.drop(&f.Msg, "received while leaving")
			case f.Msg.To != n.id:
				n.drop(&f.Msg, fmt.Sprintf("addressed to %v, not to this node", f.Msg.To))
			default:
				n.deliver(f.Msg)
			}
		case FrameLeave:
			l := &f.Leave
			n.learn(l.Left, l.LeftAddr)
			n.learn(l.Right, l.RightAddr)
			detail := fmt.Sprintf("node %v left (its left %v, right %v)", f.From, l.Left, l.Right)
			n.log.Info("peer left", "peer", uint64(f.From), "addr", f.Addr, "its_left", l.Left.String(), "its_right", l.Right.String())
			n.emit(observe.KindFault, nil, detail)
			// Whatever is still addressed to it is dropped at once instead of waiting for
			// its port to refuse connections for PeerTimeout.
			n.peerFor(f.Addr).markDead()
		}
	case inTimer:
		// Counted as pending until handled here, so that a status showing no timers means
		// that none can still change the node.
		armed := n.timers[in.tm]
		delete(n.timers, in.tm)
		if !armed.bg {
			n.fgTimers--
		}
		n.emit(observe.KindTimer, nil, "")
		if n.failure != "" || n.leaving {
			return
		}
		n.perform(&protocol.Input{Kind: protocol.InputTimer, Timer: in.timer}, armed.bg)
	case inJoin:
		n.startJoin()
	case inDrop:
		n.drop(&in.msg, in.reason)
	case inDead:
		n.log.Warn("peer unreachable, dropping its messages", "addr", in.addr, "reason", in.reason)
		n.emit(observe.KindFault, nil, in.reason)
	case inLeave:
		in.leave <- n.leaveStep(in.mode)
	case inRequest:
		n.request(in.req, in.result)
	case inItems:
		in.items <- slices.Clone(n.p.Items())
	case inReplicas:
		in.items <- slices.Clone(n.p.Replicas())
	case inStore:
		in.items <- slices.Clone(n.p.Items())
		in.items <- slices.Clone(n.p.Replicas())
	}
}

// learn records where id listens, unless it names nothing usable.
func (n *Node) learn(id protocol.ID, addr string) {
	if addr == "" || !n.ring.Contains(id) {
		return
	}
	if id == n.id {
		if addr != n.addr {
			n.claim(id, addr)
		}
		return
	}
	old, ok := n.dir[id]
	if ok && old == addr {
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		n.log.Debug("ignoring unusable address", "peer", uint64(id), "addr", addr)
		return
	}
	if ok && n.guarded(id, old) {
		n.claim(id, addr)
		return
	}
	n.dir[id] = addr
}

// addrOf is the address the node would give others for id, or "".
func (n *Node) addrOf(id protocol.ID) string {
	if id == n.id {
		return n.addr
	}
	return n.dir[id]
}

func (n *Node) startJoin() {
	if n.failure != "" || n.leaving || !n.p.WantsToJoin() {
		return
	}
	n.joinStart = time.Now().UnixNano()
	n.emit(observe.KindJoinStart, nil, "")
	n.log.Info("joining", "contact", uint64(n.contact))
	n.perform(&protocol.Input{Kind: protocol.InputStart}, false)
}

func (n *Node) deliver(m protocol.Message) {
	if n.failure != "" {
		n.drop(&m, "the state machine stopped at a protocol error")
		return
	}
	n.delivered++
	n.emit(observe.KindDeliver, &m, "")
	n.perform(&protocol.Input{Kind: protocol.InputMessage, Msg: m}, false)
}

// perform feeds one input to the protocol and carries out what it wants done: the input's
// actions, then those of every queued join request it serves, exactly as the simulator's
// async model does. bg marks a maintenance step: its own timers are maintenance, those of the
// requests served after it are not. It returns the refusal of a request or a leave; any other
// protocol error stops the state machine.
func (n *Node) perform(in *protocol.Input, bg bool) error {
	for rd := range n.step.Step(n.p, in) {
		if rd.Err != nil {
			if !rd.Served && (in.Kind == protocol.InputRequest || in.Kind == protocol.InputLeave) {
				return rd.Err
			}
			n.fail(rd.Err)
			return nil
		}
		n.observe(rd.State)
		bg := bg && !rd.Served
		for i := range rd.Actions {
			a := &rd.Actions[i]
			switch a.Kind {
			case protocol.Send:
				n.send(a.Msg)
			case protocol.SetTimer:
				n.setTimer(a.Timer, bg || a.Timer.Background)
			case protocol.Done:
				n.finish(a.Result)
			}
			// Idle models a node's busy loop, which only the simulator's seed timing honours.
		}
	}
	return nil
}

// fail stops the state machine, where the original program crashed; the node goes on
// answering status requests so that the failure can be seen.
func (n *Node) fail(err error) {
	n.failure = err.Error()
	n.log.Error("protocol error; the state machine stops", "err", err)
	n.emit(observe.KindViolation, nil, "protocol error: "+n.failure)
	// Timers are ignored from now on, so no operation under way could end by itself.
	n.abandonOps("the node's state machine stopped at a protocol error: " + n.failure)
}

func (n *Node) observe(st protocol.State) {
	if st == n.st {
		return
	}
	old := n.st
	n.st = st
	n.emit(observe.KindState, nil, flagNames(&st))
	if !old.Connected && st.Connected && !n.member && n.joinEnd == 0 {
		n.joinEnd = time.Now().UnixNano()
		n.emit(observe.KindJoinEnd, nil, "")
		n.log.Info("joined", "left", st.Left.String(), "right", st.Right.String(),
			"latency", time.Duration(n.joinEnd-n.joinStart))
	}
	if !old.Departed && st.Departed {
		n.log.Info("left the ring: the left neighbour points past this node", "left", st.Left.String(), "right", st.Right.String(),
			"after", time.Duration(time.Now().UnixNano()-n.leaveStart).Round(time.Microsecond))
		n.lastHeard.Store(time.Now().UnixNano())
		close(n.departed)
	}
	if !old.Refused && st.Refused {
		n.joinRefused()
	} else if !old.Failed && st.Failed && !st.Connected {
		// The simulator has no event for a reported failure (join_end means success), so
		// the node traces it as a fault of its own; the status carries the flag.
		n.emit(observe.KindFault, nil, "join failed: gave up after its retries")
		n.log.Warn("join failed: the newcomer gave up and reports it", "contact", uint64(n.contact),
			"after", time.Duration(time.Now().UnixNano()-n.joinStart).Round(time.Millisecond))
	}
}

func (n *Node) send(m protocol.Message) {
	n.sent++
	n.emit(observe.KindSend, &m, "")
	if m.Type == protocol.LeaveKeys && m.From == n.id {
		keys := 0
		if m.Data != nil {
			keys = len(m.Data.Items)
		}
		n.log.Info("leaving: handing the keys to the right neighbour", "to", m.To.String(), "keys", keys)
	}
	if n.leaving {
		n.drop(&m, "sent while leaving")
		return
	}
	addr, ok := n.dir[m.To]
	switch {
	case m.Type == protocol.JoinRefused:
		// The refused newcomer shares its ID with a member, possibly this node.
		addr, ok = n.refusalAddr(m.To)
	case m.To == n.id:
		n.local = append(n.local, m)
		return
	}
	if !ok {
		n.drop(&m, fmt.Sprintf("no address known for %v", m.To))
		return
	}
	f := Frame{Type: FrameMessage, From: n.id, Addr: n.addr, Msg: m,
		JoinerAddr: n.addrOf(m.Joiner), NeighbourAddr: n.addrOf(m.Neighbour)}
	if m.Data != nil && len(m.Data.Succs) > 0 {
		// The receiver may adopt the list: it must be able to reach every entry.
		addrs := make([]string, len(m.Data.Succs))
		known := false
		for i, id := range m.Data.Succs {
			addrs[i] = n.addrOf(id)
			known = known || addrs[i] != ""
		}
		if known {
			f.SuccAddrs = addrs
		}
	}
	b, err := AppendMessage(nil, &f)
	if err != nil {
		n.drop(&m, err.Error())
		return
	}
	if reason := n.peerFor(addr).enqueue(outFrame{b: b, msg: m, isMsg: true}); reason != "" {
		n.drop(&m, reason)
	}
}

func (n *Node) drop(m *protocol.Message, reason string) {
	n.dropped++
	n.emit(observe.KindDrop, m, reason)
	if m.Data != nil && len(m.Data.Items) > 0 {
		// The sender's protocol let go of these keys when it made the message: unless a
		// retrying variant sends them again, they are gone, which must not pass unnoticed.
		n.log.Error("handoff dropped: its keys are lost unless the variant sends them again", "type", m.Type.String(),
			"from", m.From.String(), "to", m.To.String(), "keys", len(m.Data.Items), "reason", reason)
		return
	}
	n.log.Info("message dropped", "type", m.Type.String(), "from", m.From.String(), "to", m.To.String(), "reason", reason)
}

// setTimer arms a wall-clock timer for t. When it expires it only hands t to the protocol
// goroutine, so that Fire runs there, between two inputs, like everything else the state
// machine sees. Timers are never cancelled: the variant recognises a stale one by its Tag,
// which the driver cannot interpret; run stops whatever is left when the node shuts down.
func (n *Node) setTimer(t protocol.Timer, bg bool) {
	n.timerSeq++
	seq := n.timerSeq
	if !bg {
		n.fgTimers++
	}
	n.timers[seq] = armedTimer{bg: bg, t: time.AfterFunc(time.Duration(t.After), func() {
		n.push(input{kind: inTimer, timer: t, tm: seq})
	})}
}

// leaveStep carries out one step of the node's leave; protocol goroutine only.
func (n *Node) leaveStep(mode leaveMode) leaveReply {
	if mode == leaveTimedOut && n.st.Departed {
		mode = leaveFlush // the departure came as the time ran out
	}
	switch mode {
	case leaveGraceful:
		if n.startLeave() {
			return leaveReply{exchange: true}
		}
	case leaveFlush:
		// Answers to operations it started for clients can no longer come once it stops.
		n.abandonOps("the node has left the ring")
		// Forwards made just before or after the departure (the join requests it held, for
		// instance) must reach the nodes that now own them.
		drain := make([]*peer, 0, len(n.peers))
		for _, p := range n.peers {
			drain = append(drain, p)
		}
		return leaveReply{drain: drain}
	case leaveTimedOut:
		handed := "no: its keys go with it"
		if n.st.Leaving {
			handed = "yes"
		}
		n.log.Warn("timed out while leaving: the left neighbour did not let the node go in time; stopping with the leave notice",
			"left", n.st.Left.String(), "right", n.st.Right.String(), "keys_handed_over", handed,
			"after", time.Duration(time.Now().UnixNano()-n.leaveStart).Round(time.Millisecond))
		n.emit(observe.KindFault, nil, "timed out while leaving")
	}
	return leaveReply{drain: n.leave()}
}

// startLeave starts the protocol's leave exchange. It reports false when there is none to
// run: the node is not in the ring, is the ring's only node (nobody to hand keys to), has
// stopped at a protocol error, or the protocol refuses.
func (n *Node) startLeave() bool {
	st := n.st
	switch {
	case n.failure != "" || n.leaving || !st.Connected:
		return false
	case st.Right == n.id || st.Right == protocol.None:
		n.log.Info("the only node of the ring leaves: its keys go with it", "keys", len(n.p.Items()))
		return false
	}
	n.emit(observe.KindState, nil, "leave")
	keys := len(n.p.Items())
	n.leaveStart = time.Now().UnixNano()
	if err := n.perform(&protocol.Input{Kind: protocol.InputLeave}, false); err != nil {
		n.log.Info("no graceful leave", "err", err)
		return false
	}
	n.log.Info("leaving: asking the left neighbour to take this node out", "left", st.Left.String(),
		"right", st.Right.String(), "keys", keys)
	return true
}

// leave sends the leave notice to both neighbours and returns their senders, whose
// queues the caller waits to drain.
func (n *Node) leave() []*peer {
	n.leaving = true
	n.abandonOps("the node is leaving the ring")
	st := n.st
	f := Frame{Type: FrameLeave, From: n.id, Addr: n.addr, Leave: Leave{Left: st.Left, Right: st.Right,
		LeftAddr: n.addrOf(st.Left), RightAddr: n.addrOf(st.Right)}}
	n.emit(observe.KindFault, nil, fmt.Sprintf("leaving: telling left %v and right %v", st.Left, st.Right))
	n.log.Info("leaving", "left", st.Left.String(), "right", st.Right.String())
	var told []*peer
	for i, id := range []protocol.ID{st.Left, st.Right} {
		if id == protocol.None || id == n.id || (i == 1 && id == st.Left) {
			continue
		}
		addr, ok := n.dir[id]
		if !ok {
			continue
		}
		b, err := AppendFrame(nil, &f)
		if err != nil {
			n.log.Warn("cannot encode the leave notice", "err", err)
			return told
		}
		p := n.peerFor(addr)
		if p.enqueue(outFrame{b: b}) == "" {
			told = append(told, p)
		}
	}
	return told
}

func (n *Node) publish() {
	st := &n.st
	s := &Status{
		ID: n.id, Addr: n.addr, Protocol: n.cfg.Protocol, Bits: uint8(n.cfg.Bits),
		Left: st.Left, Right: st.Right, LeftAddr: n.addrOf(st.Left), RightAddr: n.addrOf(st.Right),
		Connected: st.Connected, Waiting: st.Waiting, Locked: st.Locked, Member: n.member,
		Failed: st.Failed, Leaving: st.Leaving, Departed: st.Departed, Queue: st.Queue, Timers: n.fgTimers, Contact: n.contact, JoinStart: n.joinStart, JoinEnd: n.joinEnd,
		Keys: len(n.p.Items()), Fingers: len(n.p.Fingers()),
		Sent: n.sent, Delivered: n.delivered, Dropped: n.dropped, Error: truncate(n.failure, MaxString),
	}
	if st.Left == protocol.None {
		s.LeftAddr = ""
	}
	if st.Right == protocol.None {
		s.RightAddr = ""
	}
	n.status.Store(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (n *Node) emit(kind observe.EventKind, m *protocol.Message, detail string) {
	if n.tracer == nil {
		return
	}
	// The wall clock may step back; a node's own events keep their order in time.
	t := max(time.Now().UnixNano(), n.lastTime)
	n.lastTime = t
	e := &n.ev
	*e = observe.Event{Seq: e.Seq, Time: t, Kind: kind, Node: n.id,
		From: protocol.None, To: protocol.None, Joiner: protocol.None,
		Left: n.st.Left, Right: n.st.Right, Detail: detail}
	if m != nil {
		e.MsgType, e.From, e.To, e.Joiner = m.Type, m.From, m.To, m.Joiner
	}
	n.tracer.Event(e)
	e.Seq++
}

// flagNames spells a node's flags as the simulator's state events do.
func flagNames(st *protocol.State) string {
	return [8]string{"", "connected", "waiting", "connected,waiting", "locked",
		"connected,locked", "waiting,locked", "connected,waiting,locked"}[b2i(st.Connected)|b2i(st.Waiting)<<1|b2i(st.Locked)<<2]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
