package explore

import (
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

// liar is a deliberately broken machine: while locked it claims to ignore every message, and
// heeds them again once free. Forgetting what it claims to ignore is unsound.
type liar struct{ protocol.Node }

func (l liar) Ignores(m protocol.Message) bool { return l.Node.State().Locked }

func (l liar) Clone() protocol.Node { return liar{l.Node.Clone()} }

// Forgetting ignored messages keeps every finding: the pruned search reports the same kinds,
// the same distinct final rings and violations exactly where the full search does, on scopes
// with bugs planted and without, in fewer states. A machine whose Ignores is not permanent is
// caught (broken_ignore).
func TestPruneIgnoredAgrees(t *testing.T) {
	retry := func(members []protocol.ID, joiners ...protocol.ID) Config {
		return Config{Protocol: "predlock-retry", Bits: 3, Members: members, Joiners: joiners,
			Timers: true, Lossy: true, Retries: 1, Search: SearchDFS}
	}
	withWrap := func(c Config, w func(protocol.Node) protocol.Node) Config { c.wrap = w; return c }
	one := []protocol.ID{0}
	for _, tc := range []struct {
		name    string
		cfg     Config
		want    []string // kinds of finding of both searches
		pruned  []string // kinds of the pruned search, when they differ
		smaller bool     // the pruned search must visit fewer states
		long    bool
	}{
		{"1+1, timers and loss", retry(one, 5), nil, nil, true, false},
		{"2+1, every contact, timers and loss", func() Config { c := retry([]protocol.ID{0, 4}, 2); c.AllContacts = true; return c }(), nil, nil, true, true},
		{"no timers, no loss, 2+2", Config{Protocol: "predlock-retry", Bits: 3, Members: []protocol.ID{0, 4}, Joiners: []protocol.ID{2, 6},
			Search: SearchDFS}, nil, nil, false, false},
		{"owner deaf to success_join", withWrap(retry(one, 5), deafTo(protocol.SuccessJoin)), []string{"no_end"}, nil, true, true},
		{"a node that lies about what it ignores", withWrap(retry(one, 5), func(n protocol.Node) protocol.Node { return liar{n} }),
			nil, []string{"broken_ignore"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.long && testing.Short() {
				t.Skip("some seconds")
			}
			var reps [2]*Report
			for i, prune := range []bool{false, true} {
				if !prune && tc.pruned != nil {
					continue // only the pruned search is judged
				}
				cfg := tc.cfg
				cfg.PruneIgnored = prune
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("prune %v: %s", prune, r.Format(&cfg))
				if !r.Complete {
					t.Fatalf("prune %v did not finish", prune)
				}
				want := tc.want
				if prune && tc.pruned != nil {
					want = tc.pruned
				}
				if got := kinds(r); !slices.Equal(got, want) {
					t.Errorf("prune %v finds %v, want %v", prune, got, want)
				}
				reps[i] = r
			}
			full, pruned := reps[0], reps[1]
			if tc.pruned != nil {
				return
			}
			if full.DistinctFinal != pruned.DistinctFinal || (full.Violations > 0) != (pruned.Violations > 0) ||
				(full.NoEnd > 0) != (pruned.NoEnd > 0) {
				t.Errorf("the searches judge differently:\nfull   %+v\npruned %+v", *full, *pruned)
			}
			if pruned.States > full.States || (tc.smaller && pruned.States >= full.States) {
				t.Errorf("pruned search visits %d states, the full one %d", pruned.States, full.States)
			}
			if tc.smaller && (pruned.Pruned == 0 || pruned.NodeTransitions == 0) {
				t.Errorf("nothing forgotten or checked: %+v", *pruned)
			}
		})
	}
}
