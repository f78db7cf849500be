package io.statefulexecutor;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Hands concurrent calls to the native library together, as the Go package does.
 *
 * <p>A call blocked in native code holds its thread, and on a virtual thread it pins the carrier.
 * So a call that finds another call inside the library does not enter it itself: it queues a
 * {@link Call} and parks in Java (a virtual thread unmounts), and one of {@link #RUNNERS} runner
 * threads hands everything queued to {@code sf_execute_batch} in one JNI call: one thread blocked,
 * one write and one read on one connection for the whole batch. A lone caller on a platform
 * thread still enters C directly. A call from a virtual thread never does: every one is queued,
 * so no virtual thread ever waits inside native code. The operations {@code sf_execute_batch}
 * cannot carry (the multi-key reads, computeLinkedPod, ping) run directly on a platform thread
 * and, from a virtual thread, on one of a few worker threads while the caller parks.
 *
 * <p>Bounds: a queued call gives up at its deadline, pool wait + connect + command timeout after
 * it started, the bound of a single call: still queued, it fails with {@link Status#POOL_TIMEOUT}
 * and was not sent; already taken by a runner, it fails with {@link Status#TIMEOUT} and may or may
 * not have run. An interrupted caller stops waiting the same way ({@link CallInterruptedException}).
 * {@link #shutdown()} fails every queued call with {@link IllegalStateException}.
 */
final class Batcher {
    /** The C API's {@code SF_BATCH_*} kinds. */
    static final int SET_SERVICE_STATE = 1;
    static final int GET_SERVICE_STATE = 2;
    static final int SET_WORKLOAD_STATE = 3;
    static final int GET_WORKLOAD_STATE = 4;
    static final int SET_LINKED_POD = 5;
    static final int TRY_SET_LINKED_POD = 6;
    static final int SET_LINKED_POD_IF_ABSENT = 7;
    static final int GET_LINKED_POD = 8;
    static final int GET_LINKED_POD_IF_PERSIST = 9;
    static final int REMOVE_LINKED_POD = 10;
    static final int REMOVE_LINKED_POD_WITH_ID = 11;
    static final int GET_LINK_SERVICES = 12;

    /**
     * How many batches may be inside the library at once: two, so that one batch's callers run
     * their Java code (and queue their next calls) while the other batch is at the server. The Go
     * package measured 1 to 16 and kept 2; here 1 to 4 runners (16 platform threads, 1,000
     * virtual threads, setLinkedPod) were within the machine's noise of each other.
     */
    static final int RUNNERS = 2;

    /** The most calls one batch carries; more stay queued for the next runner. */
    static final int MAX_BATCH = 256;

    /** A call's outcome besides the sf_status codes (which are 0 and up). */
    static final int CLOSED = -1;
    static final int EXPIRED = -2;
    static final int THREW = -3;

    /** Set to true to route every call through the runners and workers, as a virtual thread's (tests). */
    static final String EVERY_CALL_PROPERTY = "statefulexecutor.batchEveryCall";

    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();
    private static final VarHandle HEAD;
    private static final VarHandle IN_FLIGHT;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            HEAD = lookup.findVarHandle(Batcher.class, "head", Call.class);
            IN_FLIGHT = lookup.findVarHandle(Batcher.class, "inFlight", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final NativeHandle handle;
    private final long boundNanos;
    /** False on a Redis Cluster, where sf_execute_batch runs its entries one after another. */
    private final boolean batching;
    private final boolean everyCall;
    private final Runner[] runners = new Runner[RUNNERS];
    private final AtomicInteger started = new AtomicInteger();
    private final ThreadPoolExecutor workers;

    /** The queued calls, newest first, linked through {@link Call#next}. */
    @SuppressWarnings("unused") // through HEAD
    private volatile Call head;

    /** Native calls of this executor in progress: lone calls, batches, worker calls. */
    @SuppressWarnings("unused") // through IN_FLIGHT
    private volatile int inFlight;

    private volatile boolean closed;

    /** Batches run and the calls they carried (tests and diagnostics). */
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong batchedCalls = new AtomicLong();

    Batcher(NativeHandle handle, long boundNanos, boolean batching, boolean everyCall, int workerCount) {
        this.handle = handle;
        this.boundNanos = boundNanos;
        this.batching = batching;
        this.everyCall = everyCall;
        for (int i = 0; i < RUNNERS; i++) {
            runners[i] = new Runner(this, i + 1);
        }
        AtomicInteger workerNumber = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(
                workerCount, workerCount, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), task -> {
                    Thread t = new Thread(task, "stateful-executor-call-" + workerNumber.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        workers.allowCoreThreadTimeOut(true);
    }

    // ---- the caller's side ----

    /**
     * For a call that sf_execute_batch can carry: the executor pointer when the call should enter
     * C on this thread (then {@link #leave()} after it), or 0 when it must be queued with
     * {@link #submit}. Throws when the executor is closed or the thread interrupted.
     */
    long enterAlone() {
        if (Thread.currentThread().isInterrupted()) {
            throw new CallInterruptedException(false);
        }
        if (handOff()) {
            return 0;
        }
        if (batching && ((int) IN_FLIGHT.getVolatile(this) != 0 || !IN_FLIGHT.compareAndSet(this, 0, 1))) {
            return 0;
        }
        if (!batching) {
            IN_FLIGHT.getAndAdd(this, 1);
        }
        try {
            return handle.acquire();
        } catch (RuntimeException e) {
            IN_FLIGHT.getAndAdd(this, -1);
            throw e;
        }
    }

    /** Ends a call that {@link #enterAlone} let enter C. */
    void leave() {
        IN_FLIGHT.getAndAdd(this, -1);
        handle.release();
    }

    /** An operation sf_execute_batch cannot carry: a native call given the executor pointer. */
    @FunctionalInterface
    interface NativeCall<T> {
        T call(long ex);
    }

    /**
     * Runs {@code op} on this thread, or, for a virtual thread, on a worker thread while this one
     * parks; either way within the call's bounds.
     */
    @SuppressWarnings("unchecked")
    <T> T run(NativeCall<T> op) {
        if (Thread.currentThread().isInterrupted()) {
            throw new CallInterruptedException(false);
        }
        if (!handOff()) {
            long ex = handle.acquire();
            IN_FLIGHT.getAndAdd(this, 1);
            try {
                return op.call(ex);
            } finally {
                IN_FLIGHT.getAndAdd(this, -1);
                handle.release();
            }
        }
        Call call = new Call(Thread.currentThread(), System.nanoTime() + boundNanos);
        call.solo = op;
        toWorker(call);
        await(call);
        return (T) call.value;
    }

    /**
     * Queues one operation for the next batch and waits for its outcome; returns the call, done
     * and successful (its pod, flag and data are the results), or throws its failure.
     */
    Call submit(int kind, byte[] args, int pod, int seconds) {
        if (closed) {
            throw closedException();
        }
        Call call = new Call(Thread.currentThread(), System.nanoTime() + boundNanos);
        call.kind = kind;
        call.args = args;
        call.pod = pod;
        call.seconds = seconds;
        if (!batching) {
            toWorker(call); // a batch of one on a worker: a Cluster runs batches entry by entry
        } else {
            if (started.get() == 0) {
                start();
            }
            Call first;
            do {
                first = (Call) HEAD.getVolatile(this);
                call.next = first;
            } while (!HEAD.compareAndSet(this, first, call));
            if (first == null) {
                wakeRunner();
            }
            // shutdown() sets closed, then drains the queue: one of the two sees this call.
            if (closed && call.abandon(Call.QUEUED)) {
                throw closedException();
            }
        }
        await(call);
        return call;
    }

    private boolean handOff() {
        if (everyCall) {
            return true;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
        } catch (Throwable e) {
            throw new AssertionError(e);
        }
    }

    private void toWorker(Call call) {
        try {
            workers.execute(call);
        } catch (RejectedExecutionException e) {
            throw closedException();
        }
    }

    /** Parks until the call is done, its deadline passes, or the thread is interrupted. */
    private void await(Call call) {
        for (;;) {
            int state = call.state;
            if (state == Call.DONE) {
                break;
            }
            if (Thread.currentThread().isInterrupted()) {
                if (call.abandon(Call.QUEUED)) {
                    throw new CallInterruptedException(false);
                }
                if (call.abandon(Call.TAKEN)) {
                    throw new CallInterruptedException(true);
                }
                continue; // done meanwhile
            }
            long left = call.deadline - System.nanoTime();
            if (left <= 0) {
                if (call.abandon(Call.QUEUED)) {
                    throw expired();
                }
                if (call.abandon(Call.TAKEN)) {
                    throw new StatefulExecutorException(Status.TIMEOUT,
                            "no reply within " + millis() + " ms (pool wait + connect + command timeout);"
                                    + " the operation may or may not have run");
                }
                continue;
            }
            LockSupport.parkNanos(this, left);
        }
        switch (call.status) {
            case 0 -> {}
            case CLOSED -> throw closedException();
            case EXPIRED -> throw expired();
            case THREW -> throw rethrown(call.thrown);
            default -> throw new StatefulExecutorException(call.status, call.data);
        }
    }

    private long millis() {
        return boundNanos / 1_000_000;
    }

    private StatefulExecutorException expired() {
        return new StatefulExecutorException(Status.POOL_TIMEOUT,
                "waited " + millis() + " ms (pool wait + connect + command timeout) for a turn; not sent");
    }

    static IllegalStateException closedException() {
        return new IllegalStateException("the executor is closed");
    }

    /**
     * A failure thrown on a runner or worker, for its caller: a StatefulExecutorException anew
     * (each caller its own, with its own stack trace; the worker's says nothing to the caller),
     * anything else as it is.
     */
    private static RuntimeException rethrown(Throwable thrown) {
        if (thrown instanceof StatefulExecutorException e) {
            String prefix = e.status().name() + ": ";
            String message = e.getMessage();
            return new StatefulExecutorException(
                    e.status(), message.startsWith(prefix) ? message.substring(prefix.length()) : message);
        }
        if (thrown instanceof RuntimeException e) {
            return e;
        }
        if (thrown instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(thrown);
    }

    // ---- runners ----

    private void start() {
        if (started.compareAndSet(0, 1)) {
            for (Runner runner : runners) {
                runner.thread.start();
            }
        }
    }

    private void wakeRunner() {
        for (Runner runner : runners) {
            if (runner.idle && Runner.IDLE.compareAndSet(runner, true, false)) {
                LockSupport.unpark(runner.thread);
                return;
            }
        }
    }

    /**
     * The oldest queued calls, at most {@link #MAX_BATCH}, in arrival order into {@code batch};
     * the newer ones go back to the queue. Returns how many.
     */
    private int takeQueued(Call[] batch) {
        Call newest = (Call) HEAD.getAndSet(this, null);
        if (newest == null) {
            return 0;
        }
        int count = 0;
        for (Call c = newest; c != null; c = c.next) {
            count++;
        }
        Call oldest = newest;
        if (count > MAX_BATCH) {
            Call lastKept = newest; // the newest count - MAX_BATCH calls go back, in order
            for (int i = 1; i < count - MAX_BATCH; i++) {
                lastKept = lastKept.next;
            }
            oldest = lastKept.next;
            Call first;
            do {
                first = (Call) HEAD.getVolatile(this);
                lastKept.next = first;
            } while (!HEAD.compareAndSet(this, first, newest));
            wakeRunner();
            count = MAX_BATCH;
        }
        for (int i = count - 1; i >= 0; i--) {
            batch[i] = oldest;
            Call after = oldest.next;
            oldest.next = null;
            oldest = after;
        }
        return count;
    }

    /** One runner: takes what is queued and runs it in one native call, until shut down. */
    private static final class Runner implements Runnable {
        static final VarHandle IDLE;

        static {
            try {
                IDLE = MethodHandles.lookup().findVarHandle(Runner.class, "idle", boolean.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final Batcher batcher;
        final Thread thread;
        final Call[] batch = new Call[MAX_BATCH];
        final BatchBuffers buffers = new BatchBuffers();
        volatile boolean idle;

        Runner(Batcher batcher, int number) {
            this.batcher = batcher;
            this.thread = new Thread(this, "stateful-executor-batch-" + number);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            Batcher b = batcher;
            for (;;) {
                int count = b.takeQueued(batch);
                if (count > 0) {
                    b.runBatch(batch, count, buffers);
                    continue;
                }
                if (b.closed) {
                    return;
                }
                idle = true;
                // Seen by a caller that queues after this (it wakes an idle runner), or seen here.
                if ((Call) HEAD.getVolatile(b) != null || b.closed) {
                    if (IDLE.compareAndSet(this, true, false)) {
                        continue;
                    }
                }
                while (idle) {
                    LockSupport.park(b);
                }
            }
        }
    }

    /**
     * Runs the calls of {@code batch} that are still wanted in one sf_execute_batch call and
     * completes each. Entries past {@code count} are cleared.
     */
    private void runBatch(Call[] batch, int count, BatchBuffers buffers) {
        long now = System.nanoTime();
        int live = 0;
        for (int i = 0; i < count; i++) {
            Call call = batch[i];
            batch[i] = null;
            if (!call.take()) {
                continue; // its caller gave up
            }
            if (now - call.deadline >= 0) {
                call.finish(EXPIRED);
            } else {
                batch[live++] = call;
            }
        }
        if (live == 0) {
            return;
        }
        execute(batch, live, buffers);
        for (int i = 0; i < live; i++) {
            batch[i].complete();
            batch[i] = null;
        }
    }

    /** Runs calls[0..count) in one native call and writes each one's outcome (not yet completed). */
    private void execute(Call[] calls, int count, BatchBuffers buffers) {
        long ex;
        try {
            ex = handle.acquire();
        } catch (IllegalStateException closedNow) {
            for (int i = 0; i < count; i++) {
                calls[i].outcome(CLOSED);
            }
            return;
        }
        IN_FLIGHT.getAndAdd(this, 1);
        batches.incrementAndGet();
        batchedCalls.addAndGet(count);
        try {
            buffers.run(ex, calls, count);
        } catch (Throwable e) {
            for (int i = 0; i < count; i++) {
                calls[i].thrown = e;
                calls[i].outcome(THREW);
            }
        } finally {
            IN_FLIGHT.getAndAdd(this, -1);
            handle.release();
        }
    }

    /** Native calls in progress now: lone calls, batches, worker calls. */
    int inFlight() {
        return (int) IN_FLIGHT.getVolatile(this);
    }

    long batchesRun() {
        return batches.get();
    }

    long callsBatched() {
        return batchedCalls.get();
    }

    // ---- closing ----

    /**
     * Stops taking calls: fails every queued call with {@link IllegalStateException} and lets the
     * runners and workers exit once their current native call returned. Idempotent.
     */
    void shutdown() {
        closed = true;
        Call newest = (Call) HEAD.getAndSet(this, null);
        for (Call c = newest; c != null; ) {
            Call after = c.next;
            c.next = null;
            if (c.take()) {
                c.finish(CLOSED);
            }
            c = after;
        }
        for (Runner runner : runners) {
            if (Runner.IDLE.compareAndSet(runner, true, false)) {
                LockSupport.unpark(runner.thread);
            }
        }
        List<Runnable> never = workers.shutdownNow();
        for (Runnable task : never) {
            Call c = (Call) task;
            if (c.take()) {
                c.finish(CLOSED);
            }
        }
    }

    // ---- one call ----

    /** One queued call: its arguments, then its outcome. */
    final class Call implements Runnable {
        static final int QUEUED = 0;
        static final int TAKEN = 1;
        static final int DONE = 2;
        static final int ABANDONED = 3;

        final Thread waiter;
        final long deadline;
        Call next;
        volatile int state;

        int kind;
        byte[] args;
        int pod;
        int seconds;
        NativeCall<?> solo;

        /** 0, an sf_status code (then {@link #data} is the UTF-8 message), or CLOSED, EXPIRED, THREW. */
        int status;
        int outPod;
        boolean outFlag;
        /** The text or packed entries of a read, or null (an absent text). */
        byte[] data;
        Object value;
        Throwable thrown;

        Call(Thread waiter, long deadline) {
            this.waiter = waiter;
            this.deadline = deadline;
        }

        /** A runner or worker takes the call; false when its caller gave up. */
        boolean take() {
            return STATE.compareAndSet(this, QUEUED, TAKEN);
        }

        /** The caller gives up, when the call is still in state {@code from}. */
        boolean abandon(int from) {
            return STATE.compareAndSet(this, from, ABANDONED);
        }

        void outcome(int code) {
            status = code;
        }

        /** Records the outcome and wakes the caller (unless it gave up). */
        void finish(int code) {
            status = code;
            complete();
        }

        void complete() {
            if (STATE.compareAndSet(this, TAKEN, DONE)) {
                LockSupport.unpark(waiter);
            }
        }

        /** A worker runs one call that was handed off. */
        @Override
        public void run() {
            if (!take()) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                finish(EXPIRED);
                return;
            }
            long ex;
            try {
                ex = handle.acquire();
            } catch (IllegalStateException closedNow) {
                finish(CLOSED);
                return;
            }
            IN_FLIGHT.getAndAdd(Batcher.this, 1);
            try {
                if (solo != null) {
                    value = solo.call(ex);
                } else {
                    WORKER_BUFFERS.get().run(ex, new Call[] {this}, 1);
                }
            } catch (Throwable e) {
                thrown = e;
                status = THREW;
            } finally {
                IN_FLIGHT.getAndAdd(Batcher.this, -1);
                handle.release();
            }
            complete();
        }
    }

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Call.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The buffers of a worker that runs a Cluster's calls one at a time. */
    private static final ThreadLocal<BatchBuffers> WORKER_BUFFERS = ThreadLocal.withInitial(BatchBuffers::new);

    // ---- the native batch ----

    /**
     * A runner's native memory, reused batch after batch (so a batch allocates nothing but the
     * results' byte arrays). Layouts, shared with executeBatch in the JNI glue:
     * <ul>
     *   <li>{@code in}: per call four int32 (kind, pod, seconds, length of its strings), then every
     *       call's strings (NUL-terminated UTF-8, in {@link Utf8#pack} order) one after the other;
     *   <li>{@code out}: per call four int32 (status, pod, flag, length of its data, -1 for an
     *       absent text), then every call's data: the error message when the status is not 0, else
     *       the workload state's bytes, or the packed entries of pod states or service links;
     *   <li>{@code ops}: room for the sf_batch_op array, which Java never reads.
     * </ul>
     */
    static final class BatchBuffers {
        private static final int OP_SIZE = Native.batchOpSize();
        private static final int MAX_OUT = 4 << 20;

        private ByteBuffer in = direct(16 << 10);
        private ByteBuffer out = direct(64 << 10);
        private ByteBuffer ops = direct(64 * OP_SIZE);

        private static ByteBuffer direct(int size) {
            return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
        }

        void run(long ex, Call[] calls, int count) {
            int size = 16 * count;
            for (int i = 0; i < count; i++) {
                size += calls[i].args.length;
            }
            if (size > in.capacity()) {
                in = direct(Math.max(size, 2 * in.capacity()));
            }
            if (count * OP_SIZE > ops.capacity()) {
                ops = direct(MAX_BATCH * OP_SIZE);
            }
            ByteBuffer request = in;
            int pos = 16 * count;
            for (int i = 0; i < count; i++) {
                Call c = calls[i];
                int at = 16 * i;
                request.putInt(at, c.kind);
                request.putInt(at + 4, c.pod);
                request.putInt(at + 8, c.seconds);
                request.putInt(at + 12, c.args.length);
                request.put(pos, c.args);
                pos += c.args.length;
            }
            byte[] spilled = Native.executeBatch(ex, request, count, out, ops);
            ByteBuffer results = out;
            if (spilled != null) {
                results = ByteBuffer.wrap(spilled).order(ByteOrder.nativeOrder());
                out = direct(Math.min(MAX_OUT, Math.max(spilled.length, 2 * out.capacity())));
            }
            pos = 16 * count;
            for (int i = 0; i < count; i++) {
                Call c = calls[i];
                int at = 16 * i;
                c.status = results.getInt(at);
                c.outPod = results.getInt(at + 4);
                c.outFlag = results.getInt(at + 8) != 0;
                int length = results.getInt(at + 12);
                if (length > 0) {
                    byte[] data = new byte[length];
                    results.get(pos, data);
                    pos += length;
                    c.data = data;
                } else {
                    c.data = length < 0 ? null : EMPTY;
                }
            }
        }

        private static final byte[] EMPTY = new byte[0];
    }

    // ---- virtual threads ----

    /** Thread.isVirtual() on Java 21 and later, always false before (the jar targets Java 17). */
    private static MethodHandle isVirtualHandle() {
        try {
            return MethodHandles.publicLookup()
                    .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (NoSuchMethodException | IllegalAccessException before21) {
            return MethodHandles.dropArguments(MethodHandles.constant(boolean.class, false), 0, Thread.class);
        }
    }
}
