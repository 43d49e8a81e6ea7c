package observe

import (
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// ring3 is the right ring of nodes 10, 20 and 30, every node connected.
func ring3() []protocol.State {
	return []protocol.State{
		{ID: 10, Left: 30, Right: 20, Connected: true},
		{ID: 20, Left: 10, Right: 30, Connected: true},
		{ID: 30, Left: 20, Right: 10, Connected: true},
	}
}

// Each outcome gets its sentence, word for word as the runs table has recorded them, and a
// Finals that judges one run after another allocates nothing but that sentence.
func TestClassifySentences(t *testing.T) {
	newcomer := protocol.State{ID: 25, Left: protocol.None, Right: protocol.None, Waiting: true}
	for _, tc := range []struct {
		name    string
		edit    func([]protocol.State) []protocol.State
		outcome string
		detail  string
		ring    bool
	}{
		{"ok", func(s []protocol.State) []protocol.State { return s }, OutcomeOK, "", true},
		{"wrong right", func(s []protocol.State) []protocol.State {
			s[1].Right = 10
			return s
		}, OutcomeWrongNeighbours, "node 20 has left=10 right=10, want left=10 right=30", false},
		{"no left", func(s []protocol.State) []protocol.State {
			s[2].Left = protocol.None
			return s
		}, OutcomeWrongNeighbours, "node 30 has left=- right=10, want left=20 right=10", false},
		{"not joined", func(s []protocol.State) []protocol.State {
			return append(s, newcomer)
		}, OutcomeNotJoined, "1 newcomer(s) never got both neighbours (first 25)", false},
		{"not joined, member locked", func(s []protocol.State) []protocol.State {
			s[1].Locked = true
			s[2].Queue = 2
			return append(s, newcomer, protocol.State{ID: 5, Left: protocol.None, Right: protocol.None})
		}, OutcomeDeadlock, "2 newcomer(s) not joined (first 25) while 2 node(s) stay locked or hold requests (first 20)", false},
		{"locked", func(s []protocol.State) []protocol.State {
			s[2].Locked = true
			return s
		}, OutcomeDeadlock, "1 node(s) end locked or with unserved requests (first 30)", true},
		{"failed join", func(s []protocol.State) []protocol.State {
			return append(s, protocol.State{ID: 40, Left: protocol.None, Right: protocol.None, Failed: true},
				protocol.State{ID: 50, Failed: true})
		}, OutcomeJoinFailed, "2 newcomer(s) reported a failed join", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states := tc.edit(ring3())
			outcome, detail, ring := ClassifyFinal(states)
			if outcome != tc.outcome || detail != tc.detail || ring != tc.ring {
				t.Errorf("got %s %q ring=%v, want %s %q ring=%v", outcome, detail, ring, tc.outcome, tc.detail, tc.ring)
			}
			var f Finals
			f.Classify(states)
			want := 1.0 // the sentence
			if tc.detail == "" {
				want = 0
			}
			if a := testing.AllocsPerRun(100, func() { f.Classify(states) }); a != want {
				t.Errorf("%.1f allocations a call, want %v", a, want)
			}
		})
	}
}
