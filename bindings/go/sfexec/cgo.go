package sfexec

// #include "shim.h"
import "C"

import (
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"
)

// cAllocations counts the C allocations made for calls (slot memory and one-off buffers), for
// the test that a batch makes at most one.
var cAllocations atomic.Int64

const (
	// Every slot starts with this much C memory for a call's strings and arrays: enough for
	// the names and state of nearly every single-key call.
	initialArena = 2048
	// A slot keeps an arena up to this size; a call needing more gets a one-off allocation.
	maxRetainedArena = 64 << 10
	// Library strings up to this size are copied into the arena inside the call.
	inlineResult = 256
)

// slot is one permit to be inside the library, plus the C memory that calls made with it use.
// An Executor has as many slots as its pool has connections, so at most that many goroutines
// (and so OS threads) are blocked in C at once.
type slot struct {
	hdr       *C.sfgo_scratch
	arena     unsafe.Pointer
	size      uintptr
	lastState string // the last workload state returned, reused when the next one is equal
	// packedHint is the size of the largest packed result that did not fit in the arena: the
	// room later packed reads leave for theirs.
	packedHint uintptr
}

func (s *slot) init() {
	if s.hdr == nil {
		s.hdr = (*C.sfgo_scratch)(C.calloc(1, C.sizeof_sfgo_scratch))
		s.arena = C.malloc(initialArena)
		s.size = initialArena
		cAllocations.Add(2)
	}
}

func (s *slot) free() {
	if s.hdr != nil {
		C.free(unsafe.Pointer(s.hdr))
		C.free(s.arena)
		s.hdr, s.arena, s.size = nil, nil, 0
	}
}

// buffer gives n bytes of C memory for one call: the slot's arena (grown when needed), or a
// one-off allocation for an unusually large call, which cbuf.done frees.
func (s *slot) buffer(n uintptr) cbuf {
	if n <= s.size {
		return cbuf{base: s.arena, size: s.size}
	}
	if n <= maxRetainedArena {
		size := s.size
		for size < n {
			size *= 2
		}
		C.free(s.arena)
		s.arena = C.malloc(C.size_t(size))
		s.size = size
		cAllocations.Add(1)
		return cbuf{base: s.arena, size: size}
	}
	cAllocations.Add(1)
	return cbuf{base: C.malloc(C.size_t(n)), size: n, owned: true}
}

// status turns a call's status into nil or an *Error with the library's message.
func (s *slot) status(st Status, op string) error {
	if st == 0 {
		return nil
	}
	return &Error{Status: st, Op: op, Message: C.GoString(&s.hdr.err.message[0])}
}

// cbuf hands out consecutive pieces of a block of C memory.
type cbuf struct {
	base  unsafe.Pointer
	off   uintptr
	size  uintptr
	owned bool
}

// str copies s, NUL-terminated (checkText has made sure it holds no NUL).
func (b *cbuf) str(s string) *C.char {
	p := unsafe.Add(b.base, b.off)
	copy(unsafe.Slice((*byte)(p), len(s)), s)
	*(*byte)(unsafe.Add(p, len(s))) = 0
	b.off += uintptr(len(s)) + 1
	return (*C.char)(p)
}

// take reserves n bytes aligned to 8.
func (b *cbuf) take(n uintptr) unsafe.Pointer {
	b.off = (b.off + 7) &^ 7
	p := unsafe.Add(b.base, b.off)
	b.off += n
	return p
}

// rest is how many bytes are left after aligning to 8.
func (b *cbuf) rest() uintptr {
	off := (b.off + 7) &^ 7
	if off >= b.size {
		return 0
	}
	return b.size - off
}

func (b *cbuf) done() {
	if b.owned {
		C.free(b.base)
		b.owned = false
	}
}

// goString copies n bytes of C memory into a Go string.
func goString(p unsafe.Pointer, n uintptr) string {
	return string(unsafe.Slice((*byte)(p), n))
}

// checkText rejects a string holding a NUL byte: C would silently see it cut short there.
func checkText(op, what, s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return invalidArgument(op, what+" contains a NUL byte (at byte "+strconv.Itoa(i)+
			"), which a C string cannot hold")
	}
	return nil
}

// toInt32 rejects numbers that would wrap when passed to C as int32_t.
func toInt32(op, what string, v int) (C.int32_t, error) {
	if int(int32(v)) != v {
		return 0, invalidArgument(op, what+" "+strconv.Itoa(v)+" is outside the 32-bit range")
	}
	return C.int32_t(v), nil
}

// setNativeLogger points the library's logger at sfgoLogRecord for records at maxLevel and
// more severe; 0 turns it off.
func setNativeLogger(maxLevel int32) error {
	var cerr C.sf_error
	if st := Status(C.sfgo_set_logger(C.int32_t(maxLevel), &cerr)); st != 0 {
		return &Error{Status: Status(st), Op: "set logger", Message: C.GoString(&cerr.message[0])}
	}
	return nil
}

func statusName(s Status) string {
	return C.GoString(C.sf_status_name(C.sf_status(s)))
}

// headerVersion is the version of the header this package was compiled with.
const headerVersion = C.SF_VERSION_STRING

// checkLibraryVersion refuses a shared library of another major version than the header's
// (a different libstateful_executor.so found at run time).
func checkLibraryVersion() error {
	lib := Version()
	major := func(v string) string { return strings.SplitN(v, ".", 2)[0] }
	if major(lib) != major(headerVersion) {
		return &Error{Status: StatusConfig, Op: "open", Message: "the native library is version " + lib +
			", this package was built for " + headerVersion}
	}
	return nil
}

// Version is the native library's version (the C API's sf_version), e.g. "0.3.0".
func Version() string {
	return C.GoString(C.sf_version())
}
