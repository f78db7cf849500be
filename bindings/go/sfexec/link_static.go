//go:build sfexec_static

package sfexec

// Static linking (go build -tags sfexec_static): libstateful_executor.a from this checkout's
// target/release (make lib) is linked into the binary, which then needs no .so at run time.
// The libraries after it are what the Rust standard library needs from the system.

// #cgo CFLAGS: -I${SRCDIR}/../../../include
// #cgo LDFLAGS: ${SRCDIR}/../../../target/release/libstateful_executor.a -lpthread -ldl -lm
import "C"
