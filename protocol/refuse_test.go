package protocol

import (
	"fmt"
	"testing"
)

// requestAt hands node n a join request for k and lets it serve its queue, as drivers do,
// returning everything it sent.
func requestAt(t *testing.T, n Node, from, k ID) []Message {
	t.Helper()
	var out Output
	if err := n.Step(Message{Type: ConnectRedirect, From: from, To: n.State().ID, Joiner: k, Neighbour: None}, &out); err != nil {
		t.Fatal(err)
	}
	for {
		served, err := n.Serve(&out)
		if err != nil {
			t.Fatal(err)
		}
		if !served {
			break
		}
	}
	var sent []Message
	for _, a := range out.Actions {
		if a.Kind == Send {
			sent = append(sent, a.Msg)
		}
	}
	return sent
}

// A node that gets a join request for its own ID or a neighbour's answers join_refused and
// changes nothing else; a request for a free ID next to it still goes on as before.
func TestJoinRefusedForTakenID(t *testing.T) {
	ring := Ring{Bits: 16}
	for _, variant := range []string{"seed", "predlock", "predlock-retry"} {
		for _, tc := range []struct {
			name                 string
			self, left, right, k ID
		}{
			{"own ID", 30000, 100, 50000, 30000},
			{"left neighbour", 50000, 30000, 100, 30000},
			{"right neighbour", 100, 50000, 30000, 30000},
			{"two-node ring", 100, 30000, 30000, 30000},
		} {
			t.Run(fmt.Sprintf("%s/%s", variant, tc.name), func(t *testing.T) {
				v, _ := Lookup(variant)
				n := v.New(Config{ID: tc.self, Ring: ring, Member: true, Left: tc.left, Right: tc.right})
				before := n.State()
				sent := requestAt(t, n, 7, tc.k)
				want := Message{Type: JoinRefused, From: tc.self, To: tc.k, Joiner: tc.k, Neighbour: tc.k}
				if len(sent) != 1 || sent[0] != want {
					t.Errorf("sent %+v, want only %+v", sent, want)
				}
				if after := n.State(); after != before {
					t.Errorf("state %+v, want it unchanged: %+v", after, before)
				}
			})
		}
	}
}

// A newcomer that is refused before anything points at it stops its join and reports why;
// one that has been welcomed ignores a refusal, which can only answer a late copy of its own
// request.
func TestNewcomerStopsOnRefusal(t *testing.T) {
	ring := Ring{Bits: 16}
	refusal := Message{Type: JoinRefused, From: 100, To: 30000, Joiner: 30000, Neighbour: 30000}
	for _, tc := range []struct {
		variant string
		welcome bool // the refusal comes after the newcomer's welcome
		refused bool
	}{
		{"seed", false, true},
		{"predlock", false, true},
		{"predlock-retry", false, true},
		{"predlock", true, false},
		{"predlock-retry", true, false},
	} {
		t.Run(fmt.Sprintf("%s/welcomed=%v", tc.variant, tc.welcome), func(t *testing.T) {
			v, _ := Lookup(tc.variant)
			n := v.New(Config{ID: 30000, Ring: ring, Contact: 100})
			var out Output
			if err := n.Start(&out); err != nil {
				t.Fatal(err)
			}
			if tc.welcome {
				if err := n.Step(Message{Type: Welcome, From: 100, To: 30000, Joiner: 30000, Neighbour: 100}, &out); err != nil {
					t.Fatal(err)
				}
			}
			before := n.State()
			out.Reset()
			if err := n.Step(refusal, &out); err != nil {
				t.Fatal(err)
			}
			st := n.State()
			if !tc.refused {
				if st != before || len(out.Actions) != 0 {
					t.Errorf("a placed newcomer acted on a refusal: %+v -> %+v, actions %+v", before, st, out.Actions)
				}
				return
			}
			if !st.Refused || !st.Failed || st.Waiting || st.Connected || st.Locked || st.Left != None || st.Right != None {
				t.Errorf("after the refusal: %+v", st)
			}
			if n.WantsToJoin() {
				t.Error("a refused newcomer wants to join again")
			}
			for _, a := range out.Actions {
				if a.Kind == Send {
					t.Errorf("a refused newcomer sent %+v", a.Msg)
				}
			}
		})
	}
}
