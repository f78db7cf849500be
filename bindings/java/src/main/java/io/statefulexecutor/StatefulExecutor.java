package io.statefulexecutor;

import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Keeps the routing state of stateful services in Redis: pod states, workload states and sticky
 * uid-to-pod links, in exactly the keys the existing Java and Go services use.
 *
 * <p>Thread-safe: share one executor per process. Every call blocks its thread until Redis
 * answers or its bound passes: pool wait + connect + command timeout (3 s with the defaults).
 * A lone caller runs inside the native library on its own thread; calls made while another call
 * is in flight are queued and handed to the library together, in one batch, while their threads
 * park in Java. Calls from virtual threads are always handed off that way, so a virtual thread
 * never waits inside native code and never pins its carrier.
 *
 * <p>Failures throw {@link StatefulExecutorException}; a {@code null} argument throws
 * {@link NullPointerException}; calls after {@link #close()}, and calls still queued when it
 * runs, throw {@link IllegalStateException}. A string holding a NUL character or an unpaired
 * surrogate is refused with {@link Status#INVALID_ARGUMENT} before anything is sent. A call
 * still waiting for its turn at its deadline throws {@link Status#POOL_TIMEOUT} (nothing sent);
 * one whose batch has not answered by then throws {@link Status#TIMEOUT} (it may have run).
 *
 * <p>Interrupts: a call made on an interrupted thread, or whose thread is interrupted while it
 * waits in Java, throws {@link CallInterruptedException} at once and leaves the interrupt flag
 * set ({@link CallInterruptedException#mayHaveRun()} tells whether it had been sent). A lone
 * caller inside native code cannot be interrupted there: it returns within its bound, with the
 * flag still set.
 *
 * <pre>{@code
 * try (StatefulExecutor executor = StatefulExecutor.open("redis://127.0.0.1:6379")) {
 *     int pod = executor.setLinkedPodIfAbsent("prod", "user-42", "chat", 3, -1);
 * }
 * }</pre>
 */
public final class StatefulExecutor implements AutoCloseable {
    /** The value of a pod result when there is no link. */
    public static final int NO_POD = -1;

    /** persistSeconds: the link never expires. */
    public static final int PERSISTENT = -1;

    private static final Cleaner CLEANER = Cleaner.create();

    private final NativeHandle handle;
    private final Batcher calls;
    private final Cleaner.Cleanable cleanable;
    /**
     * The client cache is on: the reads it serves enter the library one by one (on this thread,
     * or a worker's for a virtual thread), where a hit costs no round trip and a miss fills the
     * cache; a batch would do neither.
     */
    private final boolean cached;

    private StatefulExecutor(long pointer, long boundNanos, boolean batching, boolean everyCall, int workers,
            boolean cached) {
        this.cached = cached;
        this.handle = new NativeHandle(pointer);
        this.calls = new Batcher(handle, boundNanos, batching, everyCall, workers);
        handle.attach(calls);
        this.cleanable = CLEANER.register(this, handle);
    }

    /** The call queue and its runners (tests look at its counters). */
    Batcher batcher() {
        return calls;
    }

    /**
     * Opens an executor on one server with the default pool (at most 16 connections) and
     * timeouts (1 s each). {@code url}: {@code redis://[user:password@]host:port[/db]},
     * {@code rediss://...} for TLS, or {@code unix:///path/to/socket}.
     */
    public static StatefulExecutor open(String url) {
        return builder(url).open();
    }

    /** A configuration for one server, to adjust before {@link Builder#open()}. */
    public static Builder builder(String url) {
        Objects.requireNonNull(url, "url");
        return new Builder(0, List.of(url), null);
    }

    /** A configuration for a Redis Cluster: the URLs of any reachable subset of its nodes. */
    public static Builder clusterBuilder(List<String> seedUrls) {
        return new Builder(1, List.copyOf(Objects.requireNonNull(seedUrls, "seedUrls")), null);
    }

    /**
     * A configuration for a primary monitored by Redis Sentinel: the sentinels' URLs and the name
     * they monitor the primary under. The executor follows failovers.
     */
    public static Builder sentinelBuilder(List<String> sentinelUrls, String masterName) {
        return new Builder(
                2,
                List.copyOf(Objects.requireNonNull(sentinelUrls, "sentinelUrls")),
                Objects.requireNonNull(masterName, "masterName"));
    }

    /** The native library's version, e.g. {@code 0.3.0}. */
    public static String nativeVersion() {
        Native.ensureLoaded();
        return new String(Native.version(), StandardCharsets.UTF_8);
    }

    /**
     * Reads again which levels the {@code stateful_executor} System.Logger accepts, and from then on
     * forwards the native library's records up to that level (the library's logging is
     * process-wide: this affects every executor).
     */
    public static void refreshLogLevel() {
        Native.ensureLoaded();
        LogBridge.install();
    }

    // ---- lifecycle ----

    /** Checks that the server answers (PING). */
    public void ping() {
        calls.run(ex -> {
            Native.ping(ex);
            return null;
        });
    }

    /** Pool, call and client cache counters since open. */
    public Stats stats() {
        long[] v = new long[15];
        long ex = handle.acquire();
        try {
            Native.stats(ex, v);
        } finally {
            handle.release();
        }
        return new Stats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
                v[13], v[14]);
    }

    /**
     * Closes the pool. Idempotent. Calls already inside the native library finish first (each is
     * bounded by the timeouts); calls still queued for a batch, and calls that start afterwards,
     * throw {@link IllegalStateException}.
     */
    @Override
    public void close() {
        handle.close();
        cleanable.clean();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return handle.isClosed();
    }

    // ---- pod and workload states ----

    /** Publishes the state of one pod of a service. */
    public void setServiceState(String ns, String svc, int pod, String state) {
        byte[] args = Utf8.pack("ns", ns, "svc", svc, "state", state);
        long ex = calls.enterAlone();
        if (ex == 0) {
            calls.submit(Batcher.SET_SERVICE_STATE, args, pod, 0);
            return;
        }
        try {
            Native.setServiceState(ex, args, pod);
        } finally {
            calls.leave();
        }
    }

    /** Every pod's state of a service, iterated in pod order; empty when none. */
    public Map<Integer, String> getServiceState(String ns, String svc) {
        byte[] args = Utf8.pack("ns", ns, "svc", svc);
        byte[] packed;
        long ex = cached ? 0 : calls.enterAlone();
        if (cached) {
            packed = calls.run(e -> Native.getServiceState(e, args));
        } else if (ex == 0) {
            packed = calls.submit(Batcher.GET_SERVICE_STATE, args, 0, 0).data;
        } else {
            try {
                packed = Native.getServiceState(ex, args);
            } finally {
                calls.leave();
            }
        }
        return decodePodKeyed(packed);
    }

    /** Sets the state of the whole service (no expiry). */
    public void setWorkloadState(String ns, String svc, String state) {
        byte[] args = Utf8.pack("ns", ns, "svc", svc, "state", state);
        long ex = calls.enterAlone();
        if (ex == 0) {
            calls.submit(Batcher.SET_WORKLOAD_STATE, args, 0, 0);
            return;
        }
        try {
            Native.setWorkloadState(ex, args);
        } finally {
            calls.leave();
        }
    }

    /** The state of the service, or {@code null} when absent. */
    public String getWorkloadState(String ns, String svc) {
        byte[] args = Utf8.pack("ns", ns, "svc", svc);
        byte[] state;
        long ex = cached ? 0 : calls.enterAlone();
        if (cached) {
            state = calls.run(e -> Native.getWorkloadState(e, args));
        } else if (ex == 0) {
            state = calls.submit(Batcher.GET_WORKLOAD_STATE, args, 0, 0).data;
        } else {
            try {
                state = Native.getWorkloadState(ex, args);
            } finally {
                calls.leave();
            }
        }
        return state == null ? null : Utf8.decode(state, 0, state.length);
    }

    /**
     * The states of several services, in one round trip per Redis node; services without a
     * state are left out. Iterated in input order.
     */
    public Map<String, String> getWorkloadStateBatch(String ns, List<String> svcs) {
        String[] services = Utf8.snapshot("svcs", svcs);
        byte[] args = Utf8.packWithList("svcs", services, "ns", ns);
        int count = services.length;
        if (count == 0) {
            return new LinkedHashMap<>();
        }
        byte[] packed = calls.run(ex -> Native.getWorkloadStates(ex, args, count));
        Map<String, String> states = new LinkedHashMap<>(capacity(count));
        for (int pos = 0; pos < packed.length; ) {
            int index = readInt(packed, pos);
            int length = readInt(packed, pos + 4);
            if (length >= 0) {
                states.put(services[index], Utf8.decode(packed, pos + 8, length));
            }
            pos = next(pos, length);
        }
        return states;
    }

    // ---- links ----

    /**
     * Links the uid to {@code pod} of {@code svc}: persistent with {@code persistSeconds} -1,
     * else temporary for that many seconds. Returns the previous pod, or -1.
     */
    public int setLinkedPod(String ns, String uid, String svc, int pod, int persistSeconds) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.SET_LINKED_POD, args, pod, persistSeconds).outPod;
        }
        try {
            return Native.setLinkedPod(ex, args, pod, persistSeconds);
        } finally {
            calls.leave();
        }
    }

    /**
     * Like {@link #setLinkedPod}, but refused when a persistent link to a different pod exists:
     * then nothing changes and the result is (false, that pod); otherwise (true, pod).
     */
    public TrySetResult trySetLinkedPod(String ns, String uid, String svc, int pod, int persistSeconds) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            Batcher.Call done = calls.submit(Batcher.TRY_SET_LINKED_POD, args, pod, persistSeconds);
            return new TrySetResult(done.outFlag, done.outPod);
        }
        long packed;
        try {
            packed = Native.trySetLinkedPod(ex, args, pod, persistSeconds);
        } finally {
            calls.leave();
        }
        return new TrySetResult((packed >>> 32) != 0, (int) packed);
    }

    /**
     * Links the uid to {@code pod} unless any link exists; returns the pod linked now. Among any
     * number of concurrent callers exactly one writes, and all get the same pod.
     */
    public int setLinkedPodIfAbsent(String ns, String uid, String svc, int pod, int persistSeconds) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.SET_LINKED_POD_IF_ABSENT, args, pod, persistSeconds).outPod;
        }
        try {
            return Native.setLinkedPodIfAbsent(ex, args, pod, persistSeconds);
        } finally {
            calls.leave();
        }
    }

    /** The uid's pod for {@code svc} (persistent or temporary link), or -1. */
    public int getLinkedPod(String ns, String uid, String svc) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        if (cached) {
            return calls.run(e -> Native.getLinkedPod(e, args));
        }
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.GET_LINKED_POD, args, 0, 0).outPod;
        }
        try {
            return Native.getLinkedPod(ex, args);
        } finally {
            calls.leave();
        }
    }

    /** The uid's pod for {@code svc} only when the link is persistent, or -1. */
    public int getLinkedPodIfPersist(String ns, String uid, String svc) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        if (cached) {
            return calls.run(e -> Native.getLinkedPodIfPersist(e, args));
        }
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.GET_LINKED_POD_IF_PERSIST, args, 0, 0).outPod;
        }
        try {
            return Native.getLinkedPodIfPersist(ex, args);
        } finally {
            calls.leave();
        }
    }

    /**
     * The uids linked to each pod of {@code svc}, in one round trip per Redis node; unlinked
     * uids are left out. Pods iterated in ascending order, uids in input order.
     */
    public Map<Integer, List<String>> batchGetLinkedPod(String ns, List<String> uids, String svc) {
        String[] uidArray = Utf8.snapshot("uids", uids);
        byte[] args = Utf8.packWithList("uids", uidArray, "ns", ns, "svc", svc);
        int count = uidArray.length;
        int[] pods = new int[count];
        if (count > 0) {
            calls.run(ex -> {
                Native.batchGetLinkedPods(ex, args, count, pods);
                return null;
            });
        }
        Map<Integer, List<String>> byPod = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            int pod = pods[i];
            if (pod >= 0) {
                byPod.computeIfAbsent(pod, p -> new ArrayList<>()).add(uidArray[i]);
            }
        }
        return byPod;
    }

    /**
     * Removes the uid's link to {@code svc}: deleted at once with {@code keepSeconds} -1 or 0,
     * kept as a temporary link for {@code keepSeconds} otherwise. Returns whether a link existed.
     */
    public boolean removeLinkedPod(String ns, String uid, String svc, int keepSeconds) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.REMOVE_LINKED_POD, args, 0, keepSeconds).outFlag;
        }
        try {
            return Native.removeLinkedPod(ex, args, keepSeconds);
        } finally {
            calls.leave();
        }
    }

    /** As {@link #removeLinkedPod}, but only when the link points to {@code pod}. */
    public boolean removeLinkedPodWithId(String ns, String uid, String svc, int keepSeconds, int pod) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.REMOVE_LINKED_POD_WITH_ID, args, pod, keepSeconds).outFlag;
        }
        try {
            return Native.removeLinkedPodWithId(ex, args, keepSeconds, pod);
        } finally {
            calls.leave();
        }
    }

    /**
     * Extends the uid's temporary link to {@code svc} only while it points at {@code pod}: a
     * temporary link to {@code pod} then expires {@code persistSeconds} (1 to 2147483647) from
     * now, a persistent link to {@code pod} is left as it is, and both return true; a link to
     * another pod, or none, is left as it is and returns false. Atomic (one script): a gateway
     * keeps an active session's link alive without overwriting a pod another gateway set
     * meanwhile, as calling {@link #setLinkedPod} again could.
     */
    public boolean touchLinkedPod(String ns, String uid, String svc, int pod, int persistSeconds) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        long ex = calls.enterAlone();
        if (ex == 0) {
            return calls.submit(Batcher.TOUCH_LINKED_POD, args, pod, persistSeconds).outFlag;
        }
        try {
            return Native.touchLinkedPod(ex, args, pod, persistSeconds);
        } finally {
            calls.leave();
        }
    }

    /** The uid's persistent links: service to pod, iterated in service-name order. */
    public Map<String, Integer> getLinkService(String ns, String uid) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid);
        byte[] packed;
        long ex = cached ? 0 : calls.enterAlone();
        if (cached) {
            packed = calls.run(e -> Native.getLinkServices(e, args));
        } else if (ex == 0) {
            packed = calls.submit(Batcher.GET_LINK_SERVICES, args, 0, 0).data;
        } else {
            try {
                packed = Native.getLinkServices(ex, args);
            } finally {
                calls.leave();
            }
        }
        int count = entryCount(packed);
        Map<String, Integer> links = new LinkedHashMap<>(capacity(count));
        for (int pos = 0; pos < packed.length; ) {
            int pod = readInt(packed, pos);
            int length = readInt(packed, pos + 4);
            links.put(Utf8.decode(packed, pos + 8, length), pod);
            pos = next(pos, length);
        }
        return links;
    }

    /**
     * Returns the uid's existing link for {@code svc}; without one, links it to the candidate
     * with the lowest load (ties: the lowest pod) and returns that. No link and no candidates:
     * -1, nothing written. {@code pods[i]} has load {@code loads[i]}.
     */
    public int computeLinkedPod(String ns, String uid, String svc, int persistSeconds, int[] pods, long[] loads) {
        byte[] args = Utf8.pack("ns", ns, "uid", uid, "svc", svc);
        Objects.requireNonNull(pods, "pods");
        Objects.requireNonNull(loads, "loads");
        if (pods.length != loads.length) {
            throw new StatefulExecutorException(
                    Status.INVALID_ARGUMENT,
                    "pods and loads differ in length (" + pods.length + " and " + loads.length + ")");
        }
        return calls.run(ex -> Native.computeLinkedPod(ex, args, pods, loads, persistSeconds));
    }

    // ---- packed results ----

    /*
     * The C API's packed results (sf_packed), byte for byte: per entry an int32 key (a pod, or
     * an input index), an int32 length (-1: absent), then that many UTF-8 bytes and a NUL.
     * Integers in the machine's byte order, little-endian on every platform the jar supports.
     */

    private static Map<Integer, String> decodePodKeyed(byte[] packed) {
        int count = entryCount(packed);
        Map<Integer, String> states = new LinkedHashMap<>(capacity(count));
        for (int pos = 0; pos < packed.length; ) {
            int pod = readInt(packed, pos);
            int length = readInt(packed, pos + 4);
            states.put(pod, Utf8.decode(packed, pos + 8, length));
            pos = next(pos, length);
        }
        return states;
    }

    /** The offset of the entry after the one at {@code pos} whose text has {@code length} bytes. */
    private static int next(int pos, int length) {
        return length < 0 ? pos + 8 : pos + 8 + length + 1;
    }

    /** The packed arrays hold nothing but entries; count them without decoding. */
    private static int entryCount(byte[] packed) {
        int count = 0;
        for (int pos = 0; pos < packed.length; count++) {
            pos = next(pos, readInt(packed, pos + 4));
        }
        return count;
    }

    private static int readInt(byte[] b, int pos) {
        return (b[pos] & 0xFF)
                | (b[pos + 1] & 0xFF) << 8
                | (b[pos + 2] & 0xFF) << 16
                | (b[pos + 3] & 0xFF) << 24;
    }

    private static int capacity(int entries) {
        return entries + entries / 3 + 1;
    }

    // ---- configuration ----

    /**
     * Where Redis is and how the pool behaves. Not thread-safe; {@link #open()} may be called
     * several times, each opening a new executor.
     */
    public static final class Builder {
        private static final int CLUSTER = 1;
        private static final int DEFAULT_TIMEOUT_MS = 1000;
        private static final int DEFAULT_POOL = 16;
        /** Threads that run the calls a virtual thread hands off and sf_execute_batch cannot carry. */
        private static final int MAX_WORKERS = 64;

        private final int topology;
        private final List<String> urls;
        private final String masterName;
        private int poolMaxSize = -1;
        private int poolMinIdle = -1;
        private int connectTimeoutMs = -1;
        private int commandTimeoutMs = -1;
        private int poolWaitTimeoutMs = -1;
        private int pipelining = -1;
        private int pipeliningMinInFlight = -1;
        private int cacheMaxEntries = -1;
        private int cacheMaxAgeMs = -1;
        private boolean masterAuth;
        private String masterUser;
        private String masterPassword;
        private Path tlsCaFile;
        private Path tlsCertFile;
        private Path tlsKeyFile;
        private Boolean handOffEveryCall;
        private long callBoundNanos;

        private Builder(int topology, List<String> urls, String masterName) {
            this.topology = topology;
            this.urls = urls;
            this.masterName = masterName;
        }

        /** The largest number of pooled connections, 1-10000 (default 16). */
        public Builder poolMaxSize(int maxSize) {
            this.poolMaxSize = nonNegative("poolMaxSize", maxSize);
            return this;
        }

        /** How many idle connections the pool keeps open in advance (default 0). */
        public Builder poolMinIdle(int minIdle) {
            this.poolMinIdle = nonNegative("poolMinIdle", minIdle);
            return this;
        }

        /** The longest wait for a connection to be established (default 1 s). */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeoutMs = millis("connectTimeout", timeout);
            return this;
        }

        /** The longest wait for one command's reply (default 1 s); then {@link Status#TIMEOUT}. */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeoutMs = millis("commandTimeout", timeout);
            return this;
        }

        /** The longest wait for a free pooled connection (default 1 s); then {@link Status#POOL_TIMEOUT}. */
        public Builder poolWaitTimeout(Duration timeout) {
            this.poolWaitTimeoutMs = millis("poolWaitTimeout", timeout);
            return this;
        }

        /**
         * Auto-pipelining on (the default, adaptive) or off. On: while enough calls of this
         * executor are in flight at once (see {@link #pipeliningMinInFlight(int)}), their commands
         * share one connection per Redis node and go out together; off: every call holds a pooled
         * connection for one round trip. The environment variable {@code SF_PIPELINING}
         * ({@code off}, {@code on}, {@code always}) sets the default for the whole process.
         */
        public Builder pipelining(boolean enabled) {
            this.pipelining = enabled ? 1 : 0;
            return this;
        }

        /**
         * With pipelining on: how many calls must be in flight at once, the call itself
         * included, for a call to take the shared connection (default 12; 1 pipelines every
         * call, even a lone caller's).
         */
        public Builder pipeliningMinInFlight(int calls) {
            if (calls < 1) {
                throw new StatefulExecutorException(
                        Status.INVALID_ARGUMENT, "pipeliningMinInFlight must be at least 1, got " + calls);
            }
            this.pipeliningMinInFlight = calls;
            return this;
        }

        /**
         * The client-side cache of reads (default off; {@code maxEntries} 0 turns it off): up to
         * {@code maxEntries} answers of getLinkedPod, getLinkedPodIfPersist, batchGetLinkedPods,
         * getServiceState, getWorkloadState(s) and getLinkServices (and their packed forms) are
         * kept in the executor, each for at most {@code maxAge} (whole milliseconds, rounded up)
         * and never past its key's own TTL, and answered without a round trip while Redis's
         * invalidations ({@code CLIENT TRACKING}: Redis 6 or later, Valkey) say they are current.
         * A cached answer was the key's value at some moment at most min(maxAge, 1 s) before the
         * call began; when that cannot be guaranteed (an invalidation connection lost or silent,
         * a failover under way) calls read from Redis. The executor's own writes drop their
         * entries before they return. {@link #open()} then fails with {@link Status#CONFIG} when
         * the server has no {@code CLIENT TRACKING}, with {@link Status#AUTH} when the ACL user
         * may not use it.
         */
        public Builder clientCache(int maxEntries, Duration maxAge) {
            this.cacheMaxEntries = nonNegative("clientCache maxEntries", maxEntries);
            Objects.requireNonNull(maxAge, "maxAge");
            if (maxEntries > 0 && (maxAge.isZero() || maxAge.isNegative()
                    || maxAge.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0)) {
                throw new StatefulExecutorException(
                        Status.INVALID_ARGUMENT, "clientCache maxAge must be between 1 ms and 24 days, got " + maxAge);
            }
            long ms = maxAge.plusNanos(999_999).toMillis();
            this.cacheMaxAgeMs = maxEntries > 0 ? (int) Math.min(ms, Integer.MAX_VALUE) : 0;
            return this;
        }

        /**
         * TLS ({@code rediss://} URLs): trust only the CA certificates of this PEM file instead of
         * the system's trust store.
         */
        public Builder tlsCaFile(Path caFile) {
            this.tlsCaFile = Objects.requireNonNull(caFile, "caFile");
            return this;
        }

        /** TLS: present this client certificate chain and private key (PEM files). */
        public Builder tlsClientCert(Path certFile, Path keyFile) {
            this.tlsCertFile = Objects.requireNonNull(certFile, "certFile");
            this.tlsKeyFile = Objects.requireNonNull(keyFile, "keyFile");
            return this;
        }

        /**
         * Sentinel only: the primary's credentials when they differ from the sentinels'.
         * {@code username} null means the {@code default} user; {@code password} null, none.
         */
        public Builder sentinelMasterAuth(String username, String password) {
            this.masterAuth = true;
            this.masterUser = username;
            this.masterPassword = password;
            return this;
        }

        /** Connects, checks that the server answers, and loads the Lua scripts. */
        public StatefulExecutor open() {
            String[] urlArray = urls.toArray(new String[0]);
            byte[] packedUrls = Utf8.packWithList("urls", urlArray);
            byte[] master = masterName == null ? null : Utf8.z("masterName", masterName);
            byte[] user = masterUser == null ? null : Utf8.z("username", masterUser);
            byte[] password = masterPassword == null ? null : Utf8.z("password", masterPassword);
            byte[] ca = tlsCaFile == null ? null : Utf8.z("caFile", tlsCaFile.toString());
            byte[] cert = tlsCertFile == null ? null : Utf8.z("certFile", tlsCertFile.toString());
            byte[] key = tlsKeyFile == null ? null : Utf8.z("keyFile", tlsKeyFile.toString());
            int[] settings = {
                poolMaxSize, poolMinIdle, connectTimeoutMs, commandTimeoutMs, poolWaitTimeoutMs,
                pipelining, pipeliningMinInFlight, cacheMaxEntries, cacheMaxAgeMs
            };
            Native.ensureLoaded();
            long pointer = Native.open(
                    topology, packedUrls, urlArray.length, settings, master,
                    masterAuth, user, password, ca, cert, key);
            // A call's bound: pool wait + connect + command timeout (the library's defaults: 1 s).
            long boundNanos = callBoundNanos > 0
                    ? callBoundNanos
                    : (orDefault(poolWaitTimeoutMs) + orDefault(connectTimeoutMs) + orDefault(commandTimeoutMs)) * 1_000_000L;
            int pool = poolMaxSize < 0 ? DEFAULT_POOL : poolMaxSize;
            boolean everyCall = handOffEveryCall != null ? handOffEveryCall : Boolean.getBoolean(Batcher.EVERY_CALL_PROPERTY);
            return new StatefulExecutor(pointer, boundNanos, topology != CLUSTER, everyCall,
                    Math.max(1, Math.min(pool, MAX_WORKERS)), cacheMaxEntries > 0);
        }

        /**
         * Tests: whether every call goes through the runner and worker threads, as a virtual
         * thread's does (default: the system property {@value Batcher#EVERY_CALL_PROPERTY}).
         */
        Builder handOffEveryCall(boolean everyCall) {
            this.handOffEveryCall = everyCall;
            return this;
        }

        /** Tests: a call's bound, instead of pool wait + connect + command timeout. */
        Builder callBound(Duration bound) {
            this.callBoundNanos = bound.toNanos();
            return this;
        }

        private static long orDefault(int millis) {
            return millis < 0 ? DEFAULT_TIMEOUT_MS : millis;
        }

        private static int nonNegative(String name, int value) {
            if (value < 0) {
                throw new StatefulExecutorException(Status.INVALID_ARGUMENT, name + " must not be negative, got " + value);
            }
            return value;
        }

        private static int millis(String name, Duration timeout) {
            Objects.requireNonNull(timeout, name);
            if (timeout.isNegative() || timeout.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0) {
                throw new StatefulExecutorException(
                        Status.INVALID_ARGUMENT, name + " must be between 1 ms and 24 days, got " + timeout);
            }
            return (int) timeout.toMillis();
        }
    }
}
