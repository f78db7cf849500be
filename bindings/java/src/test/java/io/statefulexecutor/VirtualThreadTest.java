package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Virtual threads (Java 21 and later; skipped, with the reason printed, on older JVMs; make test
 * runs the suite a second time on JDK 25 when it is installed). A virtual thread waiting for its
 * reply must be parked in Java, never blocked in native code: blocked there it would pin its
 * carrier, and the calls in flight would be bounded by the number of carriers. The tests check
 * that by what it costs: with the server frozen, 2,000 callers are all parked and the carriers
 * stay free; and 1,000 virtual threads get at least the throughput of 16 platform threads.
 */
class VirtualThreadTest {
    /** Thread.ofVirtual().factory(), reached by reflection: this code compiles for Java 17. */
    private static final ThreadFactory VIRTUAL = virtualThreadFactory();

    private static RedisServer server;

    private static ThreadFactory virtualThreadFactory() {
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            return (ThreadFactory) Class.forName("java.lang.Thread$Builder").getMethod("factory").invoke(builder);
        } catch (ReflectiveOperationException before21) {
            return null;
        }
    }

    private static final String SKIPPED = "virtual-thread tests skipped: Java " + Runtime.version().feature()
            + " has no virtual threads (make test runs them on JDK 21+ when one is installed)";

    @BeforeAll
    static void start() {
        if (VIRTUAL == null) {
            System.out.println(SKIPPED);
            return;
        }
        server = RedisServer.start();
    }

    @BeforeEach
    void needsVirtualThreads() {
        Assumptions.assumeTrue(VIRTUAL != null, SKIPPED);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static StatefulExecutor open(Duration commandTimeout) {
        // As an application opens it: virtual threads hand their calls off by themselves.
        return StatefulExecutor.builder(server.url()).commandTimeout(commandTimeout).handOffEveryCall(false).open();
    }

    private static void await(String what, long seconds, BooleanSupplier condition) {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            RedisServer.sleep(10);
        }
    }

    private static boolean parked(Thread t) {
        Thread.State state = t.getState();
        return state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING;
    }

    @Test
    void twoThousandVirtualThreadsWaitParkedAndLeaveTheCarriersFree() throws Exception {
        try (StatefulExecutor ex = open(Duration.ofSeconds(20))) {
            int callers = 2000;
            for (int i = 0; i < callers; i += 5) {
                ex.setLinkedPod("vt", "u" + i, "chat", i % 8, -1);
            }
            ex.setServiceState("vt", "chat", 0, "Running");
            server.freeze();
            try {
                ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < callers; i++) {
                    int n = i;
                    String linked = "u" + (n - n % 5);
                    Thread t = VIRTUAL.newThread(() -> {
                        try {
                            // Calls sf_execute_batch carries (runners) and calls it cannot (workers).
                            Object expected;
                            Object got;
                            switch (n % 5) {
                                case 0 -> {
                                    expected = n % 8;
                                    got = ex.getLinkedPod("vt", linked, "chat");
                                }
                                case 1 -> {
                                    expected = -1;
                                    got = ex.setLinkedPod("vt", "new-" + n, "chat", 2, -1);
                                }
                                case 2 -> {
                                    expected = Map.of(0, "Running");
                                    got = ex.getServiceState("vt", "chat");
                                }
                                case 3 -> {
                                    expected = Map.of((n - n % 5) % 8, List.of(linked));
                                    got = ex.batchGetLinkedPod("vt", List.of(linked), "chat");
                                }
                                default -> {
                                    expected = (n - n % 5) % 8;
                                    got = ex.computeLinkedPod("vt", linked, "chat", -1, new int[] {7}, new long[] {0});
                                }
                            }
                            if (!expected.equals(got)) {
                                wrong.add(n + ": expected " + expected + ", got " + got);
                            }
                        } catch (Throwable e) {
                            wrong.add(n + ": " + e);
                        }
                    });
                    t.start();
                    threads.add(t);
                }
                // A virtual thread blocked in native code would be RUNNABLE (and pin its carrier).
                await("all " + callers + " virtual threads parked while the server is frozen", 30,
                        () -> threads.stream().allMatch(VirtualThreadTest::parked));
                AtomicReference<Long> sum = new AtomicReference<>();
                Thread cpuOnly = VIRTUAL.newThread(() -> {
                    long s = 0;
                    for (int i = 0; i < 1_000_000; i++) {
                        s += i % 7;
                    }
                    sum.set(s);
                });
                cpuOnly.start();
                cpuOnly.join(10_000);
                assertEquals(2_999_997L, sum.get(), "a new virtual thread ran while 2,000 calls waited: carriers free");
                server.thaw();
                for (Thread t : threads) {
                    t.join(30_000);
                    assertFalse(t.isAlive(), "every call returned after the thaw");
                }
                assertTrue(wrong.isEmpty(), wrong.size() + " wrong outcomes, e.g. " + wrong.peek());
            } finally {
                server.thaw();
            }
        }
    }

    /** Calls per second of {@code threads} threads calling getLinkedPod for {@code seconds}. */
    private static double rate(StatefulExecutor ex, ThreadFactory factory, int threads, double seconds)
            throws InterruptedException {
        LongAdder calls = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(factory.newThread(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long n = 0;
                try {
                    while (!stop.get()) {
                        int u = random.nextInt(1000);
                        if (ex.getLinkedPod("rate", "u" + u, "chat") != u % 8) {
                            throw new AssertionError("crossed answer for u" + u);
                        }
                        n++;
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
                calls.add(n);
            }));
        }
        long start = System.nanoTime();
        workers.forEach(Thread::start);
        Thread.sleep((long) (seconds * 1000));
        stop.set(true);
        for (Thread w : workers) {
            w.join();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        assertNull(failures.peek(), "calls failed");
        return calls.sum() / elapsed;
    }

    @Test
    void aThousandVirtualThreadsCallAtLeastAsFastAsSixteenPlatformThreads() throws Exception {
        try (StatefulExecutor ex = open(Duration.ofSeconds(2))) {
            for (int u = 0; u < 1000; u++) {
                ex.setLinkedPod("rate", "u" + u, "chat", u % 8, -1);
            }
            ThreadFactory platform = Thread::new;
            rate(ex, platform, 16, 0.3); // warm-up, both ways
            rate(ex, VIRTUAL, 1000, 0.3);
            List<Double> ratios = new ArrayList<>();
            List<String> pairs = new ArrayList<>();
            for (int pair = 0; pair < 5; pair++) { // alternated: platform first, then virtual first
                double p;
                double v;
                if (pair % 2 == 0) {
                    p = rate(ex, platform, 16, 0.3);
                    v = rate(ex, VIRTUAL, 1000, 0.3);
                } else {
                    v = rate(ex, VIRTUAL, 1000, 0.3);
                    p = rate(ex, platform, 16, 0.3);
                }
                ratios.add(v / p);
                pairs.add(String.format("%.0f/%.0f", v, p));
            }
            ratios.sort(null);
            double median = ratios.get(ratios.size() / 2);
            System.out.printf("getLinkedPod: 1,000 virtual / 16 platform threads, calls/s per pair %s: median ratio %.2f%n",
                    pairs, median);
            assertTrue(median >= 1.0, "1,000 virtual threads at least as fast as 16 platform threads: " + pairs);
        }
    }

    @Test
    void closeWhileAThousandVirtualThreadsCallFailsEachWithIllegalStateException() throws Exception {
        StatefulExecutor ex = open(Duration.ofSeconds(2));
        LongAdder succeeded = new LongAdder();
        ConcurrentLinkedQueue<Throwable> endings = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 1000; t++) {
            int thread = t;
            Thread vt = VIRTUAL.newThread(() -> {
                try {
                    for (long i = 0; ; i++) {
                        switch ((int) ((i + thread) % 4)) {
                            case 0 -> ex.setLinkedPod("vclose", "u" + thread, "chat", (int) (i % 7), -1);
                            case 1 -> ex.getLinkedPod("vclose", "u" + thread, "chat");
                            case 2 -> ex.getServiceState("vclose", "chat");
                            default -> ex.batchGetLinkedPod("vclose", List.of("u1", "u2"), "chat");
                        }
                        succeeded.increment();
                    }
                } catch (Throwable e) {
                    endings.add(e);
                }
            });
            vt.start();
            threads.add(vt);
        }
        await("2,000 calls done", 20, () -> succeeded.sum() >= 2000);
        ex.close();
        for (Thread t : threads) {
            t.join(20_000);
            assertFalse(t.isAlive(), "no caller hangs after close");
        }
        assertEquals(1000, endings.size());
        for (Throwable e : endings) {
            assertTrue(e instanceof IllegalStateException, "after close only IllegalStateException: " + e);
        }
    }

    @Test
    void anInterruptedVirtualThreadStopsWaitingWithItsFlagSet() throws Exception {
        try (StatefulExecutor ex = open(Duration.ofSeconds(10))) {
            ex.ping();
            server.freeze();
            try {
                AtomicReference<Object> outcome = new AtomicReference<>();
                Thread vt = VIRTUAL.newThread(() -> {
                    try {
                        outcome.set(ex.getLinkedPod("vint", "u", "chat"));
                    } catch (CallInterruptedException e) {
                        outcome.set(Thread.currentThread().isInterrupted() ? e : "flag cleared");
                    }
                });
                vt.start();
                await("the virtual thread parked", 10, () -> parked(vt));
                vt.interrupt();
                vt.join(5_000);
                assertFalse(vt.isAlive(), "it stopped waiting while the server is still frozen");
                assertTrue(outcome.get() instanceof CallInterruptedException, Objects.toString(outcome.get()));
            } finally {
                server.thaw();
            }
        }
    }
}
