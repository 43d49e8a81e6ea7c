package sim

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/dhtexp/dhtexp/protocol"
)

// streamWorkload draws the workload: arrival times, origins, operations and keys.
const streamWorkload uint64 = 0x776f726b6c6f6164

// kvState is the DHT workload of a run and the global observer's view of the keys. The
// observer sees every node's store and every handoff on the wire; the nodes see neither.
type kvState struct {
	on       bool
	w        Workload
	ring     protocol.Ring
	rnd      *rand.Rand
	zipf     *rand.Zipf
	keys     []string
	keyIDs   []protocol.ID
	keyIndex map[string]int32
	// transit counts copies of each key inside handoff messages on the wire.
	transit []int32
	mix     [3]float64 // cumulative weights of lookup, get, put
	ops     []OpRecord
	puts    uint64

	// The observer's ring: live connected nodes sorted by ID. It is built once (ringDirty)
	// and then kept up to date node by node (ringUpdate): under churn it changes hundreds of
	// times a second, and sorting a ring of 10^5 for every operation cost more than the run.
	ringIDs   []protocol.ID
	inRing    []bool
	ringDirty bool

	ended     []bool // per join: it has ended (ok, failed or crashed)
	joinsLeft int    // joins and leaves still under way
	// The join protocol is quiet when every newcomer has started and no join message or
	// timer is pending: a join unfinished then never finishes.
	startsLeft           int
	joinMsgs, joinTimers int64
	waveEnded            bool
	over                 bool // operations have stopped; maintenance timers are dropped

	counts  []int32 // scratch for key checks
	holders []int32
	sum     KVSummary

	ks keyState // the key check's running account (checkKeys)
	// verifyKeys makes every key check also count from scratch and panic on a difference
	// (tests).
	verifyKeys bool
}

// keyState is the key check's account of the keys, kept up to date from the nodes that took
// a step since the last check, so that a check costs about what changed, not the whole
// ring: under churn a check runs at every departure and every join, hundreds of times a
// second of a 10^5-node ring.
type keyState struct {
	built bool
	// Per node: the keys it holds as owner and those in its outbox, as of its last step
	// (none while down).
	items, outbox [][]int32
	stepped       []bool // took a step (or crashed, or came back) since the last check
	steppedList   []int32
	// Per key: live nodes holding it, the XOR of their indices (the holder, when there is
	// one), and copies in live outboxes.
	count, holderXor, outCount []int32
	byID                       []int32 // key indices sorted by key ID (ties by index)
	dirty                      []bool  // the key's verdict may have changed
	dirtyList                  []int32
	allDirty                   bool
	failing                    keySet // keys lost, duplicated or misplaced at the last check
	nFailing                   int
}

// keyStepped notes that node i took a step: its keys are counted again at the next check.
func (s *Sim) keyStepped(i int32) {
	ks := &s.kv.ks
	if !s.kv.on || !ks.built || ks.stepped[i] {
		return
	}
	ks.stepped[i] = true
	ks.steppedList = append(ks.steppedList, i)
}

func (ks *keyState) markKey(k int32) {
	if ks.built && !ks.dirty[k] {
		ks.dirty[k] = true
		ks.dirtyList = append(ks.dirtyList, k)
	}
}

// ownersMoved marks the keys whose owner a change of the live ring at id can have moved:
// those in (pred, id], pred being the ring node before id.
func (s *Sim) ownersMoved(ring []protocol.ID, id protocol.ID) {
	kv := &s.kv
	ks := &kv.ks
	if !ks.built || ks.allDirty {
		return
	}
	if len(ring) <= 1 {
		ks.allDirty = true // to or from an empty ring: every owner changes
		return
	}
	k, _ := slices.BinarySearch(ring, id)
	pred := ring[(k+len(ring)-1)%len(ring)]
	if pred == id {
		pred = ring[(k+len(ring)-2)%len(ring)]
	}
	// Keys are sorted by ID: walk from the first key after pred, wrapping, to the last at or
	// before id.
	n := len(ks.byID)
	start, _ := slices.BinarySearchFunc(ks.byID, pred+1, func(k int32, x protocol.ID) int { return cmpID(kv.keyIDs[k], x) })
	for j := 0; j < n; j++ {
		k := ks.byID[(start+j)%n]
		if !kv.ring.Between(pred, kv.keyIDs[k], id) && kv.keyIDs[k] != id {
			break
		}
		ks.markKey(k)
	}
}

