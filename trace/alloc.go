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
	if size < minPooled {
		return aligned(size, size)
	}
	c := sizeClass(size)
	a.mu.Lock()
	if n := len(a.free[c]); n > 0 {
		b := a.free[c][n-1]
		a.free[c][n-1] = nil
		a.free[c] = a.free[c][:n-1]
		a.bytes -= cap(b)
		a.mu.Unlock()
		b = b[:size]
		clear(b)
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
