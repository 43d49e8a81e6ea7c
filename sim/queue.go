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

// setIdx changes the item's index, keeping its kind and its place in the queue.
func (a *item) setIdx(i int32) { a.arg = a.arg&^argMask | uint32(i) }

func (a *item) before(b *item) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// queue is a 4-ary min-heap on a slice of structs. A 4-ary heap halves the depth of a binary
// heap and keeps a node's children in one cache line, and avoiding container/heap's interface
// calls is what makes the event loop fast.
//
// Under the seed timing model nearly every item is a loop's wake or a group's polls on a whole
// time unit a few units ahead, and sifting the heap was a quarter of a large run's cost. Such
// items go instead to a calendar of slots, one per unit of the next nearSlots units: an item's
// slot is a FIFO, and since each push has a larger scheduling number than the last, pushing
// in order is sorting by (time, seq). pop takes the earlier of the calendar's first item and
// the heap's top, so an item may be in either and the order is the heap's order.
type queue struct {
	items []item
	seq   uint32 // pushes so far (since the last renumbering)
	epoch uint32 // renumberings so far

	// The calendar, used when unit > 0 (near). Slot u&(nearSlots-1) holds the items at unit u,
	// for baseU <= u < baseU+nearSlots; no slot item is earlier than unit lowU.
	unit   int64
	baseU  int64
	baseAt int64   // baseU*unit
	inv    float64 // 1/unit: toSlot divides by multiplying, and checks the quotient
	lowU   int64
	slots  []slot
	nslot  int // items in slots
}

// nearSlots is the calendar's span in units, a power of two above the original program's
// longest blocking send (10 units).
const nearSlots = 64

type slot struct {
	items []item
	head  int
	u     int64 // the unit of its items
	// last is the scheduling number of the last push for the slot's unit, wherever it went.
	last uint32
}

// near makes the queue keep wakes and polls on whole units of unit in its calendar.
func (q *queue) near(unit int64) {
	q.unit, q.baseU, q.baseAt, q.lowU, q.inv = unit, 0, 0, 0, 1/float64(unit)
	if q.slots == nil {
		q.slots = make([]slot, nearSlots)
	}
}

// emptied returns q without items and with its calendar off, keeping its storage.
func (q *queue) emptied() queue {
	e := queue{items: q.items[:0], slots: q.slots}
	for k := range e.slots {
		e.slots[k].items, e.slots[k].head = e.slots[k].items[:0], 0
	}
	return e
}

func (q *queue) Len() int { return len(q.items) + q.nslot }

func (q *queue) push(at int64, kind evKind, idx int32) {
	it := item{at: at, seq: q.nextSeq(), arg: uint32(kind)<<argBits | uint32(idx)}
	if q.unit > 0 && q.toSlot(&it) {
		return
	}
	if q.unit > 0 {
		if sl := q.slotOf(at); sl != nil {
			sl.last = it.seq // it is in the heap, and later than the slot's items
		}
	}
	q.items = append(q.items, it)
	q.up(len(q.items) - 1)
}

// pushGap schedules an item that ties after everything pushed so far and before the next
// push, without counting as a push: two gap items pushed with no push between them tie
// with each other, and the caller merges them.
func (q *queue) pushGap(at int64, kind evKind, idx int32) {
	it := item{at: at, seq: 2 * q.seq, arg: uint32(kind)<<argBits | uint32(idx)}
	if q.unit > 0 && q.toSlot(&it) {
		return
	}
	if q.unit > 0 {
		if sl := q.slotOf(at); sl != nil {
			sl.last = it.seq
		}
	}
	q.items = append(q.items, it)
	q.up(len(q.items) - 1)
}

// slotOf returns the calendar slot for time at, or nil when at is off the units or outside
// the calendar's span.
func (q *queue) slotOf(at int64) *slot {
	u, ok := q.unitOf(at)
	if !ok {
		return nil
	}
	return &q.slots[u&(nearSlots-1)]
}

// unitOf returns the unit of time at if it is a whole unit within the calendar's span.
func (q *queue) unitOf(at int64) (int64, bool) {
	d := at - q.baseAt
	if d == q.unit && d > 0 {
		// Most items are a loop's or a group's next poll, one unit on.
		return q.baseU + 1, true
	}
	if d < 0 || d >= nearSlots*q.unit {
		return 0, false
	}
	// The float quotient is within far less than 1/2 of d/unit, and the product checks
	// that d is a whole number of units.
	k := int64(float64(d)*q.inv + 0.5)
	if k*q.unit != d {
		return 0, false
	}
	return q.baseU + k, true
}

