package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/protocol"
)

// kvRing starts in-process nodes laid out as a ring on loopback.
func kvRing(t *testing.T, ids ...protocol.ID) []*node.Node {
	t.Helper()
	lns := make([]net.Listener, len(ids))
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	m := len(ids)
	nodes := make([]*node.Node, m)
	for i, id := range ids {
		l, r := (i+m-1)%m, (i+1)%m
		n, err := node.Start(node.Config{Listener: lns[i], ID: id, Protocol: defaultNodeProtocol, Bits: 16, Member: true,
			Left:   node.Peer{ID: ids[l], Addr: lns[l].Addr().String()},
			Right:  node.Peer{ID: ids[r], Addr: lns[r].Addr().String()},
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes[i] = n
	}
	return nodes
}

func TestKVCommand(t *testing.T) {
	nodes := kvRing(t, 100, 20000, 40000, 60000)
	a, b := nodes[0].Addr(), nodes[2].Addr()
	// The owner of "colour" is the first node at or after its ID.
	owner := nodes[0]
	for _, n := range nodes {
		if n.ID() >= protocol.KeyID(protocol.Ring{Bits: 16}, "colour") {
			owner = n
			break
		}
	}
	// A node that has not joined yet cannot serve.
	outside, err := node.Start(node.Config{Listen: "127.0.0.1:0", ID: 30000, Protocol: defaultNodeProtocol, Bits: 16,
		Join: a, DeferJoin: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(outside.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := closed.Addr().String()
	closed.Close()

	ownerAt := fmt.Sprintf("owner %v at %s", owner.ID(), owner.Addr())
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings of stdout
		stderr string   // substring of stderr
	}{
		{"put", []string{a, "put", "colour", "blue"}, 0, []string{"ok put \"colour\" (key id ", ownerAt}, ""},
		{"get through another node", []string{b, "get", "colour"}, 0, []string{"ok get \"colour\"", ownerAt, `value "blue"`}, ""},
		{"lookup, flags after the arguments", []string{b, "lookup", "colour", "--timeout", "2s"}, 0, []string{"ok lookup", ownerAt}, ""},
		{"overwrite", []string{b, "put", "colour", "--", "-green"}, 0, []string{"ok put"}, ""},
		{"get the new value", []string{a, "get", "colour"}, 0, []string{`value "-green"`}, ""},
		{"not found", []string{a, "get", "shape"}, 1, []string{"not_found get \"shape\""}, `kv get "shape": not found`},
		{"node not in the ring", []string{outside.Addr(), "get", "colour"}, 1, []string{"unavailable get"}, "node 30000 is not in the ring"},
		{"unknown operation", []string{a, "frob", "colour"}, 2, nil, `operation: unknown operation "frob"`},
		{"empty key", []string{a, "get", ""}, 2, nil, "KEY is empty"},
		{"key too long", []string{a, "get", strings.Repeat("k", 256)}, 2, nil, "KEY is 256 bytes, at most 255"},
		{"value too large", []string{a, "put", "k", strings.Repeat("v", 4097)}, 2, nil, "VALUE is 4097 bytes, at most 4096"},
		{"put without a value", []string{a, "put", "k"}, 2, nil, "want a VALUE"},
		{"get with a value", []string{a, "get", "k", "v"}, 2, nil, `kv get: takes no VALUE, got "v"`},
		{"too few arguments", []string{a, "get"}, 2, nil, "want ADDR lookup|get|put KEY [VALUE], got 2 arguments"},
		{"no port", []string{"127.0.0.1", "get", "k"}, 2, nil, `ADDR "127.0.0.1"`},
		{"bad timeout", []string{a, "get", "k", "--timeout", "0s"}, 2, nil, "--timeout must be positive"},
		{"nothing listening", []string{nobody, "get", "k"}, 2, nil, "cannot connect to the node at " + nobody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := dhtexp(t, append([]string{"kv"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want %d with %q on stderr\nstdout: %sstderr: %s", code, tc.code, tc.stderr, stdout, stderr)
			}
			if strings.Count(stdout, "\n") != min(len(tc.stdout), 1) {
				t.Errorf("want %d line(s) on stdout: %q", min(len(tc.stdout), 1), stdout)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q: %s", want, stdout)
				}
			}
		})
	}

	// --json: one object, IDs as numbers, unknown ones as null.
	var got map[string]any
	code, stdout, stderr := dhtexp(t, "kv", "--json", b, "get", "colour")
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	if got["status"] != "ok" || got["value"] != "-green" || got["owner"] != float64(owner.ID()) ||
		got["owner_addr"] != owner.Addr() || got["key_id"] != float64(protocol.KeyID(protocol.Ring{Bits: 16}, "colour")) {
		t.Errorf("json: %v", got)
	}
	code, stdout, _ = dhtexp(t, "kv", outside.Addr(), "lookup", "colour", "--json")
	got = nil
	if err := json.Unmarshal([]byte(stdout), &got); code != 1 || err != nil || got["status"] != "unavailable" || got["owner"] != nil {
		t.Errorf("json of a failure: exit %d, %v: %s", code, err, stdout)
	}
}

// A node that takes the request and never answers makes kv exit 1 with a timeout, within
// --timeout.
func TestKVCommandTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	start := time.Now()
	code, stdout, stderr := dhtexp(t, "kv", "--timeout", "200ms", ln.Addr().String(), "get", "k")
	if code != exitFailure || !strings.Contains(stdout, "timeout get \"k\": owner unknown") || !strings.Contains(stderr, "no reply from") {
		t.Errorf("exit %d\nstdout: %sstderr: %s", code, stdout, stderr)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

// "dhtexp node" processes serve kv end to end with the DHT flags.
func TestKVWithNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	dht := []string{"--finger-period", "20ms", "--hop-budget", "16", "--op-timeout", "1s"}
	first := startNode(t, append([]string{"--id", "100"}, dht...)...)
	second := startNode(t, append([]string{"--id", "40000", "--join", first.addr}, dht...)...)
	// The newcomer answers "unavailable" until it is in the ring.
	var stdout, stderr string
	for end := time.Now().Add(5 * time.Second); ; {
		var code int
		code, stdout, stderr = dhtexp(t, "kv", second.addr, "put", "colour", "blue")
		if code == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(stdout, "ok put") {
		t.Fatalf("put: %s%s\n%s", stdout, stderr, second.stderr)
	}
	code, stdout, stderr := dhtexp(t, "kv", first.addr, "get", "colour")
	if code != 0 || !strings.Contains(stdout, `value "blue"`) {
		t.Errorf("get: exit %d: %s%s", code, stdout, stderr)
	}
	// "colour" hashes to 54915, which wraps round to node 100.
	code, stdout, _ = dhtexp(t, "status", first.addr)
	if code != 0 || !strings.Contains(stdout, "keys      1 stored") {
		t.Errorf("status: %s", stdout)
	}
}
