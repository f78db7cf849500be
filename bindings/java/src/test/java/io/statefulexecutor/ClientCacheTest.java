package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** The builder's client cache: reads answered without a round trip, kept current by Redis. */
class ClientCacheTest {
    /** GET commands the server ran (scripts' included), from INFO commandstats. */
    private static long gets(Jedis raw) {
        for (String line : raw.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_get:calls=")) {
                return Long.parseLong(line.substring("cmdstat_get:calls=".length()).split(",")[0]);
            }
        }
        return 0;
    }

    @Test
    void readsAreCachedAndInvalidated() {
        try (RedisServer server = RedisServer.start(); Jedis raw = server.jedis()) {
            raw.set("sf:{cache:lk:u}chat", "3");
            try (StatefulExecutor cached = StatefulExecutor.builder(server.url())
                    .clientCache(1000, Duration.ofMinutes(1))
                    .open()) {
                long before = gets(raw);
                Stats statsBefore = cached.stats();
                for (int i = 0; i < 20; i++) {
                    assertEquals(3, cached.getLinkedPod("cache", "u", "chat"));
                }
                assertEquals(1, gets(raw) - before, "one read reached Redis");
                Stats stats = cached.stats();
                assertEquals(19, stats.cacheHits() - statsBefore.cacheHits(), "hits in the statistics");
                assertEquals(1, stats.cacheMisses() - statsBefore.cacheMisses(), "misses in the statistics");

                raw.set("sf:{cache:lk:u}chat", "5");
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (cached.getLinkedPod("cache", "u", "chat") != 5 && System.nanoTime() < deadline) {
                    RedisServer.sleep(2);
                }
                assertEquals(5, cached.getLinkedPod("cache", "u", "chat"), "invalidated by Redis");
                assertTrue(cached.stats().cacheInvalidations() > stats.cacheInvalidations(),
                        "the invalidation counted");

                cached.setLinkedPod("cache", "u", "chat", 7, -1);
                assertEquals(7, cached.getLinkedPod("cache", "u", "chat"), "its own write, at once");
            }
            // Off: every read reaches Redis.
            try (StatefulExecutor plain = StatefulExecutor.builder(server.url())
                    .clientCache(0, Duration.ZERO)
                    .open()) {
                long before = gets(raw);
                for (int i = 0; i < 5; i++) {
                    plain.getLinkedPod("cache", "u", "chat");
                }
                assertEquals(5, gets(raw) - before);
                assertEquals(0, plain.stats().cacheHits() + plain.stats().cacheMisses(), "no cache, no counts");
            }
        }
    }

    /** Many threads at once: the cached reads are not batched (a batch would not fill the cache). */
    @Test
    void concurrentReadsAreHitsNotBatches() throws Exception {
        try (RedisServer server = RedisServer.start(); Jedis raw = server.jedis()) {
            for (int u = 0; u < 10; u++) {
                raw.set("sf:{cache:lk:u" + u + "}chat", Integer.toString(u));
            }
            try (StatefulExecutor cached = StatefulExecutor.builder(server.url())
                    .clientCache(1000, Duration.ofMinutes(1))
                    .open()) {
                long before = gets(raw);
                Thread[] threads = new Thread[8];
                java.util.concurrent.atomic.AtomicInteger wrong = new java.util.concurrent.atomic.AtomicInteger();
                for (int t = 0; t < threads.length; t++) {
                    threads[t] = new Thread(() -> {
                        for (int i = 0; i < 500; i++) {
                            int u = i % 10;
                            if (cached.getLinkedPod("cache", "u" + u, "chat") != u) {
                                wrong.incrementAndGet();
                            }
                        }
                    });
                    threads[t].start();
                }
                for (Thread thread : threads) {
                    thread.join();
                }
                assertEquals(0, wrong.get());
                assertEquals(0, cached.batcher().batchesRun(), "no read went into a batch");
                long sent = gets(raw) - before;
                // Each uid read from Redis until its first answer is stored: a few, not 4,000.
                assertTrue(sent <= 10 * threads.length, sent + " reads reached Redis");
            }
        }
    }

    @Test
    void badSettingsAreRefused() {
        StatefulExecutor.Builder builder = StatefulExecutor.builder("redis://127.0.0.1:1");
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> builder.clientCache(-1, Duration.ofSeconds(1))).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> builder.clientCache(10, Duration.ZERO)).status());
        assertEquals(Status.INVALID_ARGUMENT, assertThrows(StatefulExecutorException.class,
                () -> builder.clientCache(10, Duration.ofSeconds(-1))).status());
        assertThrows(NullPointerException.class, () -> builder.clientCache(10, null));
    }
}
