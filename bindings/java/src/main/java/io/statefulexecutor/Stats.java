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
 * @param pipelinedCalls operations sent through the shared connections of auto-pipelining
 * @param cacheHits client cache: reads (keys, for batch reads) answered from the cache; 0 when
 *     the cache is off ({@link StatefulExecutor.Builder#clientCache})
 * @param cacheMisses client cache: reads (keys) read from Redis: not cached, expired, or the
 *     cache bypassed
 * @param cacheInvalidations client cache: keys named by Redis's invalidations (any client's
 *     changes under {@code sf:}, cached here or not)
 * @param cacheFlushes client cache: times the whole cache was emptied (lost invalidations, a
 *     failover, FLUSHALL)
 * @param cacheEvictions client cache: entries evicted to stay within its size
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
        long scriptReloads,
        long pipelinedCalls,
        long cacheHits,
        long cacheMisses,
        long cacheInvalidations,
        long cacheFlushes,
        long cacheEvictions) {}
