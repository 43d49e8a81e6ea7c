package node

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// TestParseKVArgs: the arguments of dhtexp kv, good and bad.
func TestParseKVArgs(t *testing.T) {
	a := "127.0.0.1:7000"
	for _, tc := range []struct {
		args []string
		want string // an error containing this; empty: none
	}{
		{[]string{a, "put", "colour", "blue"}, ""},
		{[]string{a, "lookup", "colour"}, ""},
		{[]string{a, "frob", "colour"}, `operation: unknown operation "frob"`},
		{[]string{a, "get", ""}, "KEY is empty"},
		{[]string{a, "get", strings.Repeat("k", 256)}, "KEY is 256 bytes, at most 255"},
		{[]string{a, "put", "k", strings.Repeat("v", 4097)}, "VALUE is 4097 bytes, at most 4096"},
		{[]string{a, "put", "k"}, "want a VALUE"},
		{[]string{a, "get", "k", "v"}, `kv get: takes no VALUE, got "v"`},
		{[]string{a, "get"}, "want ADDR lookup|get|put KEY [VALUE], got 2 arguments"},
		{[]string{"127.0.0.1", "get", "k"}, `ADDR "127.0.0.1"`},
	} {
		addr, q, err := ParseKVArgs(tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		case tc.want == "" && (addr != a || q.Key != "colour" || (q.Kind == protocol.OpPut) != (string(q.Value) == "blue")):
			t.Errorf("%q: %s %+v", tc.args, addr, q)
		}
	}
}

// TestAskKVNoNode: a request that never reaches a node is an error naming the address; a
// reply that is not ok says why.
func TestAskKVNoNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = AskKV(context.Background(), addr, KVRequest{Kind: protocol.OpGet, Key: "k"}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot connect to the node at "+addr) {
		t.Fatalf("error %v", err)
	}
	r := KVReply{Status: protocol.StatusTimeout, Error: "no reply"}
	if got := r.Problem(); got != StatusName(protocol.StatusTimeout)+": no reply" {
		t.Fatalf("problem %q", got)
	}
}
