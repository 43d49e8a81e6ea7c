package node

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// outFrame is an encoded frame waiting for its peer's connection. Message frames keep
// their message so that a failure can be traced as a drop of that message.
type outFrame struct {
	b     []byte
	msg   protocol.Message
	isMsg bool
}

// peer is the sending side towards one address: a queue filled by the protocol goroutine
// and a goroutine that dials (with backoff), writes and closes the connection when idle.
// Connections are one-way: the receiver never writes on them, and its replies travel on
// its own connection to us.
type peer struct {
	n    *Node
	addr string
	wake chan struct{}

	mu    sync.Mutex
	queue []outFrame
	busy  bool // a batch taken from queue is being written
	dead  bool // unreachable for PeerTimeout, or announced its leave
}

// peerFor returns the sender for addr, starting it on first use. Protocol goroutine only.
func (n *Node) peerFor(addr string) *peer {
	p := n.peers[addr]
	if p == nil {
		p = &peer{n: n, addr: addr, wake: make(chan struct{}, 1)}
		n.peers[addr] = p
		n.wg.Add(1)
		go p.run()
	}
	return p
}

// enqueue queues f for sending, or says why it cannot.
func (p *peer) enqueue(f outFrame) (refused string) {
	p.mu.Lock()
	switch {
	case p.dead:
		refused = fmt.Sprintf("peer %s is dead", p.addr)
	case len(p.queue) >= maxPeerQueue:
		refused = fmt.Sprintf("send queue to %s is full", p.addr)
	default:
		p.queue = append(p.queue, f)
	}
	p.mu.Unlock()
	if refused == "" {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return refused
}

// revive forgets that the peer was dead: a frame from it has just arrived.
func (p *peer) revive() {
	p.mu.Lock()
	p.dead = false
	p.mu.Unlock()
}

func (p *peer) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// markDead makes the peer refuse messages until it is heard from again.
func (p *peer) markDead() {
	p.mu.Lock()
	p.dead = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitIdle waits until everything queued has been written or given up on, or the deadline.
func (p *peer) waitIdle(deadline time.Time) {
	for time.Now().Before(deadline) {
		p.mu.Lock()
		idle := p.dead || (len(p.queue) == 0 && !p.busy)
		p.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *peer) run() {
	defer p.n.wg.Done()
	var (
		c      net.Conn
		broken <-chan struct{}
	)
	closeConn := func() {
		if c != nil {
			c.Close()
			c, broken = nil, nil
		}
	}
	// A write blocked on a peer that does not read must not hold up shutdown for the
	// whole write timeout.
	unblock := func() {}
	defer func() { unblock() }()
	defer closeConn()
	// Closing our side first, well before the receiver's idle timeout, keeps the receiver
	// from closing a connection that we are about to write to.
	idleAfter := p.n.cfg.IdleTimeout / 2
	idle := time.NewTimer(idleAfter)
	defer idle.Stop()
	for {
		p.mu.Lock()
		batch := p.queue
		p.queue = nil
		p.busy = len(batch) > 0
		dead := p.dead
		p.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-p.wake:
			case <-broken:
				closeConn()
			case <-idle.C:
				closeConn()
			case <-p.n.quit:
				return
			}
			continue
		}
		if dead {
			p.dropAll(batch, fmt.Sprintf("peer %s is dead", p.addr))
			continue
		}
		for i := 0; i < len(batch); i++ {
			select {
			case <-broken:
				// The receiver closed the connection; anything written now would be lost.
				closeConn()
			default:
			}
			if c == nil {
				var err error
				if c, broken, err = p.dial(); err != nil {
					if p.n.ctx.Err() != nil {
						return
					}
					p.giveUp(batch[i:], err)
					break
				}
				unblock()
				conn := c
				stop := context.AfterFunc(p.n.ctx, func() { conn.Close() })
				unblock = func() { stop() }
			}
			// A handoff split over many frames can be megabytes: it gets a second more per
			// MiB, so that the deadline catches a peer that stopped reading, not a big write.
			c.SetWriteDeadline(time.Now().Add(p.n.cfg.WriteTimeout + time.Duration(len(batch[i].b)>>20)*time.Second))
			if _, err := c.Write(batch[i].b); err != nil {
				// Part of the frame may have gone out, so it is not sent again: a second
				// copy could be handled twice.
				closeConn()
				p.dropAll(batch[i:i+1], fmt.Sprintf("write to %s failed: %v", p.addr, err))
			}
		}
		idle.Reset(idleAfter)
	}
}

// dial connects to the peer, retrying with exponential backoff for up to PeerTimeout.
// The returned channel is closed when the receiver closes the connection.
func (p *peer) dial() (net.Conn, <-chan struct{}, error) {
	cfg := &p.n.cfg
	start := time.Now()
	backoff := 10 * time.Millisecond
	for {
		d := net.Dialer{Timeout: cfg.DialTimeout}
		c, err := d.DialContext(p.n.ctx, "tcp", p.addr)
		if err == nil && p.n.key != nil {
			var fio *frameIO
			c.SetDeadline(time.Now().Add(cfg.DialTimeout))
			if fio, err = newFrameIO(c, c, p.n.key, true); err != nil {
				c.Close()
				err = fmt.Errorf("hello: %w", err)
			} else {
				c.SetDeadline(time.Time{})
				c = fio.w
			}
		}
		if err == nil {
			broken := make(chan struct{})
			p.n.wg.Add(1)
			go func() {
				defer p.n.wg.Done()
				// The receiver never writes on this connection, so the read returns only
				// when the connection ends.
				var b [1]byte
				c.Read(b[:])
				close(broken)
			}()
			return c, broken, nil
		}
		if p.n.ctx.Err() != nil || time.Since(start)+backoff > cfg.PeerTimeout {
			return nil, nil, fmt.Errorf("unreachable for %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
		p.n.log.Debug("dial failed, retrying", "addr", p.addr, "backoff", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-p.n.quit:
			return nil, nil, p.n.ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// giveUp marks the peer dead and drops what was waiting for it.
func (p *peer) giveUp(rest []outFrame, err error) {
	p.mu.Lock()
	p.dead = true
	queued := p.queue
	p.queue = nil
	p.mu.Unlock()
	reason := fmt.Sprintf("peer %s %v", p.addr, err)
	p.n.push(input{kind: inDead, addr: p.addr, reason: reason})
	p.dropAll(rest, reason)
	p.dropAll(queued, reason)
}

func (p *peer) dropAll(fs []outFrame, reason string) {
	for i := range fs {
		if fs[i].isMsg && !p.n.push(input{kind: inDrop, msg: fs[i].msg, reason: reason}) {
			return
		}
	}
}
