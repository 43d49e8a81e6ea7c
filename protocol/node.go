package protocol

import "slices"

// machine is one variant's join and leave protocol, the part that differs between variants.
// Variants are registered as machines and wrapped in a host, which alone implements the DHT
// side of a Node (Boot, Request, DHT messages and timers) and always asks the machine for its
// current view when it does. So a variant cannot hand the DHT layer a stale or partial view:
// it has no Boot or Request of its own that embedding could resolve to a method of an
// embedded type, and the compiler rejects a variant that lacks a view.
type machine interface {
	// Start, Serve, State, Leave, WantsToJoin and AppendKey are those of Node.
	Start(out *Output) error
	Serve(out *Output) (bool, error)
	State() State
	Leave(out *Output) error
	WantsToJoin() bool
	AppendKey(b []byte) []byte
	// Step handles a membership message; DHT messages never reach it.
	Step(m Message, out *Output) error
	// Fire handles one of the variant's own timers; DHT timers never reach it.
	Fire(t Timer, out *Output) error
	// stateTo writes what State returns into *st, field by field. It is how the Stepper
	// fills each Ready: a State built on the stack and then copied out made every step wait,
	// since the copy's wide loads cannot be served from the flags' narrow stores still in
	// flight (a failed store forward), and that wait was a tenth of a seed-timing run. A
	// machine whose State differs from its embedded type's must define stateTo too; the
	// protocol's scripted tests check that the two agree after every step.
	stateTo(st *State)
	// view is what the DHT layer sees of the node now.
	view() view
	// kv is the node's DHT state; every variant embeds a dht, which provides it.
	kv() *dht
	// own is called on a shallow copy of the machine: it takes private copies of whatever
	// storage the copy still shares with the original (queues, keys), for Clone.
	own()
	// restart re-arms the variant's own timers that its state implies after a crash
	// (Restarter); the host re-arms the DHT's after them.
	restart(out *Output)
	// requests is the node's queue of join requests; every variant embeds a peer, which
	// provides it. A Pool hands its storage on to the node it makes next in its place.
	requests() *requestQueue
}

// machinePtr is a pointer to a variant's machine type M.
type machinePtr[M any] interface {
	*M
	machine
}

// host is the Node of every variant: the DHT layer around the variant's machine. It holds the
// machine by value, so that a node costs one allocation and no extra pointer.
type host[M any, P machinePtr[M]] struct{ m M }

func (h *host[M, P]) mc() P { return &h.m }

func (h *host[M, P]) Start(out *Output) error         { return h.mc().Start(out) }
func (h *host[M, P]) Serve(out *Output) (bool, error) { return h.mc().Serve(out) }
func (h *host[M, P]) State() State                    { return h.mc().State() }
func (h *host[M, P]) stateTo(st *State)               { h.mc().stateTo(st) }
func (h *host[M, P]) Leave(out *Output) error         { return h.mc().Leave(out) }
func (h *host[M, P]) WantsToJoin() bool               { return h.mc().WantsToJoin() }
func (h *host[M, P]) AppendKey(b []byte) []byte       { return h.mc().AppendKey(b) }

func (h *host[M, P]) Clone() Node {
	c := &host[M, P]{m: h.m}
	c.mc().own()
	return c
}

func (h *host[M, P]) Step(m Message, out *Output) error {
	if IsDHTMessage(m.Type) {
		h.mc().kv().step(h.mc().view(), &m, out)
		return nil
	}
	if kv := h.mc().kv(); kv.fingerJoins && (m.Type == Connect || m.Type == ConnectRedirect) {
		// A join request forwarded from here counts its hops on from those it took so far;
		// requests forwarded outside a step (served from the queue) start again from 0.
		kv.hops = m.Hops
		defer func() { kv.hops = 0 }()
	}
	return h.mc().Step(m, out)
}

func (h *host[M, P]) Fire(t Timer, out *Output) error {
	if isDHTTimer(t) {
		h.mc().kv().fire(h.mc().view(), t, out)
		return nil
	}
	return h.mc().Fire(t, out)
}

// Boot arms the variant's own maintenance timers first, if it has any (booter), then the
// DHT's.
func (h *host[M, P]) Boot(out *Output) {
	if b, ok := any(h.mc()).(booter); ok {
		b.boot(out)
	}
	h.mc().kv().boot(h.mc().view(), out)
}

// booter is a machine with maintenance timers of its own to arm when the node starts.
type booter interface{ boot(out *Output) }

// Restart re-arms the variant's timers first and the DHT's after them, so that a crashed
// node's timers are set in one fixed order and runs stay reproducible.
func (h *host[M, P]) Restart(out *Output) {
	h.mc().restart(out)
	h.mc().kv().restart(h.mc().view(), out)
}

func (h *host[M, P]) Request(r Request, out *Output) error {
	return h.mc().kv().start(h.mc().view(), r, out)
}

func (h *host[M, P]) Items() []Item    { return h.mc().kv().Items() }
func (h *host[M, P]) Fingers() []ID    { return h.mc().kv().Fingers() }
func (h *host[M, P]) Replicas() []Item { return h.mc().kv().Replicas() }
func (h *host[M, P]) Outbox() []Item   { return h.mc().kv().Outbox() }

// register makes a variant known under its name. Its nodes are its machines, built by
// newMachine, each in a host, so that the DHT layer always sees the variant's own view.
func register[M any, P machinePtr[M]](v Variant, newMachine func(Config) M) {
	v.New = func(c Config) Node { return &host[M, P]{m: newMachine(c)} }
	v.newPool = func() *Pool {
		var hosts []*host[M, P]
		p := &Pool{variant: v.Name}
		p.grow = func(n int) {
			if n > len(hosts)-p.next {
				hosts = slices.Grow(hosts, n-(len(hosts)-p.next))
			}
		}
		p.take = func(c Config) Node {
			if p.next == len(hosts) {
				// Made in place, as New makes it: a copy into a zeroed node cost a ring of a
				// million nodes a few percent.
				h := &host[M, P]{m: newMachine(c)}
				hosts = append(hosts, h)
				p.next++
				return h
			}
			h := hosts[p.next]
			p.next++
			q := h.mc().requests().ids[:0]
			*h = host[M, P]{m: newMachine(c)}
			if r := h.mc().requests(); r.ids == nil {
				r.ids = q
			}
			return h
		}
		return p
	}
	variants[v.Name] = v
}

// Pool makes the nodes of one variant as Variant.New does, reusing the nodes it made before
// its last Reset, so that a simulator running one short run after another does not allocate
// its nodes anew for each: with rings of a few nodes, that was a fifth of its allocations.
type Pool struct {
	variant string
	take    func(Config) Node
	grow    func(n int)
	next    int // nodes handed out since the last Reset
}

// Grow makes room for n more nodes, so that a ring of millions is not built by doubling.
func (p *Pool) Grow(n int) { p.grow(n) }

// NewPool returns an empty pool of the variant's nodes.
func (v Variant) NewPool() *Pool { return v.newPool() }

// Variant names the variant whose nodes the pool makes.
func (p *Pool) Variant() string { return p.variant }

// New makes a node as Variant.New does, in the storage of a node handed out before the last
// Reset if there is one.
func (p *Pool) New(c Config) Node { return p.take(c) }

// Reset makes every node handed out so far available again: none of them may be used after.
func (p *Pool) Reset() { p.next = 0 }
