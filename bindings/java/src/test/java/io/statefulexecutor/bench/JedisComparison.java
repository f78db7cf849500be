package io.statefulexecutor.bench;

import io.statefulexecutor.StatefulExecutor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.RedisClient;

/**
 * make java-bench: each operation through the binding beside Jedis doing the same on the same
 * server (the same Lua scripts with EVALSHA, or the same plain commands), with the same pool size,
 * the same result types and the same key spread; 1 and 16 platform threads and 1,000 virtual
 * threads (on Java 21 and later). After a warm-up, runs
 * alternate in pairs (binding, Jedis / Jedis, binding, ...) and the table shows medians: of
 * throughput per side, of the per-pair ratio binding / Jedis, of the client process's CPU time
 * per call (all its threads; less sensitive to a busy machine than throughput) and of
 * redis-server's CPU time per call.
 *
 * <p>Runs are short (a tenth of a second) and many, so that a burst of load from elsewhere on
 * the machine hits both sides of a pair alike instead of one side's whole measurement.
 *
 * <p>Environment: REDIS_URL (redis://host:port), BENCH_SECONDS per run (default 0.1),
 * BENCH_PAIRS (default 60), BENCH_OPS (comma list of operations to run), BENCH_THREADS (default
 * 1,16,v1000: a number of platform threads, or v and a number of virtual threads).
 */
public final class JedisComparison {
    private static final String NS = "bench";
    private static final String SVC = "chat";
    private static final int UIDS = 10_000;
    private static final int POOL = 16;

    /**
     * The client cache's rows: a hot set of HOT_UIDS uids takes 9 reads in 10 (the cache holds
     * them), the others go anywhere in UIDS (mostly misses: the cache holds CACHE_ENTRIES).
     */
    private static final int HOT_UIDS = 1000;
    private static final int CACHE_ENTRIES = 2000;

    private final StatefulExecutor executor;
    /** The same executor with the client cache on, for the cache's rows. */
    private final StatefulExecutor cached;
    private final RedisClient jedis;
    private final Map<String, String> sha = new HashMap<>();

    private JedisComparison(StatefulExecutor executor, StatefulExecutor cached, RedisClient jedis) {
        this.executor = executor;
        this.cached = cached;
        this.jedis = jedis;
    }

    /** One operation, both ways: each call does one operation with the given random index. */
    private record Op(String name, int items, Call binding, Call jedis) {}

    @FunctionalInterface
    private interface Call {
        Object run(int random);
    }

    // ---- the Jedis side: what the existing Java executor does ----

    private String loadScript(Path luaDir, String name) throws IOException {
        String source = Files.readString(luaDir.resolve("prelude.lua"), StandardCharsets.UTF_8)
                + Files.readString(luaDir.resolve(name + ".lua"), StandardCharsets.UTF_8);
        return jedis.scriptLoad(source);
    }

    private static String uid(int random) {
        return "u" + (random % UIDS);
    }

    /** 9 reads in 10 in the hot set, the 10th anywhere (random / 10: not only multiples of 10). */
    private static String mostlyHotUid(int random) {
        return random % 10 == 0 ? uid(random / 10) : uid(random % HOT_UIDS);
    }

    private static List<String> linkKeys(String uid) {
        String hash = "sf:{" + NS + ":lk:" + uid + "}";
        return List.of(hash, hash + SVC);
    }

    private static String workloadKey(String service) {
        return "sf:{" + NS + ":workload:" + service + "}";
    }

    private int evalPod(String script, String uid, String... args) {
        List<String> argv = new ArrayList<>(args.length + 1);
        argv.add(SVC);
        argv.addAll(Arrays.asList(args));
        Object reply = jedis.evalsha(sha.get(script), linkKeys(uid), argv);
        return ((Long) reply).intValue();
    }

    private static int parsePod(String value) {
        return value == null ? -1 : Integer.parseInt(value);
    }

