package sfexec

// #include "shim.h"
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Batching of concurrent single-key calls.
//
// A call blocked in C holds its goroutine's OS thread, and on a busy machine each such call
// costs a hand-off of the scheduler's P to another thread and back. So when a single-key call
// arrives while another call is inside the library, it does not enter C itself: it queues a
// request and waits on a channel (no OS thread held), and one of a few runner goroutines hands
// everything queued to the library in one sf_execute_batch call: one OS thread blocked, one
// write and one read on one connection, for the whole batch. A call that finds nobody inside
// the library (a lone caller) goes straight to C, as before.

const (
	// batchRunners is how many batches may be inside the library at once: two, so that one
	// batch's callers run their Go code (and queue the next batch) while the other batch is
	// at the server. More made smaller batches and were slower on two cores (measured with
	// 1, 2, 3, 4 and 16).
	batchRunners = 2
	// maxBatch is the most operations one batch carries.
	maxBatch = 64
)

const (
	queued int32 = iota
	taken
	cancelled
)

// request is one queued single-key call: its arguments, then its outcome.
type request struct {
	kind         C.sf_batch_kind
	op           string
	ns, uid, svc string
	state        string
	pod, seconds int32
	phase        atomic.Int32
	done         chan struct{}
	err          error
	outPod       int
	outFlag      bool
	outText      string
	outStates    map[int]string
	outLinks     map[string]int
}

type batcher struct {
	batches atomic.Int64 // batches run (for the tests)
	mu      sync.Mutex
	queue   []*request
	idle    int           // runners waiting for work
	wake    chan struct{} // one token per idle runner woken
	closed  bool
	pool    sync.Pool
}

// startBatching sets up the queue and starts the runners.
func (e *Executor) startBatching() {
	b := &batcher{wake: make(chan struct{}, batchRunners)}
	b.pool.New = func() any { return &request{done: make(chan struct{}, 1)} }
	e.batch = b
	for i := 0; i < batchRunners; i++ {
		go e.runBatches()
	}
}

// shouldBatch says whether a single-key call should queue rather than enter C itself: only
// when another call is inside the library now.
func (e *Executor) shouldBatch() bool {
	return e.batch != nil && (len(e.slots) < cap(e.slots) || e.batchAll)
}

// shouldBatchRead is shouldBatch for the reads the client cache serves: never batched while
// it is on (see Executor.cached).
func (e *Executor) shouldBatchRead() bool {
	return !e.cached && e.shouldBatch()
}

func (e *Executor) request(kind C.sf_batch_kind, op, ns, uid, svc string) *request {
	r := e.batch.pool.Get().(*request)
	r.kind, r.op, r.ns, r.uid, r.svc = kind, op, ns, uid, svc
	r.state, r.pod, r.seconds = "", 0, 0
	r.err, r.outPod, r.outFlag, r.outText, r.outStates, r.outLinks = nil, NoPod, false, "", nil, nil
	return r
}

// recycle returns a finished request to the pool.
func (e *Executor) recycle(r *request) {
	r.ns, r.uid, r.svc, r.state, r.outText, r.outStates, r.outLinks, r.err = "", "", "", "", "", nil, nil, nil
	e.batch.pool.Put(r)
}

// submit queues r and waits until a runner ran it (nil: the outcome is in r, which the caller
// then recycles) or until ctx ended while r was still queued (ctx.Err(); r is abandoned).
// Once a runner took r it is inside the library and finishes within the configured bounds.
func (e *Executor) submit(ctx context.Context, r *request) error {
	b := e.batch
	r.phase.Store(queued)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.queue = append(b.queue, r)
	if b.idle > 0 {
		b.idle--
		b.wake <- struct{}{}
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		if r.phase.CompareAndSwap(queued, cancelled) {
			return ctx.Err()
		}
		<-r.done
		return nil
	}
}

// submitWrite, submitPod and submitFlag submit r and return its outcome of one kind.
func (e *Executor) submitWrite(ctx context.Context, r *request) error {
	if err := e.submit(ctx, r); err != nil {
		return err
	}
	err := r.err
	e.recycle(r)
	return err
}

func (e *Executor) submitPod(ctx context.Context, r *request) (int, error) {
	if err := e.submit(ctx, r); err != nil {
		return NoPod, err
	}
	pod, err := r.outPod, r.err
	e.recycle(r)
	if err != nil {
		return NoPod, err
	}
	return pod, nil
}

func (e *Executor) submitFlag(ctx context.Context, r *request) (bool, error) {
	if err := e.submit(ctx, r); err != nil {
		return false, err
	}
	flag, err := r.outFlag, r.err
	e.recycle(r)
	if err != nil {
		return false, err
	}
	return flag, nil
}

// closeBatcher stops taking requests and wakes the idle runners; the runners fail what is
// still queued with ErrClosed (they cannot get a slot any more) and exit.
func (e *Executor) closeBatcher() {
	b := e.batch
	if b == nil {
		return
	}
	b.mu.Lock()
	b.closed = true
	for ; b.idle > 0; b.idle-- {
		b.wake <- struct{}{}
	}
	b.mu.Unlock()
}

