package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** Every operation against a real server, checked through the API and in the raw keys. */
class OperationsTest {
    private static RedisServer server;
    private static StatefulExecutor executor;
    private static Jedis raw;
    private static final AtomicInteger NEXT_NS = new AtomicInteger();

    @BeforeAll
    static void start() {
        server = RedisServer.start();
        executor = StatefulExecutor.builder(server.url())
                .poolMaxSize(8)
                .poolMinIdle(1)
                .connectTimeout(Duration.ofSeconds(2))
                .commandTimeout(Duration.ofSeconds(2))
                .poolWaitTimeout(Duration.ofSeconds(2))
                .open();
        raw = server.jedis();
    }

    @AfterAll
    static void stop() {
        executor.close();
        raw.close();
        server.close();
    }

    private static String freshNs() {
        return "ops-" + NEXT_NS.incrementAndGet();
    }

    @Test
    void pingAnswers() {
        executor.ping();
    }

    @Test
    void theSecondRunOfTheSuiteBatchesEveryCall() {
        boolean everyCall = Boolean.getBoolean(Batcher.EVERY_CALL_PROPERTY);
        long before = executor.batcher().batchesRun();
        assertEquals(-1, executor.getLinkedPod(freshNs(), "u", "chat"));
        assertEquals(everyCall, executor.batcher().batchesRun() > before,
                everyCall ? "every call goes through a runner" : "a lone caller enters the library itself");
    }

    @Test
    void nativeVersionIsTheCrateVersion() {
        assertTrue(StatefulExecutor.nativeVersion().matches("\\d+\\.\\d+\\.\\d+.*"),
                StatefulExecutor.nativeVersion());
    }

    @Test
    void serviceStatesRoundTripInPodOrder() {
        String ns = freshNs();
        assertTrue(executor.getServiceState(ns, "chat").isEmpty());
        executor.setServiceState(ns, "chat", 10, "Pending");
        executor.setServiceState(ns, "chat", 2, "Running");
        executor.setServiceState(ns, "chat", 0, "3-100");
        executor.setServiceState(ns, "chat", 2, "Draining");
        Map<Integer, String> states = executor.getServiceState(ns, "chat");
        assertEquals(Map.of(0, "3-100", 2, "Draining", 10, "Pending"), states);
        assertEquals(List.of(0, 2, 10), new ArrayList<>(states.keySet()));
        assertEquals("Draining", raw.hget("sf:{" + ns + ":state:chat}", "2"));
        // Fields that are not pod ordinals are skipped when reading.
        raw.hset("sf:{" + ns + ":state:chat}", "not-a-pod", "x");
        assertEquals(3, executor.getServiceState(ns, "chat").size());
    }

    @Test
    void thirtyTwoPodStates() {
        String ns = freshNs();
        for (int pod = 0; pod < 32; pod++) {
            executor.setServiceState(ns, "game", pod, "state-" + pod + "-" + "x".repeat(pod));
        }
        Map<Integer, String> states = executor.getServiceState(ns, "game");
        assertEquals(32, states.size());
        for (int pod = 0; pod < 32; pod++) {
            assertEquals("state-" + pod + "-" + "x".repeat(pod), states.get(pod));
        }
    }

