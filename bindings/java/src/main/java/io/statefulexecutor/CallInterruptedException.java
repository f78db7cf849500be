package io.statefulexecutor;

/**
 * A call stopped waiting because its thread was interrupted. The thread's interrupt flag stays
 * set. {@link #mayHaveRun()} says whether the operation had already been handed to the native
 * library (then it may or may not have run, and its outcome is discarded) or not (then nothing was
 * sent). Unchecked, and deliberately not a {@link StatefulExecutorException}: an interrupt asks the
 * thread to stop, it is not a Redis failure to retry.
 */
public class CallInterruptedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final boolean mayHaveRun;

    CallInterruptedException(boolean mayHaveRun) {
        super(mayHaveRun
                ? "interrupted while waiting for the reply; the operation may or may not have run"
                : "interrupted before the operation was sent; it did not run");
        this.mayHaveRun = mayHaveRun;
    }

    /** Whether the operation had been sent (it may then have run); false: it certainly did not run. */
    public boolean mayHaveRun() {
        return mayHaveRun;
    }
}
