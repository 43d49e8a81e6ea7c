package node

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"strings"
)

// Authenticated connections (docs/wire.md#authentication). With a cluster secret, both ends
// of every connection first send a hello with a fresh random nonce, and every frame after it
// carries an HMAC-SHA256 tag over both nonces, its direction, its number in that direction
// and its bytes. The nonce of the receiving side makes frames recorded on another
// connection worthless, the number makes a dropped, repeated or reordered frame fail, and
// the direction keeps a node's replies from being reflected back at it.
const (
	// SecretEnv names the environment variable a command reads the cluster secret from
	// when no --secret-file is given. The secret never goes on a command line, where ps
	// shows it to every user of the machine.
	SecretEnv = "DHTEXP_SECRET"
	// MinSecretLen is the shortest secret accepted: 16 bytes keep guessing it out of reach
	// even when it is text.
	MinSecretLen = 16
	// TagSize is the size of the tag that follows every frame on an authenticated
	// connection.
	TagSize = sha256.Size

	helloMagic = "DHTA"
	nonceSize  = 16
	helloSize  = len(helloMagic) + 1 + nonceSize

	dirDialer   byte = 1 // frames from the side that dialled
	dirAcceptor byte = 2 // frames from the side that accepted
)

// ErrAuth is what a connection fails with when its hello or a frame does not authenticate:
// no hello, another secret, a replayed, reordered or altered frame, or bytes that are not
// frames at all. Such a connection is closed without a reply.
var ErrAuth = errors.New("authentication failed")

// authKey is the MAC key derived from a cluster secret; deriving it keeps the secret's own
// bytes (perhaps a passphrase) out of every MAC computation.
type authKey [sha256.Size]byte

func deriveKey(secret []byte) *authKey {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("dhtexp frame authentication, wire version 3"))
	var k authKey
	m.Sum(k[:0])
	return &k
}

// CheckSecret refuses a secret too short to keep others out.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("the cluster secret has %d bytes; it needs at least %d", len(secret), MinSecretLen)
	}
	return nil
}

// ReadSecret returns the cluster secret named by a command's --secret-file (file) or, when
// that is empty, the value of DHTEXP_SECRET (env); nil when neither is set. Whitespace at
// the end of the file (a final newline) is not part of the secret.
func ReadSecret(file, env string) ([]byte, error) {
	var secret []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		secret = bytes.TrimRight(b, " \t\r\n")
		if err := CheckSecret(secret); err != nil {
			return nil, fmt.Errorf("--secret-file %s: %w", file, err)
		}
	case env != "":
		secret = []byte(strings.TrimRight(env, " \t\r\n"))
		if err := CheckSecret(secret); err != nil {
			return nil, fmt.Errorf("%s: %w", SecretEnv, err)
		}
	}
	return secret, nil
}

// authChan is one direction of an authenticated connection.
type authChan struct {
	mac    hash.Hash
	prefix [2*nonceSize + 1]byte // dialer nonce, acceptor nonce, direction
	seq    uint64
	sum    [sha256.Size]byte
}

func newAuthChan(k *authKey, dialer, acceptor []byte, dir byte) *authChan {
	a := &authChan{mac: hmac.New(sha256.New, k[:])}
	copy(a.prefix[:], dialer)
	copy(a.prefix[nonceSize:], acceptor)
	a.prefix[2*nonceSize] = dir
	return a
}

// next computes the tag of frame as the next frame in this direction.
func (a *authChan) next(frame []byte) []byte {
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], a.seq)
	a.seq++
	a.mac.Reset()
	a.mac.Write(a.prefix[:])
	a.mac.Write(seq[:])
	a.mac.Write(frame)
	return a.mac.Sum(a.sum[:0])
}

// authConn is both directions of an authenticated connection.
type authConn struct {
	send, recv *authChan
}

// handshake exchanges hellos on c. Both sides write theirs before reading, so the hello
// costs no round trip beyond the first frame's.
func handshake(c io.Writer, r io.Reader, k *authKey, dialer bool) (*authConn, error) {
	var mine [helloSize]byte
	copy(mine[:], helloMagic)
	mine[len(helloMagic)] = Version
	if _, err := rand.Read(mine[len(helloMagic)+1:]); err != nil {
		return nil, err
	}
	if _, err := c.Write(mine[:]); err != nil {
		return nil, err
	}
	theirs, err := readHello(r)
	if err != nil {
		return nil, err
	}
	if dialer {
		return &authConn{
			send: newAuthChan(k, mine[len(helloMagic)+1:], theirs, dirDialer),
			recv: newAuthChan(k, mine[len(helloMagic)+1:], theirs, dirAcceptor),
		}, nil
	}
	return &authConn{
		send: newAuthChan(k, theirs, mine[len(helloMagic)+1:], dirAcceptor),
		recv: newAuthChan(k, theirs, mine[len(helloMagic)+1:], dirDialer),
	}, nil
}

