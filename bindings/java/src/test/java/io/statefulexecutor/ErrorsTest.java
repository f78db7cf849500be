package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import redis.clients.jedis.Jedis;

/** Every failure path: the exception type, the status, and that bad input sends nothing. */
class ErrorsTest {
    private static RedisServer server;
    private static StatefulExecutor executor;
    private static Jedis raw;

    @BeforeAll
    static void start() {
        server = RedisServer.start();
        executor = StatefulExecutor.open(server.url());
        raw = server.jedis();
    }

    @AfterAll
    static void stop() {
        executor.close();
        raw.close();
        server.close();
    }

    /** Every public operation, called with the given arguments (so each argument can be varied). */
    private static Map<String, Consumer<String[]>> operations(StatefulExecutor ex) {
        Map<String, Consumer<String[]>> ops = new LinkedHashMap<>();
        ops.put("setServiceState", a -> ex.setServiceState(a[0], a[1], 1, a[2]));
        ops.put("getServiceState", a -> ex.getServiceState(a[0], a[1]));
        ops.put("setWorkloadState", a -> ex.setWorkloadState(a[0], a[1], a[2]));
        ops.put("getWorkloadState", a -> ex.getWorkloadState(a[0], a[1]));
        ops.put("getWorkloadStateBatch", a -> ex.getWorkloadStateBatch(a[0], Arrays.asList(a[1], a[2])));
        ops.put("setLinkedPod", a -> ex.setLinkedPod(a[0], a[1], a[2], 1, -1));
        ops.put("trySetLinkedPod", a -> ex.trySetLinkedPod(a[0], a[1], a[2], 1, -1));
        ops.put("setLinkedPodIfAbsent", a -> ex.setLinkedPodIfAbsent(a[0], a[1], a[2], 1, -1));
        ops.put("getLinkedPod", a -> ex.getLinkedPod(a[0], a[1], a[2]));
        ops.put("getLinkedPodIfPersist", a -> ex.getLinkedPodIfPersist(a[0], a[1], a[2]));
        ops.put("batchGetLinkedPod", a -> ex.batchGetLinkedPod(a[0], Arrays.asList(a[1], "ok"), a[2]));
        ops.put("removeLinkedPod", a -> ex.removeLinkedPod(a[0], a[1], a[2], 0));
        ops.put("removeLinkedPodWithId", a -> ex.removeLinkedPodWithId(a[0], a[1], a[2], 0, 1));
        ops.put("touchLinkedPod", a -> ex.touchLinkedPod(a[0], a[1], a[2], 1, 60));
        ops.put("getLinkService", a -> ex.getLinkService(a[0], a[1]));
        ops.put("computeLinkedPod", a -> ex.computeLinkedPod(a[0], a[1], a[2], -1, new int[] {1}, new long[] {0}));
        return ops;
    }

    private static long commandsProcessed() {
        return RedisServer.info(raw, "stats", "total_commands_processed");
    }

    /** Runs a call that must fail with INVALID_ARGUMENT and checks that the server saw nothing. */
    private static StatefulExecutorException invalidAndNothingSent(String what, Executable call) {
        long before = commandsProcessed();
        StatefulExecutorException e = assertThrows(StatefulExecutorException.class, call, what);
        assertEquals(Status.INVALID_ARGUMENT, e.status(), what + ": " + e.getMessage());
        assertEquals(before + 1, commandsProcessed(), what + ": only the INFO probe reached the server");
        return e;
    }

    @Test
    void everyNullArgumentIsANullPointerException() {
        for (Map.Entry<String, Consumer<String[]>> op : operations(executor).entrySet()) {
            for (int i = 0; i < 3; i++) {
                String[] args = {"ns", "svc", "uid"};
                args[i] = null;
                long before = commandsProcessed();
                try {
                    op.getValue().accept(args);
                    // Operations with fewer than three strings ignore a[2].
                    assertTrue(i == 2, op.getKey() + " accepted null argument " + i);
                } catch (NullPointerException expected) {
                    assertEquals(before + 1, commandsProcessed(), op.getKey());
                }
            }
        }
        assertThrows(NullPointerException.class, () -> executor.getWorkloadStateBatch("ns", null));
        assertThrows(NullPointerException.class, () -> executor.batchGetLinkedPod("ns", null, "svc"));
        assertThrows(NullPointerException.class,
                () -> executor.computeLinkedPod("ns", "u", "svc", -1, null, new long[0]));
        assertThrows(NullPointerException.class,
                () -> executor.computeLinkedPod("ns", "u", "svc", -1, new int[0], null));
        assertThrows(NullPointerException.class, () -> StatefulExecutor.open(null));
        assertThrows(NullPointerException.class, () -> StatefulExecutor.clusterBuilder(null));
        assertThrows(NullPointerException.class, () -> StatefulExecutor.sentinelBuilder(List.of("redis://x:1"), null));
        assertThrows(NullPointerException.class, () -> StatefulExecutor.builder("redis://x:1").commandTimeout(null));
    }

