package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			// Running out of file descriptors is temporary; anything else ends the node's
			// ability to receive, which it keeps logging rather than spinning on.
			n.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-n.quit:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !n.track(c) {
			n.log.Warn("refusing connection: too many open", "remote", c.RemoteAddr().String(), "max", n.cfg.MaxConns)
			c.Close()
			continue
		}
		n.wg.Add(1)
		go n.serveConn(c)
	}
}

func (n *Node) track(c net.Conn) bool {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.conns == nil || len(n.conns) >= n.cfg.MaxConns {
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Node) untrack(c net.Conn) {
	n.connMu.Lock()
	if n.conns != nil {
		delete(n.conns, c)
	}
	n.connMu.Unlock()
	c.Close()
}

// maxAssembling bounds the bytes of split messages that a node's readers hold, over all
// connections, so that many peers each sending part of a message cannot add up to more.
const maxAssembling = 4 * MaxMessageSize

// serveConn reads frames from one inbound connection. It never blocks the protocol
// goroutine: requests are answered here from the published status, and the only wait is
// for room in the input channel (and, for a key-value request, for the operation's end).
func (n *Node) serveConn(c net.Conn) {
	defer n.wg.Done()
	defer n.untrack(c)
	br := bufio.NewReaderSize(c, 1024)
	var (
		buf []byte
		asm Assembler
	)
	c.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout))
	fio, err := newFrameIO(c, br, n.key, false)
	if err != nil {
		n.connEnded(c, n.authFailed(err))
		return
	}
	defer func() {
		_, held := asm.Pending()
		n.assembling.Add(-int64(held))
	}()
	for {
		// One deadline per frame, not per read: a peer trickling a byte at a time cannot
		// hold the connection longer than a silent one.
		c.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout))
		var (
			f   Frame
			err error
		)
		f, buf, err = fio.read(buf)
		if err != nil {
			err = n.authFailed(err)
		}
		if err == nil {
			err = n.checkFrame(&f)
		}
		if err == nil && f.Type != FrameMessage {
			if held, _ := asm.Pending(); held {
				err = fmt.Errorf("%w: a %s frame inside a message split over frames", ErrMalformed, f.Type)
			}
		}
		if err != nil {
			n.refuse(fio.w, err)
			n.connEnded(c, err)
			return
		}
		switch f.Type {
		case FrameMessage:
			_, before := asm.Pending()
			var whole *Frame
			whole, err = asm.Add(&f, len(buf))
			_, after := asm.Pending()
			if total := n.assembling.Add(int64(after - before)); err == nil && after > 0 && total > maxAssembling {
				err = fmt.Errorf("%w: split messages held over all connections exceed %d bytes", ErrTooLarge, maxAssembling)
			}
			if err != nil {
				n.refuse(fio.w, err)
				n.connEnded(c, err)
				return
			}
			if whole != nil && !n.push(input{kind: inFrame, frame: whole}) {
				return
			}
		case FrameLeave:
			fc := f
			if !n.push(input{kind: inFrame, frame: &fc}) {
				return
			}
		case FrameKVRequest:
			err = n.serveKV(fio.w, &f.KVRequest)
		case FrameIdentify:
			err = n.reply(fio.w, &Frame{Type: FrameIdentity, From: n.id, Addr: n.addr,
				Identity: Identity{Bits: uint8(n.cfg.Bits), Protocol: n.cfg.Protocol}})
		case FrameStatusRequest:
			err = n.reply(fio.w, &Frame{Type: FrameStatus, From: n.id, Addr: n.addr, Status: n.Status()})
		case FrameStoreRequest:
			err = n.serveStore(fio.w, f.StoreFrom)
		default:
			err = fmt.Errorf("%w: a node does not take %s frames", ErrMalformed, f.Type)
			n.refuse(fio.w, err)
		}
		if err != nil {
			n.connEnded(c, err)
			return
		}
	}
}

// authFailed counts and logs a connection whose hello or frame did not authenticate, and
// passes err on. Nothing is written back: an error frame would tell a stranger more than
// the closed connection does.
func (n *Node) authFailed(err error) error {
	if errors.Is(err, ErrAuth) && n.ctx.Err() == nil {
		n.authRefused.Add(1)
	}
	return err
}

// refuse tells the sender of a bad frame why the connection is about to close, when the
// reason is the frame's content: a client then learns what it got wrong. A peer node's
// sender takes any bytes on its one-way connection as the end of it, which it is.
func (n *Node) refuse(c net.Conn, err error) {
	if errors.Is(err, ErrAuth) {
		return
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrVersion) {
		n.reply(c, &Frame{Type: FrameError, From: n.id, Addr: n.addr, Error: truncate(err.Error(), MaxString)})
	}
}

