// Package sfexec keeps the routing state of stateful services in Redis (pod states, workload
// states, sticky uid -> pod links) through the stateful-executor native library, over its C API.
//
// *Executor implements the seed's route.StatefulExecutor method for method, and reads and writes
// the same keys as the Java and Go services, so a service switches by changing its constructor:
//
//	ex, err := sfexec.Open("redis://127.0.0.1:6379", sfexec.WithPoolSize(32))
//	if err != nil { ... }
//	defer ex.Close()
//	pod, err := ex.SetLinkedPodIfAbsent(ctx, "prod", "user-42", "chat", 1, -1)
//
// Failures are *Error values matching one sentinel each (errors.Is(err, ErrTimeout), ...).
// At most pool-size calls of an Executor run inside the library at once; the others wait for a
// slot without holding an OS thread, and give up when their context ends. Single-key calls that
// arrive while others are inside the library are batched: several go to the library in one
// call and one round trip (sf_execute_batch), each with its own result and error. The library's log
// records go to one process-wide *slog.Logger (SetLogger, WithLogger; slog.Default() unless
// told otherwise).
//
// Installing: the released module carries the C header and the native library, prebuilt as a
// static archive for each platform of the release (sfexec/lib/GOOS_GOARCH), and links it into
// the program. `go get` it like any module (from the module proxy or repository it is published
// to); a build needs Go and a C compiler (cgo), and nothing else: no Rust, no
// libstateful_executor.so at run time. On a platform the release lacks, the build stops with an
// error naming sfexec_has_no_prebuilt_native_library_for_this_GOOS_GOARCH. The release is made
// with `make go-dist` in the source repository; its docs/packaging.md says how it is published
// and how a platform is added.
//
// In the source repository (make go-test), the package instead links the library built in the
// checkout's target/release (make lib): the shared library by default, found at run time through
// an rpath, or the static one with -tags sfexec_static. CGO_CFLAGS and CGO_LDFLAGS can point at a
// library installed elsewhere.
package sfexec
