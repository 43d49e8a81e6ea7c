package protocol

import (
	"math/rand/v2"
	"testing"
)

// TestIgnoresIsExactAndPermanent attacks predlock-retry's Ignores on random walks of every
// node kind (member, newcomers): whenever the node says it ignores a message, the handler
// behind the check must do nothing with it (so the check changes no run), and every later
// input, whatever it is, must leave the message ignored (so a search may forget it).
func TestIgnoresIsExactAndPermanent(t *testing.T) {
	variant, _ := Lookup("predlock-retry")
	r := rand.New(rand.NewPCG(3, 4))
	ignoredSeen, followed := 0, 0
	for walk := range 600 {
		for _, start := range cloneNodes(variant) {
			n := start
			self := n.State().ID
			var watched []Message // ignored earlier in this walk: must stay so
			for step := range 1 + walk%50 {
				for range 8 {
					in := randomInput(r, self)
					if in.kind != 0 || !n.Ignores(in.msg) {
						continue
					}
					ignoredSeen++
					c := n.Clone()
					before := string(c.AppendKey(nil))
					var out Output
					if err := c.(*host[retryNode, *retryNode]).mc().step(in.msg, &out); err != nil {
						t.Fatalf("walk %d step %d: %v", walk, step, err)
					}
					if len(out.Actions) > 0 || string(c.AppendKey(nil)) != before {
						t.Fatalf("walk %d step %d: %+v is ignored, yet the handler acts on it: %+v", walk, step, in.msg, out.Actions)
					}
					watched = append(watched, in.msg)
				}
				apply(n, randomInput(r, self))
				for _, m := range watched {
					followed++
					if !n.Ignores(m) {
						t.Fatalf("walk %d step %d: %+v was ignored before this step and is heeded after it (state %+v)", walk, step, m, n.State())
					}
				}
			}
		}
	}
	if ignoredSeen < 1000 {
		t.Fatalf("only %d ignored messages met: the walk does not exercise Ignores", ignoredSeen)
	}
	t.Logf("%d ignored messages checked, %d later checks of permanence", ignoredSeen, followed)
}

// TestIgnoresOnlyPredlockRetry: the other variants, repair included (it embeds predlock-retry
// but reacts to some of the messages predlock-retry ignores), ignore nothing.
func TestIgnoresOnlyPredlockRetry(t *testing.T) {
	for _, name := range VariantNames() {
		if name == "predlock-retry" {
			continue
		}
		variant, _ := Lookup(name)
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range cloneNodes(variant) {
			for range 2000 {
				in := randomInput(r, n.State().ID)
				if in.kind == 0 && n.Ignores(in.msg) {
					t.Fatalf("%s ignores %+v", name, in.msg)
				}
				apply(n, in)
			}
		}
	}
}
