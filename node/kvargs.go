package node

import (
	"fmt"
	"net"

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
