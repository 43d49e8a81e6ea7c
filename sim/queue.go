package sim

import "slices"

// item is one scheduled event, 16 bytes: sifting a large heap is bound by memory traffic, so
// the kind and its one argument (a node, or a payload slot that holds the rest) share a word,
// and payloads live outside the heap.
type item struct {
	at int64
	// seq orders ties at the same instant: 2k+1 for the k-th push, 2k for a group of sleeping
	// loops (pushGap) that stands where the k-th push would stand, after every earlier push.
	seq uint32
	arg uint32 // kind << argBits | index
}

const (
	argBits = 28
	argMask = 1<<argBits - 1
	// MaxNodes bounds the nodes (and in-flight payloads) of one run.
	MaxNodes = argMask
)

func (a *item) kind() evKind { return evKind(a.arg >> argBits) }
func (a *item) idx() int32   { return int32(a.arg & argMask) }

func (a *item) before(b *item) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// queue is a 4-ary min-heap on a slice of structs. A 4-ary heap halves the depth of a binary
// heap and keeps a node's children in one cache line, and avoiding container/heap's interface
// calls is what makes the event loop fast.
type queue struct {
	items []item
	seq   uint32 // pushes so far (since the last renumbering)
	epoch uint32 // renumberings so far
}

func (q *queue) Len() int { return len(q.items) }

func (q *queue) push(at int64, kind evKind, idx int32) {
	q.items = append(q.items, item{at: at, seq: q.nextSeq(), arg: uint32(kind)<<argBits | uint32(idx)})
	q.up(len(q.items) - 1)
}

// pushGap schedules an item that ties after everything pushed so far and before the next
// push, without counting as a push: two gap items pushed with no push between them tie
// with each other, and the caller merges them.
func (q *queue) pushGap(at int64, kind evKind, idx int32) {
	q.items = append(q.items, item{at: at, seq: 2 * q.seq, arg: uint32(kind)<<argBits | uint32(idx)})
	q.up(len(q.items) - 1)
}

// nextSeq hands out scheduling numbers. After 2^31 of them it renumbers what is pending in
// order, so ties keep their order however long a run is.
func (q *queue) nextSeq() uint32 {
	if q.seq == 1<<31-1 {
		q.renumber()
	}
	s := q.seq
	q.seq++
	return 2*s + 1
}

func (q *queue) renumber() {
	slices.SortFunc(q.items, func(a, b item) int {
		if a.before(&b) {
			return -1
		}
		if b.before(&a) {
			return 1
		}
		return 0
	})
	// A sorted slice is a valid heap.
	for i := range q.items {
		q.items[i].seq = 2*uint32(i) + 1
	}
	q.seq = uint32(len(q.items))
	q.epoch++
}

// peek returns the earliest item; the queue must not be empty.
func (q *queue) peek() *item { return &q.items[0] }

func (q *queue) pop() item {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items = q.items[:last]
	if last > 0 {
		q.down(0)
	}
	return top
}

// replaceTop overwrites the earliest item with a new one and restores the heap in one sift,
// which is cheaper than a pop followed by a push when an event schedules its successor.
func (q *queue) replaceTop(at int64, kind evKind, idx int32) {
	seq := q.nextSeq() // before writing: renumbering reorders the slice
	q.items[0] = item{at: at, seq: seq, arg: uint32(kind)<<argBits | uint32(idx)}
	q.down(0)
}

func (q *queue) up(i int) {
	it := q.items[i]
	for i > 0 {
		p := (i - 1) / 4
		if !it.before(&q.items[p]) {
			break
		}
		q.items[i] = q.items[p]
		i = p
	}
	q.items[i] = it
}

func (q *queue) down(i int) {
	items := q.items
	n := len(items)
	it := items[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		// Pick the smallest of up to four children; the common full-fan-out case avoids the
		// bounds bookkeeping of the general loop.
		best := c
		if c+3 < n {
			kids := items[c : c+4 : c+4]
			b := 0
			if kids[1].before(&kids[b]) {
				b = 1
			}
			if kids[2].before(&kids[b]) {
				b = 2
			}
			if kids[3].before(&kids[b]) {
				b = 3
			}
			best = c + b
		} else {
			for j := c + 1; j < n; j++ {
				if items[j].before(&items[best]) {
					best = j
				}
			}
		}
		if !items[best].before(&it) {
			break
		}
		items[i] = items[best]
		i = best
	}
	items[i] = it
}

// removeAt takes out the item at heap position i, wherever it is; scripted runs use it to
// deliver events out of time order.
func (q *queue) removeAt(i int) item {
	it := q.items[i]
	last := len(q.items) - 1
	q.items[i] = q.items[last]
	q.items = q.items[:last]
	if i < last {
		q.down(i)
		q.up(i)
	}
	return it
}