    @Test
    void nulCharactersAndUnpairedSurrogatesAreRefusedBeforeSending() {
        List<String> bad = List.of("a\0b", "\0", "x\uD83D", "\uDE80y", "a\uDE80\uD83Db", "\uD83D\uD83D");
        for (Map.Entry<String, Consumer<String[]>> op : operations(executor).entrySet()) {
            for (int i = 0; i < 3; i++) {
                for (String value : bad) {
                    String[] args = {"ns", "svc", "uid"};
                    args[i] = value;
                    if (i == 2 && (op.getKey().equals("getServiceState") || op.getKey().equals("getWorkloadState")
                            || op.getKey().equals("getLinkService"))) {
                        continue; // no third string
                    }
                    StatefulExecutorException e =
                            invalidAndNothingSent(op.getKey() + " arg " + i, () -> op.getValue().accept(args));
                    assertTrue(e.getMessage().contains("NUL") || e.getMessage().contains("surrogate"), e.getMessage());
                }
            }
        }
    }

    @Test
    void badIdentifiersAndNumbersAreInvalidArguments() {
        invalidAndNothingSent("ns with ':'", () -> executor.getLinkedPod("a:b", "u", "svc"));
        invalidAndNothingSent("uid with '{'", () -> executor.getLinkedPod("ns", "u{1", "svc"));
        invalidAndNothingSent("empty uid", () -> executor.getLinkedPod("ns", "", "svc"));
        invalidAndNothingSent("empty state", () -> executor.setWorkloadState("ns", "svc", ""));
        invalidAndNothingSent("negative pod", () -> executor.setServiceState("ns", "svc", -1, "x"));
        invalidAndNothingSent("persist 0", () -> executor.setLinkedPod("ns", "u", "svc", 1, 0));
        invalidAndNothingSent("persist -2", () -> executor.setLinkedPodIfAbsent("ns", "u", "svc", 1, -2));
        invalidAndNothingSent("keep -2", () -> executor.removeLinkedPod("ns", "u", "svc", -2));
        invalidAndNothingSent("negative pod with id", () -> executor.removeLinkedPodWithId("ns", "u", "svc", 0, -5));
        invalidAndNothingSent("touch persist -1", () -> executor.touchLinkedPod("ns", "u", "svc", 1, -1));
        invalidAndNothingSent("touch persist 0", () -> executor.touchLinkedPod("ns", "u", "svc", 1, 0));
        invalidAndNothingSent("negative candidate",
                () -> executor.computeLinkedPod("ns", "u", "svc", -1, new int[] {-1}, new long[] {0}));
        invalidAndNothingSent("length mismatch",
                () -> executor.computeLinkedPod("ns", "u", "svc", -1, new int[] {1, 2}, new long[] {0}));
        invalidAndNothingSent("one bad uid in a batch",
                () -> executor.batchGetLinkedPod("ns", List.of("ok", "bad}"), "svc"));
        StatefulExecutorException e = invalidAndNothingSent("ns message", () -> executor.getLinkedPod("a:b", "u", "svc"));
        assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT: "), e.getMessage());
    }