// readHello reads the other side's hello and returns its nonce. A connection that ends
// before sending anything fails with io.EOF, not ErrAuth: that is a port probe or a peer
// giving up, not an attempt to get in.
func readHello(r io.Reader) ([]byte, error) {
	var h [helloSize]byte
	k, err := io.ReadFull(r, h[:])
	if err != nil {
		if k == 0 || isTimeout(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: connection closed after %d of %d hello bytes", ErrAuth, k, helloSize)
	}
	if string(h[:len(helloMagic)]) != helloMagic {
		if n := binary.BigEndian.Uint32(h[:]); n <= MaxFrameSize {
			return nil, fmt.Errorf("%w: the peer sends frames without a hello (it has no cluster secret)", ErrAuth)
		}
		return nil, fmt.Errorf("%w: no hello", ErrAuth)
	}
	if v := h[len(helloMagic)]; v != Version {
		return nil, fmt.Errorf("%w: hello of version %d (this node speaks %d)", ErrAuth, v, Version)
	}
	return h[len(helloMagic)+1:], nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readAuthFrame reads one frame and its tag and decodes the frame only once the tag
// checks out, so that no byte from outside the cluster reaches the decoder. Every failure
// before that point wraps ErrAuth, except a clean end of the connection between frames and
// a deadline.
func readAuthFrame(r io.Reader, buf []byte, a *authChan) (Frame, []byte, error) {
	fail := func(err error) (Frame, []byte, error) {
		if isTimeout(err) {
			return Frame{}, buf, err
		}
		return Frame{}, buf, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if cap(buf) < lengthSize+MaxFrameSize+TagSize {
		buf = make([]byte, 0, lengthSize+MaxFrameSize+TagSize)
	}
	buf = buf[:lengthSize]
	if k, err := io.ReadFull(r, buf); err != nil {
		if k == 0 && err == io.EOF {
			return Frame{}, buf, err
		}
		return fail(fmt.Errorf("%w: connection closed after %d length bytes", ErrTruncated, k))
	}
	n, err := checkLength(buf)
	if err != nil {
		return fail(err)
	}
	buf = buf[:lengthSize+n+TagSize]
	if k, err := io.ReadFull(r, buf[lengthSize:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: connection closed after %d of %d body and tag bytes", ErrTruncated, k, n+TagSize)
		}
		return fail(err)
	}
	frame, tag := buf[:lengthSize+n], buf[lengthSize+n:]
	if !hmac.Equal(a.next(frame), tag) {
		return fail(errors.New("wrong tag: another secret, or a replayed, reordered or altered frame"))
	}
	f, err := decodeBody(buf[lengthSize : lengthSize+n])
	return f, buf, err
}

// sealedConn tags every frame written through it. Each write is whole frames of this
// node's own encoding, back to back: a message split over frames goes out in one write,
// and each of its frames gets a tag of its own, as the receiver reads them one by one.
type sealedConn struct {
	net.Conn
	send *authChan
	buf  []byte
}

func (s *sealedConn) Write(frames []byte) (int, error) {
	s.buf = s.buf[:0]
	for rest := frames; len(rest) > 0; {
		n := lengthSize
		if len(rest) >= lengthSize {
			n += int(binary.BigEndian.Uint32(rest))
		}
		if n > len(rest) {
			return 0, fmt.Errorf("%w: writing %d bytes that are not whole frames", ErrMalformed, len(frames))
		}
		s.buf = append(append(s.buf, rest[:n]...), s.send.next(rest[:n])...)
		rest = rest[n:]
	}
	k, err := s.Conn.Write(s.buf)
	if err == nil {
		k = len(frames)
	}
	return min(k, len(frames)), err
}

// frameIO is the reading and writing side of one connection, authenticated or not.
type frameIO struct {
	w    net.Conn // writes one frame per call
	r    io.Reader
	recv *authChan // nil: no authentication
}

func (f *frameIO) read(buf []byte) (Frame, []byte, error) {
	if f.recv == nil {
		return ReadFrame(f.r, buf)
	}
	return readAuthFrame(f.r, buf, f.recv)
}

// newFrameIO sets up c's frames, with the hello first when k is set.
func newFrameIO(c net.Conn, r io.Reader, k *authKey, dialer bool) (*frameIO, error) {
	if k == nil {
		return &frameIO{w: c, r: r}, nil
	}
	ac, err := handshake(c, r, k, dialer)
	if err != nil {
		return nil, err
	}
	return &frameIO{w: &sealedConn{Conn: c, send: ac.send}, r: r, recv: ac.recv}, nil
}