// checkFrame refuses frames that decode but name IDs outside this node's ring, or carry
// keys the protocol could not have produced.
func (n *Node) checkFrame(f *Frame) error {
	on := n.ring.Contains
	orNone := func(id protocol.ID) bool { return id == protocol.None || on(id) }
	switch f.Type {
	case FrameMessage:
		m := &f.Msg
		// Maintenance messages (repair's) belong to no join: their joiner is none.
		if !on(m.From) || !on(m.To) || !orNone(m.Joiner) || !orNone(m.Neighbour) || !orNone(m.Key) {
			return fmt.Errorf("%w: %s message names IDs outside the %d-bit ring", ErrMalformed, m.Type, n.cfg.Bits)
		}
		return n.checkData(m)
	case FrameLeave:
		if !on(f.From) || !orNone(f.Leave.Left) || !orNone(f.Leave.Right) {
			return fmt.Errorf("%w: leave notice names IDs outside the %d-bit ring", ErrMalformed, n.cfg.Bits)
		}
	}
	return nil
}

// checkData refuses DHT content that would corrupt the store or the routing: keys whose
// IDs are not their hashes, sizes beyond the protocol's limits, unknown reply statuses.
func (n *Node) checkData(m *protocol.Message) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s message: "+format, append([]any{ErrMalformed, m.Type}, args...)...)
	}
	if m.Type == protocol.KeyReply && (m.Status == uint8(StatusRefused) || !validStatus(m.Status)) {
		return bad("unknown status %d", m.Status)
	}
	d := m.Data
	if d == nil {
		return nil
	}
	if len(d.Key) > protocol.MaxKeyLen || len(d.Value) > protocol.MaxValueLen {
		return bad("key of %d or value of %d bytes beyond the limits", len(d.Key), len(d.Value))
	}
	if (m.Type == protocol.KeyGet || m.Type == protocol.KeyPut) && (d.Key == "" || protocol.KeyID(n.ring, d.Key) != m.Key) {
		return bad("key %q is not at ID %v", d.Key, m.Key)
	}
	for _, id := range d.Succs {
		if id != protocol.None && !n.ring.Contains(id) {
			return bad("successor %v outside the %d-bit ring", id, n.cfg.Bits)
		}
	}
	for i := range len(d.Items) + len(d.Replicas) {
		var it *protocol.Item
		if i < len(d.Items) {
			it = &d.Items[i]
		} else {
			it = &d.Replicas[i-len(d.Items)]
		}
		if it.Key == "" || len(it.Key) > protocol.MaxKeyLen || len(it.Value) > protocol.MaxValueLen {
			return bad("item %q of %d bytes beyond the limits", it.Key, len(it.Value))
		}
		if protocol.KeyID(n.ring, it.Key) != it.ID {
			return bad("item %q is not at ID %v", it.Key, it.ID)
		}
	}
	return nil
}

func (n *Node) reply(c net.Conn, f *Frame) error {
	b, err := AppendFrame(nil, f)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(n.cfg.WriteTimeout))
	_, err = c.Write(b)
	return err
}

// connEnded logs why an inbound connection is being closed.
func (n *Node) connEnded(c net.Conn, err error) {
	if n.ctx.Err() != nil {
		return
	}
	remote := c.RemoteAddr().String()
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		n.log.Debug("connection closed by peer", "remote", remote)
	case errors.As(err, &ne) && ne.Timeout():
		n.log.Info("closing connection: no complete frame within the idle timeout", "remote", remote, "timeout", n.cfg.IdleTimeout)
	case errors.Is(err, ErrAuth):
		n.log.Warn("closing connection: refused a frame that does not authenticate", "remote", remote, "reason", err)
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTruncated), errors.Is(err, ErrTooLarge), errors.Is(err, ErrVersion):
		n.log.Warn("closing connection: bad frame", "remote", remote, "reason", err)
	case errors.Is(err, net.ErrClosed):
	default:
		n.log.Info("closing connection", "remote", remote, "err", err)
	}
}

// Client asks one node for its identity or status. It keeps its connection open between
// requests, so that a caller polling many nodes does not open a connection per poll, and
// redials when the connection has gone (the node closes idle ones). A Client is safe for
// concurrent use; requests on it take turns.
type Client struct {
	addr string
	key  *authKey // nil: no authentication
	mu   sync.Mutex
	c    net.Conn
	fio  *frameIO
	buf  []byte
	op   uint64 // the number of the last key-value request
}

