package io.statefulexecutor;

import java.nio.charset.StandardCharsets;

/** A call failed; {@link #status()} says how. Unchecked, like the other Redis clients' errors. */
public class StatefulExecutorException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status status;

    public StatefulExecutorException(Status status, String message) {
        super(status.name() + ": " + message);
        this.status = status;
    }

    /** Made by the native glue: the code and the UTF-8 message of an {@code sf_error}. */
    StatefulExecutorException(int code, byte[] utf8Message) {
        this(Status.fromCode(code), new String(utf8Message, StandardCharsets.UTF_8));
    }

    /** Why the call failed. */
    public Status status() {
        return status;
    }
}