// lastAt returns the item pushed last for time at, if it is still pending in the calendar,
// or nil: an item pushed after it for the same time went to the heap, or none is pending.
func (q *queue) lastAt(at int64) *item {
	sl := q.slotOf(at)
	if sl == nil || sl.head == len(sl.items) {
		return nil
	}
	if it := &sl.items[len(sl.items)-1]; it.at == at && it.seq == sl.last {
		return it
	}
	return nil
}

// toSlot puts it in the calendar if it belongs there.
func (q *queue) toSlot(it *item) bool {
	if k := it.kind(); k != evWake && k != evPolls {
		return false
	}
	u, ok := q.unitOf(it.at)
	if !ok {
		return false
	}
	sl := &q.slots[u&(nearSlots-1)]
	sl.items, sl.u, sl.last = append(sl.items, *it), u, it.seq
	if q.nslot == 0 || u < q.lowU {
		q.lowU = u
	}
	q.nslot++
	return true
}

// firstSlot returns the calendar's slot of its earliest items; the calendar must not be empty.
func (q *queue) firstSlot() *slot {
	u := max(q.lowU, q.baseU)
	for {
		if sl := &q.slots[u&(nearSlots-1)]; sl.head < len(sl.items) {
			q.lowU = u
			return sl
		}
		u++
	}
}

// each calls f for every item, in no particular order.
func (q *queue) each(f func(*item)) {
	for i := range q.items {
		f(&q.items[i])
	}
	if q.nslot > 0 {
		for k := range q.slots {
			sl := &q.slots[k]
			for i := sl.head; i < len(sl.items); i++ {
				f(&sl.items[i])
			}
		}
	}
}

// clear drops every item; the calendar stays on.
func (q *queue) clear() {
	q.items = q.items[:0]
	if q.nslot > 0 {
		for k := range q.slots {
			q.slots[k].items, q.slots[k].head = q.slots[k].items[:0], 0
		}
		q.nslot = 0
	}
}

// unslot moves the calendar's items to the heap.
func (q *queue) unslot() {
	if q.nslot == 0 {
		return
	}
	for k := range q.slots {
		sl := &q.slots[k]
		for _, it := range sl.items[sl.head:] {
			q.items = append(q.items, it)
			q.up(len(q.items) - 1)
		}
		sl.items, sl.head = sl.items[:0], 0
	}
	q.nslot = 0
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
	q.unslot()
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
func (q *queue) peek() *item {
	if q.nslot > 0 {
		sl := q.firstSlot()
		if it := &sl.items[sl.head]; len(q.items) == 0 || it.before(&q.items[0]) {
			return it
		}
	}
	return &q.items[0]
}

// popBefore pops the earliest item if it is earlier than limit, finding it once where a peek
// and then a pop found it twice; the queue must not be empty.
func (q *queue) popBefore(limit int64) (item, bool) {
	if q.nslot > 0 {
		sl := q.firstSlot()
		if it := sl.items[sl.head]; len(q.items) == 0 || it.before(&q.items[0]) {
			if it.at >= limit {
				return item{}, false
			}
			if sl.head++; sl.head == len(sl.items) {
				sl.items, sl.head = sl.items[:0], 0
			}
			q.nslot--
			q.baseU, q.baseAt = sl.u, it.at // nothing pending is earlier
			return it, true
		}
	}
	if q.items[0].at >= limit {
		return item{}, false
	}
	return q.popHeap(), true
}

func (q *queue) pop() item {
	if q.nslot > 0 {
		sl := q.firstSlot()
		if it := sl.items[sl.head]; len(q.items) == 0 || it.before(&q.items[0]) {
			if sl.head++; sl.head == len(sl.items) {
				sl.items, sl.head = sl.items[:0], 0
			}
			q.nslot--
			q.baseU, q.baseAt = sl.u, it.at // nothing pending is earlier
			return it
		}
	}
	return q.popHeap()
}

// popHeap pops the heap's top.
func (q *queue) popHeap() item {
	top := q.items[0]
	if q.unit > 0 && top.at >= 0 {
		q.baseU = top.at / q.unit
		q.baseAt = q.baseU * q.unit
	}
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
