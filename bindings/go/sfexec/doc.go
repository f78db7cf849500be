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
// Linking: by default the shared library of the checkout's target/release (make lib), found
// at run time through an rpath; with -tags sfexec_static the static library is linked in.
// CGO_CFLAGS and CGO_LDFLAGS can point at a library installed elsewhere.
package sfexec
