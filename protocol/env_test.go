package protocol

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestEnv runs the scripts in testdata/env against a whole ring of nodes of one variant, in the
// manner of etcd-raft's InteractionEnv: the script decides which message is delivered, lost or
// held back and which timer fires, and every step prints what the node did. Rewrite the
// expectations with -rewrite, then read them: they are the protocol's real behaviour.
//
//	ring ids=(10,20,30) [variant=V] [bits=B] [retries=N] [keys=(k1,k2)] [replicas=R]
//	                        a new ring of members in ID order, the keys at their owners;
//	                        variant, bits, retries and replicas apply to every node added
//	                        afterwards
//	add-nodes ids=(25,27) contact=10       newcomers
//	join id=25                             a newcomer starts its join
//	leave id=20                            a member starts its graceful leave
//	deliver-msgs [from=F] [to=T] [type=X] [count=N]
//	                        deliver the pending messages that match, in send order (what they
//	                        cause is pending afterwards, not delivered by the same command)
//	drop [from=F] [to=T] [type=X] [count=N]   lose pending messages
//	stabilize                              deliver until nothing is pending
//	pending                                list the messages in flight
//	fire id=25 [kind=join] [tag=N]         fire the node's oldest armed timer (that matches);
//	                                       tick is the same
//	timers                                 list every node's armed timers
//	crash id=20 / restart id=20            a crashed node loses what reaches it and its armed
//	                                       timers (as if they fired while it was down); it
//	                                       restarts with its state intact and re-arms the
//	                                       timers it implies (Restarter), as in the simulator
//	round [n=N] [verbose]                  N stabilization rounds (repair): every live node fires its
//	                                       stabilization timer in ID order, messages are delivered
//	                                       until none is pending, then armed probe and join/owner
//	                                       timers fire (a timeout) until none is armed or pending;
//	                                       only state changes are printed unless verbose
//	boot [id=20]                           arm a node's (every live node's) maintenance timers
//	                                       (Boot: the repair variant's stabilization)
//	put id=10 key=k value=v / get id=10 key=k / lookup id=10 key=k
//	dump (or state)                        every node: pointers, flags, queue, keys
func TestEnv(t *testing.T) {
	datadriven.Walk(t, "testdata/env", func(t *testing.T, path string) {
		e := newEnv()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return e.handle(t, d)
		})
	})
}

type envNode struct {
	Node
	down   bool
	timers []Timer // armed and not fired yet, oldest first
	last   State   // the state printed last
}

type env struct {
	variant  string
	bits     uint
	retries  int
	replicas int
	// stabilize is the stabilization period of the nodes added next (repair).
	stabilize int64
	nodes     map[ID]*envNode
	flight    []Message // sent and not yet delivered or lost, in send order
	step      Stepper
	lastOp    uint64
	b         strings.Builder
}

func newEnv() *env {
	return &env{variant: "predlock", bits: 16, nodes: map[ID]*envNode{}}
}

func (e *env) ring() Ring { return Ring{Bits: e.bits} }

