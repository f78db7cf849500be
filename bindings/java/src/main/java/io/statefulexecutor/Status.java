package io.statefulexecutor;

/**
 * The outcome of a call, as the C API's {@code sf_status} codes (same names without the
 * {@code SF_} prefix, same numeric values). A {@link StatefulExecutorException} carries one.
 */
public enum Status {
    /** Success (never carried by an exception). */
    OK(0),
    /** A bad identifier, an out-of-range number, a NUL character or an unpaired surrogate. Nothing was sent to Redis. */
    INVALID_ARGUMENT(1),
    /** Cannot connect, the connection was lost, or another I/O error. */
    CONNECTION(2),
    /** The command did not complete within the command timeout. */
    TIMEOUT(3),
    /** No pooled connection became free within the pool wait timeout. */
    POOL_TIMEOUT(4),
    /** Authentication or authorization refused by the server. */
    AUTH(5),
    /** The server answered with an error (script error, READONLY, CROSSSLOT, OOM, ...). */
    REDIS(6),
    /** Data in Redis is not in the documented format (e.g. a link whose pod is not a number). */
    UNEXPECTED_REPLY(7),
    /** An invalid URL or configuration. */
    CONFIG(8),
    /** A bug: a caught panic or a broken invariant. */
    INTERNAL(9);

    private static final Status[] BY_CODE = values();

    private final int code;

    Status(int code) {
        this.code = code;
    }

    /** The numeric value of the C API's {@code sf_status}. */
    public int code() {
        return code;
    }

    /** The status of a numeric code; {@link #INTERNAL} for a code this version does not know. */
    public static Status fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : INTERNAL;
    }
}