    @Test
    void resultsLargerThanTheGluesStackBufferComeBackWhole() {
        // Over the glue's 4 KiB packed-result buffer: the library hands back its own block.
        String ns = freshNs();
        Map<Integer, String> podStates = new HashMap<>();
        for (int pod = 0; pod < 3; pod++) {
            podStates.put(pod, pod + "🚀".repeat(1000));
            executor.setServiceState(ns, "big", pod, podStates.get(pod));
        }
        assertEquals(podStates, executor.getServiceState(ns, "big"));

        List<String> services = new ArrayList<>();
        Map<String, String> workloads = new HashMap<>();
        for (int i = 0; i < 40; i++) {
            services.add("svc-" + i);
            if (i % 3 != 0) {
                workloads.put("svc-" + i, i + "中".repeat(100));
                executor.setWorkloadState(ns, "svc-" + i, workloads.get("svc-" + i));
            }
        }
        assertEquals(workloads, executor.getWorkloadStateBatch(ns, services));

        Map<String, Integer> links = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            String service = i + "-" + "s".repeat(200);
            links.put(service, i);
            executor.setLinkedPod(ns, "u", service, i, -1);
        }
        assertEquals(links, executor.getLinkService(ns, "u"));
    }

    @Test
    void workloadStateRoundTripAndAbsence() {
        String ns = freshNs();
        assertNull(executor.getWorkloadState(ns, "chat"));
        executor.setWorkloadState(ns, "chat", "Available");
        assertEquals("Available", executor.getWorkloadState(ns, "chat"));
        assertEquals("Available", raw.get("sf:{" + ns + ":workload:chat}"));
        assertEquals(-1, raw.ttl("sf:{" + ns + ":workload:chat}"));
    }

    @Test
    void workloadBatchLeavesAbsentOutInInputOrder() {
        String ns = freshNs();
        executor.setWorkloadState(ns, "b", "READY");
        executor.setWorkloadState(ns, "a", "Available");
        Map<String, String> states = executor.getWorkloadStateBatch(ns, List.of("b", "missing", "a"));
        assertEquals(Map.of("b", "READY", "a", "Available"), states);
        assertEquals(List.of("b", "a"), new ArrayList<>(states.keySet()));
        assertTrue(executor.getWorkloadStateBatch(ns, List.of()).isEmpty());
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            many.add("svc-" + i);
        }
        executor.setWorkloadState(ns, "svc-299", "last");
        assertEquals(Map.of("svc-299", "last"), executor.getWorkloadStateBatch(ns, many));
    }

    @Test
    void setLinkedPodReturnsThePreviousAndWritesBothKeys() {
        String ns = freshNs();
        String hash = "sf:{" + ns + ":lk:u1}";
        assertEquals(-1, executor.setLinkedPod(ns, "u1", "chat", 3, StatefulExecutor.PERSISTENT));
        assertEquals("3", raw.get(hash + "chat"));
        assertEquals("3", raw.hget(hash, "chat"));
        assertEquals(-1, raw.ttl(hash + "chat"));
        // Temporary: a TTL, and the hash field is gone.
        assertEquals(3, executor.setLinkedPod(ns, "u1", "chat", 4, 100));
        assertNull(raw.hget(hash, "chat"));
        long ttl = raw.ttl(hash + "chat");
        assertTrue(ttl > 0 && ttl <= 100, "ttl " + ttl);
        assertEquals(4, executor.getLinkedPod(ns, "u1", "chat"));
    }

    @Test
    void trySetLinkedPodRefusesOnlyAPersistentLinkToAnotherPod() {
        String ns = freshNs();
        assertEquals(new TrySetResult(true, 1), executor.trySetLinkedPod(ns, "u", "chat", 1, -1));
        TrySetResult refused = executor.trySetLinkedPod(ns, "u", "chat", 2, -1);
        assertFalse(refused.linked());
        assertEquals(1, refused.pod());
        assertEquals(1, executor.getLinkedPod(ns, "u", "chat"));
        // The same pod is not "another pod".
        assertEquals(new TrySetResult(true, 1), executor.trySetLinkedPod(ns, "u", "chat", 1, 60));
        // A temporary link does not refuse.
        assertEquals(new TrySetResult(true, 5), executor.trySetLinkedPod(ns, "u", "chat", 5, -1));
        assertEquals(5, executor.getLinkedPodIfPersist(ns, "u", "chat"));
    }

    @Test
    void setLinkedPodIfAbsentKeepsAnyExistingLink() {
        String ns = freshNs();
        assertEquals(7, executor.setLinkedPodIfAbsent(ns, "u", "chat", 7, 30));
        assertEquals(7, executor.setLinkedPodIfAbsent(ns, "u", "chat", 8, -1));
        assertEquals(7, executor.getLinkedPod(ns, "u", "chat"));
        assertTrue(raw.ttl("sf:{" + ns + ":lk:u}chat") > 0);
    }

    @Test
    void getLinkedPodAndIfPersist() {
        String ns = freshNs();
        assertEquals(-1, executor.getLinkedPod(ns, "u", "chat"));
        assertEquals(-1, executor.getLinkedPodIfPersist(ns, "u", "chat"));
        executor.setLinkedPod(ns, "u", "chat", 2, 50);
        assertEquals(2, executor.getLinkedPod(ns, "u", "chat"));
        assertEquals(-1, executor.getLinkedPodIfPersist(ns, "u", "chat"));
        executor.setLinkedPod(ns, "u", "chat", 2, -1);
        assertEquals(2, executor.getLinkedPodIfPersist(ns, "u", "chat"));
    }

    @Test
    void batchGetLinkedPodGroupsByPodInInputOrder() {
        String ns = freshNs();
        executor.setLinkedPod(ns, "a", "chat", 2, -1);
        executor.setLinkedPod(ns, "b", "chat", 1, 60);
        executor.setLinkedPod(ns, "c", "chat", 2, -1);
        executor.setLinkedPod(ns, "d", "other", 2, -1);
        Map<Integer, List<String>> byPod =
                executor.batchGetLinkedPod(ns, List.of("c", "d", "a", "b", "zz"), "chat");
        assertEquals(Map.of(1, List.of("b"), 2, List.of("c", "a")), byPod);
        assertEquals(List.of(1, 2), new ArrayList<>(byPod.keySet()));
        assertTrue(executor.batchGetLinkedPod(ns, List.of(), "chat").isEmpty());
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            many.add("user-" + i);
        }
        executor.setLinkedPod(ns, "user-999", "chat", 9, -1);
        assertEquals(Map.of(9, List.of("user-999")), executor.batchGetLinkedPod(ns, many, "chat"));
    }

    @Test
    void removeLinkedPodDeletesOrKeepsTemporarily() {
        String ns = freshNs();
        String link = "sf:{" + ns + ":lk:u}chat";
        assertFalse(executor.removeLinkedPod(ns, "u", "chat", 0));
        executor.setLinkedPod(ns, "u", "chat", 3, -1);
        assertTrue(executor.removeLinkedPod(ns, "u", "chat", -1));
        assertFalse(raw.exists(link));
        assertNull(raw.hget("sf:{" + ns + ":lk:u}", "chat"));
        executor.setLinkedPod(ns, "u", "chat", 3, -1);
        assertTrue(executor.removeLinkedPod(ns, "u", "chat", 120));
        long ttl = raw.ttl(link);
        assertTrue(ttl > 0 && ttl <= 120, "ttl " + ttl);
        assertEquals(3, executor.getLinkedPod(ns, "u", "chat"));
        assertEquals(-1, executor.getLinkedPodIfPersist(ns, "u", "chat"));
    }

    @Test
    void removeLinkedPodWithIdOnlyForThatPod() {
        String ns = freshNs();
        executor.setLinkedPod(ns, "u", "chat", 3, -1);
        assertFalse(executor.removeLinkedPodWithId(ns, "u", "chat", 0, 4));
        assertEquals(3, executor.getLinkedPod(ns, "u", "chat"));
        assertTrue(executor.removeLinkedPodWithId(ns, "u", "chat", 0, 3));
        assertEquals(-1, executor.getLinkedPod(ns, "u", "chat"));
    }

    @Test
    void touchLinkedPodExtendsOnlyATemporaryLinkToThatPod() {
        String ns = freshNs();
        String link = "sf:{" + ns + ":lk:u}chat";
        executor.setLinkedPod(ns, "u", "chat", 3, 30);
        assertTrue(executor.touchLinkedPod(ns, "u", "chat", 3, 900));
        long ttl = raw.ttl(link);
        assertTrue(ttl > 800 && ttl <= 900, "ttl " + ttl);
        assertFalse(executor.touchLinkedPod(ns, "u", "chat", 4, 5));
        ttl = raw.ttl(link);
        assertTrue(ttl > 800, "ttl after touching another pod " + ttl);
        executor.setLinkedPod(ns, "p", "chat", 3, -1);
        assertTrue(executor.touchLinkedPod(ns, "p", "chat", 3, 900));
        assertEquals(-1, raw.ttl("sf:{" + ns + ":lk:p}chat"));
        assertFalse(executor.touchLinkedPod(ns, "nobody", "chat", 3, 900));
        assertFalse(raw.exists("sf:{" + ns + ":lk:nobody}chat"));
    }

    @Test
    void getLinkServiceListsPersistentLinksByName() {
        String ns = freshNs();
        assertTrue(executor.getLinkService(ns, "u").isEmpty());
        executor.setLinkedPod(ns, "u", "zeta", 1, -1);
        executor.setLinkedPod(ns, "u", "alpha", 2, -1);
        executor.setLinkedPod(ns, "u", "temp", 3, 60);
        Map<String, Integer> links = executor.getLinkService(ns, "u");
        assertEquals(Map.of("alpha", 2, "zeta", 1), links);
        assertEquals(List.of("alpha", "zeta"), new ArrayList<>(links.keySet()));
    }

    @Test
    void computeLinkedPodPicksTheLeastLoadedOnce() {
        String ns = freshNs();
        assertEquals(-1, executor.computeLinkedPod(ns, "u", "chat", -1, new int[0], new long[0]));
        assertFalse(raw.exists("sf:{" + ns + ":lk:u}chat"));
        int[] pods = {4, 2, 7, 1};
        long[] loads = {10, 3, 3, 50};
        assertEquals(2, executor.computeLinkedPod(ns, "u", "chat", -1, pods, loads));
        assertEquals(2, executor.getLinkedPodIfPersist(ns, "u", "chat"));
        // An existing link wins over any candidate.
        assertEquals(2, executor.computeLinkedPod(ns, "u", "chat", -1, new int[] {9}, new long[] {0}));
        assertEquals(2, executor.computeLinkedPod(ns, "u", "chat", -1, new int[0], new long[0]));
        int[] many = new int[100];
        long[] manyLoads = new long[100];
        for (int i = 0; i < 100; i++) {
            many[i] = i;
            manyLoads[i] = 1000 - i;
        }
        assertEquals(99, executor.computeLinkedPod(ns, "v", "chat", 30, many, manyLoads));
        assertTrue(raw.ttl("sf:{" + ns + ":lk:v}chat") > 0);
    }

    @Test
    void statsCountCalls() {
        Stats before = executor.stats();
        executor.ping();
        executor.getLinkedPod(freshNs(), "u", "chat");
        Stats after = executor.stats();
        assertTrue(after.calls() >= before.calls() + 2, before + " then " + after);
        assertTrue(after.connections() >= 1, after.toString());
        assertTrue(after.connects() >= 1, after.toString());
        long failedBefore = after.failedCalls();
        org.junit.jupiter.api.Assertions.assertThrows(StatefulExecutorException.class,
                () -> executor.getLinkedPod("bad:ns", "u", "chat"));
        assertEquals(failedBefore + 1, executor.stats().failedCalls());
    }
}
