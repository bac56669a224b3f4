package pipeline

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Pool is an Arrow allocator that reuses the buffers of released batches
// for the next ones. A sync allocates and frees its batches' buffers at a
// steady rate (built by a worker, written to Parquet, released); with Go's
// allocator each is new garbage and the collector runs again and again,
// scanning the whole heap each time. Buffers come in power-of-two classes,
// 64-byte aligned like memory.GoAllocator's, and are zeroed when handed out.
// The pools hold buffers only between collections (sync.Pool), so an idle
// Pool holds nothing.
type Pool struct {
	classes [maxClass + 1]sync.Pool
}

const (
	minClass  = 6  // 64 B
	maxClass  = 26 // 64 MiB; bigger buffers are not pooled
	alignment = 64
)

var _ memory.Allocator = (*Pool)(nil)

// NewPool returns an empty Pool.
func NewPool() *Pool { return &Pool{} }

// class is the smallest class that holds size bytes.
func class(size int) int {
	if size <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns size zeroed bytes.
func (p *Pool) Allocate(size int) []byte {
	c := class(size)
	if c > maxClass {
		return aligned(size)
	}
	if v := p.classes[c].Get(); v != nil {
		b := (*v.(*[]byte))[:size]
		clear(b)
		return b
	}
	return aligned(1 << c)[:size]
}

// Reallocate returns b's content in size bytes (zeroed beyond it).
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) && class(size) == class(cap(b)) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	n := p.Allocate(size)
	copy(n, b)
	p.Free(b)
	return n
}

// Free takes b back for reuse.
func (p *Pool) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 // the largest class b holds whole
	if c < minClass || c > maxClass {
		return
	}
	b = b[:0]
	p.classes[c].Put(&b)
}

// aligned returns size bytes starting at a multiple of alignment.
func aligned(size int) []byte {
	buf := make([]byte, size+alignment)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % alignment; r != 0 {
		off = alignment - int(r)
	}
	return buf[off : off+size : off+size]
}
