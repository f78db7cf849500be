package io.statefulexecutor;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Routes the library's log records (process-wide in the native library) to {@link System.Logger}:
 * a record of target {@code stateful_executor::executor} goes to the logger named
 * {@code stateful_executor.executor}. SLF4J, Log4j and JUL users bridge System.Logger as usual.
 *
 * <p>The level is chosen once, when the library loads, from what the logger
 * {@code stateful_executor} accepts, so that the native side never formats a record no one
 * wants. {@link StatefulExecutor#refreshLogLevel()} reads it again.
 */
final class LogBridge {
    private LogBridge() {}

    static final String ROOT = "stateful_executor";

    // The C API's SF_LOG_* values, most severe first; index = level.
    private static final Level[] LEVELS = {
        Level.OFF, Level.ERROR, Level.WARNING, Level.INFO, Level.DEBUG, Level.TRACE
    };

    private static final ConcurrentHashMap<String, Sink> LOGGERS = new ConcurrentHashMap<>();

    /** Where one target's records go. */
    private interface Sink {
        void log(Level level, String message);
    }

    /**
     * Whether System.Logger is backed by java.util.logging (no other LoggerFinder installed). JUL
     * then infers a record's source from the stack, which would name this class for every
     * record; records go to JUL directly instead, with the library's logger name as source.
     */
    private static final boolean JUL_BACKEND = System.LoggerFinder.getLoggerFinder()
            .getClass().getName().equals("sun.util.logging.internal.LoggingProviderImpl");

    static void install() {
        int max = maxLevel();
        int status = Native.setLogger(max);
        if (status != Status.OK.code()) {
            System.getLogger(ROOT)
                    .log(Level.WARNING,
                            "the native library's log records cannot be routed to System.Logger: "
                                    + Status.fromCode(status));
        }
    }

    /** The most verbose SF_LOG_* level the root logger accepts, 0 when it accepts none. */
    static int maxLevel() {
        Logger root = System.getLogger(ROOT);
        for (int level = LEVELS.length - 1; level >= 1; level--) {
            if (root.isLoggable(LEVELS[level])) {
                return level;
            }
        }
        return 0;
    }

    /** Called by the native glue, from any thread (pool threads included). Never throws. */
    static void log(int level, byte[] target, byte[] message) {
        try {
            Level jLevel = level >= 1 && level < LEVELS.length ? LEVELS[level] : Level.INFO;
            String name = Utf8.decode(target, 0, target.length);
            LOGGERS.computeIfAbsent(name, LogBridge::sinkFor).log(jLevel, Utf8.decode(message, 0, message.length));
        } catch (Throwable ignored) {
            // A logging failure must not fail the library call that logged.
        }
    }

    private static Sink sinkFor(String target) {
        String name = target.isEmpty() ? ROOT : target.replace("::", ".");
        if (JUL_BACKEND) {
            return Jul.sink(name);
        }
        Logger logger = System.getLogger(name);
        return (level, message) -> logger.log(level, message);
    }

    /** java.util.logging, loaded only when it backs System.Logger. */
    private static final class Jul {
        static Sink sink(String name) {
            java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
            return (level, message) -> {
                java.util.logging.Level julLevel = switch (level) {
                    case ERROR -> java.util.logging.Level.SEVERE;
                    case WARNING -> java.util.logging.Level.WARNING;
                    case INFO -> java.util.logging.Level.INFO;
                    case DEBUG -> java.util.logging.Level.FINE;
                    default -> java.util.logging.Level.FINER;
                };
                // Source: the library's module, as the logger name says (no method).
                logger.logp(julLevel, name, null, message);
            };
        }
    }
}
