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

    private static final ConcurrentHashMap<String, Logger> LOGGERS = new ConcurrentHashMap<>();

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
            Logger logger = LOGGERS.computeIfAbsent(name, LogBridge::loggerFor);
            if (logger.isLoggable(jLevel)) {
                logger.log(jLevel, Utf8.decode(message, 0, message.length));
            }
        } catch (Throwable ignored) {
            // A logging failure must not fail the library call that logged.
        }
    }

    private static Logger loggerFor(String target) {
        return System.getLogger(target.isEmpty() ? ROOT : target.replace("::", "."));
    }
}
