package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * The native library's log records reach System.Logger (here its default backend,
 * java.util.logging), named after the Rust module that logged them.
 */
class LoggingTest {
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Logger root = Logger.getLogger("stateful_executor");
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };
    private Level previousLevel;

    @BeforeEach
    void captureEverything() {
        previousLevel = root.getLevel();
        root.setLevel(Level.ALL);
        root.addHandler(capture);
        StatefulExecutor.refreshLogLevel();
    }

    @AfterEach
    void restore() {
        root.removeHandler(capture);
        root.setLevel(previousLevel);
        StatefulExecutor.refreshLogLevel();
    }

    private boolean logged(Level level, String text) {
        return records.stream().anyMatch(r -> r.getLevel().intValue() >= level.intValue()
                && r.getLoggerName().startsWith("stateful_executor")
                && r.getMessage().contains(text));
    }

    @Test
    void operationsAndWarningsAreLogged() {
        try (RedisServer server = RedisServer.start(); Jedis raw = server.jedis()) {
            StatefulExecutor ex = StatefulExecutor.open(server.url());
            ex.setLinkedPod("log", "u", "chat", 1, -1);
            raw.scriptFlush();
            assertEquals(1, ex.setLinkedPod("log", "u", "chat", 2, -1)); // NOSCRIPT: reloaded, warned
            assertEquals(1, ex.stats().scriptReloads());
            ex.close();
            assertFalse(records.isEmpty(), "no record arrived");
            assertTrue(records.stream().anyMatch(r -> r.getLevel() == Level.INFO), "INFO on open/close: " + summary());
            assertTrue(logged(Level.WARNING, "set_linked_pod"), "a WARN record for the reload: " + summary());
            assertTrue(records.stream().anyMatch(r -> r.getLevel().intValue() <= Level.FINE.intValue()),
                    "DEBUG records once enabled: " + summary());
            assertTrue(records.stream().allMatch(r -> r.getLoggerName().startsWith("stateful_executor")), summary());
            assertTrue(records.stream().noneMatch(r -> r.getLoggerName().contains("::")), summary());
            // java.util.logging prints the source: the library's module, never this binding's glue.
            assertTrue(records.stream().allMatch(r -> r.getLoggerName().equals(r.getSourceClassName())
                    && r.getSourceMethodName() == null), summary());
        }
    }

    @Test
    void noPasswordInRecords() {
        try (RedisServer server = RedisServer.start("--requirepass", "hunter2-secret")) {
            try (StatefulExecutor ex = StatefulExecutor.open("redis://:hunter2-secret@127.0.0.1:" + server.port)) {
                ex.ping();
            }
            try {
                StatefulExecutor.open("redis://:wrong-secret@127.0.0.1:" + server.port).close();
            } catch (StatefulExecutorException expected) {
                assertFalse(expected.getMessage().contains("wrong-secret"));
            }
            assertFalse(records.isEmpty());
            assertTrue(records.stream().noneMatch(r -> r.getMessage().contains("secret")), summary());
        }
    }

    @Test
    void recordsBelowTheLoggersLevelAreNotForwarded() {
        root.setLevel(Level.WARNING);
        StatefulExecutor.refreshLogLevel();
        assertEquals(2, LogBridge.maxLevel());
        try (RedisServer server = RedisServer.start(); StatefulExecutor ex = StatefulExecutor.open(server.url())) {
            ex.getLinkedPod("log", "u", "chat");
        }
        assertTrue(records.stream().allMatch(r -> r.getLevel().intValue() >= Level.WARNING.intValue()), summary());
    }

    private String summary() {
        StringBuilder s = new StringBuilder();
        for (LogRecord r : records) {
            s.append("\n  ").append(r.getLevel()).append(' ').append(r.getLoggerName()).append(": ").append(r.getMessage());
        }
        return s.toString();
    }
}
