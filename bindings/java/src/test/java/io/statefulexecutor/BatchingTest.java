package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * Calls handed to the library together: each call's own outcome, the bound of a queued call,
 * close() with calls queued, interrupts. The server is frozen (SIGSTOP) to hold calls where a
 * test wants them: in a batch at the server, or queued behind it.
 */
class BatchingTest {
    private static RedisServer server;
    private static Jedis raw;
    private final List<StatefulExecutor> opened = new ArrayList<>();

    @BeforeAll
    static void start() {
        server = RedisServer.start();
        raw = server.jedis();
    }

    @AfterAll
    static void stop() {
        raw.close();
        server.close();
    }

    @AfterEach
    void closeExecutors() {
        server.thaw();
        opened.forEach(StatefulExecutor::close);
        opened.clear();
    }

    /** An executor whose calls all go through the runners, as a virtual thread's do. */
    private StatefulExecutor batchingEveryCall(Duration commandTimeout) {
        StatefulExecutor ex = StatefulExecutor.builder(server.url())
                .commandTimeout(commandTimeout)
                .handOffEveryCall(true)
                .open();
        opened.add(ex);
        ex.ping();
        return ex;
    }

    /** A call running on a thread of its own. */
    private static <T> FutureTask<T> onThread(Callable<T> call) {
        FutureTask<T> task = new FutureTask<>(call);
        Thread thread = new Thread(task, "batching-test-caller");
        thread.setDaemon(true);
        thread.start();
        return task;
    }

