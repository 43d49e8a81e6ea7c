package explore

import (
	"cmp"
	"slices"
	"sync"

	"github.com/dhtexp/dhtexp/protocol"
)

// coverSet is what Config.Subsume keeps: per core of a state (its nodes, started newcomers
// and timers: everything but what is in flight), the flights of the states explored with that
// core that no other explored flight of it contains. Under loss a state whose flight is
// contained in one of them has no future of its own: its extra messages may stay undelivered
// for ever.
//
// With renumbered counters (embed) the core's insertion numbers are ranked among the core's
// alone, so that the flight cannot split a core, and each number in flight is coded relative
// to them (counterSet.relative): a number some node holds by its rank, any other by the gap
// between two of the core's numbers it lies in and its order among the flight's numbers
// there. A flight is covered by an explored one of the same core if its messages with the
// core's numbers, and those without a number, are among the other's, and its own numbers map
// one to one, in order and each within its gap, to numbers of the other flight that carry at
// least the same messages (embedsIn). That map, with the core's numbers mapped rank to rank,
// is an order-preserving injection of one state's numbers into the other's that turns its
// nodes and timers into the other's and its flight into part of the other's. The protocol
// only compares these numbers, and a new one is above all of its owner's numbers in both, so
// the explored state has every future of the covered one up to that renaming, which changes
// no pointer. checkCore searches from the core with nothing in flight, which is the same up
// to such a renaming for every state with that renumbered core.
type coverSet struct {
	// ids numbers message copies; a number, once given, never changes, so each searcher
	// keeps the numbers it has met in its coverScratch and locks idMu only for a new one.
	idMu sync.Mutex
	ids  map[copyOf]uint16
	// shards hold, per core fingerprint, its flights one after another, each as its length
	// followed by its sorted message numbers (embedding: by its layout, see embedded); the
	// cores are spread over shards, each with its own lock, so that searchers seldom wait.
	shards [coverShards]coverShard
	// embed: the cores' insertion numbers are ranked without the flight's (renumbered
	// counters), and flights are compared by embedding (see embedsIn).
	embed bool
}

const coverShards = 64

type coverShard struct {
	mu    sync.Mutex
	cores map[uint64][]uint16
}

// coverScratch is one searcher's working storage for a coverSet.
type coverScratch struct {
	buf  []uint16
	gaps []gapMsg
	ids  map[copyOf]uint16 // the numbers this searcher has met
}

func newCoverSet(embed bool) *coverSet {
	c := &coverSet{ids: map[copyOf]uint16{}, embed: embed}
	for i := range c.shards {
		c.shards[i].cores = map[uint64][]uint16{}
	}
	return c
}

