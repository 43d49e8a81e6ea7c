package explore

import (
	"math"
	"sync"
)

// fpTable is the depth-first visited set: 62-bit fingerprints of state keys (hash
// compaction, as SPIN's -DHC does) in an open-addressed table with linear probing, each
// slot one word whose top two bits are the state's marks (done, reach). Eight bytes a state
// at most 80 % load, instead of a Go map entry or a whole key. Two distinct states share a
// fingerprint with probability at most n(n-1)/2^63 over n states (collisionBound); such a
// pair would make the second state look visited and leave its future unexplored.
type fpTable struct {
	slots []uint64 // 0 marks an empty slot
	n     int
}

const (
	fpBits = 62
	fpMask = 1<<fpBits - 1
	// Marks of a state: done when its strongly connected component is complete, reach when
	// an end is reachable from it.
	markDone  = 1 << 63
	markReach = 1 << 62
)

func newFPTable() *fpTable { return &fpTable{slots: make([]uint64, 1<<16)} }

// canon cuts a fingerprint to fpBits, with 0 (the empty slot) moved to 1.
func canon(fp uint64) uint64 {
	fp &= fpMask
	if fp == 0 {
		return 1
	}
	return fp
}

// get returns the marks of fp and whether it is stored.
func (t *fpTable) get(fp uint64) (marks uint64, ok bool) {
	fp = canon(fp)
	mask := uint64(len(t.slots) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		switch {
		case s == 0:
			return 0, false
		case s&fpMask == fp:
			return s &^ fpMask, true
		}
	}
}

// put stores fp with marks, replacing the marks if fp is stored already.
func (t *fpTable) put(fp, marks uint64) {
	fp = canon(fp)
	if (t.n+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		switch {
		case s == 0:
			t.slots[i] = fp | marks
			t.n++
			return
		case s&fpMask == fp:
			t.slots[i] = fp | marks
			return
		}
	}
}

func (t *fpTable) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := s & fpMask & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// fingerprint hashes a state key to 64 bits: each 8-byte word is folded in through a
// bijective mixer (splitmix64's finaliser), and the length last. Deterministic, so a run's
// figures repeat exactly.
func fingerprint(b []byte) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for len(b) >= 8 {
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		h = mix(h ^ w)
		b = b[8:]
	}
	var w uint64
	for i, c := range b {
		w |= uint64(c) << (8 * i)
	}
	h = mix(h ^ w ^ uint64(len(b))<<56)
	return h
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// collisionBound is the probability bound n(n-1)/2 / 2^fpBits that two of n distinct states
// share a fingerprint.
func collisionBound(n int) float64 {
	x := float64(n)
	return x * (x - 1) / math.Exp2(fpBits+1)
}

// lockedFP is an fpTable that several searchers share: the fingerprints are spread over
// shards by their top bits, each shard with its own lock.
type lockedFP struct {
	shards [fpShards]struct {
		mu sync.Mutex
		t  *fpTable
	}
}

const fpShards = 64

func newLockedFP() *lockedFP {
	l := &lockedFP{}
	for i := range l.shards {
		l.shards[i].t = &fpTable{slots: make([]uint64, 1<<10)}
	}
	return l
}

// get returns the marks of fp and whether it is stored.
func (l *lockedFP) get(fp uint64) (marks uint64, ok bool) {
	sh := &l.shards[canon(fp)>>(fpBits-6)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.t.get(fp)
}

// put stores fp with marks.
func (l *lockedFP) put(fp, marks uint64) {
	sh := &l.shards[canon(fp)>>(fpBits-6)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.t.put(fp, marks)
}
