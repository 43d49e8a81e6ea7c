package trace

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// pageAllocator recycles the buffers the Parquet writer encodes and
// compresses pages into. With Go's allocator every page took fresh memory,
// tens of bytes per row written, and the garbage collector and the page
// faults of fresh memory cost more than the encoding. Buffers come in powers
// of two and are cleared when handed out again, as fresh ones would be.
type pageAllocator struct {
	mu    sync.Mutex
	free  [48][][]byte // by log2 of capacity
	bytes int          // held in free
}

const (
	// minPooled is the smallest buffer worth recycling; smaller ones come
	// and go with the garbage collector.
	minPooled = 1 << 12
	// maxPoolBytes bounds what the pool keeps between uses, shared by every
	// writer of the process.
	maxPoolBytes = 64 << 20
	alignment    = 64
)

var pages = &pageAllocator{}

var _ memory.Allocator = (*pageAllocator)(nil)

func sizeClass(size int) int {
	if size <= minPooled {
		return bits.Len(uint(minPooled - 1))
	}
	return bits.Len(uint(size - 1))
}

func (a *pageAllocator) Allocate(size int) []byte {
	return a.allocate(size, size, true)
}

// allocate returns a buffer of length size and a capacity of at least capacity, zeroed
// up to size if zero is set.
func (a *pageAllocator) allocate(size, capacity int, zero bool) []byte {
	if capacity < minPooled {
		return aligned(size, capacity)
	}
	c := sizeClass(capacity)
	a.mu.Lock()
	if n := len(a.free[c]); n > 0 {
		b := a.free[c][n-1]
		a.free[c][n-1] = nil
		a.free[c] = a.free[c][:n-1]
		a.bytes -= cap(b)
		a.mu.Unlock()
		b = b[:size]
		if zero {
			clear(b)
		}
		return b
	}
	a.mu.Unlock()
	return aligned(size, 1<<c)
}

// aligned returns a zeroed slice of length size and capacity capacity that
// starts on a 64-byte boundary, as the Arrow allocators' do.
func aligned(size, capacity int) []byte {
	buf := make([]byte, capacity+alignment)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	shift := int((alignment - addr%alignment) % alignment)
	return buf[shift : shift+size : shift+capacity]
}

func (a *pageAllocator) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	// The old buffer is left to the collector: a caller may still hold a
	// slice of it.
	return nb
}

func (a *pageAllocator) Free(b []byte) {
	c := cap(b)
	if c < minPooled || c&(c-1) != 0 {
		return
	}
	k := bits.Len(uint(c - 1))
	a.mu.Lock()
	if a.bytes+c <= maxPoolBytes {
		a.free[k] = append(a.free[k], b[:0])
		a.bytes += c
	}
	a.mu.Unlock()
}

// sinkAllocator allocates for the buffered page writer of one column, which holds the
// column's chunk of a row group in memory until the chunk is written out. The writer's
// buffer starts at 256 bytes and doubles as pages come: every chunk took a dozen fresh
// buffers, of which the pool got only the last one back, and clearing them cost a twentieth
// of the CPU time of writing events. Its first buffer now has the capacity of the column's
// previous chunk, so that a chunk is held in one buffer from the pool.
type sinkAllocator struct {
	hint int // capacity of the buffer last freed
}

var _ memory.Allocator = (*sinkAllocator)(nil)

// Allocate leaves a recycled buffer as it was: the page writer only appends to it.
func (a *sinkAllocator) Allocate(size int) []byte {
	return pages.allocate(size, max(size, a.hint), false)
}

func (a *sinkAllocator) Reallocate(size int, b []byte) []byte {
	if cap(b) < size {
		// Grown past the previous chunk: begin the next one at the new size.
		a.hint = max(a.hint, size)
	}
	return pages.Reallocate(size, b)
}

func (a *sinkAllocator) Free(b []byte) {
	a.hint = cap(b)
	pages.Free(b)
}
