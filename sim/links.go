package sim

import "github.com/dhtexp/dhtexp/protocol"

// linkTable maps a directed link to the arrival time of the last message sent on it, which
// is what FIFO delivery needs. It is an open-addressing hash table that a new run empties by
// bumping a generation number instead of clearing or reallocating anything: a map rebuilt
// for every run cost a sixth of a sweep's time.
type linkTable struct {
	slots []linkSlot // a power of two in length, or empty
	gen   uint32     // slots of other generations are empty
	n     int        // slots in use
}

type linkSlot struct {
	from, to protocol.ID
	at       int64
	gen      uint32
}

// reset empties the table, keeping its storage.
func (t *linkTable) reset() {
	t.gen++
	t.n = 0
	if t.gen == 0 {
		// Wrapped around: old slots could pass for current ones.
		clear(t.slots)
		t.gen = 1
	}
}

// last returns a pointer to the link's arrival time, 0 for a link not used yet. It stays
// valid until the next call.
func (t *linkTable) last(from, to protocol.ID) *int64 {
	if t.gen == 0 {
		t.gen = 1
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := linkHash(from, to) & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.gen != t.gen {
			*sl = linkSlot{from: from, to: to, gen: t.gen}
			t.n++
			return &sl.at
		}
		if sl.from == from && sl.to == to {
			return &sl.at
		}
	}
}

func (t *linkTable) grow() {
	old, gen := t.slots, t.gen
	t.slots = make([]linkSlot, max(64, 2*len(old)))
	t.n = 0
	mask := uint64(len(t.slots) - 1)
	for _, sl := range old {
		if sl.gen != gen {
			continue
		}
		i := linkHash(sl.from, sl.to) & mask
		for t.slots[i].gen == gen {
			i = (i + 1) & mask
		}
		t.slots[i] = sl
		t.n++
	}
}

func linkHash(from, to protocol.ID) uint64 {
	return SplitMix64(uint64(from)*0x9e3779b97f4a7c15 ^ uint64(to))
}
