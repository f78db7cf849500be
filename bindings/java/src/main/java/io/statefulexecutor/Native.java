package io.statefulexecutor;

import java.nio.ByteBuffer;

/**
 * The JNI glue (src/main/c/stateful_executor_jni.c). Strings go in as NUL-terminated UTF-8
 * packed by {@link Utf8}; failures come back as a thrown {@link StatefulExecutorException}.
 * Results with several strings come back as one packed array (see {@link StatefulExecutor}).
 */
final class Native {
    private Native() {}

    static {
        NativeLibrary.load();
        LogBridge.install();
    }

    /** Loads the class (and so the library) now; a no-op after the first call. */
    static void ensureLoaded() {}

    // ---- library ----

    static native byte[] version();

    /** Installs (maxLevel > 0) or removes (0) the process-wide log callback; returns an sf_status. */
    static native int setLogger(int maxLevel);

    // ---- lifecycle ----

    /**
     * Builds an sf_config and opens an executor with it; returns the sf_executor pointer. Every
     * byte[] is NUL-terminated UTF-8, null when not set.
     *
     * @param topology 0 single server, 1 cluster, 2 sentinel
     * @param urls the URLs (one, the seeds or the sentinels), packed
     * @param settings pool max, pool min idle, connect / command / pool-wait timeout (ms),
     *     pipelining (0 off, 1 on), pipelining min in flight; -1 = default
     * @param masterAuth whether to call sf_config_set_sentinel_master_auth (user, password may be null)
     */
    static native long open(
            int topology, byte[] urls, int urlCount, int[] settings, byte[] masterName,
            boolean masterAuth, byte[] masterUser, byte[] masterPassword,
            byte[] tlsCaFile, byte[] tlsCertFile, byte[] tlsKeyFile);

    static native void close(long ex);

    static native void ping(long ex);

    static native void stats(long ex, long[] out);

    // ---- operations: args = the strings, NUL-terminated, in the C API's order ----

    static native void setServiceState(long ex, byte[] nsServiceState, int pod);

    /** Packed entries (sf_packed) in pod order: int32 pod, int32 length, the state's UTF-8 bytes, NUL. */
    static native byte[] getServiceState(long ex, byte[] nsService);

    static native void setWorkloadState(long ex, byte[] nsServiceState);

    /** The state's UTF-8 bytes (no NUL), or null when absent. */
    static native byte[] getWorkloadState(long ex, byte[] nsService);

    /**
     * Packed entries (sf_packed) in input order: int32 index, int32 length (-1 absent), then the
     * state's UTF-8 bytes and a NUL unless absent.
     */
    static native byte[] getWorkloadStates(long ex, byte[] nsServices, int count);

    static native int setLinkedPod(long ex, byte[] nsUidService, int pod, int persistSeconds);

    /** linked in bit 32, the current pod in the low 32 bits. */
    static native long trySetLinkedPod(long ex, byte[] nsUidService, int pod, int persistSeconds);

    static native int setLinkedPodIfAbsent(long ex, byte[] nsUidService, int pod, int persistSeconds);

    static native int getLinkedPod(long ex, byte[] nsUidService);

    static native int getLinkedPodIfPersist(long ex, byte[] nsUidService);

    /** Fills outPods (length count) with each uid's pod, -1 when absent. */
    static native void batchGetLinkedPods(long ex, byte[] nsServiceUids, int count, int[] outPods);

    static native boolean removeLinkedPod(long ex, byte[] nsUidService, int keepSeconds);

    static native boolean removeLinkedPodWithId(long ex, byte[] nsUidService, int keepSeconds, int pod);

    static native boolean touchLinkedPod(long ex, byte[] nsUidService, int pod, int persistSeconds);

    /** Packed entries (sf_packed) in service order: int32 pod, int32 length, the service's UTF-8 bytes, NUL. */
    static native byte[] getLinkServices(long ex, byte[] nsUid);

    static native int computeLinkedPod(
            long ex, byte[] nsUidService, int[] pods, long[] loads, int persistSeconds);

    // ---- batches (Batcher) ----

    /** sizeof(sf_batch_op): the room executeBatch needs per call in its {@code ops} buffer. */
    static native int batchOpSize();

    /**
     * Runs {@code count} calls described in the direct buffer {@code in} with one
     * sf_execute_batch and writes their outcomes into the direct buffer {@code out} (layouts in
     * {@link Batcher.BatchBuffers}); {@code ops} is scratch room for the sf_batch_op array. Returns
     * null, or, when the outcomes do not fit in {@code out}, a new array holding all of them in
     * the same layout.
     */
    static native byte[] executeBatch(long ex, ByteBuffer in, int count, ByteBuffer out, ByteBuffer ops);
}
