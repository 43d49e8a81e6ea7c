package node

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/dhtexp/dhtexp/protocol"
)

// Client key-value operations. A reader goroutine takes a client's request, checks it, and
// hands it to the protocol goroutine, which starts it under a number of the node's own
// (clients may reuse theirs) and answers the waiting reader when the protocol reports the
// operation's end (a Done action). The reader waits for that answer before it reads the
// connection's next frame, so a connection has at most one operation under way and the
// operations a node holds for clients are bounded by MaxConns.

// serveKV answers one client request on c.
func (n *Node) serveKV(c net.Conn, q *KVRequest) error {
	rep := KVReply{Kind: q.Kind, Op: q.Op, KeyID: protocol.None, Owner: protocol.None}
	r := protocol.Request{Kind: q.Kind, Key: q.Key, Value: q.Value}
	if err := r.Validate(); err != nil {
		rep.Status, rep.Error = StatusRefused, refusal(q, err)
	} else {
		ch := make(chan KVReply, 1)
		if !n.push(input{kind: inRequest, req: r, result: ch}) {
			return net.ErrClosed
		}
		select {
		case rep = <-ch:
		case <-n.quit:
			return net.ErrClosed
		}
		rep.Kind, rep.Op = q.Kind, q.Op
	}
	rep.Error = truncate(rep.Error, MaxString)
	return n.reply(c, &Frame{Type: FrameKVReply, From: n.id, Addr: n.addr, KVReply: rep})
}

// refusal names what is wrong with a request protocol.Request.Validate refused.
func refusal(q *KVRequest, err error) string {
	switch {
	case errors.Is(err, protocol.ErrBadOp):
		return fmt.Sprintf("operation: unknown operation %d (known: %d lookup, %d get, %d put)",
			q.Kind, protocol.OpLookup, protocol.OpGet, protocol.OpPut)
	case errors.Is(err, protocol.ErrEmptyKey):
		return "key: empty"
	case errors.Is(err, protocol.ErrKeyTooLong):
		return fmt.Sprintf("key: %d bytes, at most %d", len(q.Key), protocol.MaxKeyLen)
	case errors.Is(err, protocol.ErrValueTooLong):
		return fmt.Sprintf("value: %d bytes, at most %d", len(q.Value), protocol.MaxValueLen)
	}
	return err.Error()
}

// request starts a client's operation; protocol goroutine only.
func (n *Node) request(r protocol.Request, result chan<- KVReply) {
	unavailable := func(why string) {
		result <- KVReply{Status: protocol.StatusUnavailable, KeyID: protocol.KeyID(n.ring, r.Key), Owner: protocol.None, Error: why}
	}
	switch {
	case n.failure != "":
		unavailable("the node's state machine stopped at a protocol error: " + n.failure)
		return
	case n.leaving:
		unavailable("the node is leaving the ring")
		return
	}
	n.lastOp++
	r.Op = n.lastOp
	n.ops[r.Op] = result
	if err := n.perform(&protocol.Input{Kind: protocol.InputRequest, Request: r}, false); err != nil {
		delete(n.ops, r.Op)
		result <- KVReply{Status: StatusRefused, KeyID: protocol.None, Owner: protocol.None, Error: err.Error()}
	}
}

// finish hands the end of an operation to the client waiting for it.
func (n *Node) finish(res *protocol.OpResult) {
	ch, ok := n.ops[res.Op]
	if !ok {
		return
	}
	delete(n.ops, res.Op)
	rep := KVReply{Status: res.Status, KeyID: res.KeyID, Owner: res.Owner, Hops: res.Hops, Value: res.Value}
	if res.Owner != protocol.None {
		rep.OwnerAddr = n.addrOf(res.Owner)
	}
	switch res.Status {
	case protocol.StatusTimeout:
		rep.Error = fmt.Sprintf("no answer within the operation timeout of node %v", n.id)
	case protocol.StatusHopBudget:
		rep.Error = "routing took more forwards than the hop budget allows"
	case protocol.StatusUnavailable:
		switch {
		case n.st.Leaving || n.st.Departed:
			rep.Error = fmt.Sprintf("node %v is leaving the ring", n.id)
		case !n.st.Connected:
			rep.Error = fmt.Sprintf("node %v is not in the ring", n.id)
		default:
			rep.Error = "a node on the way is not in the ring"
		}
	}
	n.log.Debug("operation done", "op", res.Kind.String(), "key", res.Key, "status", res.Status.String(),
		"owner", res.Owner.String(), "hops", res.Hops)
	ch <- rep
}

// abandonOps answers every client operation under way, when nothing else will.
func (n *Node) abandonOps(why string) {
	for op, ch := range n.ops {
		ch <- KVReply{Status: protocol.StatusUnavailable, KeyID: protocol.None, Owner: protocol.None, Error: why}
		delete(n.ops, op)
	}
}

