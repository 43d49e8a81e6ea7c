package explore

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// pool is what the workers of one subsuming search share. mu guards the visited set, the
// cover set, the proven set and the ignore logs; fmu the findings and final rings (taken
// after mu where both are held).
type pool struct {
	mu, fmu  sync.Mutex
	workers  []*worker
	active   atomic.Int32 // workers holding frames or taking some
	expanded atomic.Int64
	cores    atomic.Int64 // met by all workers, for the progress line
	stop     atomic.Bool  // MaxStates reached
	main     *Report      // findings go here
}

// worker is one depth-first walker of a subsuming search, with its own explorer (scratch
// buffers and counts) and its own stack. An idle worker takes the untried moves of the
// deepest-buried frame of a busy one (steal), so that the work is shared without the
// search exploring any state twice: a state is claimed, in the shared visited and cover
// sets, by the worker that reaches it first, and that worker explores all of its moves.
type worker struct {
	e     *explorer
	mu    sync.Mutex // guards stack and base against a thief
	stack []sframe
	base  []Step // the path to stack[0]
	// states and steals count what w explored and how often it stole.
	states, steals int
}

// sframe is a state on a worker's stack and its moves not yet taken.
type sframe struct {
	s     *state
	step  Step // the step from the frame below (or from base, for the first)
	moves []Step
	next  int
}

// lock and unlock guard what the workers share; a search of one worker has no pool.
func (e *explorer) lock() {
	if e.pool != nil {
		e.pool.mu.Lock()
	}
}

func (e *explorer) unlock() {
	if e.pool != nil {
		e.pool.mu.Unlock()
	}
}

func (e *explorer) flock() {
	if e.pool != nil {
		e.pool.fmu.Lock()
	}
}

func (e *explorer) funlock() {
	if e.pool != nil {
		e.pool.fmu.Unlock()
	}
}

// subsumeSearch is the depth-first search of Config.Subsume on Config.Workers workers (at
// least one). It needs no strongly connected components: the end check is made per core by
// witness searches (checkCore), so a state is only ever claimed, explored and left. With one
// worker the states are explored in the same order as with several workers' first one, and
// the counts repeat exactly; with several, which worker reaches a state first varies, so the
// counts vary from run to run, but not what is found: every state reachable has its core in
// an explored state with at least its messages in flight, whichever worker explored it.
func (e *explorer) subsumeSearch() {
	cfg := e.cfg
	e.claimed = newLockedFP()
	n := max(cfg.Workers, 1)
	p := &pool{main: e.rep}
	for i := range n {
		we := e
		if i > 0 {
			we = e.fork()
		}
		we.pool = p
		p.workers = append(p.workers, &worker{e: we})
	}
	if n == 1 {
		e.pool = nil // nothing to lock against
	}
	w0 := p.workers[0]
	initFP := canon(fingerprint(e.key(e.init)))
	if _, newCore := e.cover.covered(&e.csc, fingerprint(e.kbuf[:e.coreLen]), e.keyFlight, e.keyGap); newCore && cfg.Timers {
		e.checkCore(e.init, nil)
	}
	if w0.push(p, e.init, initFP, Step{}) {
		p.active.Store(int32(n))
		var wg sync.WaitGroup
		for _, w := range p.workers[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(p)
			}()
		}
		w0.run(p)
		wg.Wait()
	}
	for _, w := range p.workers[1:] {
		e.merge(w.e)
	}
	if n > 1 {
		// Summed over contact assignments, like every count.
		rep := e.rep
		if rep.WorkerStates == nil {
			rep.WorkerStates = make([]int, n)
		}
		for i, w := range p.workers {
			rep.WorkerStates[i] += w.states
			rep.Steals += w.steals
		}
	}
	if p.stop.Load() {
		e.rep.Complete = false
	}
}

// fork returns an explorer that shares e's scope and shared sets, with scratch and counts of
// its own.
func (e *explorer) fork() *explorer {
	return &explorer{cfg: e.cfg, ring: e.ring, ids: e.ids, firstJoiner: e.firstJoiner, contacts: e.contacts,
		init: e.init, rep: &Report{}, finals: e.finals, seenKinds: e.seenKinds, claimed: e.claimed,
		states: make([]protocol.State, len(e.states)), counters: e.counters, begin: e.begin, prune: e.prune,
		pruned: e.pruned, cover: e.cover, proven: e.proven}
}

// merge adds the counts of worker explorer w to e's.
func (e *explorer) merge(w *explorer) {
	r, o := e.rep, w.rep
	r.States += o.States
	r.Transitions += o.Transitions
	r.Terminal += o.Terminal
	r.Violations += o.Violations
	r.NoEnd += o.NoEnd
	r.Depth = max(r.Depth, o.Depth)
	r.Pruned += o.Pruned
	r.NodeTransitions += o.NodeTransitions
	r.Covered += o.Covered
	r.Cores += o.Cores
	r.WitnessStates += o.WitnessStates
	r.WitnessProven += o.WitnessProven
	e.stored += w.stored
}

