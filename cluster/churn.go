package cluster

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// KeyCheck is the judgement of the keys put into the ring: their live copies (stored keys
// and copies kept for predecessors, with the value put) and a get of each through a random
// live node.
type KeyCheck struct {
	Keys int
	// Want is the copies each key should have: min(replicas+1, live nodes in the ring).
	Want                 int
	MinCopies, MaxCopies int
	Lost                 int // keys with no live copy
	Under                int // keys with fewer than Want copies (Lost ones included)
	Unreachable          int // keys whose get did not answer ok with the value put
	// Got says the gets were made; they are left out until the copies are complete, or the
	// time is up.
	Got bool
}

// complete reports whether every key has its copies.
func (k *KeyCheck) complete() bool { return k.Under == 0 }

func (k *KeyCheck) print(w io.Writer) {
	fmt.Fprintf(w, "keys: %d put, %d reachable, live copies min %d max %d (want %d)", k.Keys, k.Keys-k.Unreachable,
		k.MinCopies, k.MaxCopies, k.Want)
	if k.Lost > 0 {
		fmt.Fprintf(w, ", %d lost", k.Lost)
	}
	if k.Under > k.Lost {
		fmt.Fprintf(w, ", %d under-replicated", k.Under-k.Lost)
	}
	fmt.Fprintln(w)
}

// kv is one key put into the ring.
type kv struct{ key, value string }

