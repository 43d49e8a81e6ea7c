package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// ParseKVArgs reads the arguments of "dhtexp kv": ADDR lookup|get|put KEY [VALUE]. It
// checks the sizes the node would refuse, so that a bad request fails before connecting.
func ParseKVArgs(args []string) (addr string, q KVRequest, err error) {
	if len(args) < 3 || len(args) > 4 {
		return "", q, fmt.Errorf("kv: want ADDR lookup|get|put KEY [VALUE], got %d arguments", len(args))
	}
	addr, q.Key = args[0], args[2]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", q, fmt.Errorf("kv: ADDR %q: %w", addr, err)
	}
	if q.Kind, err = protocol.ParseOpKind(args[1]); err != nil {
		return "", q, fmt.Errorf("kv: operation: %w", err)
	}
	switch {
	case q.Kind == protocol.OpPut && len(args) != 4:
		return "", q, fmt.Errorf("kv put: want a VALUE after the KEY")
	case q.Kind != protocol.OpPut && len(args) == 4:
		return "", q, fmt.Errorf("kv %s: takes no VALUE, got %q", q.Kind, args[3])
	case q.Kind == protocol.OpPut:
		q.Value = []byte(args[3])
	}
	switch {
	case q.Key == "":
		return "", q, fmt.Errorf("kv: KEY is empty")
	case len(q.Key) > protocol.MaxKeyLen:
		return "", q, fmt.Errorf("kv: KEY is %d bytes, at most %d", len(q.Key), protocol.MaxKeyLen)
	case len(q.Value) > protocol.MaxValueLen:
		return "", q, fmt.Errorf("kv: VALUE is %d bytes, at most %d", len(q.Value), protocol.MaxValueLen)
	}
	return addr, q, nil
}

// AskKV carries out one operation at the node at addr as "dhtexp kv" does: a node that
// took the request but gave no reply within timeout yields a timeout reply saying so, for
// that is the operation's outcome; only a request that never reached the node is an error.
func AskKV(ctx context.Context, addr string, q KVRequest, timeout time.Duration, opts ...ClientOption) (KVReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep, err := KV(ctx, addr, q, opts...)
	if err != nil {
		var oe *net.OpError
		switch {
		case errors.As(err, &oe) && oe.Op == "dial":
			return rep, fmt.Errorf("cannot connect to the node at %s: %w", addr, err)
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
			// Connected and asked: the operation itself got no answer in time.
			return KVReply{Kind: q.Kind, Status: protocol.StatusTimeout, KeyID: protocol.None, Owner: protocol.None,
				Error: fmt.Sprintf("no reply from %s within --timeout %v", addr, timeout)}, nil
		default:
			return rep, fmt.Errorf("connection to the node at %s: %w", addr, err)
		}
	}
	return rep, nil
}

// Problem says what went wrong in a reply that is not ok: the status, and the node's
// explanation when it gave one.
func (r *KVReply) Problem() string {
	msg := StatusName(r.Status)
	if r.Error != "" {
		msg += ": " + r.Error
	}
	return msg
}