    @Test
    void badConfigurations() {
        assertEquals(Status.CONFIG, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.open("nonsense://host")).status());
        assertEquals(Status.CONFIG, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.clusterBuilder(List.of()).open()).status());
        assertEquals(Status.CONFIG, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder("rediss://127.0.0.1:1").tlsCaFile(java.nio.file.Path.of("/nonexistent.pem")).open()).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).poolMaxSize(0).open()).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).poolMaxSize(-3)).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).poolMaxSize(2).poolMinIdle(3).open()).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).commandTimeout(Duration.ZERO).open()).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).connectTimeout(Duration.ofDays(30))).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.open("redis://127.0.0.1:1\0")).status());
    }

    @Test
    void unreachableServerIsAConnectionError() throws Exception {
        int port = RedisServer.freePort();
        StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                () -> StatefulExecutor.open("redis://127.0.0.1:" + port));
        assertEquals(Status.CONNECTION, e.status(), e.getMessage());
    }

    @Test
    void lostServerIsAConnectionError() {
        try (RedisServer doomed = RedisServer.start();
                StatefulExecutor ex = StatefulExecutor.builder(doomed.url())
                        .connectTimeout(Duration.ofMillis(300)).open()) {
            ex.setLinkedPod("ns", "u", "svc", 1, -1);
            doomed.kill();
            StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                    () -> ex.getLinkedPod("ns", "u", "svc"));
            assertEquals(Status.CONNECTION, e.status(), e.getMessage());
        }
    }

    @Test
    void wrongPasswordIsAnAuthError() {
        try (RedisServer secured = RedisServer.start("--requirepass", "s3cret")) {
            StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                    () -> StatefulExecutor.open("redis://:wrong@127.0.0.1:" + secured.port));
            assertEquals(Status.AUTH, e.status(), e.getMessage());
            assertFalse(e.getMessage().contains("wrong"), "the password never shows: " + e.getMessage());
            try (StatefulExecutor ok = StatefulExecutor.open("redis://:s3cret@127.0.0.1:" + secured.port)) {
                ok.ping();
            }
        }
    }

    @Test
    void slowServerIsATimeoutAndABusyPoolAPoolTimeout() throws Exception {
        try (RedisServer slow = RedisServer.start();
                Jedis admin = slow.jedis();
                StatefulExecutor ex = StatefulExecutor.builder(slow.url())
                        .poolMaxSize(1)
                        .commandTimeout(Duration.ofMillis(600))
                        .poolWaitTimeout(Duration.ofMillis(100))
                        .open()) {
            ex.ping();
            admin.clientPause(1500);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                CountDownLatch started = new CountDownLatch(1);
                Future<StatefulExecutorException> holder = pool.submit(() -> {
                    started.countDown();
                    return assertThrows(StatefulExecutorException.class, () -> ex.getLinkedPod("ns", "u", "svc"));
                });
                started.await();
                RedisServer.sleep(150); // the holder has the one connection, waiting for the reply
                StatefulExecutorException busy = assertThrows(StatefulExecutorException.class,
                        () -> ex.getLinkedPod("ns", "u2", "svc"));
                assertEquals(Status.POOL_TIMEOUT, busy.status(), busy.getMessage());
                StatefulExecutorException timeout = holder.get();
                assertEquals(Status.TIMEOUT, timeout.status(), timeout.getMessage());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void serverErrorIsARedisError() {
        try (RedisServer full = RedisServer.start("--maxmemory-policy", "noeviction");
                Jedis admin = full.jedis();
                StatefulExecutor ex = StatefulExecutor.open(full.url())) {
            admin.set("filler".getBytes(), new byte[2 * 1024 * 1024]);
            admin.configSet("maxmemory", "1mb");
            StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                    () -> ex.setWorkloadState("ns", "svc", "x"));
            assertEquals(Status.REDIS, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains("OOM"), e.getMessage());
        }
    }

    @Test
    void corruptDataIsAnUnexpectedReply() {
        raw.set("sf:{ns:lk:corrupt}svc", "not-a-pod");
        StatefulExecutorException e = assertThrows(StatefulExecutorException.class,
                () -> executor.getLinkedPod("ns", "corrupt", "svc"));
        assertEquals(Status.UNEXPECTED_REPLY, e.status(), e.getMessage());
        e = assertThrows(StatefulExecutorException.class,
                () -> executor.setLinkedPod("ns", "corrupt", "svc", 1, -1));
        assertEquals(Status.UNEXPECTED_REPLY, e.status(), e.getMessage());
        assertEquals("not-a-pod", raw.get("sf:{ns:lk:corrupt}svc"), "nothing written");
    }

    @Test
    void callsAfterCloseAreIllegalStateAndCloseIsIdempotent() {
        StatefulExecutor ex = StatefulExecutor.open(server.url());
        assertFalse(ex.isClosed());
        ex.close();
        assertTrue(ex.isClosed());
        assertDoesNotThrow(ex::close);
        for (Map.Entry<String, Consumer<String[]>> op : operations(ex).entrySet()) {
            assertThrows(IllegalStateException.class, () -> op.getValue().accept(new String[] {"ns", "svc", "uid"}),
                    op.getKey());
        }
        assertThrows(IllegalStateException.class, ex::ping);
        assertThrows(IllegalStateException.class, ex::stats);
    }

    @Test
    void statusNamesAreTheCApisWithoutThePrefix() {
        List<String> names = new ArrayList<>();
        for (Status s : Status.values()) {
            names.add(s.name());
            assertEquals(s, Status.fromCode(s.code()));
        }
        assertEquals(List.of("OK", "INVALID_ARGUMENT", "CONNECTION", "TIMEOUT", "POOL_TIMEOUT", "AUTH", "REDIS",
                "UNEXPECTED_REPLY", "CONFIG", "INTERNAL"), names);
        assertEquals(Status.INTERNAL, Status.fromCode(42));
        assertTrue(RuntimeException.class.isAssignableFrom(StatefulExecutorException.class));
    }
}