// ids returns the node IDs in order.
func (e *env) ids() []ID {
	ids := make([]ID, 0, len(e.nodes))
	for id := range e.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (e *env) handle(t *testing.T, d *datadriven.TestData) string {
	e.b.Reset()
	switch d.Cmd {
	case "ring":
		// A new ring starts a new world: the nodes and messages of the last one are gone.
		e.nodes, e.flight = map[ID]*envNode{}, nil
		e.setup(t, d)
		ids := scanIDs(t, d, "ids")
		slices.Sort(ids)
		keys := map[ID][]Item{}
		if d.HasArg("keys") {
			for _, k := range scanStrings(d, "keys") {
				it := Item{ID: KeyID(e.ring(), k), Key: k, Value: []byte(k)}
				owner := ids[0]
				for _, id := range ids {
					if id >= it.ID {
						owner = id
						break
					}
				}
				keys[owner] = append(keys[owner], it)
			}
		}
		for i, id := range ids {
			left, right := ids[(i+len(ids)-1)%len(ids)], ids[(i+1)%len(ids)]
			e.add(t, Config{ID: id, Member: true, Left: left, Right: right, Items: keys[id]})
		}
		e.dump()
	case "add-nodes":
		e.setup(t, d)
		for _, id := range scanIDs(t, d, "ids") {
			e.add(t, Config{ID: id, Contact: e.id(t, d, "contact")})
		}
		e.dump()
	case "join":
		e.input(t, e.id(t, d, "id"), Input{Kind: InputStart})
	case "leave":
		e.input(t, e.id(t, d, "id"), Input{Kind: InputLeave})
	case "put", "get", "lookup":
		var key, value string
		d.ScanArgs(t, "key", &key)
		d.MaybeScanArgs(t, "value", &value)
		kind, err := ParseOpKind(d.Cmd)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		e.lastOp++
		r := Request{Kind: kind, Op: e.lastOp, Key: key}
		if kind == OpPut {
			r.Value = []byte(value)
		}
		e.input(t, e.id(t, d, "id"), Input{Kind: InputRequest, Request: r})
	case "deliver-msgs":
		for _, m := range e.take(t, d) {
			e.deliver(t, m)
		}
	case "drop":
		for _, m := range e.take(t, d) {
			fmt.Fprintf(&e.b, "dropped %s\n", fmtMsg(&m))
		}
	case "stabilize":
		for steps := 0; len(e.flight) > 0; steps++ {
			if steps > 1000 {
				d.Fatalf(t, "messages never stop")
			}
			m := e.flight[0]
			e.flight = e.flight[1:]
			e.deliver(t, m)
		}
	case "pending":
		for i := range e.flight {
			fmt.Fprintf(&e.b, "%s\n", fmtMsg(&e.flight[i]))
		}
	case "fire", "tick":
		e.fire(t, d)
	case "timers":
		for _, id := range e.ids() {
			for _, tm := range e.nodes[id].timers {
				fmt.Fprintf(&e.b, "%v: %s\n", id, fmtTimer(tm))
			}
		}
	case "crash", "restart":
		id := e.id(t, d, "id")
		n := e.nodes[id]
		n.down = d.Cmd == "crash"
		if n.down {
			n.timers = nil // a crashed node's timers die with it
		}
		fmt.Fprintf(&e.b, "%v: %sed\n", id, d.Cmd)
		if !n.down {
			// Back with its state: it re-arms the timers that state implies, as in the
			// simulator.
			e.run(t, id, Input{Kind: InputRestart})
		}
	case "round":
		e.round(t, d)
	case "boot":
		ids := e.ids()
		if d.HasArg("id") {
			ids = []ID{e.id(t, d, "id")}
		}
		for _, id := range ids {
			if !e.nodes[id].down {
				e.run(t, id, Input{Kind: InputBoot})
			}
		}
	case "dump", "state":
		e.dump()
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if e.b.Len() == 0 {
		return "ok\n"
	}
	return e.b.String()
}

// setup applies the settings that the next nodes get.
func (e *env) setup(t *testing.T, d *datadriven.TestData) {
	if d.HasArg("variant") {
		d.ScanArgs(t, "variant", &e.variant)
	}
	if d.HasArg("bits") {
		d.ScanArgs(t, "bits", &e.bits)
	}
	if d.HasArg("retries") {
		d.ScanArgs(t, "retries", &e.retries)
	}
	if d.HasArg("replicas") {
		d.ScanArgs(t, "replicas", &e.replicas)
	}
	if d.HasArg("stabilize") {
		d.ScanArgs(t, "stabilize", &e.stabilize)
	}
}

func (e *env) add(t *testing.T, c Config) {
	v, err := Lookup(e.variant)
	if err != nil {
		t.Fatal(err)
	}
	c.Ring, c.Retries, c.Replicas, c.Stabilize = e.ring(), e.retries, e.replicas, e.stabilize
	n := v.New(c)
	e.nodes[c.ID] = &envNode{Node: n, last: n.State()}
}

func (e *env) id(t *testing.T, d *datadriven.TestData, key string) ID {
	var v uint64
	d.ScanArgs(t, key, &v)
	if _, ok := e.nodes[ID(v)]; !ok && key == "id" {
		d.Fatalf(t, "no node %v", v)
	}
	return ID(v)
}

func scanStrings(d *datadriven.TestData, key string) []string {
	a, _ := d.Arg(key)
	return a.Vals
}

func scanIDs(t *testing.T, d *datadriven.TestData, key string) []ID {
	var ids []ID
	for _, s := range scanStrings(d, key) {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			d.Fatalf(t, "%s: %v", key, err)
		}
		ids = append(ids, ID(v))
	}
	return ids
}

// take removes the pending messages that match the command's filters and returns them.
func (e *env) take(t *testing.T, d *datadriven.TestData) []Message {
	var from, to uint64
	var typ string
	count := -1
	hasFrom, hasTo := d.MaybeScanArgs(t, "from", &from), d.MaybeScanArgs(t, "to", &to)
	d.MaybeScanArgs(t, "type", &typ)
	d.MaybeScanArgs(t, "count", &count)
	var mt MsgType
	if typ != "" {
		var err error
		if mt, err = ParseMsgType(typ); err != nil {
			d.Fatalf(t, "%v", err)
		}
	}
	var taken []Message
	kept := e.flight[:0]
	for _, m := range e.flight {
		if count != 0 && (!hasFrom || m.From == ID(from)) && (!hasTo || m.To == ID(to)) && (mt == 0 || m.Type == mt) {
			taken = append(taken, m)
			count--
			continue
		}
		kept = append(kept, m)
	}
	e.flight = kept
	if len(taken) == 0 {
		d.Fatalf(t, "no pending message matches")
	}
	return taken
}

func (e *env) deliver(t *testing.T, m Message) {
	fmt.Fprintf(&e.b, "%s\n", fmtMsg(&m))
	n, ok := e.nodes[m.To]
	switch {
	case !ok:
		e.b.WriteString("  lost: no such node\n")
		return
	case n.down:
		e.b.WriteString("  lost: the node is down\n")
		return
	}
	e.run(t, m.To, Input{Kind: InputMessage, Msg: m})
}

// input feeds a local input (a join, a leave, a request, a timer) to node id.
func (e *env) input(t *testing.T, id ID, in Input) {
	if e.nodes[id].down {
		t.Fatalf("node %v is down", id)
	}
	e.run(t, id, in)
}

// run steps node id and prints every Ready: what the node sends (which joins the messages in
// flight), the timers it arms, the operations it completes, and its state when it changed.
func (e *env) run(t *testing.T, id ID, in Input) {
	n := e.nodes[id]
	before := e.b.Len()
	defer func() {
		if e.b.Len() == before {
			e.b.WriteString("  no action, same state\n")
		}
	}()
	for rd := range e.step.Step(n.Node, &in) {
		if rd.Served {
			fmt.Fprintf(&e.b, "  %v serves a queued request\n", id)
		}
		for _, a := range rd.Actions {
			switch a.Kind {
			case Send:
				e.flight = append(e.flight, a.Msg)
				fmt.Fprintf(&e.b, "  send %s\n", fmtMsg(&a.Msg))
			case SetTimer:
				n.timers = append(n.timers, a.Timer)
				fmt.Fprintf(&e.b, "  timer %s\n", fmtTimer(a.Timer))
			case Idle:
				fmt.Fprintf(&e.b, "  idle %d\n", a.Units)
			case Done:
				r := a.Result
				fmt.Fprintf(&e.b, "  done %s %s: %s owner=%v hops=%d", r.Kind, r.Key, r.Status, r.Owner, r.Hops)
				if r.Value != nil {
					fmt.Fprintf(&e.b, " value=%s", r.Value)
				}
				e.b.WriteByte('\n')
			}
		}
		if rd.Err != nil {
			fmt.Fprintf(&e.b, "  error: %v\n", rd.Err)
		}
		// The Stepper fills the Ready's state through stateTo: it must be State's.
		if st := n.State(); rd.State != st {
			t.Fatalf("%v: the Ready's state %+v is not the node's State %+v", id, rd.State, st)
		}
		if rd.State != n.last {
			n.last = rd.State
			fmt.Fprintf(&e.b, "  %s\n", e.fmtNode(id))
		}
	}
}

func (e *env) fire(t *testing.T, d *datadriven.TestData) {
	id := e.id(t, d, "id")
	n := e.nodes[id]
	var kind string
	tag := uint64(0)
	d.MaybeScanArgs(t, "kind", &kind)
	hasTag := d.MaybeScanArgs(t, "tag", &tag)
	i := slices.IndexFunc(n.timers, func(tm Timer) bool {
		return (kind == "" || timerName(tm.Kind) == kind) && (!hasTag || tm.Tag == tag)
	})
	if i < 0 {
		d.Fatalf(t, "node %v has no armed timer %s", id, kind)
	}
	tm := n.timers[i]
	n.timers = slices.Delete(n.timers, i, i+1)
	fmt.Fprintf(&e.b, "%v fires %s\n", id, fmtTimer(tm))
	e.input(t, id, Input{Kind: InputTimer, Timer: tm})
}

// round runs stabilization rounds; see TestEnv.
func (e *env) round(t *testing.T, d *datadriven.TestData) {
	rounds := 1
	d.MaybeScanArgs(t, "n", &rounds)
	start := e.b.Len()
	deliverAll := func() {
		for steps := 0; len(e.flight) > 0; steps++ {
			if steps > 10000 {
				d.Fatalf(t, "messages never stop")
			}
			m := e.flight[0]
			e.flight = e.flight[1:]
			e.deliver(t, m)
		}
	}
	// fireKind fires the oldest armed timer of one of the kinds at every live node, in ID
	// order, and reports whether any fired.
	fireKind := func(kinds ...uint8) bool {
		fired := false
		for _, id := range e.ids() {
			n := e.nodes[id]
			if n.down {
				continue
			}
			i := slices.IndexFunc(n.timers, func(tm Timer) bool { return slices.Contains(kinds, tm.Kind) })
			if i < 0 {
				continue
			}
			tm := n.timers[i]
			n.timers = slices.Delete(n.timers, i, i+1)
			fmt.Fprintf(&e.b, "%v fires %s\n", id, fmtTimer(tm))
			e.run(t, id, Input{Kind: InputTimer, Timer: tm})
			fired = true
		}
		return fired
	}
	for range rounds {
		fireKind(timerStab)
		deliverAll()
		// Timeouts: probes, and the handshakes' waits, until nothing is left to time out.
		for i := 0; fireKind(timerProbe, timerJoin, timerOwner, timerLeave); i++ {
			if i > 100 {
				d.Fatalf(t, "timeouts never stop")
			}
			deliverAll()
		}
	}
	if d.HasArg("verbose") {
		return
	}
	// Only the state changes: the lines that show a node's state.
	all := e.b.String()
	e.b.Reset()
	e.b.WriteString(all[:start])
	for _, line := range strings.Split(all[start:], "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[0], ":") && strings.HasPrefix(f[1], "left=") {
			e.b.WriteString(line + "\n")
		}
	}
}

