package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// A newcomer whose ID is already in the ring is refused: its join ends with an
// IDTakenError naming the ID and where the node that has it listens, no node ever points
// at it or sends the ID's traffic to its address, and puts and gets for the keys the
// original owns go on succeeding while the refused node runs and after it has stopped.
func TestDuplicateIDRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant string
		members []protocol.ID
		via     protocol.ID // the duplicate's contact
		refuser protocol.ID
	}{
		{"predlock-retry/via-100", "predlock-retry", []protocol.ID{100, 30000}, 100, 100},
		{"predlock/via-100", "predlock", []protocol.ID{100, 30000}, 100, 100},
		{"seed/via-100", "seed", []protocol.ID{100, 30000}, 100, 100},
		{"predlock-retry/via-left", "predlock-retry", []protocol.ID{100, 30000, 50000}, 50000, 50000},
		// 60000 does not know 30000 and forwards the request to its left neighbour 50000.
		{"predlock-retry/forwarded", "predlock-retry", []protocol.ID{100, 30000, 50000, 60000}, 60000, 50000},
		{"predlock/forwarded", "predlock", []protocol.ID{100, 30000, 50000, 60000}, 60000, 50000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDHT(t, ringConfig{protocol: tc.variant, tune: func(c *Config) { c.OpTimeout = 2 * time.Second }}, tc.members)
			byID := map[protocol.ID]*Node{}
			for _, n := range d.nodes {
				byID[n.ID()] = n
			}
			orig := byID[30000]
			dup, err := Start(d.cfg.node(Config{Listen: "127.0.0.1:0", ID: 30000, Join: byID[tc.via].Addr()}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dup.Close)
			select {
			case <-dup.JoinRefused():
			case <-time.After(5 * time.Second):
				t.Fatalf("the duplicate's join was not refused: %+v", dup.Status())
			}
			var taken *IDTakenError
			if err := dup.JoinErr(); !errors.As(err, &taken) {
				t.Fatalf("join error %v, want an IDTakenError", err)
			}
			want := IDTakenError{ID: 30000, HolderAddr: orig.Addr(), By: tc.refuser, ByAddr: byID[tc.refuser].Addr()}
			if *taken != want {
				t.Errorf("refusal %+v, want %+v", *taken, want)
			}
			if msg := taken.Error(); !strings.Contains(msg, "ID 30000 is taken by node 30000 at "+orig.Addr()) {
				t.Errorf("refusal reads %q", msg)
			}
			if st := dup.Status(); st.Connected || st.Waiting || !st.Failed || st.Left != protocol.None || st.Right != protocol.None {
				t.Errorf("refused node: %+v", st)
			}

			key := ""
			for i := 0; key == ""; i++ {
				if k := fmt.Sprintf("key-%d", i); d.ring.Between(100, protocol.KeyID(d.ring, k), 30000) {
					key = k
				}
			}
			for _, phase := range []string{"running", "stopped"} {
				if phase == "stopped" {
					dup.Close()
				}
				ringRight(t, d.ring, d.nodes)
				for _, n := range d.nodes {
					st := n.Status()
					if (st.Right == 30000 && st.RightAddr != orig.Addr()) || (st.Left == 30000 && st.LeftAddr != orig.Addr()) {
						t.Errorf("duplicate %s: node %v: left %v at %s, right %v at %s; 30000 listens at %s",
							phase, st.ID, st.Left, st.LeftAddr, st.Right, st.RightAddr, orig.Addr())
					}
				}
				for _, via := range []protocol.ID{100, tc.via} {
					value := phase + " via " + via.String()
					rep := d.kv(byID[via], KVRequest{Kind: protocol.OpPut, Key: key, Value: []byte(value)})
					if rep.Status != protocol.StatusOK || rep.Owner != 30000 || rep.OwnerAddr != orig.Addr() {
						t.Errorf("duplicate %s: put %q via %v: %s, owner %v at %q (%s)", phase, key, via,
							StatusName(rep.Status), rep.Owner, rep.OwnerAddr, rep.Error)
					}
					rep = d.kv(byID[100], KVRequest{Kind: protocol.OpGet, Key: key})
					if rep.Status != protocol.StatusOK || string(rep.Value) != value || rep.OwnerAddr != orig.Addr() {
						t.Errorf("duplicate %s: get %q via 100: %s %q from %v at %q (%s)", phase, key,
							StatusName(rep.Status), rep.Value, rep.Owner, rep.OwnerAddr, rep.Error)
					}
				}
			}
		})
	}
}

// A newcomer that names as its contact the node with its own ID is refused before it
// joins, with the same error.
func TestDuplicateIDOfContact(t *testing.T) {
	first := startOne(t, Config{ID: 30000})
	_, err := Start(Config{Listen: "127.0.0.1:0", Join: first.Addr(), ID: 30000, Protocol: "predlock", Bits: 16, Logger: testLogger()})
	var taken *IDTakenError
	if !errors.As(err, &taken) || taken.ID != 30000 || taken.HolderAddr != first.Addr() {
		t.Fatalf("got %v, want the ID refused as the contact's", err)
	}
	if want := "join refused: ID 30000 is taken by node 30000 at " + first.Addr(); err.Error() != want {
		t.Errorf("error reads %q, want %q", err, want)
	}
}
