package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/node"
)

// A second "dhtexp node --id 30000" is refused by the ring, says which node has the ID and
// exits with status 1; the first keeps its place.
func TestNodeRefusedForTakenID(t *testing.T) {
	first := startNode(t, "--id", "100")
	second := startNode(t, "--id", "30000", "--join", first.addr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := node.QueryStatus(ctx, second.addr)
		cancel()
		if err == nil && st.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30000 not connected: %+v %v", st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, contact := range []*nodeProc{first, second} {
		var stdout, stderr strings.Builder
		code := make(chan int, 1)
		go func() {
			code <- run([]string{"dhtexp", "node", "--id", "30000", "--join", contact.addr}, &stdout, &stderr)
		}()
		select {
		case c := <-code:
			if c != 1 {
				t.Errorf("via %s: exit status %d, want 1\n%s", contact.id, c, &stderr)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("via %s: the duplicate still runs", contact.id)
		}
		want := "dhtexp: join refused: ID 30000 is taken by node 30000 at " + second.addr
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("via %s: stderr lacks %q:\n%s", contact.id, want, &stderr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := node.QueryStatus(ctx, first.addr)
	if err != nil || st.Right != 30000 || st.RightAddr != second.addr {
		t.Errorf("node 100 afterwards: right %v at %s, want 30000 at %s (%v)", st.Right, st.RightAddr, second.addr, err)
	}
}