func (e *env) dump() {
	for _, id := range e.ids() {
		fmt.Fprintf(&e.b, "%s\n", e.fmtNode(id))
	}
}

// fmtNode is one node's state in one line: pointers, flags, queue and keys.
func (e *env) fmtNode(id ID) string {
	n := e.nodes[id]
	st := n.State()
	var b strings.Builder
	fmt.Fprintf(&b, "%v: left=%v right=%v", id, st.Left, st.Right)
	for _, f := range []struct {
		on   bool
		name string
	}{{st.Connected, "connected"}, {st.Waiting, "waiting"}, {st.Locked, "locked"}, {st.Failed, "failed"},
		{st.Leaving, "leaving"}, {st.Departed, "departed"}, {st.LeaveFailed, "leave-failed"}, {n.down, "down"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if st.Queue > 0 {
		fmt.Fprintf(&b, " queue=%d", st.Queue)
	}
	if items := n.Items(); len(items) > 0 {
		fmt.Fprintf(&b, " keys=%s", fmtItems(items))
	}
	if items := n.Replicas(); len(items) > 0 {
		fmt.Fprintf(&b, " replicas=%s", fmtItems(items))
	}
	return b.String()
}

func fmtItems(items []Item) string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = fmt.Sprintf("%s@%v", it.Key, it.ID)
	}
	return "(" + strings.Join(keys, ",") + ")"
}

