package io.statefulexecutor;

/**
 * What an operator graphs, from {@link StatefulExecutor#stats()}. Counters are monotonic since the
 * executor opened.
 *
 * @param connections open pooled connections now
 * @param idleConnections of which idle
 * @param calls operations started
 * @param failedCalls operations that failed
 * @param retries operations retried once
 * @param poolTimeouts {@link Status#POOL_TIMEOUT} returned
 * @param connects connections opened
 * @param connectFailures connection attempts that failed
 * @param scriptReloads NOSCRIPT answered by sending the script
 */
public record Stats(
        long connections,
        long idleConnections,
        long calls,
        long failedCalls,
        long retries,
        long poolTimeouts,
        long connects,
        long connectFailures,
        long scriptReloads) {}
