package trace

import (
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A column's sink grows through fresh buffers once; the column's next chunks start in a
// buffer from the pool with the room the previous chunk needed, and keep it as they grow.
func TestSinkAllocatorStartsAtPreviousChunk(t *testing.T) {
	const chunk = 300 << 10
	a := &sinkAllocator{}
	grow := func() (moves int) {
		buf := memory.NewResizableBuffer(a)
		var at *byte
		// As the page writer's in-memory sink grows: from 256 bytes, doubling.
		for n := 256; ; n *= 2 {
			buf.Reserve(min(n, chunk))
			if p := unsafe.SliceData(buf.Buf()); p != at {
				moves++
				at = p
			}
			if n >= chunk {
				break
			}
		}
		buf.Release()
		return moves
	}
	if moves := grow(); moves < 5 {
		t.Fatalf("first chunk: %d buffers, want the doublings of a fresh sink", moves)
	}
	if a.hint < chunk {
		t.Fatalf("hint %d after a chunk of %d bytes", a.hint, chunk)
	}
	for i := range 3 {
		if moves := grow(); moves != 1 {
			t.Errorf("chunk %d after the first: %d buffers, want 1", i+2, moves)
		}
	}
}

// Buffers for pages are handed out zeroed, recycled or not; sink buffers are not cleared.
func TestPageAllocatorZeroes(t *testing.T) {
	b := pages.Allocate(1 << 13)
	for i := range b {
		b[i] = 0xff
	}
	pages.Free(b)
	for range 4 { // the pool is shared: the buffer may come back at any of the next calls
		c := pages.Allocate(1 << 13)
		for i, x := range c {
			if x != 0 {
				t.Fatalf("byte %d of a recycled page buffer is %#x", i, x)
			}
		}
		defer pages.Free(c)
	}
}