// Items returns a copy of the keys the node stores, sorted by (ID, key), as of the last
// input it handled; false once the node has stopped.
func (n *Node) Items() ([]protocol.Item, bool) { return n.stored(inItems) }

// Replicas returns a copy of the copies the node keeps for its predecessors (with
// Config.Replicas > 0), sorted by (ID, key); false once the node has stopped.
func (n *Node) Replicas() ([]protocol.Item, bool) { return n.stored(inReplicas) }

func (n *Node) stored(kind inputKind) ([]protocol.Item, bool) {
	ch := make(chan []protocol.Item, 1)
	if !n.push(input{kind: kind, items: ch}) {
		return nil, false
	}
	select {
	case items := <-ch:
		return items, true
	case <-n.loopDone:
		return nil, false
	}
}

// serveStore answers a client's FrameStoreRequest with the page of the node's keys and
// copies that starts at entry from: as many as fit in one frame.
func (n *Node) serveStore(c net.Conn, from int) error {
	items, replicas, ok := n.Stored()
	if !ok {
		return net.ErrClosed
	}
	total := len(items) + len(replicas)
	from = min(from, total)
	room := MaxFrameSize - (headerSize + len(n.addr) + 4 + 4 + 2)
	hi := from
	for ; hi < total && hi-from < 0xffff; hi++ {
		var it *protocol.Item
		if hi < len(items) {
			it = &items[hi]
		} else {
			it = &replicas[hi-len(items)]
		}
		if room -= itemSize(it); room < 0 {
			break
		}
	}
	page := shareOf(&protocol.Data{Items: items, Replicas: replicas}, from, hi)
	return n.reply(c, &Frame{Type: FrameStore, From: n.id, Addr: n.addr,
		Store: Store{Total: total, From: from, Items: page.Items, Replicas: page.Replicas}})
}

// Stored returns copies of the node's keys and of the copies it keeps for predecessors,
// both as of the same input; false once the node has stopped.
func (n *Node) Stored() (items, replicas []protocol.Item, ok bool) {
	ch := make(chan []protocol.Item, 2)
	if !n.push(input{kind: inStore, items: ch}) {
		return nil, nil, false
	}
	for i := range 2 {
		select {
		case got := <-ch:
			if i == 0 {
				items = got
			} else {
				replicas = got
			}
		case <-n.loopDone:
			return nil, nil, false
		}
	}
	return items, replicas, true
}

// Store reads every page of the node's keys and copies (FrameStoreRequest). The node may
// change between two pages; a caller that needs one instant reads a ring that is quiet.
func (cl *Client) Store(ctx context.Context) (items, replicas []protocol.Item, err error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for from := 0; ; {
		req := Frame{Type: FrameStoreRequest, From: protocol.None, StoreFrom: from}
		reused := cl.c != nil
		f, err := cl.roundTrip(ctx, &req, FrameStore)
		if err != nil && reused && ctx.Err() == nil && !errors.Is(err, ErrRefused) {
			f, err = cl.roundTrip(ctx, &req, FrameStore)
		}
		if err != nil {
			return nil, nil, err
		}
		st := &f.Store
		if st.From != from {
			cl.dropConn()
			return nil, nil, fmt.Errorf("%s: %w: store page from entry %d, not %d", cl.addr, ErrMalformed, st.From, from)
		}
		items, replicas = append(items, st.Items...), append(replicas, st.Replicas...)
		got := len(st.Items) + len(st.Replicas)
		from += got
		if from >= st.Total || got == 0 {
			return items, replicas, nil
		}
	}
}

// KV carries out one key-value operation at the node. A reply of any status is returned
// without error; err is for a request that got no reply (dial, write, read, deadline, a
// node refusing the frame with ErrRefused). The request's Op is the client's own.
func (cl *Client) KV(ctx context.Context, q KVRequest) (KVReply, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.op++
	q.Op = cl.op
	req := Frame{Type: FrameKVRequest, From: protocol.None, KVRequest: q}
	reused := cl.c != nil
	f, err := cl.roundTrip(ctx, &req, FrameKVReply)
	if err != nil && reused && ctx.Err() == nil && !errors.Is(err, ErrRefused) {
		f, err = cl.roundTrip(ctx, &req, FrameKVReply)
	}
	if err != nil {
		return KVReply{}, err
	}
	if f.KVReply.Op != q.Op {
		cl.dropConn()
		return KVReply{}, fmt.Errorf("%s: %w: reply to request %d, not %d", cl.addr, ErrMalformed, f.KVReply.Op, q.Op)
	}
	return f.KVReply, nil
}

// KV carries out one key-value operation at the node at addr on a connection of its own.
func KV(ctx context.Context, addr string, q KVRequest, opts ...ClientOption) (KVReply, error) {
	cl := NewClient(addr, opts...)
	defer cl.Close()
	return cl.KV(ctx, q)
}