// runBatches is one runner: it takes what is queued and runs it, until closed and drained.
func (e *Executor) runBatches() {
	b := e.batch
	batch := make([]*request, 0, maxBatch)
	var last string
	for {
		b.mu.Lock()
		for len(b.queue) == 0 {
			if b.closed {
				b.mu.Unlock()
				return
			}
			b.idle++
			b.mu.Unlock()
			<-b.wake
			b.mu.Lock()
		}
		// Let the callers just woken by the last batch run first and queue their next calls:
		// without this a runner takes one or two requests and the batches stay small (measured:
		// 2.5x go-redis with it, 0.6x without, at 16 goroutines).
		b.mu.Unlock()
		runtime.Gosched()
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		batch = append(batch[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		e.runBatch(batch, &last)
		clear(batch)
	}
}

// runBatch runs the requests that were not cancelled in one sf_execute_batch call, then wakes
// their callers.
// The requests stay cancellable until the runner holds a slot.
func (e *Executor) runBatch(batch []*request, last *string) {
	s, err := e.acquire(context.Background())
	live := batch[:0]
	for _, r := range batch {
		if r.phase.CompareAndSwap(queued, taken) {
			live = append(live, r)
		}
	}
	if err != nil {
		for _, r := range live {
			r.err = err
			r.done <- struct{}{}
		}
		return
	}
	if len(live) == 0 {
		e.release(s)
		return
	}
	// Room for the entries, their strings, and the pods and states of one map result.
	size := uintptr(len(live))*C.sizeof_sf_batch_op + 16 + 64*entrySize
	for _, r := range live {
		size += uintptr(len(r.ns)+len(r.uid)+len(r.svc)+len(r.state)) + 4
	}
	b := s.buffer(size)
	ops := unsafe.Slice((*C.sf_batch_op)(b.take(uintptr(len(live))*C.sizeof_sf_batch_op)), len(live))
	for i, r := range live {
		op := &ops[i]
		op.kind = r.kind
		op.ns = b.str(r.ns)
		op.uid, op.service, op.state = nil, nil, nil
		if r.uid != "" || isLinkKind(r.kind) {
			op.uid = b.str(r.uid)
		}
		if r.kind != C.SF_BATCH_GET_LINK_SERVICES {
			op.service = b.str(r.svc)
		}
		if r.kind == C.SF_BATCH_SET_SERVICE_STATE || r.kind == C.SF_BATCH_SET_WORKLOAD_STATE {
			op.state = b.str(r.state)
		}
		op.pod, op.seconds = C.int32_t(r.pod), C.int32_t(r.seconds)
	}
	e.batch.batches.Add(1)
	st := Status(C.sf_execute_batch(e.ex, &ops[0], C.size_t(len(live)), &s.hdr.err))
	for i, r := range live {
		op := &ops[i]
		if st != 0 || op.status != 0 {
			code := Status(op.status)
			if code == 0 {
				code = st
			}
			r.err = &Error{Status: code, Op: r.op, Message: C.GoString(&op.error.message[0])}
			continue
		}
		r.outPod, r.outFlag = int(op.out_pod), bool(op.out_flag)
		switch r.kind {
		case C.SF_BATCH_GET_WORKLOAD_STATE:
			if op.out_text != nil {
				text := unsafe.Slice((*byte)(unsafe.Pointer(op.out_text)), C.strlen(op.out_text))
				if string(text) != *last {
					*last = string(text)
				}
				r.outText, r.outFlag = *last, true
			}
		case C.SF_BATCH_GET_SERVICE_STATE:
			r.outStates = podStates(b, op.out_states)
		case C.SF_BATCH_GET_LINK_SERVICES:
			r.outLinks = serviceLinks(b, op.out_links)
		}
	}
	C.sfgo_batch_free(&ops[0], C.size_t(len(live)))
	b.done()
	e.release(s)
	for _, r := range live {
		r.done <- struct{}{}
	}
}

func isLinkKind(k C.sf_batch_kind) bool {
	switch k {
	case C.SF_BATCH_SET_SERVICE_STATE, C.SF_BATCH_GET_SERVICE_STATE, C.SF_BATCH_SET_WORKLOAD_STATE,
		C.SF_BATCH_GET_WORKLOAD_STATE:
		return false
	}
	return true
}

// entriesFor lays out n entries in what is left of b (b itself is not advanced: each result
// reuses the same room), or in a one-off allocation when they do not fit.
func entriesFor(b cbuf, n int) (entries, cbuf) {
	arr := entriesIn(&b)
	if n <= arr.n {
		return arr, cbuf{}
	}
	big := cbuf{base: C.malloc(C.size_t(uintptr(n)*entrySize + 16)), size: uintptr(n)*entrySize + 16, owned: true}
	cAllocations.Add(1)
	return entriesIn(&big), big
}

// podStates reads a pod states object into a map (the object stays the caller's to free).
func podStates(b cbuf, obj *C.sf_pod_states) map[int]string {
	n := int(C.sf_pod_states_len(obj))
	arr, big := entriesFor(b, n)
	defer big.done()
	C.sfgo_pod_states_fill(obj, C.size_t(n), arr.pods, arr.lens, arr.ptrs)
	out := make(map[int]string, n)
	var seen interner
	for i := 0; i < n; i++ {
		pod, text := arr.entry(i)
		out[pod] = seen.get(text)
	}
	return out
}

func serviceLinks(b cbuf, obj *C.sf_service_links) map[string]int {
	n := int(C.sf_service_links_len(obj))
	arr, big := entriesFor(b, n)
	defer big.done()
	C.sfgo_service_links_fill(obj, C.size_t(n), arr.pods, arr.lens, arr.ptrs)
	out := make(map[string]int, n)
	for i := 0; i < n; i++ {
		pod, name := arr.entry(i)
		out[string(name)] = pod
	}
	return out
}
