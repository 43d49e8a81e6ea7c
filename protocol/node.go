package protocol

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
	// view is what the DHT layer sees of the node now.
	view() view
	// kv is the node's DHT state; every variant embeds a dht, which provides it.
	kv() *dht
	// clone returns an independent copy.
	clone() machine
}

// host is the Node of every variant: the DHT layer around the variant's machine.
type host struct{ m machine }

func (h *host) Start(out *Output) error         { return h.m.Start(out) }
func (h *host) Serve(out *Output) (bool, error) { return h.m.Serve(out) }
func (h *host) State() State                    { return h.m.State() }
func (h *host) Leave(out *Output) error         { return h.m.Leave(out) }
func (h *host) WantsToJoin() bool               { return h.m.WantsToJoin() }
func (h *host) AppendKey(b []byte) []byte       { return h.m.AppendKey(b) }
func (h *host) Clone() Node                     { return &host{m: h.m.clone()} }

func (h *host) Step(m Message, out *Output) error {
	if IsDHTMessage(m.Type) {
		h.m.kv().step(h.m.view(), &m, out)
		return nil
	}
	return h.m.Step(m, out)
}

func (h *host) Fire(t Timer, out *Output) error {
	if !IsJoinTimer(t) {
		h.m.kv().fire(h.m.view(), t, out)
		return nil
	}
	return h.m.Fire(t, out)
}

func (h *host) Boot(out *Output) { h.m.kv().boot(h.m.view(), out) }

func (h *host) Request(r Request, out *Output) error { return h.m.kv().start(h.m.view(), r, out) }

func (h *host) Items() []Item    { return h.m.kv().Items() }
func (h *host) Fingers() []ID    { return h.m.kv().Fingers() }
func (h *host) Replicas() []Item { return h.m.kv().Replicas() }
