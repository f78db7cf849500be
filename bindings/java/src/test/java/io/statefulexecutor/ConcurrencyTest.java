package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** Many threads on one executor: races with one winner, close while calls run, the Cleaner. */
class ConcurrencyTest {
    private static RedisServer server;
    private static StatefulExecutor executor;
    private static Jedis raw;

    @BeforeAll
    static void start() {
        server = RedisServer.start();
        executor = StatefulExecutor.builder(server.url()).poolMaxSize(16).open();
        raw = server.jedis();
    }

    @AfterAll
    static void stop() {
        executor.close();
        raw.close();
        server.close();
    }

    private static <T> List<T> race(int threads, java.util.function.IntFunction<Callable<T>> task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier barrier = new CyclicBarrier(threads);
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<T> call = task.apply(t);
                futures.add(pool.submit(() -> {
                    barrier.await();
                    return call.call();
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void sixteenThreadsSetIfAbsentAllGetTheOneWinner() throws Exception {
        for (int round = 0; round < 20; round++) {
            String uid = "race-" + round;
            List<Integer> pods = race(16, t -> () -> executor.setLinkedPodIfAbsent("cc", uid, "chat", 100 + t, -1));
            Set<Integer> distinct = new HashSet<>(pods);
            assertEquals(1, distinct.size(), "everyone sees the same pod: " + pods);
            int winner = pods.get(0);
            assertTrue(winner >= 100 && winner < 116);
            assertEquals(Integer.toString(winner), raw.get("sf:{cc:lk:" + uid + "}chat"));
            assertEquals(Integer.toString(winner), raw.hget("sf:{cc:lk:" + uid + "}", "chat"));
        }
    }

    @Test
    void sixteenThreadsTrySetExactlyOneLinks() throws Exception {
        for (int round = 0; round < 20; round++) {
            String uid = "try-" + round;
            List<TrySetResult> results = race(16, t -> () -> executor.trySetLinkedPod("cc", uid, "chat", 200 + t, -1));
            long linked = results.stream().filter(TrySetResult::linked).count();
            assertEquals(1, linked, results.toString());
            int winner = results.stream().filter(TrySetResult::linked).findFirst().orElseThrow().pod();
            for (TrySetResult r : results) {
                assertEquals(winner, r.pod(), "the refused see the winner's pod: " + results);
            }
            assertEquals(winner, executor.getLinkedPodIfPersist("cc", uid, "chat"));
        }
    }

    @Test
    void sixteenThreadsComputeOnePod() throws Exception {
        List<Integer> pods = race(16, t -> () ->
                executor.computeLinkedPod("cc", "compute", "chat", -1, new int[] {t, 50}, new long[] {t, 100}));
        assertEquals(1, new HashSet<>(pods).size(), pods.toString());
    }

    @Test
    void closeWhileEightThreadsCallFinishesOrFailsCleanly() throws Exception {
        for (int round = 0; round < 5; round++) {
            StatefulExecutor ex = StatefulExecutor.builder(server.url()).poolMaxSize(4).open();
            ExecutorService pool = Executors.newFixedThreadPool(8);
            AtomicLong succeeded = new AtomicLong();
            CountDownLatch running = new CountDownLatch(8);
            List<Future<Throwable>> outcomes = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                outcomes.add(pool.submit(() -> {
                    running.countDown();
                    try {
                        for (long i = 0; ; i++) {
                            switch ((int) (i % 4)) {
                                case 0 -> ex.setLinkedPod("close", "u" + thread, "chat", (int) (i % 7), -1);
                                case 1 -> ex.getLinkedPod("close", "u" + thread, "chat");
                                case 2 -> ex.getServiceState("close", "chat");
                                default -> ex.batchGetLinkedPod("close", List.of("u1", "u2", "u3"), "chat");
                            }
                            succeeded.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        return e;
                    }
                }));
            }
            running.await();
            while (succeeded.get() < 200) {
                Thread.onSpinWait();
            }
            ex.close();
            for (Future<Throwable> outcome : outcomes) {
                Throwable e = outcome.get();
                assertTrue(e instanceof IllegalStateException, "after close only IllegalStateException: " + e);
            }
            pool.shutdown();
            assertTrue(ex.isClosed());
        }
        executor.ping(); // the process is fine and other executors too
    }

    @Test
    void closeRacingCloseFreesOnce() throws Exception {
        StatefulExecutor ex = StatefulExecutor.open(server.url());
        List<Boolean> done = race(8, t -> () -> {
            ex.close();
            return ex.isClosed();
        });
        assertEquals(List.of(true, true, true, true, true, true, true, true), done);
    }

    private static int connectedClients() {
        return (int) RedisServer.info(raw, "clients", "connected_clients");
    }

    @Test
    void anExecutorNeverClosedIsClosedByTheCleaner() {
        int before = connectedClients();
        WeakReference<StatefulExecutor> forgotten = openAndForget();
        assertTrue(connectedClients() >= before + 3, "the forgotten executor holds its idle connections");
        long deadline = System.nanoTime() + 20_000_000_000L;
        while ((forgotten.get() != null || connectedClients() > before) && System.nanoTime() < deadline) {
            System.gc();
            RedisServer.sleep(50);
        }
        assertEquals(before, connectedClients(), "the Cleaner closed the pool");
    }

    private static WeakReference<StatefulExecutor> openAndForget() {
        StatefulExecutor ex = StatefulExecutor.builder(server.url()).poolMaxSize(4).poolMinIdle(3).open();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (ex.stats().idleConnections() < 3 && System.nanoTime() < deadline) {
            RedisServer.sleep(20);
        }
        ex.ping();
        return new WeakReference<>(ex);
    }

    /**
     * The builder's pipelining settings reach the library: 8 calls held up together by a server
     * paused for writes (scripts included; new connections still open) each hold a pooled
     * connection with pipelining off, and share one connection with every call pipelined.
     */
    @Test
    void pipeliningSettingsReachTheLibrary() throws Exception {
        for (boolean pipelined : new boolean[] {false, true}) {
            StatefulExecutor.Builder builder = StatefulExecutor.builder(server.url()).poolMaxSize(16);
            builder = pipelined ? builder.pipelining(true).pipeliningMinInFlight(1) : builder.pipelining(false);
            try (StatefulExecutor ex = builder.open()) {
                Stats before = ex.stats();
                raw.clientPause(500, redis.clients.jedis.args.ClientPauseMode.WRITE);
                race(8, t -> () -> ex.computeLinkedPod("pl", pipelined + "u" + t, "s", -1, new int[] {1}, new long[] {0}));
                long opened = ex.stats().connects() - before.connects();
                long sharing = ex.stats().pipelinedCalls() - before.pipelinedCalls();
                if (pipelined) {
                    assertTrue(opened <= 2, opened + " connections opened for 8 pipelined calls");
                    assertTrue(sharing >= 1, "pipelined calls counted: " + sharing);
                } else {
                    assertTrue(opened >= 7, opened + " connections opened for 8 calls held up at once");
                    assertEquals(0, sharing, "no call pipelined");
                }
            }
        }
        assertEquals(Status.INVALID_ARGUMENT, org.junit.jupiter.api.Assertions.assertThrows(
                StatefulExecutorException.class,
                () -> StatefulExecutor.builder(server.url()).pipeliningMinInFlight(0)).status());
    }
}
