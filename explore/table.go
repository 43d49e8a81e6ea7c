package explore

import "math"

// fpTable is the visited set: 64-bit fingerprints of state keys (hash compaction, as SPIN's
// bitstate-free "hc" mode keeps them) in an open-addressed table with linear probing, each
// with a 32-bit value. Twelve bytes a slot instead of a Go map entry or a whole key: two
// distinct states share a fingerprint with probability at most n(n-1)/2^65 over n states,
// which Report.CollisionBound states, and such a pair would make the second state look
// visited and its future go unexplored.
type fpTable struct {
	keys []uint64 // 0 marks an empty slot; a fingerprint 0 is stored as 1
	vals []uint32
	n    int
}

func newFPTable() *fpTable {
	return &fpTable{keys: make([]uint64, 1<<16), vals: make([]uint32, 1<<16)}
}

func fix(fp uint64) uint64 {
	if fp == 0 {
		return 1
	}
	return fp
}

// get returns the value stored for fp and whether there is one.
func (t *fpTable) get(fp uint64) (uint32, bool) {
	fp = fix(fp)
	mask := uint64(len(t.keys) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case fp:
			return t.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// put stores v for fp, adding fp if it is new.
func (t *fpTable) put(fp uint64, v uint32) {
	fp = fix(fp)
	if (t.n+1)*5 > len(t.keys)*4 {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case fp:
			t.vals[i] = v
			return
		case 0:
			t.keys[i], t.vals[i] = fp, v
			t.n++
			return
		}
	}
}

func (t *fpTable) grow() {
	keys, vals := t.keys, t.vals
	t.keys, t.vals = make([]uint64, 2*len(keys)), make([]uint32, 2*len(keys))
	mask := uint64(len(t.keys) - 1)
	for j, k := range keys {
		if k == 0 {
			continue
		}
		i := k & mask
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = k, vals[j]
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

// collisionBound is the probability bound n(n-1)/2^65 that two of n distinct states share a
// 64-bit fingerprint.
func collisionBound(n int) float64 {
	x := float64(n)
	return x * (x - 1) / math.Exp2(65)
}
