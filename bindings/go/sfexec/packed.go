package sfexec

// #include "shim.h"
import "C"

import (
	"encoding/binary"
	"unsafe"
)

const (
	// The room a packed read of one service or uid gets in the slot's arena at first: 32 pods
	// with states of up to 20 bytes (entry: key, length, text, NUL).
	packedRoomMin = 1024
	// The room per service a packed workload-state batch gets at first: states of up to 24 bytes.
	packedEntry = 8 + 24 + 1
)

// packedRoom is the room to leave in the arena for a packed result: at least least, and as much
// as the largest result this slot had to read from a library block, so that the next one of
// that size fits in the (grown) arena.
func (s *slot) packedRoom(least uintptr) uintptr {
	return max(least, s.packedHint)
}

// rest8 is the rest of b, where a packed read writes its result.
func (b *cbuf) rest8() (*C.uint8_t, C.size_t) {
	n := b.rest()
	return (*C.uint8_t)(b.take(n)), C.size_t(n)
}

// packedDone frees the library's block when the result did not fit in the arena (and
// remembers its size for the next call); a result in the arena needs nothing.
func (s *slot) packedDone() {
	p := &s.hdr.packed
	if p.allocated == nil {
		return
	}
	if size := uintptr(p.size); size > s.packedHint && size <= maxRetainedArena/2 {
		s.packedHint = size + size/4
	}
	C.sf_packed_free(p)
}

// packedReader walks the entries of the slot's packed result (key, length or -1, bytes, NUL),
// straight from C memory: text aliases that memory and is valid until packedDone.
type packedReader struct {
	data  []byte
	off   int
	count int
	read  int
	bad   bool
	key   int32
	text  []byte // nil for an absent text
}

func (s *slot) packed() packedReader {
	p := &s.hdr.packed
	r := packedReader{count: int(p.count)}
	if p.size > 0 {
		r.data = unsafe.Slice((*byte)(unsafe.Pointer(p.data)), int(p.size))
	}
	return r
}

// next moves to the next entry; false after the last one or at bytes that are not a whole
// entry (then err reports it).
func (r *packedReader) next() bool {
	if r.read == r.count || r.bad {
		return false
	}
	if len(r.data)-r.off < 8 {
		r.bad = true
		return false
	}
	r.key = int32(binary.NativeEndian.Uint32(r.data[r.off:]))
	n := int(int32(binary.NativeEndian.Uint32(r.data[r.off+4:])))
	r.off += 8
	r.text = nil
	if n != -1 {
		end := r.off + n
		if n < 0 || end >= len(r.data) || r.data[end] != 0 {
			r.bad = true
			return false
		}
		r.text = r.data[r.off:end:end]
		r.off = end + 1
	}
	r.read++
	return true
}

// err is an error when the entries ended before count (the library broke the layout).
func (r *packedReader) err(op string) error {
	if r.bad || r.read != r.count {
		return &Error{Status: StatusInternal, Op: op, Message: "the library returned a malformed packed result"}
	}
	return nil
}
