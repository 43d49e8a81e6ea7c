package node

import (
	"context"
	"io"
	"testing"
	"time"
)

// A process node joins on a "join" line, not before, and leaves and returns when its
// stdin closes.
func TestRunProcess(t *testing.T) {
	contact := startOne(t, Config{ID: 100})
	in, feed := io.Pipe()
	started := make(chan *Node, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunProcess(context.Background(), Config{Listen: "127.0.0.1:0", Protocol: "predlock", Bits: 16, ID: 200,
			Join: contact.Addr(), DeferJoin: true, Logger: testLogger()},
			Process{Stdin: in, ExitWithStdin: true, LeaveTimeout: 500 * time.Millisecond, Started: func(n *Node) { started <- n }})
	}()
	var n *Node
	select {
	case n = <-started:
	case err := <-done:
		t.Fatalf("RunProcess returned before the node was up: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("node not up within 5s")
	}
	time.Sleep(50 * time.Millisecond)
	if s := n.Status(); s.JoinStart != 0 {
		t.Fatalf("deferred join started before the join line: %+v", s)
	}
	if _, err := io.WriteString(feed, "noise\n  join \n"); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); !n.Status().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not joined 5s after the join line: %+v", n.Status())
		}
	}
	feed.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("still running 3s after stdin closed")
	}

	// A node that cannot start is RunProcess's error.
	if err := RunProcess(context.Background(), Config{Listen: "127.0.0.1:0", Protocol: "nonesuch", Bits: 16}, Process{}); err == nil {
		t.Error("no error for an unknown protocol")
	}
}
