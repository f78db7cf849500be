//go:build sfexec_static

package sfexec

// Static linking (go build -tags sfexec_static): libstateful_executor.a from this checkout's
// target/release (make lib), or from a directory given with -L in CGO_LDFLAGS (it comes first),
// or from the system's default directories, is linked into the binary, which then needs no .so
// at run time. The libraries after it are what the Rust standard library needs from the system.
// In the source repository only: make go-dist leaves this file out of the released module,
// whose generated link_prebuilt.go links the archives it carries (scripts/go-dist.py).

// #cgo CFLAGS: -I${SRCDIR}/../../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../../target/release -Wl,-Bstatic -lstateful_executor -Wl,-Bdynamic -lpthread -ldl -lm
import "C"