// list returns the flights recorded for core.
func (c *coverSet) list(core uint64) []uint16 {
	sh := &c.shards[core%coverShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.cores[core]
}

// embeds reports whether c compares flights by embedding; false for no cover set.
func (c *coverSet) embeds() bool { return c != nil && c.embed }

// copyOf names the n-th copy of a message in a flight (without timers, a message sent again
// while a copy is in flight is a second copy): a flight with one copy does not contain one
// with two.
type copyOf struct {
	m protocol.Message
	n int
}

// numbers returns the sorted numbers of the message copies of flight (sorted, so copies are
// adjacent), numbering new ones.
func (c *coverSet) numbers(sc *coverScratch, flight []protocol.Message) ([]uint16, bool) {
	b := sc.buf[:0]
	n := 0
	for i, m := range flight {
		if i > 0 && m == flight[i-1] {
			n++
		} else {
			n = 0
		}
		id, ok := c.number(sc, copyOf{m, n})
		if !ok {
			return nil, false
		}
		b = append(b, id)
	}
	slices.Sort(b)
	sc.buf = b
	return b, true
}

// covered reports whether flight is contained in a flight explored with core; if not, it
// records flight for core, drops the flights it contains, and says whether core is new. A
// flight with more messages than the set can number is never covered nor recorded. gap is
// nil unless the set embeds (see embedded).
func (c *coverSet) covered(sc *coverScratch, core uint64, flight []protocol.Message, gap []int32) (covered, newCore bool) {
	var (
		f  []uint16
		ok bool
	)
	contains := subset
	if c.embed {
		f, ok = c.embedded(sc, flight, gap)
		contains = embedsIn
	} else {
		f, ok = c.numbers(sc, flight)
	}
	sh := &c.shards[core%coverShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.cores[core]
	if !ok {
		return false, list == nil
	}
	for i := 0; i < len(list); {
		n := int(list[i])
		if contains(f, list[i+1:i+1+n]) {
			return true, false
		}
		i += 1 + n
	}
	// Compact in place: what is kept never overtakes what is read.
	kept := list[:0]
	for i := 0; i < len(list); {
		n := int(list[i])
		g := list[i : i+1+n]
		if !contains(g[1:], f) {
			kept = append(kept, g...)
		}
		i += 1 + n
	}
	kept = append(kept, uint16(len(f)))
	sh.cores[core] = append(kept, f...)
	return false, list == nil
}

// gapMsg is a message in flight whose insertion number no node holds: code orders it among
// such numbers (counterSet.relative), gap says between which of the core's numbers it lies.
type gapMsg struct {
	code uint64
	gap  int32
	m    protocol.Message // with Op set to blankOp
}

// blankOp stands for the insertion number of a gapMsg's message, which no code reaches.
const blankOp = ^uint64(0)

// embedded lays out a flight whose insertion numbers are coded relative to its core's
// (counterSet.relative) for embedsIn: the count of the messages compared as they are, their
// sorted numbers, then, in the order of their codes, one group per number that only the
// flight holds: its gap, the count of its messages and their sorted numbers, with the
// number itself blanked, since an embedding may map it to another of the same gap.
func (c *coverSet) embedded(sc *coverScratch, flight []protocol.Message, gap []int32) ([]uint16, bool) {
	sc.gaps = sc.gaps[:0]
	exact := sc.buf[:0]
	exact = append(exact, 0)
	n := 0
	for i, m := range flight {
		if gap[i] >= 0 {
			b := m
			b.Op = blankOp
			sc.gaps = append(sc.gaps, gapMsg{code: m.Op, gap: gap[i], m: b})
			continue
		}
		if len(exact) > 1 && i > 0 && gap[i-1] < 0 && m == flight[i-1] {
			n++
		} else {
			n = 0
		}
		id, ok := c.number(sc, copyOf{m, n})
		if !ok {
			return nil, false
		}
		exact = append(exact, id)
	}
	slices.Sort(exact[1:])
	exact[0] = uint16(len(exact) - 1)
	slices.SortFunc(sc.gaps, func(a, b gapMsg) int { return cmp.Or(cmp.Compare(a.code, b.code), cmpMsg(a.m, b.m)) })
	out := exact
	for i := 0; i < len(sc.gaps); {
		j := i
		for j < len(sc.gaps) && sc.gaps[j].code == sc.gaps[i].code {
			j++
		}
		if sc.gaps[i].gap >= 1<<16-1 {
			return nil, false
		}
		out = append(out, uint16(sc.gaps[i].gap), uint16(j-i))
		start := len(out)
		n := 0
		for k := i; k < j; k++ {
			if k > i && sc.gaps[k].m == sc.gaps[k-1].m {
				n++
			} else {
				n = 0
			}
			id, ok := c.number(sc, copyOf{sc.gaps[k].m, n})
			if !ok {
				return nil, false
			}
			out = append(out, id)
		}
		slices.Sort(out[start:])
		i = j
	}
	sc.buf = out
	return out, true
}

// number returns the number of a message copy, numbering it if new.
func (c *coverSet) number(sc *coverScratch, m copyOf) (uint16, bool) {
	if id, ok := sc.ids[m]; ok {
		return id, true
	}
	c.idMu.Lock()
	defer c.idMu.Unlock()
	id, ok := c.ids[m]
	if !ok {
		if len(c.ids) == 1<<16-1 {
			return 0, false
		}
		id = uint16(len(c.ids))
		c.ids[m] = id
	}
	if sc.ids == nil {
		sc.ids = map[copyOf]uint16{}
	}
	sc.ids[m] = id
	return id, true
}

// embedsIn reports whether flight a (laid out by embedded) embeds in flight b of the same
// core: its messages compared as they are are among b's, and its groups map, in order, to
// distinct groups of b in the same gap that hold each group's messages. An order-preserving
// map of the numbers only in a's flight into those only in b's, each kept in its gap among
// the core's numbers, then turns a's flight into part of b's. Taking for each group the
// first of b's that fits is enough: if any map exists, that one does.
func embedsIn(a, b []uint16) bool {
	na, nb := int(a[0]), int(b[0])
	if !subset(a[1:1+na], b[1:1+nb]) {
		return false
	}
	ga, gb := a[1+na:], b[1+nb:]
	for len(ga) > 0 {
		gap, n := ga[0], int(ga[1])
		msgs := ga[2 : 2+n]
		for {
			if len(gb) == 0 || gb[0] > gap {
				return false
			}
			m := int(gb[1])
			fits := gb[0] == gap && subset(msgs, gb[2:2+m])
			gb = gb[2+m:]
			if fits {
				break
			}
		}
		ga = ga[2+n:]
	}
	return true
}

// subset reports whether sorted a is contained in sorted b.
func subset(a, b []uint16) bool {
	if len(a) > len(b) {
		return false
	}
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// checkCore runs the end check for the core of t, met for the first time: an end must be
// reachable from the same state with nothing in flight (z), or it is a no_end finding; path
// leads to t. That one search per core is the whole end check under Subsume, and it is
// exact: z is reachable (from t, by losing everything), so an end must be reachable from it;
// and any state with that core has every future of z (its messages may stay undelivered), so
// an end reachable from z is reachable from each of them. Every core reachable is met, since
// every reachable state has its core in a state explored.
func (e *explorer) checkCore(t *state, path []Step) {
	e.rep.Cores++
	if e.pool != nil {
		e.pool.cores.Add(1)
	}
	z := t
	if len(t.flight) > 0 {
		z = &state{nodes: t.nodes, hashes: t.hashes, started: t.started, timers: t.timers, quiet: t.quiet}
		path = append(path, Step{Start: protocol.None, LoseAll: true})
	}
	if e.witness(z) {
		return
	}
	e.rep.Violations++
	e.rep.NoEnd++
	e.report("no_end", noEndDetail, z.nodes, path)
}

// witness searches depth-first from z, on the full model (nothing subsumed), for a state
// judged as an end, or one shown to reach an end by an earlier search; it marks every state
// on the path it finds as shown. It is exhaustive if it has to be: false means that no end is
// reachable from z. A state that breaks a safety property counts as an end, as in the
// search's own end check (the search reports it).
func (e *explorer) witness(z *state) bool {
	rep := e.rep
	pruned := rep.Pruned // what the witness search forgets is counted by the search itself
	defer func() { rep.Pruned = pruned }()
	type frame struct {
		s     *state
		fp    uint64
		moves []Step
		next  int
	}
	isProven := func(fp uint64) bool {
		_, ok := e.proven.get(fp)
		return ok
	}
	fp := canon(fingerprint(e.key(z)))
	if isProven(fp) {
		return true
	}
	proved := func(stack []frame) bool {
		for _, f := range stack {
			e.proven.put(f.fp, 0)
			e.stored++ // a fingerprint too, for the collision bound
			rep.WitnessProven++
		}
		return true
	}
	end := func(s *state) bool {
		judge, _ := e.assess(s)
		return judge || e.safety(s) != nil
	}
	rep.WitnessStates++
	if end(z) {
		return proved([]frame{{fp: fp}})
	}
	seen := map[uint64]bool{fp: true}
	stack := []frame{{s: z, fp: fp, moves: e.moves(z, nil)}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == len(f.moves) {
			stack = stack[:len(stack)-1]
			continue
		}
		step := f.moves[f.next]
		f.next++
		t, _, err := e.apply(f.s, step)
		if err != nil {
			continue // a crash, which the search reports
		}
		fp := canon(fingerprint(e.key(t)))
		if isProven(fp) {
			return proved(stack)
		}
		if seen[fp] {
			continue
		}
		seen[fp] = true
		rep.WitnessStates++
		moves := e.moves(t, nil)
		if end(t) || len(moves) == 0 {
			return proved(append(stack, frame{fp: fp}))
		}
		stack = append(stack, frame{s: t, fp: fp, moves: moves})
	}
	return false
}