// path returns the steps from the initial state to the top of w's stack, then last.
func (w *worker) path(last *Step) []Step {
	p := slices.Clone(w.base)
	for i := 1; i < len(w.stack); i++ {
		p = append(p, w.stack[i].step)
	}
	if last != nil {
		p = append(p, *last)
	}
	return p
}

// push claims a new state for w: it is counted, judged, and its moves listed. It returns
// false once MaxStates is reached.
func (w *worker) push(p *pool, s *state, fp uint64, step Step) bool {
	e, cfg, rep := w.e, w.e.cfg, w.e.rep
	n := p.expanded.Add(1)
	rep.States++
	w.states++
	if cfg.Progress != nil && n%progressEvery == 0 {
		cores := int64(rep.Cores)
		if e.pool != nil {
			cores = p.cores.Load()
		}
		// The other counts are this worker's until the end: only states and cores are totals.
		fmt.Fprintf(cfg.Progress, "%d states, %d cores; worker %d: %d transitions, %d terminal, %d violations, %d covered, path %d; %s\n",
			n, cores, slices.Index(p.workers, w), rep.Transitions, rep.Terminal, rep.Violations, rep.Covered,
			len(w.base)+len(w.stack), time.Since(e.begin).Round(time.Second))
	}
	if cfg.MaxStates > 0 && n > int64(cfg.MaxStates) {
		p.stop.Store(true)
		return false
	}
	e.claimed.put(fp, 0)
	e.stored++
	w.mu.Lock()
	w.stack = append(w.stack, sframe{s: s, step: step})
	f := &w.stack[len(w.stack)-1]
	rep.Depth = max(rep.Depth, len(w.base)+len(w.stack)-1)
	judge, expand := e.assess(s)
	var moves []Step
	if !judge || expand {
		moves = e.moves(s, nil)
	}
	f.moves = moves
	w.mu.Unlock()
	if judge || len(moves) == 0 {
		if kind, detail := e.terminal(s); kind != "" {
			e.report(kind, detail, s.nodes, w.path(nil))
		}
	}
	return true
}

// run takes moves from w's stack until it is empty, then steals, until no worker has work.
func (w *worker) run(p *pool) {
	e := w.e
	rep := e.rep
	for !p.stop.Load() {
		w.mu.Lock()
		if len(w.stack) == 0 {
			w.mu.Unlock()
			if !w.steal(p) {
				return
			}
			continue
		}
		f := &w.stack[len(w.stack)-1]
		if f.next == len(f.moves) {
			w.stack = w.stack[:len(w.stack)-1]
			w.mu.Unlock()
			continue
		}
		step := f.moves[f.next]
		f.next++
		s := f.s
		w.mu.Unlock()
		rep.Transitions++
		t, bad, err := e.apply(s, step)
		if err != nil {
			e.report(observe.OutcomeCrash, fmt.Sprintf("node %v: %v", e.ids[bad], err), t.nodes, w.path(&step))
			continue
		}
		fp := canon(fingerprint(e.key(t)))
		_, seen := e.claimed.get(fp)
		covered, newCore := false, false
		if !seen {
			covered, newCore = e.cover.covered(&e.csc, fingerprint(e.kbuf[:e.coreLen]), e.keyFlight, e.keyGap)
		}
		if seen {
			continue
		}
		if covered {
			rep.Covered++ // its futures are among those of a state explored with more in flight
			continue
		}
		if newCore && e.cfg.Timers {
			e.checkCore(t, w.path(&step))
		}
		if v := e.safety(t); v != nil {
			// Reported; its future is not explored (nor counted as expanded).
			e.claimed.put(fp, 0)
			e.stored++
			e.report(v.Property, v.Detail, t.nodes, w.path(&step))
			continue
		}
		if !w.push(p, t, fp, step) {
			return
		}
	}
}

// steal gives idle w the untried moves of the lowest frame of another worker that has
// some, taking the later half of them. It returns false when no worker has work left.
func (w *worker) steal(p *pool) bool {
	p.active.Add(-1)
	for {
		for _, v := range p.workers {
			if v == w {
				continue
			}
			v.mu.Lock()
			for i := range v.stack {
				f := &v.stack[i]
				left := len(f.moves) - f.next
				if left == 0 {
					continue
				}
				keep := left / 2
				stolen := slices.Clone(f.moves[f.next+keep:])
				f.moves = f.moves[:f.next+keep]
				s := f.s
				base := slices.Clone(v.base)
				for j := 1; j <= i; j++ {
					base = append(base, v.stack[j].step)
				}
				p.active.Add(1) // before v can finish, so that no worker sees none active meanwhile
				w.steals++
				v.mu.Unlock()
				w.mu.Lock()
				w.base = base
				w.stack = append(w.stack[:0], sframe{s: s, moves: stolen})
				w.mu.Unlock()
				return true
			}
			v.mu.Unlock()
		}
		if p.active.Load() == 0 || p.stop.Load() {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
}
