//go:build !sfexec_static

package sfexec

// Shared linking (the default): libstateful_executor.so from this checkout's target/release
// (make lib), found at run time through an rpath to that directory, so a binary built here runs
// without LD_LIBRARY_PATH. A library installed elsewhere is picked up through CGO_CFLAGS and
// CGO_LDFLAGS (they come first), or from the system's default directories.
// In the source repository only: make go-dist leaves this file out of the released module,
// whose generated link_prebuilt.go links the archives it carries (scripts/go-dist.py).

// #cgo CFLAGS: -I${SRCDIR}/../../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../../target/release -Wl,-rpath,${SRCDIR}/../../../target/release -lstateful_executor
import "C"