// ClientOption adjusts a Client.
type ClientOption func(*Client)

// WithSecret makes a client authenticate its connections with the cluster secret; nil or
// empty: no authentication, as the nodes of a ring without a secret expect.
func WithSecret(secret []byte) ClientOption {
	return func(cl *Client) {
		if len(secret) > 0 {
			cl.key = deriveKey(secret)
		}
	}
}

// ErrRefused is what a request fails with when the node answers it with an error frame:
// the node did not take the frame at all (see KVReply for requests it took and refused).
var ErrRefused = errors.New("the node refused the frame")

// NewClient returns a client for the node at addr; it dials on the first request.
func NewClient(addr string, opts ...ClientOption) *Client {
	cl := &Client{addr: addr}
	for _, o := range opts {
		o(cl)
	}
	return cl
}

// Close closes the client's connection, if any.
func (cl *Client) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.dropConn()
}

func (cl *Client) dropConn() error {
	if cl.c == nil {
		return nil
	}
	err := cl.c.Close()
	cl.c, cl.fio = nil, nil
	return err
}

// Status asks for the node's status.
func (cl *Client) Status(ctx context.Context) (Status, error) {
	f, err := cl.request(ctx, FrameStatusRequest, FrameStatus)
	return f.Status, err
}

// Identify asks for the node's ID and ring.
func (cl *Client) Identify(ctx context.Context) (Identity, error) {
	f, err := cl.request(ctx, FrameIdentify, FrameIdentity)
	return f.Identity, err
}

func (cl *Client) request(ctx context.Context, req, want FrameType) (Frame, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	reused := cl.c != nil
	f := Frame{Type: req, From: protocol.None}
	got, err := cl.roundTrip(ctx, &f, want)
	if err != nil && reused && ctx.Err() == nil && !errors.Is(err, ErrRefused) {
		// The node may have closed the kept connection as idle: one fresh try.
		got, err = cl.roundTrip(ctx, &f, want)
	}
	return got, err
}

func (cl *Client) roundTrip(ctx context.Context, req *Frame, want FrameType) (Frame, error) {
	if cl.c == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", cl.addr)
		if err != nil {
			return Frame{}, err
		}
		cl.c = c
	}
	fail := func(err error) (Frame, error) {
		cl.c.Close()
		cl.c, cl.fio = nil, nil
		return Frame{}, fmt.Errorf("%s: %w", cl.addr, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	cl.c.SetDeadline(deadline)
	if cl.fio == nil {
		fio, err := newFrameIO(cl.c, bufio.NewReader(cl.c), cl.key, true)
		if err != nil {
			return fail(fmt.Errorf("hello: %w", err))
		}
		cl.fio = fio
	}
	b, err := AppendFrame(cl.buf[:0], req)
	if err != nil {
		return Frame{}, err
	}
	cl.buf = b
	if _, err := cl.fio.w.Write(b); err != nil {
		return fail(err)
	}
	var f Frame
	if f, cl.buf, err = cl.fio.read(cl.buf); err != nil {
		switch {
		case cl.key == nil && errors.Is(err, ErrTooLarge):
			// The first bytes of a hello read as a huge frame length.
			err = fmt.Errorf("%w (does the node want a cluster secret? give it with --secret-file or %s)", err, SecretEnv)
		case cl.key != nil && errors.Is(err, io.EOF):
			err = fmt.Errorf("%w (a node closes without a word a connection whose frames do not authenticate: is its secret this one?)", err)
		}
		return fail(err)
	}
	if f.Type == FrameError {
		return fail(fmt.Errorf("%w: %s", ErrRefused, f.Error))
	}
	if f.Type != want {
		return fail(fmt.Errorf("answered %s with %s", req.Type, f.Type))
	}
	return f, nil
}

// QueryStatus asks the node at addr for its status on a connection of its own.
func QueryStatus(ctx context.Context, addr string, opts ...ClientOption) (Status, error) {
	cl := NewClient(addr, opts...)
	defer cl.Close()
	return cl.Status(ctx)
}

// Identify asks the node at addr for its ID and ring on a connection of its own.
func Identify(ctx context.Context, addr string, opts ...ClientOption) (Identity, error) {
	cl := NewClient(addr, opts...)
	defer cl.Close()
	return cl.Identify(ctx)
}