    private List<Op> operations(List<String> uids1000, List<String> services100) {
        String stateKey = "sf:{" + NS + ":state:" + SVC + "}";
        // Keys are spelled out on every Jedis call, as a Java executor does from its arguments.
        int[] candidates = {0, 1, 2, 3, 4, 5, 6, 7};
        long[] loads = {80, 70, 60, 50, 40, 30, 20, 10};
        List<Op> ops = new ArrayList<>();
        ops.add(new Op("getLinkedPod", 1,
                r -> executor.getLinkedPod(NS, uid(r), SVC),
                r -> parsePod(jedis.get(linkKeys(uid(r)).get(1)))));
        ops.add(new Op("getLinkedPodIfPersist", 1,
                r -> executor.getLinkedPodIfPersist(NS, uid(r), SVC),
                r -> evalPod("get_linked_pod_if_persist", uid(r))));
        ops.add(new Op("setLinkedPod", 1,
                r -> executor.setLinkedPod(NS, uid(r), SVC, 3, -1),
                r -> evalPod("set_linked_pod", uid(r), "3", "-1")));
        ops.add(new Op("trySetLinkedPod", 1,
                r -> executor.trySetLinkedPod(NS, uid(r), SVC, 3, -1).pod(),
                r -> {
                    Object reply = jedis.evalsha(sha.get("try_set_linked_pod"), linkKeys(uid(r)), List.of(SVC, "3", "-1"));
                    List<?> pair = (List<?>) reply; // {linked, pod}
                    return ((Long) pair.get(1)).intValue();
                }));
        ops.add(new Op("setLinkedPodIfAbsent", 1,
                r -> executor.setLinkedPodIfAbsent(NS, uid(r), SVC, 3, -1),
                r -> evalPod("set_linked_pod_if_absent", uid(r), "3", "-1")));
        ops.add(new Op("computeLinkedPod8", 1,
                r -> executor.computeLinkedPod(NS, uid(r), SVC, -1, candidates, loads),
                r -> evalPod("set_linked_pod_if_absent", uid(r), Integer.toString(leastLoaded(candidates, loads)), "-1")));
        ops.add(new Op("removeLinkedPod", 1,
                r -> executor.removeLinkedPod(NS, uid(r), SVC, 0),
                r -> evalPod("remove_linked_pod", uid(r), "0") == 1));
        ops.add(new Op("setServiceState", 1,
                r -> {
                    executor.setServiceState(NS, SVC, r & 31, "Running");
                    return null;
                },
                r -> jedis.hset(stateKey, Integer.toString(r & 31), "Running")));
        ops.add(new Op("getServiceState32", 32,
                r -> executor.getServiceState(NS, SVC),
                r -> {
                    Map<String, String> all = jedis.hgetAll(stateKey);
                    Map<Integer, String> states = new TreeMap<>();
                    for (Map.Entry<String, String> e : all.entrySet()) {
                        states.put(Integer.parseInt(e.getKey()), e.getValue());
                    }
                    return states;
                }));
        ops.add(new Op("setWorkloadState", 1,
                r -> {
                    executor.setWorkloadState(NS, services100.get(r % 100), "Available");
                    return null;
                },
                r -> jedis.set(workloadKey(services100.get(r % 100)), "Available")));
        ops.add(new Op("getWorkloadState", 1,
                r -> executor.getWorkloadState(NS, services100.get(r % 100)),
                r -> jedis.get(workloadKey(services100.get(r % 100)))));
        ops.add(new Op("getWorkloadStateBatch100", 100,
                r -> executor.getWorkloadStateBatch(NS, services100),
                r -> {
                    String[] keys = new String[services100.size()];
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = workloadKey(services100.get(i));
                    }
                    List<String> values = jedis.mget(keys);
                    Map<String, String> states = new LinkedHashMap<>();
                    for (int i = 0; i < values.size(); i++) {
                        if (values.get(i) != null) {
                            states.put(services100.get(i), values.get(i));
                        }
                    }
                    return states;
                }));
        ops.add(new Op("batchGetLinkedPod1000", 1000,
                r -> executor.batchGetLinkedPod(NS, uids1000, SVC),
                r -> {
                    String[] keys = new String[uids1000.size()];
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = "sf:{" + NS + ":lk:" + uids1000.get(i) + "}" + SVC;
                    }
                    List<String> values = jedis.mget(keys);
                    Map<Integer, List<String>> byPod = new TreeMap<>();
                    for (int i = 0; i < values.size(); i++) {
                        if (values.get(i) != null) {
                            byPod.computeIfAbsent(Integer.parseInt(values.get(i)), p -> new ArrayList<>()).add(uids1000.get(i));
                        }
                    }
                    return byPod;
                }));
        ops.add(new Op("getLinkService", 1,
                r -> executor.getLinkService(NS, "linked-user"),
                r -> {
                    Map<String, String> all = jedis.hgetAll("sf:{" + NS + ":lk:linked-user}");
                    Map<String, Integer> links = new TreeMap<>();
                    for (Map.Entry<String, String> e : all.entrySet()) {
                        links.put(e.getKey(), Integer.parseInt(e.getValue()));
                    }
                    return links;
                }));
        // The client cache's rows, 90 % and all hits: the cached side is an executor with the cache
        // on; Jedis does the same GETs as above.
        ops.add(new Op(CACHED_90, 1,
                r -> cached.getLinkedPod(NS, mostlyHotUid(r), SVC),
                r -> parsePod(jedis.get(linkKeys(mostlyHotUid(r)).get(1)))));
        ops.add(new Op(CACHED_ALL, 1,
                r -> cached.getLinkedPod(NS, uid(r % HOT_UIDS), SVC),
                r -> parsePod(jedis.get(linkKeys(uid(r % HOT_UIDS)).get(1)))));
        return ops;
    }

    private static final String CACHED_90 = "getLinkedPodCached90";
    private static final String CACHED_ALL = "getLinkedPodCachedAll";

    private static int leastLoaded(int[] pods, long[] loads) {
        int best = 0;
        for (int i = 1; i < pods.length; i++) {
            if (loads[i] < loads[best] || (loads[i] == loads[best] && pods[i] < pods[best])) {
                best = i;
            }
        }
        return pods[best];
    }

    // ---- timing ----

    /**
     * Calls per second, client CPU time per call (this whole process: callers, pool threads,
     * runners, GC) and the server's CPU time per call (redis-server's INFO: a thread woken by a
     * reply is woken by the server's write, one woken by a runner by the client).
     */
    private record Rate(double callsPerSecond, double cpuMicrosPerCall, double serverMicrosPerCall) {}

    /** A connection of its own for INFO, outside both sides' pools. */
    private static redis.clients.jedis.Jedis admin;

    /** redis-server's CPU time so far (user + system), in microseconds. */
    private static double serverCpuMicros() {
        double seconds = 0;
        for (String line : admin.info("cpu").split("\r\n")) {
            if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
                seconds += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return seconds * 1e6;
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** How many threads call at once, and whether they are virtual threads. */
    private record Threads(int count, boolean virtual) {
        static Threads parse(String spec) {
            boolean virtual = spec.startsWith("v");
            return new Threads(Integer.parseInt(virtual ? spec.substring(1) : spec), virtual);
        }

        String label() {
            return virtual ? count + " virtual" : Integer.toString(count);
        }

        Thread newThread(Runnable task) {
            return virtual ? VIRTUAL.newThread(task) : new Thread(task);
        }
    }

    /** Thread.ofVirtual().factory() on Java 21 and later (this code compiles for Java 17), else null. */
    private static final java.util.concurrent.ThreadFactory VIRTUAL = virtualThreadFactory();

    private static java.util.concurrent.ThreadFactory virtualThreadFactory() {
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            return (java.util.concurrent.ThreadFactory)
                    Class.forName("java.lang.Thread$Builder").getMethod("factory").invoke(builder);
        } catch (ReflectiveOperationException before21) {
            return null;
        }
    }

    /** Runs {@code call} on {@code threads} threads for {@code seconds}. */
    private static Rate run(Call call, Threads threads, double seconds) throws InterruptedException {
        LongAdder calls = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread[] workers = new Thread[threads.count()];
        for (int t = 0; t < workers.length; t++) {
            workers[t] = threads.newThread(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long n = 0;
                try {
                    while (!stop.get()) {
                        Objects.requireNonNullElse(call.run(random.nextInt(Integer.MAX_VALUE)), n);
                        n++;
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
                calls.add(n);
            });
        }
        double serverStart = serverCpuMicros();
        long cpuStart = OS.getProcessCpuTime();
        long start = System.nanoTime();
        for (Thread w : workers) {
            w.start();
        }
        Thread.sleep((long) (seconds * 1000));
        stop.set(true);
        for (Thread w : workers) {
            w.join();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        double cpu = (OS.getProcessCpuTime() - cpuStart) / 1e3;
        double serverCpu = serverCpuMicros() - serverStart;
        if (!failures.isEmpty()) {
            throw new IllegalStateException("benchmark call failed", failures.get(0));
        }
        long n = Math.max(1, calls.sum());
        return new Rate(n / elapsed, cpu / n, serverCpu / n);
    }

    private static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** The commit measured (with "+changes" when the work tree differs from it). */
    private static String commit() {
        try {
            Process rev = new ProcessBuilder("git", "rev-parse", "--short=12", "HEAD").start();
            String commit = new String(rev.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (rev.waitFor() != 0 || commit.isEmpty()) {
                return "unknown";
            }
            Process diff = new ProcessBuilder("git", "diff", "--quiet", "HEAD").start();
            return diff.waitFor() == 0 ? commit : commit + "+changes";
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private void prepare(List<String> uids1000, List<String> services100) {
        for (int pod = 0; pod < 32; pod++) {
            executor.setServiceState(NS, SVC, pod, "Running-" + pod + "-100");
        }
        for (int i = 0; i < services100.size(); i += 2) {
            executor.setWorkloadState(NS, services100.get(i), "Available");
        }
        for (int i = 0; i < uids1000.size(); i += 3) {
            executor.setLinkedPod(NS, uids1000.get(i), SVC, i % 8, -1);
        }
        for (int s = 0; s < 8; s++) {
            executor.setLinkedPod(NS, "linked-user", "svc-" + s, s, -1);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = System.getenv().getOrDefault("REDIS_URL", "redis://127.0.0.1:6379");
        java.net.URI uri = java.net.URI.create(url);
        double seconds = Double.parseDouble(System.getenv().getOrDefault("BENCH_SECONDS", "0.1"));
        int pairs = Integer.parseInt(System.getenv().getOrDefault("BENCH_PAIRS", "60"));
        String only = System.getenv().getOrDefault("BENCH_OPS", "");
        List<Threads> threadCounts = new ArrayList<>();
        for (String spec : System.getenv().getOrDefault("BENCH_THREADS", "1,16,v1000").split(",")) {
            Threads threads = Threads.parse(spec.trim());
            if (threads.virtual() && VIRTUAL == null) {
                System.out.println("(no virtual threads on Java " + Runtime.version().feature()
                        + ": the " + threads.label() + " rows are left out; run on Java 21 or later)");
                continue;
            }
            threadCounts.add(threads);
        }
        Path luaDir = Path.of(System.getProperty("sf.luaDir", "../../lua"));

        ConnectionPoolConfig poolConfig = new ConnectionPoolConfig();
        poolConfig.setMaxTotal(POOL);
        poolConfig.setMaxIdle(POOL);
        try (StatefulExecutor executor = StatefulExecutor.builder(url).poolMaxSize(POOL).open();
                StatefulExecutor cached = StatefulExecutor.builder(url).poolMaxSize(POOL)
                        .clientCache(CACHE_ENTRIES, java.time.Duration.ofMinutes(1)).open();
                RedisClient jedis = RedisClient.builder().hostAndPort(uri.getHost(), uri.getPort()).poolConfig(poolConfig).build();
                redis.clients.jedis.Jedis info = new redis.clients.jedis.Jedis(uri.getHost(), uri.getPort())) {
            admin = info;
            System.out.println("(Java " + Runtime.version() + ", " + Runtime.getRuntime().availableProcessors()
                    + " cores; redis-server " + info.info("server").lines()
                            .filter(l -> l.startsWith("redis_version:")).findFirst().orElse("?").substring(14).trim() + ")");
            JedisComparison bench = new JedisComparison(executor, cached, jedis);
            for (String script : List.of("set_linked_pod", "try_set_linked_pod", "set_linked_pod_if_absent",
                    "get_linked_pod_if_persist", "remove_linked_pod")) {
                bench.sha.put(script, bench.loadScript(luaDir, script));
            }
            List<String> uids1000 = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                uids1000.add("u" + (i * 7));
            }
            List<String> services100 = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                services100.add("svc-" + i);
            }
            bench.prepare(uids1000, services100);

            String loadAtStart = loadAverage();
            List<String> jsonRows = new ArrayList<>();
            StringBuilder table = new StringBuilder();
            table.append(String.format(Locale.ROOT, "| %-24s | %12s | %14s | %14s | %8s | %9s | %9s | %9s | %9s |%n",
                    "operation", "threads", "binding ops/s", "Jedis ops/s", "ratio", "CPU µs b.", "CPU µs J.",
                    "srv µs b.", "srv µs J."));
            table.append("| ------------------------ | -----------: | -------------: | -------------: | -------: "
                    + "| --------: | --------: | --------: | --------: |\n");
            System.out.print(table);
            for (Op op : bench.operations(uids1000, services100)) {
                if (!only.isEmpty() && !Arrays.asList(only.split(",")).contains(op.name())) {
                    continue;
                }
                // Same answer both ways (for reads) before anything is timed.
                boolean read = op.name().startsWith("get") || op.name().startsWith("batch");
                Object mine = op.binding().run(7);
                Object theirs = op.jedis().run(7);
                if (read && !Objects.equals(mine, theirs)) {
                    throw new IllegalStateException(op.name() + ": binding " + mine + " but Jedis " + theirs);
                }
                for (Threads threads : threadCounts) {
                    for (int warm = 0; warm < 2; warm++) { // warm-up, both sides
                        run(op.binding(), threads, Math.max(0.5, seconds));
                        run(op.jedis(), threads, Math.max(0.5, seconds));
                    }
                    List<Double> ours = new ArrayList<>();
                    List<Double> jedisRates = new ArrayList<>();
                    List<Double> ratios = new ArrayList<>();
                    List<Double> ourCpu = new ArrayList<>();
                    List<Double> jedisCpu = new ArrayList<>();
                    List<Double> ourServer = new ArrayList<>();
                    List<Double> jedisServer = new ArrayList<>();
                    io.statefulexecutor.Stats cacheBefore = cached.stats();
                    for (int pair = 0; pair < pairs; pair++) {
                        Rate a;
                        Rate b;
                        if (pair % 2 == 0) {
                            a = run(op.binding(), threads, seconds);
                            b = run(op.jedis(), threads, seconds);
                        } else {
                            b = run(op.jedis(), threads, seconds);
                            a = run(op.binding(), threads, seconds);
                        }
                        ours.add(a.callsPerSecond());
                        jedisRates.add(b.callsPerSecond());
                        ratios.add(a.callsPerSecond() / b.callsPerSecond());
                        ourCpu.add(a.cpuMicrosPerCall());
                        jedisCpu.add(b.cpuMicrosPerCall());
                        ourServer.add(a.serverMicrosPerCall());
                        jedisServer.add(b.serverMicrosPerCall());
                    }
                    String row = String.format(Locale.ROOT,
                            "| %-24s | %12s | %14.0f | %14.0f | %7.2fx | %9.1f | %9.1f | %9.1f | %9.1f |%n",
                            op.name(), threads.label(), median(ours), median(jedisRates), median(ratios),
                            median(ourCpu), median(jedisCpu), median(ourServer), median(jedisServer));
                    System.out.print(row);
                    table.append(row);
                    if (op.name().equals(CACHED_90) || op.name().equals(CACHED_ALL)) {
                        io.statefulexecutor.Stats cacheAfter = cached.stats();
                        long hits = cacheAfter.cacheHits() - cacheBefore.cacheHits();
                        long misses = cacheAfter.cacheMisses() - cacheBefore.cacheMisses();
                        System.out.printf(Locale.ROOT, "(%s, %s threads: %.1f %% of the cached side's reads were hits)%n",
                                op.name(), threads.label(), 100.0 * hits / Math.max(1, hits + misses));
                    }
                    jsonRows.add(String.format(Locale.ROOT, "{\"op\": \"%s\", \"threads\": %d, \"virtual\": %b, "
                            + "\"pairs\": %d, \"ratio\": %.4f, \"ours_per_s\": %.1f, \"peer_per_s\": %.1f, "
                            + "\"ours_cpu_us\": %.2f, \"peer_cpu_us\": %.2f, "
                            + "\"ours_server_cpu_us\": %.2f, \"peer_server_cpu_us\": %.2f}",
                            op.name(), threads.count(), threads.virtual(), pairs, median(ratios), median(ours),
                            median(jedisRates), median(ourCpu), median(jedisCpu), median(ourServer),
                            median(jedisServer)));
                }
            }
            Path out = Path.of("target/bench/java-vs-jedis.md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, table.toString());
            // The comparison format of every peer bench (make charts draws docs/perf/*.svg from it).
            Path json = Path.of("../../target/bench/java-vs-jedis.json");
            Files.createDirectories(json.getParent());
            Files.writeString(json, "{\n"
                    + "  \"title\": \"Java package vs Jedis\",\n"
                    + "  \"ours\": \"stateful-executor (Java)\",\n"
                    + "  \"peer\": \"Jedis 8\",\n"
                    + "  \"date\": \"" + java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\",\n"
                    + "  \"commit\": \"" + commit() + "\",\n"
                    + "  \"machine\": \"" + Runtime.getRuntime().availableProcessors() + " cores, Java "
                    + Runtime.version().feature() + ", load average at start " + loadAtStart + ", at end "
                    + loadAverage() + "\",\n"
                    + "  \"command\": \"make java-bench (BENCH_PAIRS=" + pairs + " BENCH_SECONDS=" + seconds
                    + (only.isEmpty() ? "" : " BENCH_OPS=" + only) + ")\",\n"
                    + "  \"rows\": [\n    " + String.join(",\n    ", jsonRows) + "\n  ]\n}\n");
            System.out.println("(medians of " + pairs + " alternated pairs of " + seconds + " s runs; table in " + out
                    + ", JSON in " + json.normalize() + ")");
        }
    }
}
