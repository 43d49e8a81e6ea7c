package observe

import "math/bits"

// bitset is a set of small integers with a summary tree above the bits (one bit per non-empty
// word, level by level), so finding the next member after a position costs a few word
// operations per level instead of a scan: about four levels for a million nodes.
type bitset struct {
	n  int
	lv [][]uint64
}

func newBitset(n int) bitset {
	b := bitset{n: n}
	size := n
	for {
		words := max((size+63)/64, 1)
		b.lv = append(b.lv, make([]uint64, words))
		if words == 1 {
			return b
		}
		size = words
	}
}

// emptied returns an empty set of n, in b's storage when b was made for n.
func (b bitset) emptied(n int) bitset {
	if b.n != n || len(b.lv) == 0 {
		return newBitset(n)
	}
	b.reset()
	return b
}

func (b *bitset) has(i int) bool { return b.lv[0][i>>6]&(1<<(i&63)) != 0 }

func (b *bitset) set(i int) {
	for k := range b.lv {
		w := i >> 6
		was := b.lv[k][w]
		b.lv[k][w] = was | 1<<(i&63)
		if was != 0 {
			return
		}
		i = w
	}
}

func (b *bitset) unset(i int) {
	for k := range b.lv {
		w := i >> 6
		b.lv[k][w] &^= 1 << (i & 63)
		if b.lv[k][w] != 0 {
			return
		}
		i = w
	}
}

func (b *bitset) reset() {
	for _, l := range b.lv {
		clear(l)
	}
}

// next is the smallest member ≥ i, or -1.
func (b *bitset) next(i int) int { return b.nextAt(0, i) }

func (b *bitset) nextAt(k, i int) int {
	l := b.lv[k]
	w := i >> 6
	if w >= len(l) {
		return -1
	}
	if m := l[w] >> (i & 63); m != 0 {
		return i + bits.TrailingZeros64(m)
	}
	if k+1 == len(b.lv) {
		return -1
	}
	j := b.nextAt(k+1, w+1)
	if j < 0 {
		return -1
	}
	return j<<6 + bits.TrailingZeros64(l[j])
}

// after is the first member after i going round (i itself when it is the only one), or -1.
func (b *bitset) after(i int) int {
	if j := b.next(i + 1); j >= 0 {
		return j
	}
	return b.next(0)
}