    private static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            RedisServer.sleep(2);
        }
    }

    private static Throwable failure(FutureTask<?> task) throws InterruptedException {
        try {
            task.get(10, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("the call did not return", e);
        }
    }

    private static String linkKey(String ns, String uid, String svc) {
        return "sf:{" + ns + ":lk:" + uid + "}" + svc;
    }

    /** Occupies both runners with a batch each at the frozen server; returns those two calls. */
    private static List<FutureTask<Integer>> occupyBothRunners(StatefulExecutor ex, String ns) {
        List<FutureTask<Integer>> held = new ArrayList<>();
        for (int i = 0; i < Batcher.RUNNERS; i++) {
            String uid = "held-" + i;
            held.add(onThread(() -> ex.setLinkedPod(ns, uid, "chat", 1, -1)));
            int inFlight = i + 1;
            await(inFlight + " batches at the server", () -> ex.batcher().inFlight() == inFlight);
        }
        return held;
    }

    @Test
    void everyOperationInOneBatchGetsItsOwnOutcome() throws Exception {
        String ns = "mix";
        raw.set("sf:{mix:workload:present}", "Available");
        raw.hset("sf:{mix:state:chat}", Map.of("0", "Running", "3", "Draining"));
        raw.set(linkKey(ns, "linked", "chat"), "5");
        raw.hset("sf:{mix:lk:linked}", Map.of("chat", "5", "game", "2"));
        raw.setex(linkKey(ns, "temp", "chat"), 100, "6"); // a temporary link: it expires
        StatefulExecutor ex = batchingEveryCall(Duration.ofSeconds(10));
        server.freeze();
        List<FutureTask<Integer>> held = occupyBothRunners(ex, ns);
        Map<String, FutureTask<Object>> calls = new LinkedHashMap<>();
        calls.put("getLinkedPod", onThread(() -> ex.getLinkedPod(ns, "linked", "chat")));
        calls.put("getLinkedPod absent", onThread(() -> ex.getLinkedPod(ns, "nobody", "chat")));
        calls.put("getLinkedPodIfPersist temp", onThread(() -> ex.getLinkedPodIfPersist(ns, "temp", "chat")));
        calls.put("setLinkedPod", onThread(() -> ex.setLinkedPod(ns, "fresh", "chat", 4, -1)));
        calls.put("trySetLinkedPod refused", onThread(() -> ex.trySetLinkedPod(ns, "linked", "chat", 9, -1)));
        calls.put("setLinkedPodIfAbsent", onThread(() -> ex.setLinkedPodIfAbsent(ns, "linked", "chat", 9, -1)));
        calls.put("removeLinkedPodWithId wrong pod", onThread(() -> ex.removeLinkedPodWithId(ns, "linked", "chat", 0, 8)));
        calls.put("removeLinkedPod temp", onThread(() -> ex.removeLinkedPod(ns, "temp", "chat", 0)));
        calls.put("getServiceState", onThread(() -> ex.getServiceState(ns, "chat")));
        calls.put("getServiceState empty", onThread(() -> ex.getServiceState(ns, "none")));
        calls.put("getWorkloadState", onThread(() -> ex.getWorkloadState(ns, "present")));
        calls.put("getWorkloadState absent", onThread(() -> ex.getWorkloadState(ns, "absent")));
        calls.put("setWorkloadState", onThread(() -> {
            ex.setWorkloadState(ns, "written", "Draining");
            return "done";
        }));
        calls.put("setServiceState", onThread(() -> {
            ex.setServiceState(ns, "other", 7, "Pending");
            return "done";
        }));
        calls.put("getLinkService", onThread(() -> ex.getLinkService(ns, "linked")));
        calls.put("bad namespace", onThread(() -> ex.getLinkedPod("a:b", "u", "chat")));
        calls.put("bad persist", onThread(() -> ex.setLinkedPod(ns, "never", "chat", 1, 0)));
        await("every call queued behind the two batches", () -> queuedCallers() == calls.size() + Batcher.RUNNERS);
        long batchesBefore = ex.batcher().batchesRun();
        server.thaw();
        for (FutureTask<Integer> h : held) {
            assertEquals(-1, h.get(10, TimeUnit.SECONDS));
        }
        Map<String, Object> results = new LinkedHashMap<>();
        for (Map.Entry<String, FutureTask<Object>> call : calls.entrySet()) {
            Throwable failed = failure(call.getValue());
            results.put(call.getKey(), failed != null ? failed : call.getValue().get());
        }
        assertEquals(5, results.get("getLinkedPod"));
        assertEquals(-1, results.get("getLinkedPod absent"));
        assertEquals(-1, results.get("getLinkedPodIfPersist temp"));
        assertEquals(-1, results.get("setLinkedPod"));
        assertEquals(new TrySetResult(false, 5), results.get("trySetLinkedPod refused"));
        assertEquals(5, results.get("setLinkedPodIfAbsent"));
        assertEquals(false, results.get("removeLinkedPodWithId wrong pod"));
        assertEquals(true, results.get("removeLinkedPod temp"));
        assertEquals(Map.of(0, "Running", 3, "Draining"), results.get("getServiceState"));
        assertEquals(List.of(0, 3), new ArrayList<>(((Map<?, ?>) results.get("getServiceState")).keySet()));
        assertEquals(Map.of(), results.get("getServiceState empty"));
        assertEquals("Available", results.get("getWorkloadState"));
        assertNull(results.get("getWorkloadState absent"));
        assertEquals(Map.of("chat", 5, "game", 2), results.get("getLinkService"));
        assertEquals(List.of("chat", "game"), new ArrayList<>(((Map<?, ?>) results.get("getLinkService")).keySet()));
        for (String bad : List.of("bad namespace", "bad persist")) {
            StatefulExecutorException e = (StatefulExecutorException) results.get(bad);
            assertEquals(Status.INVALID_ARGUMENT, e.status(), e.getMessage());
        }
        assertEquals("4", raw.get(linkKey(ns, "fresh", "chat")));
        assertEquals("Draining", raw.get("sf:{mix:workload:written}"));
        assertEquals("Pending", raw.hget("sf:{mix:state:other}", "7"));
        assertNull(raw.get(linkKey(ns, "temp", "chat")));
        assertFalse(raw.exists(linkKey(ns, "never", "chat")));
        // The queued calls went in fewer native calls than there were calls.
        long batches = ex.batcher().batchesRun() - batchesBefore;
        assertTrue(batches < calls.size(), calls.size() + " calls in " + batches + " batches");
    }

    /** Threads parked in the batcher, waiting for their call (counted from their stacks). */
    private static int queuedCallers() {
        int parked = 0;
        for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
            if (!t.getKey().getName().equals("batching-test-caller")) {
                continue;
            }
            for (StackTraceElement frame : t.getValue()) {
                if (frame.getClassName().equals(Batcher.class.getName()) && frame.getMethodName().equals("await")) {
                    parked++;
                    break;
                }
            }
        }
        return parked;
    }

    @Test
    void aResultLargerThanTheRunnersBufferComesBackWhole() {
        StatefulExecutor ex = batchingEveryCall(Duration.ofSeconds(5));
        Map<Integer, String> expected = new LinkedHashMap<>();
        String state = "s".repeat(900);
        for (int pod = 0; pod < 120; pod++) { // about 110 KB of states: more than the 64 KB buffer
            expected.put(pod, state + pod);
            ex.setServiceState("big", "chat", pod, state + pod);
        }
        for (int round = 0; round < 2; round++) { // spilled, then in the grown buffer
            Map<Integer, String> states = ex.getServiceState("big", "chat");
            assertEquals(expected, states);
            assertEquals(new ArrayList<>(expected.keySet()), new ArrayList<>(states.keySet()));
        }
    }

    @Test
    void aQueuedCallPastItsBoundFailsWithPoolTimeoutAndIsNeverSent() throws Exception {
        StatefulExecutor ex = StatefulExecutor.builder(server.url())
                .commandTimeout(Duration.ofSeconds(10))
                .handOffEveryCall(true)
                .callBound(Duration.ofMillis(400))
                .open();
        opened.add(ex);
        ex.ping();
        server.freeze();
        long start = System.nanoTime();
        List<FutureTask<Integer>> held = occupyBothRunners(ex, "bound");
        List<FutureTask<Integer>> queued = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String uid = "queued-" + i;
            queued.add(onThread(() -> ex.setLinkedPod("bound", uid, "chat", 1, -1)));
        }
        for (FutureTask<Integer> call : queued) {
            StatefulExecutorException e = (StatefulExecutorException) failure(call);
            assertEquals(Status.POOL_TIMEOUT, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains("not sent"), e.getMessage());
        }
        for (FutureTask<Integer> call : held) {
            StatefulExecutorException e = (StatefulExecutorException) failure(call);
            assertEquals(Status.TIMEOUT, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains("may or may not have run"), e.getMessage());
        }
        long tookMillis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(tookMillis < 5_000, "every call returned near its 400 ms bound, not after the 10 s command timeout: "
                + tookMillis + " ms");
        server.thaw();
        await("the held batches to finish", () -> ex.batcher().inFlight() == 0);
        assertEquals(-1, ex.getLinkedPod("bound", "later", "chat"), "the executor works on");
        for (int i = 0; i < 6; i++) {
            assertFalse(raw.exists(linkKey("bound", "queued-" + i, "chat")), "queued-" + i + " was never sent");
        }
        assertEquals("1", raw.get(linkKey("bound", "held-0", "chat")), "a held call was sent and ran after all");
    }

    @Test
    void closeFailsTheQueuedCallsWithIllegalStateException() throws Exception {
        StatefulExecutor ex = batchingEveryCall(Duration.ofSeconds(10));
        server.freeze();
        List<FutureTask<Integer>> held = occupyBothRunners(ex, "closing");
        List<FutureTask<Integer>> queued = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String uid = "queued-" + i;
            queued.add(onThread(() -> ex.setLinkedPod("closing", uid, "chat", 1, -1)));
        }
        // Calls sf_execute_batch cannot carry go to the workers (16: the pool size): 16 of these
        // are at the server, 4 wait for a worker.
        List<FutureTask<Map<Integer, List<String>>>> toWorkers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String uid = "worker-" + i;
            toWorkers.add(onThread(() -> ex.batchGetLinkedPod("closing", List.of(uid), "chat")));
        }
        await("the calls queued", () -> queuedCallers() == 40 + Batcher.RUNNERS);
        await("16 workers at the server", () -> ex.batcher().inFlight() == 16 + Batcher.RUNNERS);
        FutureTask<Void> closing = onThread(() -> {
            ex.close();
            return null;
        });
        for (FutureTask<Integer> call : queued) {
            Throwable e = failure(call);
            assertTrue(e instanceof IllegalStateException, "a queued call fails at once: " + e);
        }
        assertFalse(closing.isDone(), "close() waits for the calls at the server");
        server.thaw();
        closing.get(10, TimeUnit.SECONDS);
        for (FutureTask<Integer> h : held) {
            assertEquals(-1, h.get(10, TimeUnit.SECONDS), "the calls inside the library finished");
        }
        int ran = 0;
        int illegal = 0;
        for (FutureTask<Map<Integer, List<String>>> call : toWorkers) {
            Throwable e = failure(call);
            if (e == null) {
                assertEquals(Map.of(), call.get());
                ran++;
            } else {
                assertTrue(e instanceof IllegalStateException, String.valueOf(e));
                illegal++;
            }
        }
        assertEquals(16, ran, "the workers' calls at the server finished");
        assertEquals(4, illegal, "the calls waiting for a worker failed");
        for (int i = 0; i < 20; i++) {
            assertFalse(raw.exists(linkKey("closing", "queued-" + i, "chat")), "queued-" + i + " was never sent");
        }
        assertThrows(IllegalStateException.class, () -> ex.getLinkedPod("closing", "u", "chat"));
    }

    @Test
    void aCallOnAnInterruptedThreadThrowsAtOnceAndSendsNothing() {
        for (boolean everyCall : new boolean[] {false, true}) {
            StatefulExecutor ex = StatefulExecutor.builder(server.url()).handOffEveryCall(everyCall).open();
            opened.add(ex);
            List<Runnable> calls = List.of(
                    () -> ex.setLinkedPod("interrupted", "u", "chat", 1, -1),
                    () -> ex.getServiceState("interrupted", "chat"),
                    () -> ex.batchGetLinkedPod("interrupted", List.of("u"), "chat"),
                    ex::ping);
            for (Runnable call : calls) {
                long before = commandsProcessed();
                Thread.currentThread().interrupt();
                CallInterruptedException e = assertThrows(CallInterruptedException.class, call::run);
                assertTrue(Thread.interrupted(), "the interrupt flag is kept");
                assertFalse(e.mayHaveRun());
                assertEquals(before + 1, commandsProcessed(), "only the INFO probe reached the server");
            }
        }
    }

    private static long commandsProcessed() {
        return RedisServer.info(raw, "stats", "total_commands_processed");
    }

    @Test
    void anInterruptedWaitingCallStopsAtOnceAndSaysWhetherItWasSent() throws Exception {
        StatefulExecutor ex = batchingEveryCall(Duration.ofSeconds(10));
        server.freeze();
        List<Thread> callers = new ArrayList<>();
        List<FutureTask<Object>> calls = new ArrayList<>();
        for (String uid : List.of("sent-0", "sent-1", "queued")) {
            FutureTask<Object> call = new FutureTask<>(() -> {
                try {
                    return ex.setLinkedPod("interrupt", uid, "chat", 1, -1);
                } catch (CallInterruptedException e) {
                    assertTrue(Thread.currentThread().isInterrupted(), "the flag is kept");
                    return e;
                }
            });
            Thread caller = new Thread(call, "batching-test-caller");
            caller.setDaemon(true);
            caller.start();
            callers.add(caller);
            calls.add(call);
            if (callers.size() <= Batcher.RUNNERS) {
                int inFlight = callers.size();
                await("batch " + inFlight + " at the server", () -> ex.batcher().inFlight() == inFlight);
            }
        }
        await("the third call queued", () -> queuedCallers() == 3);
        callers.get(2).interrupt();
        callers.get(0).interrupt();
        CallInterruptedException queued = (CallInterruptedException) calls.get(2).get(5, TimeUnit.SECONDS);
        assertFalse(queued.mayHaveRun(), queued.getMessage());
        CallInterruptedException sent = (CallInterruptedException) calls.get(0).get(5, TimeUnit.SECONDS);
        assertTrue(sent.mayHaveRun(), sent.getMessage());
        assertFalse(calls.get(1).isDone(), "the other call is still waiting for the frozen server");
        server.thaw();
        assertEquals(-1, calls.get(1).get(10, TimeUnit.SECONDS));
        await("the batches to finish", () -> ex.batcher().inFlight() == 0);
        ex.ping();
        assertEquals("1", raw.get(linkKey("interrupt", "sent-0", "chat")), "the interrupted caller's sent call ran");
        assertFalse(raw.exists(linkKey("interrupt", "queued", "chat")), "the interrupted queued call never ran");
    }

    @Test
    void aLoneCallInsideNativeCodeFinishesDespiteAnInterrupt() throws Exception {
        StatefulExecutor ex = StatefulExecutor.builder(server.url())
                .commandTimeout(Duration.ofSeconds(10))
                .handOffEveryCall(false)
                .open();
        opened.add(ex);
        ex.setLinkedPod("lone", "u", "chat", 3, -1);
        server.freeze();
        FutureTask<Boolean> call = new FutureTask<>(() -> {
            int pod = ex.getLinkedPod("lone", "u", "chat");
            assertEquals(3, pod);
            return Thread.currentThread().isInterrupted();
        });
        Thread caller = new Thread(call, "lone-caller");
        caller.setDaemon(true);
        caller.start();
        await("the lone call inside native code", () -> {
            StackTraceElement[] stack = caller.getStackTrace();
            return stack.length > 0 && stack[0].getClassName().equals(Native.class.getName())
                    && stack[0].getMethodName().equals("getLinkedPod");
        });
        caller.interrupt();
        RedisServer.sleep(100);
        assertFalse(call.isDone(), "a call inside native code is not cut short");
        server.thaw();
        assertTrue(call.get(10, TimeUnit.SECONDS), "it returned its result, with the interrupt flag still set");
    }

    @Test
    void onAClusterNothingIsBatchedButHandedOffCallsStillRun() throws Exception {
        try (RedisServer node = RedisServer.start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
                Jedis admin = node.jedis()) {
            admin.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, "ADDSLOTSRANGE", "0", "16383");
            await("the one-node cluster is up", () -> admin.clusterInfo().contains("cluster_state:ok"));
            StatefulExecutor ex = StatefulExecutor.clusterBuilder(List.of(node.url())).handOffEveryCall(true).open();
            opened.add(ex);
            List<FutureTask<Object>> calls = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String uid = "c" + i;
                int pod = i;
                calls.add(onThread(() -> {
                    assertEquals(-1, ex.setLinkedPod("cl", uid, "chat", pod, -1));
                    ex.setServiceState("cl", "chat", pod, "Running-" + pod);
                    return List.of(ex.getLinkedPod("cl", uid, "chat"), ex.getLinkService("cl", uid),
                            ex.getServiceState("cl", "chat").get(pod));
                }));
            }
            for (int i = 0; i < calls.size(); i++) {
                assertEquals(List.of(i, Map.of("chat", i), "Running-" + i), calls.get(i).get(10, TimeUnit.SECONDS));
            }
            assertEquals(0, ex.batcher().batchesRun(), "a Cluster's calls go to the workers one by one");
        }
    }

    @Test
    void concurrentPlatformThreadsShareBatchesAndALoneCallerDoesNot() throws Exception {
        StatefulExecutor ex = StatefulExecutor.builder(server.url()).handOffEveryCall(false).open();
        opened.add(ex);
        for (int i = 0; i < 5; i++) {
            assertEquals(-1, ex.getLinkedPod("share", "alone", "chat"));
        }
        assertEquals(0, ex.batcher().batchesRun(), "a lone caller enters the library itself");
        for (int t = 0; t < 16; t++) {
            ex.setLinkedPod("share", "t" + t, "chat", t, -1);
        }
        List<FutureTask<Void>> threads = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int pod = t;
            threads.add(onThread(() -> {
                for (int i = 0; i < 300; i++) {
                    assertEquals(pod, ex.getLinkedPod("share", "t" + pod, "chat"), "no crossed answers");
                }
                return null;
            }));
        }
        for (FutureTask<Void> t : threads) {
            t.get(60, TimeUnit.SECONDS);
        }
        long batches = ex.batcher().batchesRun();
        long batched = ex.batcher().callsBatched();
        assertTrue(batches > 0 && batched > batches,
                "16 threads calling at once share batches: " + batched + " calls in " + batches + " batches");
    }
}