// keySet is a set of key indices.
type keySet []uint64

func (b keySet) has(k int) bool { return b[k>>6]&(1<<(k&63)) != 0 }
func (b keySet) set(k int)      { b[k>>6] |= 1 << (k & 63) }
func (b keySet) unset(k int)    { b[k>>6] &^= 1 << (k & 63) }

// first is the smallest key in the set, or -1.
func (b keySet) first() int {
	for w, x := range b {
		if x != 0 {
			return w<<6 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

func cmpID(a, b protocol.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// initialValue is what every key holds before any put; values of puts are their numbers.
var initialValue = make([]byte, 8)

func putValue(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n) }

// initKV prepares the workload before the nodes are created: keys, their first owners and
// fresh fingers go into the members' configurations, as their neighbours do.
func (s *Sim) initKV(specs []Spec, cfgs []protocol.Config) {
	w := s.cfg.Workload
	kv := &s.kv
	kv.on, kv.w, kv.ring = true, w, protocol.Ring{Bits: s.cfg.Bits}
	kv.rnd = newStream(s.cfg.Seed, streamWorkload)
	kv.keys = make([]string, w.Keys)
	kv.keyIDs = make([]protocol.ID, w.Keys)
	kv.keyIndex = make(map[string]int32, w.Keys)
	kv.transit = make([]int32, w.Keys)
	kv.counts = make([]int32, w.Keys)
	kv.holders = make([]int32, w.Keys)
	for i := range kv.keys {
		k := "key-" + strconv.Itoa(i)
		kv.keys[i], kv.keyIDs[i], kv.keyIndex[k] = k, protocol.KeyID(kv.ring, k), int32(i)
	}
	kv.mix = [3]float64{w.Lookup, w.Lookup + w.Get, w.Lookup + w.Get + w.Put}
	if w.Popularity == "zipf" && w.Keys > 1 {
		kv.zipf = rand.NewZipf(kv.rnd, w.ZipfS, 1, uint64(w.Keys-1))
	}
	kv.sum.Keys = w.Keys

	var members []protocol.ID
	pos := make(map[protocol.ID]int, len(specs))
	for i := range specs {
		if specs[i].Member {
			members = append(members, specs[i].ID)
			pos[specs[i].ID] = i
		}
	}
	slices.Sort(members)
	for k, id := range kv.keyIDs {
		i, _ := slices.BinarySearch(members, id)
		it := protocol.Item{ID: id, Key: kv.keys[k], Value: initialValue}
		owner := members[i%len(members)]
		c := &cfgs[pos[owner]]
		c.Items = append(c.Items, it)
		for j := 1; j <= min(w.Replicas, len(members)-1); j++ {
			c := &cfgs[pos[members[(i+j)%len(members)]]]
			c.ReplicaItems = append(c.ReplicaItems, it)
		}
	}
	// The protocol would settle a budget or timeout left 0 the same way; settling them here
	// keeps what the nodes use and what the run's record says one computation.
	eff := w.inEffect()
	period, budget, timeout := w.FingerPeriod, eff.HopBudget, eff.OpTimeout
	for i := range cfgs {
		cfgs[i].FingerPeriod, cfgs[i].HopBudget, cfgs[i].OpTimeout = period, budget, timeout
		cfgs[i].Replicas = w.Replicas
		if specs[i].Member && w.Replicas > 0 && len(members) > 1 {
			// A member's first successor list: its next Replicas members (variants that keep
			// one take it, the others do not read it).
			k, _ := slices.BinarySearch(members, specs[i].ID)
			for j := 1; j <= min(w.Replicas, len(members)-1); j++ {
				cfgs[i].Succs = append(cfgs[i].Succs, members[(k+j)%len(members)])
			}
		}
		if specs[i].Member && w.Fingers == "fresh" && period > 0 {
			cfgs[i].Fingers = exactFingers(kv.ring, members, specs[i].ID)
		}
	}
	kv.ringDirty = true
	kv.joinsLeft = len(specs) - len(members)
	kv.startsLeft = kv.joinsLeft
	kv.ended = make([]bool, kv.joinsLeft)
}

// successor is the first ID in sorted at or clockwise after x.
func successor(sorted []protocol.ID, x protocol.ID) protocol.ID {
	i, _ := slices.BinarySearch(sorted, x)
	if i == len(sorted) {
		i = 0
	}
	return sorted[i]
}

// exactFingers are the distinct successors of id+2^i over all levels i, nearest first, without
// the right neighbour (the successor of id+1), which nodes keep apart from their fingers.
func exactFingers(r protocol.Ring, sorted []protocol.ID, id protocol.ID) []protocol.ID {
	return protocol.NewFreshFingers(r, sorted).Fingers(id)
}

// startKV schedules what the workload does on its own: members' maintenance, the first
// operation and, without joiners, the end of the operations.
func (s *Sim) startKV() {
	kv := &s.kv
	// Every member arms a finger timer: room for them at once.
	s.slots = slices.Grow(s.slots, len(s.nodes))
	for i := range s.nodes {
		if s.nodes[i].member {
			s.perform(int32(i), &protocol.Input{Kind: protocol.InputBoot})
		}
	}
	if kv.w.Rate > 0 {
		s.q.push(s.nextArrival(), evOp, 0)
	}
	if kv.joinsLeft == 0 && !s.cfg.Churn.On() {
		kv.waveEnded = true
		s.q.push(kv.w.Before+kv.w.After, evWorkloadEnd, 0)
	}
}

func (s *Sim) nextArrival() int64 {
	return s.now + int64(s.kv.rnd.ExpFloat64()/s.kv.w.Rate*1e9) + 1
}

// liveRing is the observer's sorted list of live connected nodes.
func (s *Sim) liveRing() []protocol.ID {
	kv := &s.kv
	if kv.ringDirty {
		kv.ringIDs = kv.ringIDs[:0]
		kv.inRing = grown(kv.inRing, len(s.nodes))
		for i := range s.nodes {
			n := &s.nodes[i]
			kv.inRing[i] = !n.down && n.st.Connected && !n.st.Leaving
			if kv.inRing[i] {
				kv.ringIDs = append(kv.ringIDs, n.id)
			}
		}
		slices.Sort(kv.ringIDs)
		kv.ringDirty = false
		kv.ks.allDirty = true
	}
	return kv.ringIDs
}

// ringUpdate puts node i into the observer's ring or takes it out after a change of its
// liveness, connection or leaving flag.
func (s *Sim) ringUpdate(i int32) {
	kv := &s.kv
	if !kv.on || kv.ringDirty {
		return // the next liveRing builds it whole
	}
	n := &s.nodes[i]
	in := !n.down && n.st.Connected && !n.st.Leaving
	if in == kv.inRing[i] {
		return
	}
	kv.inRing[i] = in
	k, _ := slices.BinarySearch(kv.ringIDs, n.id)
	if in {
		kv.ringIDs = slices.Insert(kv.ringIDs, k, n.id)
		s.ownersMoved(kv.ringIDs, n.id)
	} else {
		s.ownersMoved(kv.ringIDs, n.id)
		kv.ringIDs = slices.Delete(kv.ringIDs, k, k+1)
	}
}

// issue starts one client operation at a random live ring member.
func (s *Sim) issue() {
	kv := &s.kv
	if kv.over {
		return
	}
	s.q.push(s.nextArrival(), evOp, 0)
	ring := s.liveRing()
	if len(ring) == 0 {
		return
	}
	origin := s.idx.at(ring[kv.rnd.IntN(len(ring))])
	var key int
	if kv.zipf != nil {
		key = int(kv.zipf.Uint64())
	} else {
		key = kv.rnd.IntN(len(kv.keys))
	}
	x := kv.rnd.Float64() * kv.mix[2]
	kind := protocol.OpLookup
	switch {
	case x >= kv.mix[1]:
		kind = protocol.OpPut
	case x >= kv.mix[0]:
		kind = protocol.OpGet
	}
	r := protocol.Request{Kind: kind, Op: uint64(len(kv.ops) + 1), Key: kv.keys[key]}
	if kind == protocol.OpPut {
		kv.puts++
		r.Value = putValue(kv.puts)
	}
	phase := PhaseDuring
	switch {
	case kv.waveEnded:
		phase = PhaseAfter
	case s.now < kv.w.Before:
		phase = PhaseBefore
	}
	kv.ops = append(kv.ops, OpRecord{Op: r.Op, Kind: kind, Key: kv.keyIDs[key], Origin: s.nodes[origin].id,
		Start: s.now, End: -1, Owner: protocol.None, Phase: phase, key: int32(key)})
	if kind == protocol.OpLookup && s.inWindow() {
		kv.ops[len(kv.ops)-1].measured = true
		s.churn.sum.Lookups++
	}
	kv.sum.Ops++
	switch kind {
	case protocol.OpLookup:
		kv.sum.Lookups++
	case protocol.OpGet:
		kv.sum.Gets++
	}
	s.perform(origin, &protocol.Input{Kind: protocol.InputRequest, Request: r})
}

// opDone records the answer to an operation at the node that started it.
func (s *Sim) opDone(r *protocol.OpResult) {
	kv := &s.kv
	if r.Op == 0 || r.Op > uint64(len(kv.ops)) {
		return
	}
	o := &kv.ops[r.Op-1]
	if o.End >= 0 {
		return
	}
	o.End, o.Hops, o.Status, o.Owner = s.now, r.Hops, r.Status.String(), r.Owner
	kv.sum.Answered++
	kv.sum.Hops += int64(r.Hops)
	ok := r.Status == protocol.StatusOK || (r.Status == protocol.StatusNotFound && o.Class == "")
	if ok {
		kv.sum.OpsOK++
	}
	if o.measured && r.Status == protocol.StatusOK {
		c := &s.churn
		c.sum.LookupsOK++
		c.lat = append(c.lat, o.End-o.Start)
		if o.exact {
			c.sum.LookupsConsistent++
		}
	}
	if o.Kind == protocol.OpLookup {
		kv.sum.LookupsAnswered++
		if r.Status == protocol.StatusOK && o.Correct {
			kv.sum.LookupsOK++
			kv.sum.LookupHops += int64(r.Hops)
		}
	}
}

// served judges an answer as its server sends it: whether it names (lookup) or comes from
// (get, put) the true owner, and whether a get's value matches the true owner's.
func (s *Sim) served(m *protocol.Message) {
	kv := &s.kv
	if m.Op == 0 || m.Op > uint64(len(kv.ops)) || m.Status == uint8(protocol.StatusHopBudget) ||
		m.Status == uint8(protocol.StatusUnavailable) {
		return // the node's own maintenance, or no answer to judge
	}
	o := &kv.ops[m.Op-1]
	ring := s.liveRing()
	if len(ring) == 0 {
		return
	}
	owner := successor(ring, m.Key)
	answer := m.From
	if o.Kind == protocol.OpLookup {
		answer = m.Neighbour
	}
	o.Correct = answer == owner || s.insertedBefore(ring, m.Key, answer, owner)
	o.exact = answer == owner
	if o.Kind != protocol.OpGet || answer == owner {
		return
	}
	// The get came from a node that is not the owner: compare with what the owner holds.
	oi := s.idx.at(owner)
	items := s.nodes[oi].p.Items()
	if m.Data == nil && m.Status != uint8(protocol.StatusNotFound) {
		return
	}
	name := kv.keys[o.key]
	j, found := slices.BinarySearchFunc(items, protocol.Item{ID: m.Key, Key: name}, protocol.CompareItems)
	if !found {
		return // the owner does not hold it either: nothing to be inconsistent with
	}
	switch {
	case m.Status == uint8(protocol.StatusNotFound):
		o.Class = ClassMissing
		kv.sum.Missing++
	case string(items[j].Value) != string(m.Data.Value):
		o.Class = ClassStale
		kv.sum.Stale++
	}
}

// insertedBefore reports whether a is a newcomer being inserted just before the owner of x:
// its predecessor already points at it and x falls in its range, so answering a is right
// although a has not finished its join.
func (s *Sim) insertedBefore(ring []protocol.ID, x, a, owner protocol.ID) bool {
	ai, ok := s.idx.get(a)
	if !ok || s.nodes[ai].down || s.nodes[ai].st.Connected {
		return false
	}
	i, _ := slices.BinarySearch(ring, x)
	pred := ring[(i+len(ring)-1)%len(ring)]
	r := s.kv.ring
	return (x == a || r.Between(pred, x, a)) && r.Between(pred, a, owner)
}

// joinEnded notes the end of a join; when the last one ends, operations go on for After.
func (s *Sim) joinEnded(j int32) {
	kv := &s.kv
	if kv.ended[j] {
		return
	}
	kv.ended[j] = true
	s.waveStepEnded()
}

// waveStepEnded counts one join or leave ended; after the last, operations go on for After.
func (s *Sim) waveStepEnded() {
	kv := &s.kv
	kv.joinsLeft--
	if kv.joinsLeft == 0 && !kv.waveEnded {
		kv.waveEnded = true
		s.q.push(s.now+kv.w.After, evWorkloadEnd, 0)
	}
}

// joinsQuiet ends the wave of joins when the join protocol can do nothing more (some joins
// hang, as the original protocol's can), so that the operations still end After later.
func (s *Sim) joinsQuiet() {
	s.kv.waveEnded = true
	s.q.push(s.now+s.kv.w.After, evWorkloadEnd, 0)
}

// handoffSent counts keys going onto the wire in copies copies of m.
func (s *Sim) handoffSent(m *protocol.Message, copies int) {
	for _, it := range m.Data.Items {
		if k, ok := s.kv.keyIndex[it.Key]; ok {
			s.kv.transit[k] += int32(copies)
			s.kv.ks.markKey(k)
		}
	}
}

// handoffLanded counts keys off the wire, delivered or lost.
func (s *Sim) handoffLanded(m *protocol.Message) {
	for _, it := range m.Data.Items {
		if k, ok := s.kv.keyIndex[it.Key]; ok {
			s.kv.transit[k]--
			s.kv.ks.markKey(k)
		}
	}
}

// checkKeys is the key-safety check: every key lives at exactly one live node, its owner
// among the live connected nodes, unless a handoff is carrying it to a newcomer right now.
// At the end of a run nothing may be in transit any more.
//
// Every check judges every key. The checks during a run (final false) do it from a running
// account (keyState): they recount the keys of the nodes that took a step since the last
// check and judge again the keys whose count, transit, outbox copies or owner changed,
// which gives the verdict a count from scratch gives at a fraction of the cost. The
// check at the end counts from scratch.
func (s *Sim) checkKeys(final bool) {
	if final {
		s.checkKeysFull(true)
		return
	}
	var want keyVerdict
	if s.kv.verifyKeys {
		sum := s.kv.sum
		want = s.checkKeysFull(false)
		s.kv.sum = sum
	}
	got := s.checkKeysIncremental()
	if s.kv.verifyKeys && got != want {
		panic(fmt.Sprintf("key check at t=%d: incremental %+v, from scratch %+v", s.now, got, want))
	}
}

// keyVerdict is what a key check found: whether any key failed, and the first that did.
type keyVerdict struct {
	failed bool
	first  string
}

func (s *Sim) noteKeyCheck(v keyVerdict) {
	kv := &s.kv
	kv.sum.KeyChecks++
	if v.failed {
		kv.sum.KeyFailures++
		if kv.sum.FirstFailure == "" {
			kv.sum.FirstFailure = v.first
		}
	}
}

// buildKeys starts the running account: every node stepped, every key dirty.
func (s *Sim) buildKeys() {
	kv := &s.kv
	ks := &kv.ks
	n, m := len(s.nodes), len(kv.keys)
	ks.items, ks.outbox = make([][]int32, n), make([][]int32, n)
	ks.stepped = make([]bool, n)
	ks.steppedList = make([]int32, 0, n)
	for i := range n {
		ks.stepped[i] = true
		ks.steppedList = append(ks.steppedList, int32(i))
	}
	ints := make([]int32, 4*m)
	ks.count, ks.holderXor, ks.outCount, ks.byID = ints[:m:m], ints[m:2*m:2*m], ints[2*m:3*m:3*m], ints[3*m:]
	for k := range ks.byID {
		ks.byID[k] = int32(k)
	}
	slices.SortStableFunc(ks.byID, func(a, b int32) int { return cmpID(kv.keyIDs[a], kv.keyIDs[b]) })
	ks.dirty = make([]bool, m)
	ks.failing = make(keySet, (m+63)/64)
	ks.allDirty = true
	ks.built = true
}

// recount replaces node i's keys in the account with what it holds now.
func (s *Sim) recount(i int32, list *[]int32, get func() []protocol.Item, count []int32, holder bool) {
	kv := &s.kv
	ks := &kv.ks
	var items []protocol.Item
	if !s.nodes[i].down {
		items = get()
	}
	if len(items) == len(*list) {
		same := true
		for j := range items {
			if items[j].Key != kv.keys[(*list)[j]] {
				same = false
				break
			}
		}
		if same {
			return // most steps leave a node's keys as they were
		}
	}
	for _, k := range *list {
		count[k]--
		if holder {
			ks.holderXor[k] ^= i
		}
		ks.markKey(k)
	}
	*list = (*list)[:0]
	for _, it := range items {
		if k, ok := kv.keyIndex[it.Key]; ok {
			*list = append(*list, k)
			count[k]++
			if holder {
				ks.holderXor[k] ^= i
			}
			ks.markKey(k)
		}
	}
}

// checkKeysIncremental is a check during the run from the running account.
func (s *Sim) checkKeysIncremental() keyVerdict {
	kv := &s.kv
	ks := &kv.ks
	if !ks.built {
		s.buildKeys()
	}
	ring := s.liveRing()
	for _, i := range ks.steppedList {
		ks.stepped[i] = false
		p := s.nodes[i].p
		s.recount(i, &ks.items[i], p.Items, ks.count, true)
		o, ok := p.(interface{ Outbox() []protocol.Item })
		if ok {
			s.recount(i, &ks.outbox[i], o.Outbox, ks.outCount, false)
		} else if len(ks.outbox[i]) > 0 {
			s.recount(i, &ks.outbox[i], func() []protocol.Item { return nil }, ks.outCount, false)
		}
	}
	ks.steppedList = ks.steppedList[:0]
	judge := func(k int32) {
		bad := s.keyFailure(k, ring) != ""
		if bad != ks.failing.has(int(k)) {
			if bad {
				ks.failing.set(int(k))
				ks.nFailing++
			} else {
				ks.failing.unset(int(k))
				ks.nFailing--
			}
		}
	}
	if ks.allDirty {
		for k := range kv.keys {
			judge(int32(k))
		}
	} else {
		for _, k := range ks.dirtyList {
			judge(k)
		}
	}
	for _, k := range ks.dirtyList {
		ks.dirty[k] = false
	}
	ks.dirtyList, ks.allDirty = ks.dirtyList[:0], false
	v := keyVerdict{failed: ks.nFailing > 0}
	if v.failed && kv.sum.FirstFailure == "" {
		v.first = s.keyFailure(int32(ks.failing.first()), ring)
	}
	s.noteKeyCheck(v)
	return v
}

// keyFailure says how key k fails a check during the run, or "" when it does not.
func (s *Sim) keyFailure(k int32, ring []protocol.ID) string {
	kv := &s.kv
	ks := &kv.ks
	c := ks.count[k]
	pending := kv.transit[k] > 0
	switch {
	case c == 0 && (pending || ks.outCount[k] > 0):
	case c == 0:
		return fmt.Sprintf("%s (id %v) is stored nowhere at t=%d", kv.keys[k], kv.keyIDs[k], s.now)
	case c > 1:
		return fmt.Sprintf("%s (id %v) is stored at %d nodes at t=%d", kv.keys[k], kv.keyIDs[k], c, s.now)
	case len(ring) > 0 && !pending:
		h := s.nodes[ks.holderXor[k]].id
		if owner := successor(ring, kv.keyIDs[k]); h != owner {
			return fmt.Sprintf("%s (id %v) is stored at %v, its owner is %v, at t=%d", kv.keys[k], kv.keyIDs[k], h, owner, s.now)
		}
	}
	return ""
}

// checkKeysFull is the key check counted from scratch.
func (s *Sim) checkKeysFull(final bool) keyVerdict {
	kv := &s.kv
	clear(kv.counts)
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.down {
			continue
		}
		for _, it := range n.p.Items() {
			if k, ok := kv.keyIndex[it.Key]; ok {
				kv.counts[k]++
				kv.holders[k] = int32(i)
			}
		}
	}
	// A handoff whose message was lost is not in transit, but its keys are not lost either
	// while the sender keeps them for a retransmission (predlock-retry's outbox).
	var outboxed map[int32]bool
	if !final {
		for i := range s.nodes {
			n := &s.nodes[i]
			o, ok := n.p.(interface{ Outbox() []protocol.Item })
			if n.down || !ok {
				continue
			}
			for _, it := range o.Outbox() {
				if k, ok := kv.keyIndex[it.Key]; ok {
					if outboxed == nil {
						outboxed = map[int32]bool{}
					}
					outboxed[k] = true
				}
			}
		}
	}
	ring := s.liveRing()
	lost, dup, misplaced := 0, 0, 0
	first := ""
	for k, c := range kv.counts {
		pending := kv.transit[k] > 0 && !final
		switch {
		case c == 0 && (pending || outboxed[int32(k)]):
		case c == 0:
			lost++
			if first == "" {
				first = fmt.Sprintf("%s (id %v) is stored nowhere at t=%d", kv.keys[k], kv.keyIDs[k], s.now)
			}
		case c > 1:
			dup++
			if first == "" {
				first = fmt.Sprintf("%s (id %v) is stored at %d nodes at t=%d", kv.keys[k], kv.keyIDs[k], c, s.now)
			}
		case len(ring) > 0 && !pending:
			h := s.nodes[kv.holders[k]].id
			if owner := successor(ring, kv.keyIDs[k]); h != owner {
				misplaced++
				if first == "" {
					first = fmt.Sprintf("%s (id %v) is stored at %v, its owner is %v, at t=%d", kv.keys[k], kv.keyIDs[k], h, owner, s.now)
				}
			}
		}
	}
	v := keyVerdict{failed: lost+dup+misplaced > 0}
	if v.failed && kv.sum.FirstFailure == "" {
		v.first = first
	}
	s.noteKeyCheck(v)
	if final {
		kv.sum.Lost, kv.sum.Duplicated, kv.sum.Misplaced = lost, dup, misplaced
	}
	return v
}

// finishKV makes the end-of-run checks and returns the workload's records.
func (s *Sim) finishKV(r *Result) {
	kv := &s.kv
	kv.ringDirty = true
	s.checkKeys(true)
	ring := s.liveRing()
	for _, id := range ring {
		n := &s.nodes[s.idx.at(id)]
		exact := exactFingers(kv.ring, ring, id)
		for _, f := range n.p.Fingers() {
			kv.sum.Fingers++
			if !slices.Contains(exact, f) {
				kv.sum.FingersStale++
			}
		}
	}
	if kv.w.Replicas > 0 {
		s.checkReplicas(ring)
	}
	r.Ops, r.KV = kv.ops, kv.sum
}

// checkReplicas counts, at the end of a run, the copies missing at the owner's next
// Replicas successors and the copies held anywhere else.
func (s *Sim) checkReplicas(ring []protocol.ID) {
	kv := &s.kv
	if len(ring) == 0 {
		return
	}
	want := min(kv.w.Replicas, len(ring)-1)
	should := make(map[[2]int32]bool, len(kv.keys)*want) // (key, node) pairs that must hold a copy
	for k, id := range kv.keyIDs {
		i, _ := slices.BinarySearch(ring, id)
		for j := 1; j <= want; j++ {
			should[[2]int32{int32(k), s.idx.at(ring[(i+j)%len(ring)])}] = true
		}
	}
	held := 0
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.down {
			continue
		}
		for _, it := range n.p.Replicas() {
			k, ok := kv.keyIndex[it.Key]
			if !ok {
				continue
			}
			if should[[2]int32{k, int32(i)}] {
				held++
			} else {
				kv.sum.ReplicasExtra++
			}
		}
	}
	kv.sum.ReplicasMissing = len(should) - held
}