// keysAndChurn puts the keys, waits for their copies, runs the churn, and judges the ring
// and the keys once it has settled or its time is up.
func (cl *cluster) keysAndChurn(ctx context.Context, res *Result) (*Result, error) {
	o := &cl.o
	// Keys, victims, contacts and the order of the events: one seeded source of their own,
	// so that the IDs stay those of a run without churn.
	r := rand.New(rand.NewPCG(o.Seed, 0x6368726e))
	keys := make([]kv, o.Keys)
	for i := range keys {
		keys[i] = kv{fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d-%d", o.Seed, i)}
		if err := cl.put(ctx, r, keys[i]); err != nil {
			return nil, err
		}
	}
	settle := time.Duration(o.ChurnSettle) * o.period()
	if len(keys) > 0 {
		// The copies are made after the put's answer (and by stabilization): the churn
		// starts from a ring that holds them all.
		_, _, _, kc, err := cl.settleLive(ctx, time.Now().Add(settle), keys)
		if res, ok := cl.crashResult(ctx, res, err); ok {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		if !kc.complete() && o.Log != nil {
			fmt.Fprintf(o.Log, "cluster: %d of %d keys still lack copies %v after the puts; the churn starts anyway\n",
				kc.Under, kc.Keys, settle)
		}
	}
	end := time.Now()
	if o.churn() {
		c, err := cl.churn(ctx, r)
		if err != nil {
			return nil, err
		}
		res.Churn, end = c, c.End
	}
	sts, late, correctAt, kc, err := cl.settleLive(ctx, end.Add(settle), keys)
	if res, ok := cl.crashResult(ctx, res, err); ok {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Settled = time.Now()
	if res.Churn != nil {
		res.Churn.RingCorrect = correctAt
	}
	cl.judge(res, sts, late)
	if len(keys) > 0 {
		res.Keys = &kc
		if res.Outcome == observe.OutcomeOK {
			switch {
			case kc.Lost > 0 || kc.Unreachable > 0:
				res.Outcome = observe.OutcomeKeysLost
				res.Detail = fmt.Sprintf("%d of %d keys have no live copy, %d are not reachable by a get", kc.Lost, kc.Keys, kc.Unreachable)
			case kc.Under > 0:
				res.Outcome = observe.OutcomeUnderReplicated
				res.Detail = fmt.Sprintf("%d of %d keys have fewer than %d live copies (fewest %d)", kc.Under, kc.Keys, kc.Want, kc.MinCopies)
			}
		}
	}
	return res, nil
}

// put stores one key through a random live node, trying up to three nodes.
func (cl *cluster) put(ctx context.Context, r *rand.Rand, k kv) error {
	var why string
	for range 3 {
		live := cl.live()
		p := live[r.IntN(len(live))]
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rep, err := p.client.KV(qctx, node.KVRequest{Kind: protocol.OpPut, Key: k.key, Value: []byte(k.value)})
		cancel()
		if err == nil && rep.Status == protocol.StatusOK {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		why = fmt.Sprintf("node %v: %v", p.id, err)
		if err == nil {
			why = fmt.Sprintf("node %v: %s %s", p.id, node.StatusName(rep.Status), rep.Error)
		}
	}
	return fmt.Errorf("put %q into the settled ring failed three times (last: %s)", k.key, why)
}

// churn kills and starts nodes, one event every interval, in a seeded order.
func (cl *cluster) churn(ctx context.Context, r *rand.Rand) (*Churn, error) {
	o := &cl.o
	events := append(slices.Repeat([]bool{true}, o.ChurnKill), slices.Repeat([]bool{false}, o.ChurnStart)...)
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	c := &Churn{Start: time.Now()}
	for i, kill := range events {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Until(c.Start.Add(time.Duration(i) * o.interval()))):
			}
		}
		if kill {
			live := cl.live()
			p := live[r.IntN(len(live))]
			// SIGKILL: the node says nothing to anyone, as when a machine dies.
			if err := p.cmd.Process.Kill(); err != nil {
				return nil, fmt.Errorf("kill node %v: %w", p.id, err)
			}
			<-p.exited
			p.killed = true
			cl.dead = append(cl.dead, p.id)
			c.Killed = append(c.Killed, p.id)
			continue
		}
		p := cl.pending[0]
		cl.pending = cl.pending[1:]
		contact, err := cl.contact(ctx, r)
		if err != nil {
			return nil, err
		}
		p.contact = contact.id
		cl.add(p)
		if err := cl.start(p, "--join", contact.addr); err != nil {
			return nil, err
		}
		// Up once it answers: every live node is polled from now on.
		if _, err := cl.waitUp(ctx, p, 10*time.Second); err != nil {
			return nil, err
		}
		c.Started = append(c.Started, p.id)
	}
	c.End = time.Now()
	return c, nil
}

// contact picks a random live node that is in the ring, for a newcomer to join through.
func (cl *cluster) contact(ctx context.Context, r *rand.Rand) (*proc, error) {
	live := cl.live()
	r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, p := range live {
		if s, err := cl.query(ctx, p); err == nil && s.Connected && !s.Leaving {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no live node is in the ring to join through (%d live)", len(live))
}

// settleLive polls the live nodes until their ring is right and has stayed the same for two
// stabilization periods (variants that stabilize; for the others, until nothing is in
// flight or pending), and every key has its live copies; or until the deadline. It returns
// the last statuses, whether the deadline passed, since when the ring has been right (zero
// if it was not at the end), and the keys as judged at the end, the gets included.
func (cl *cluster) settleLive(ctx context.Context, deadline time.Time, keys []kv) (
	sts []node.Status, late bool, correctAt time.Time, kc KeyCheck, err error) {
	o := &cl.o
	hold := 2 * o.period()
	wait := max(10*time.Millisecond, min(50*time.Millisecond, o.period()/4))
	if !o.repairs() {
		hold = 100 * time.Millisecond
	}
	var (
		prev        []protocol.State
		stableSince time.Time
	)
	for {
		if sts, err = cl.poll(ctx); err != nil {
			return nil, false, time.Time{}, kc, err
		}
		now := time.Now()
		outcome, _, _ := node.ClassifyLive(sts, cl.dead, cl.ring, false)
		right := outcome == observe.OutcomeOK || outcome == observe.OutcomeJoinFailed
		if right && !o.repairs() {
			right = node.Quiet(sts)
		}
		view := pointers(sts)
		switch {
		case !right:
			correctAt, stableSince = time.Time{}, time.Time{}
		case stableSince.IsZero() || !slices.Equal(view, prev):
			stableSince = now
			if correctAt.IsZero() {
				correctAt = now
			}
		}
		prev = view
		late = now.After(deadline)
		if (right && now.Sub(stableSince) >= hold) || late {
			if len(keys) == 0 {
				return sts, late, correctAt, kc, nil
			}
			if kc, err = cl.checkKeys(ctx, sts, keys, nil); err != nil {
				return nil, false, time.Time{}, kc, err
			}
			if kc.complete() || late {
				r := rand.New(rand.NewPCG(o.Seed, 0x67657473))
				kc, err = cl.checkKeys(ctx, sts, keys, r)
				return sts, late, correctAt, kc, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, false, time.Time{}, kc, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// pointers is the part of the statuses that says where the ring is: sorted by ID.
func pointers(sts []node.Status) []protocol.State {
	v := make([]protocol.State, len(sts))
	for i := range sts {
		v[i] = sts[i].State()
	}
	slices.SortFunc(v, func(a, b protocol.State) int { return cmp.Compare(a.ID, b.ID) })
	return v
}

// checkKeys counts every key's live copies from the stores of the live nodes, and with r
// gets each key through a random live node in the ring.
func (cl *cluster) checkKeys(ctx context.Context, sts []node.Status, keys []kv, r *rand.Rand) (KeyCheck, error) {
	o := &cl.o
	kc := KeyCheck{Keys: len(keys), MinCopies: -1}
	copies := make(map[string]int, len(keys))
	value := make(map[string]string, len(keys))
	for _, k := range keys {
		value[k.key] = k.value
	}
	var inRing []*proc
	for _, s := range sts {
		p := cl.byID[s.ID]
		if s.Connected && !s.Leaving && !s.Departed {
			inRing = append(inRing, p)
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		items, reps, err := p.client.Store(qctx)
		cancel()
		if err != nil {
			return kc, cl.findCrash(fmt.Errorf("node %v: reading its keys: %w", p.id, err))
		}
		for _, it := range slices.Concat(items, reps) {
			if v, ok := value[it.Key]; ok && v == string(it.Value) {
				copies[it.Key]++
			}
		}
	}
	kc.Want = min(o.Replicas+1, len(inRing))
	for _, k := range keys {
		n := copies[k.key]
		if kc.MinCopies < 0 || n < kc.MinCopies {
			kc.MinCopies = n
		}
		kc.MaxCopies = max(kc.MaxCopies, n)
		if n == 0 {
			kc.Lost++
		}
		if n < kc.Want {
			kc.Under++
		}
	}
	kc.MinCopies = max(kc.MinCopies, 0)
	if r == nil {
		return kc, nil
	}
	kc.Got = true
	if len(inRing) == 0 {
		kc.Unreachable = len(keys)
		return kc, nil
	}
	// A few at a time, each on a connection of its own: on a broken ring every get may wait
	// for the node's operation timeout.
	via := make([]*proc, len(keys))
	for i := range keys {
		via[i] = inRing[r.IntN(len(inRing))]
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 32)
	)
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			rep, err := node.KV(qctx, via[i].addr, node.KVRequest{Kind: protocol.OpGet, Key: k.key}, node.WithSecret(o.Secret))
			if err != nil || rep.Status != protocol.StatusOK || !bytes.Equal(rep.Value, []byte(k.value)) {
				mu.Lock()
				kc.Unreachable++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return kc, ctx.Err()
}
