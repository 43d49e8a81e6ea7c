package protocol

import "iter"

// InputKind names what happens to a node in one step.
type InputKind uint8

// Inputs a driver feeds to a node.
const (
	InputBoot    InputKind = iota + 1 // the node starts: arm its maintenance timers
	InputStart                        // begin the node's own join (Node.Start)
	InputMessage                      // a message arrived (Node.Step)
	InputTimer                        // a timer fired (Node.Fire)
	InputRequest                      // a client operation (Node.Request)
	InputLeave                        // begin a graceful leave (Node.Leave)
	InputServe                        // serve at most one queued join request, nothing else
	InputRestart                      // the node is back from a crash: re-arm its timers (Restarter)
)

// Input is one thing that happens to a node.
type Input struct {
	Kind InputKind
	// Hold leaves the join queue alone after the input. The seed timing model needs it: the
	// original program's loop served one request per turn of its own (InputServe), not after
	// every message.
	Hold    bool
	Msg     Message // InputMessage
	Timer   Timer   // InputTimer
	Request Request // InputRequest
}

// Ready is what a node wants done after one step, in order, and how the step left it.
type Ready struct {
	// Actions are the messages to send, timers to set, idle periods and operation results, in
	// the order the node produced them. They are valid until the Stepper's next step.
	Actions []Action
	// State is the node's state after the step. Drivers compare it with the state they saw
	// last: a changed flag computed here would cost every step a second State call, which
	// nearly doubled the cost of stepping a node that polls an empty queue.
	State State
	// Served marks the step as the serving of a queued join request (or its failure), not
	// the handling of the input.
	Served bool
	// Err is a protocol error (ErrMissingNeighbour) or, for InputLeave and InputRequest, the
	// refusal. Nothing follows a Ready with an error.
	Err error
}

// Stepper is the one place where a node's input is followed by serving its queue. A driver
// feeds an input through Step and ranges over what comes back: a Ready for the input, then one
// for every queued join request the node chooses to serve, until it is unwilling to serve
// more. A driver that stops ranging (its node crashed, its run ended) stops the serving too,
// so the node never decides anything whose actions nobody carries out.
//
// A Stepper reuses one buffer for every step, so a single Stepper can drive any number of
// nodes, one step at a time, without allocating.
type Stepper struct {
	out Output
	rd  Ready
}

// Step feeds in to n and yields what n wants done; see Stepper. The yielded Ready is valid
// until the next iteration. in is read during the step only; it is passed by pointer because
// copying it (160 bytes) for every message is a measurable share of a simulation.
func (s *Stepper) Step(n Node, in *Input) iter.Seq[*Ready] {
	return func(yield func(*Ready) bool) { s.run(n, in, yield) }
}

// StepOnce is Step for an input after which n serves nothing of its own accord (one with
// Hold set, or InputServe itself): it returns the one Ready that Step would yield. A driver
// that feeds every input so, as the seed timing model does, spares each step the iteration's
// calls. The Ready is valid until the next step.
func (s *Stepper) StepOnce(n Node, in *Input) *Ready {
	if !in.Hold && in.Kind != InputServe {
		panic("protocol: StepOnce of an input after which the node may serve (neither Hold nor InputServe)")
	}
	s.first(n, in)
	return &s.rd
}

func (s *Stepper) run(n Node, in *Input, yield func(*Ready) bool) {
	err := s.first(n, in)
	for {
		rd := &s.rd
		if !yield(rd) || err != nil || in.Hold || in.Kind == InputServe || rd.State.Queue == 0 {
			return
		}
		s.out.Reset()
		var served bool
		if served, err = n.Serve(&s.out); !served && err == nil {
			return
		}
		// Field by field: a composite literal would build the Ready on the stack and copy it.
		rd.Actions, rd.Served, rd.Err = s.out.Actions, true, err
		n.stateTo(&rd.State)
	}
}

// first feeds in to n and fills s.rd with the outcome; it returns the Ready's Err.
func (s *Stepper) first(n Node, in *Input) error {
	s.out.Reset()
	var err error
	served := false
	switch in.Kind {
	case InputBoot:
		n.Boot(&s.out)
	case InputStart:
		err = n.Start(&s.out)
	case InputMessage:
		err = n.Step(in.Msg, &s.out)
	case InputTimer:
		err = n.Fire(in.Timer, &s.out)
	case InputRequest:
		err = n.Request(in.Request, &s.out)
	case InputLeave:
		err = n.Leave(&s.out)
	case InputServe:
		served, err = n.Serve(&s.out)
		served = served || err != nil
	case InputRestart:
		if r, ok := n.(Restarter); ok {
			r.Restart(&s.out)
		}
	}
	// Field by field: a composite literal would build the Ready on the stack and copy it.
	rd := &s.rd
	rd.Actions, rd.Served, rd.Err = s.out.Actions, served, err
	n.stateTo(&rd.State)
	return err
}