// fmtMsg spells a message with the fields its type uses.
func fmtMsg(m *Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v->%v", m.Type, m.From, m.To)
	repair := m.Type >= RepairAsk && m.Type <= RepairPush
	if (m.Joiner != m.From && !(repair && m.Joiner == None)) || IsDHTMessage(m.Type) {
		fmt.Fprintf(&b, " joiner=%v", m.Joiner)
	}
	if m.Neighbour != None {
		fmt.Fprintf(&b, " neighbour=%v", m.Neighbour)
	}
	if IsDHTMessage(m.Type) {
		fmt.Fprintf(&b, " key=%v op=%d hops=%d", m.Key, m.Op, m.Hops)
		if m.Type == KeyReply {
			fmt.Fprintf(&b, " status=%s", OpStatus(m.Status))
		}
	}
	if m.Data != nil {
		if m.Data.Key != "" {
			fmt.Fprintf(&b, " data=%s", m.Data.Key)
			if m.Data.Value != nil {
				fmt.Fprintf(&b, ":%s", m.Data.Value)
			}
		}
		if len(m.Data.Items) > 0 {
			fmt.Fprintf(&b, " keys=%s", fmtItems(m.Data.Items))
		}
		if len(m.Data.Replicas) > 0 {
			fmt.Fprintf(&b, " replicas=%s", fmtItems(m.Data.Replicas))
		}
		if len(m.Data.Succs) > 0 {
			fmt.Fprintf(&b, " succs=%v", m.Data.Succs)
		}
	}
	if repair {
		fmt.Fprintf(&b, " op=%d status=%d key=%v", m.Op, m.Status, m.Key)
	}
	return b.String()
}

func timerName(k uint8) string {
	switch k {
	case timerJoin:
		return "join"
	case timerOwner:
		return "owner"
	case timerLeave:
		return "leave"
	case timerStab:
		return "stab"
	case timerProbe:
		return "probe"
	case timerFinger:
		return "finger"
	case timerOp:
		return "op"
	}
	return fmt.Sprintf("kind%d", k)
}

func fmtTimer(tm Timer) string {
	return fmt.Sprintf("%s tag=%d after=%v", timerName(tm.Kind), tm.Tag, time.Duration(tm.After))
}
