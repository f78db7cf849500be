package io.statefulexecutor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The native executor pointer and the guard that keeps it alive while calls use it: every call
 * counts itself in ({@link #acquire}) and out ({@link #release}); {@link #close} marks the
 * handle closed, fails the calls still queued for a batch ({@link Batcher#shutdown}), waits for
 * the calls already inside (each is bounded by the configured timeouts) and only then frees the
 * native executor. Calls that start after close fail with
 * {@link IllegalStateException}. It is also the Cleaner's action, so it never refers to the
 * {@link StatefulExecutor} that owns it.
 */
final class NativeHandle implements Runnable {
    private static final long CLOSED = 1L << 62;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(NativeHandle.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long pointer;
    /** Fails the calls still queued when closing; null until attached. */
    private volatile Batcher batcher;
    /** CLOSED bit | number of calls inside. */
    @SuppressWarnings("unused") // through STATE
    private volatile long state;
    /** Whether the native executor was freed; guarded by this. */
    private boolean freed;
    private volatile boolean closedExplicitly;

    NativeHandle(long pointer) {
        this.pointer = pointer;
    }

    /** The batcher whose queued calls closing fails. */
    void attach(Batcher batcher) {
        this.batcher = batcher;
    }

    /** Counts a call in and returns the pointer; throws when the executor is closed. */
    long acquire() {
        long before = (long) STATE.getAndAdd(this, 1L);
        if ((before & CLOSED) != 0) {
            release();
            throw new IllegalStateException("the executor is closed");
        }
        return pointer;
    }

    /** Counts a call out; the last one out of a closing executor wakes the closer. */
    void release() {
        long after = (long) STATE.getAndAdd(this, -1L) - 1L;
        if (after == CLOSED) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    boolean isClosed() {
        return ((long) STATE.getVolatile(this) & CLOSED) != 0;
    }

    /** Idempotent; returns once the native executor is freed. */
    synchronized void close() {
        closedExplicitly = true;
        closeNow();
    }

    /** The Cleaner's action: the owner became unreachable without close(). */
    @Override
    public void run() {
        synchronized (this) {
            if (!freed && !closedExplicitly) {
                System.getLogger(LogBridge.ROOT)
                        .log(System.Logger.Level.WARNING,
                                "a StatefulExecutor was never closed; closing it now (use try-with-resources or close())");
            }
            closeNow();
        }
    }

    private void closeNow() {
        if (freed) {
            return;
        }
        STATE.getAndBitwiseOr(this, CLOSED);
        Batcher queued = batcher;
        if (queued != null) {
            queued.shutdown();
        }
        boolean interrupted = false;
        while (((long) STATE.getVolatile(this) & ~CLOSED) != 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true; // finish closing first: freeing early would crash the callers
            }
        }
        freed = true;
        Native.close(pointer);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
