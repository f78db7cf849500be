/*
 * stateful-executor: the routing state of stateful services, kept in Redis.
 * C API, version SF_VERSION_STRING below. The full contract (conventions, data layout in Redis,
 * identifier rules, logging, statistics) is docs/c-api.md in the source repository, installed
 * as share/doc/stateful_executor/c-api.md (with data-model.md); this header documents every
 * function itself.
 *
 * Conventions, the same for every function (spelled out once, in c-api.md "Conventions"):
 * fallible functions return an sf_status and take `sf_error *err` (may be NULL) last; absence
 * is a value (SF_NO_POD, a NULL string), not an error; every other pointer is required; strings
 * are NUL-terminated UTF-8; what the library returns is the caller's, freed with its sf_*_free
 * (each accepts NULL); an sf_executor is shared by any number of threads; no panic crosses the
 * boundary (SF_INTERNAL instead). Each function below states its own ownership, NULL handling
 * and thread-safety.
 *
 * Linking: pkg-config --cflags --libs stateful_executor (shared library, SONAME
 * libstateful_executor.so.0); pkg-config --cflags --libs stateful_executor-static (the .a);
 * CMake: find_package(stateful_executor), targets stateful_executor::stateful_executor and
 * stateful_executor::static.
 *
 * Logging: sf_set_logger routes the library's records to a callback. Statistics:
 * sf_executor_stats. Lifecycle: sf_executor_close returns after the pool's threads exited; a
 * closed or foreign executor pointer gives SF_INVALID_ARGUMENT where the library can tell.
 */

#ifndef STATEFUL_EXECUTOR_H
#define STATEFUL_EXECUTOR_H

/* Generated from the Rust source by cbindgen (make header). Do not edit by hand. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * The version of the library this header belongs to (the Rust crate's version). Compare
 * with sf_version() at run time: the shared library's SONAME changes with the major
 * version only.
 */
#define SF_VERSION_MAJOR 0
#define SF_VERSION_MINOR 3
#define SF_VERSION_PATCH 0
#define SF_VERSION_STRING "0.3.0"

/**
 * "No pod": the value of a pod result when there is no link (with SF_OK), and of every pod
 * output parameter after a failed call. Never a valid pod ordinal as an argument.
 */
#define SF_NO_POD (-1)

/**
 * sf_status codes (the type is int32_t, below; the values never change).
 *
 * Success.
 */
#define SF_OK 0
/**
 * A bad identifier, an out-of-range number, a missing argument, or a closed executor.
 * Nothing was sent to Redis.
 */
#define SF_INVALID_ARGUMENT 1
/**
 * Cannot connect, the connection was lost, or another I/O error.
 */
#define SF_CONNECTION 2
/**
 * The command did not complete within the command timeout.
 */
#define SF_TIMEOUT 3
/**
 * No pooled connection became free within the pool wait timeout.
 */
#define SF_POOL_TIMEOUT 4
/**
 * Authentication or authorization refused by the server.
 */
#define SF_AUTH 5
/**
 * The server answered with an error (script error, READONLY, CROSSSLOT, OOM, ...).
 */
#define SF_REDIS 6
/**
 * Data in Redis is not in the documented format (e.g. a link whose pod is not a number, or
 * one of the library's keys holding another type: WRONGTYPE), or the server replied with an
 * unexpected shape.
 */
#define SF_UNEXPECTED_REPLY 7
/**
 * An invalid URL or configuration, or a logger that cannot be installed.
 */
#define SF_CONFIG 8
/**
 * A bug: a caught panic or a broken invariant.
 */
#define SF_INTERNAL 9

/**
 * Size of `sf_error.message`, including its terminating NUL.
 */
#define SF_ERROR_MESSAGE_SIZE 256

/**
 * Level of a record that reports a failure the caller sees as an error.
 */
#define SF_LOG_ERROR 1

/**
 * Level of a record about something that went wrong and was handled: a retried call, a script
 * reloaded after NOSCRIPT, a node or connection dropped, a topology change.
 */
#define SF_LOG_WARN 2

/**
 * Level of a record about the executor's life: opened, closed, a failover followed.
 */
#define SF_LOG_INFO 3

/**
 * Level of a record per operation and per connection opened.
 */
#define SF_LOG_DEBUG 4

/**
 * Level of the most detailed records.
 */
#define SF_LOG_TRACE 5

/**
 * Where Redis is and how the pool behaves: an opaque builder. Create it with `sf_config_new`,
 * adjust it with the `sf_config_set_*` functions, open executors with it, free it with
 * `sf_config_free`. A config may be used by several threads at once for `sf_executor_open`, but
 * must not be changed while another thread uses it.
 */
typedef struct sf_config sf_config;

/**
 * Keeps the routing state of stateful services in Redis: an opaque handle over a pool of
 * connections. Thread-safe: one executor may be used by any number of threads at once; share
 * one per process.
 */
typedef struct sf_executor sf_executor;

/**
 * The pod states of a service: an opaque, immutable list of (pod, state) entries sorted by pod
 * ordinal, from `sf_get_service_state`. Owned by the caller, freed with `sf_pod_states_free`.
 * May be read from several threads at once.
 */
typedef struct sf_pod_states sf_pod_states;

/**
 * The persistent links of a uid: an opaque, immutable list of (service, pod) entries sorted by
 * service name, from `sf_get_link_services`. Owned by the caller, freed with
 * `sf_service_links_free`. May be read from several threads at once.
 */
typedef struct sf_service_links sf_service_links;

/**
 * The outcome of every fallible function: `SF_OK` (0) or one of the `SF_*` error codes. A
 * 32-bit integer (never a C enum, whose size the compiler would choose); the numeric values
 * are fixed and never change. They equal the Rust API's `ErrorKind` values.
 */
typedef int32_t sf_status;

/**
 * The detail of a failed call, filled by the call itself (nothing is kept in thread-local or
 * global state). Allocate it anywhere (usually on the stack) and pass its address as the last
 * argument; pass NULL when the status code is enough.
 */
typedef struct sf_error {
  /**
   * The same code the function returned; `SF_OK` after a successful call.
   */
  sf_status code;
  /**
   * A NUL-terminated, human-readable UTF-8 message, truncated to fit (never in the middle of
   * a character); empty after a successful call. Never contains a password.
   */
  char message[SF_ERROR_MESSAGE_SIZE];
} sf_error;

/**
 * An executor's statistics: what an operator graphs. The counters count since the executor was
 * opened and never decrease; `connections` and `idle_connections` are the pool now.
 */
typedef struct sf_stats {
  /**
   * Open connections now: pooled, and shared ones of auto-pipelining.
   */
  uint32_t connections;
  /**
   * Of which idle.
   */
  uint32_t idle_connections;
  /**
   * Operations started: every call of an operation function that reached this executor,
   * including ones refused for a bad name or number (a call refused by the C layer itself,
   * for a NULL pointer or invalid UTF-8, is not counted).
   */
  uint64_t calls;
  /**
   * Operations that returned a status other than `SF_OK`.
   */
  uint64_t failed_calls;
  /**
   * Operations retried once on a new connection (a read after a connection failure, or a
   * command the server refused before running it).
   */
  uint64_t retries;
  /**
   * Operations that returned `SF_POOL_TIMEOUT`.
   */
  uint64_t pool_timeouts;
  /**
   * Connections opened.
   */
  uint64_t connects;
  /**
   * Connection attempts that failed.
   */
  uint64_t connect_failures;
  /**
   * Scripts sent again because the server answered NOSCRIPT (its script cache was flushed).
   */
  uint64_t script_reloads;
} sf_stats;

/**
 * An executor's statistics, extended (0.3): a struct that grows at its end, so that a program
 * built against an older header keeps working with a newer library, and the reverse. The
 * caller sets `size` to `sizeof(sf_stats_ext)` as it was compiled; the library fills the
 * fields that fit in that many bytes and sets `size` to the number of bytes it filled (fields
 * beyond it, from a newer header than the library's, are left as they were). `base` holds the
 * figures of `sf_stats`. The cache figures stay 0 when the client cache is off.
 */
typedef struct sf_stats_ext {
  /**
   * In: `sizeof(sf_stats_ext)` as the caller was compiled. Out: the bytes filled.
   */
  uint32_t size;
  /**
   * Zero; keeps `base` 8-byte aligned.
   */
  uint32_t reserved;
  /**
   * The 0.2 statistics.
   */
  struct sf_stats base;
  /**
   * Operations routed through the shared connections of auto-pipelining.
   */
  uint64_t pipelined_calls;
  /**
   * Client cache: reads (keys, for the batch reads) answered from the cache.
   */
  uint64_t cache_hits;
  /**
   * Client cache: reads (keys) read from Redis: not cached, expired, or the cache bypassed.
   */
  uint64_t cache_misses;
  /**
   * Client cache: keys named by the invalidations Redis sent (every key under `sf:` any
   * client changed, cached here or not).
   */
  uint64_t cache_invalidations;
  /**
   * Client cache: times the whole cache was emptied (an invalidation connection lost, a
   * topology change, a data connection dropped, FLUSHALL).
   */
  uint64_t cache_flushes;
  /**
   * Client cache: entries evicted to stay within `max_entries`.
   */
  uint64_t cache_evictions;
} sf_stats_ext;

/**
 * Receives one log record: `level` is one of `SF_LOG_ERROR` ... `SF_LOG_TRACE`, `target` the
 * Rust module path that logged it (e.g. `"stateful_executor::engine"`), `message` the
 * formatted text. Both strings are NUL-terminated UTF-8, valid only during the call. Called
 * from any thread, including the pool's background threads, possibly from several at once.
 * It must not call `sf_set_logger` (that call would fail with `SF_INVALID_ARGUMENT`); records
 * the library logs while it runs are dropped.
 */
typedef void (*sf_log_fn)(void *user_data, int32_t level, const char *target, const char *message);

/**
 * A packed multi-entry result: `count` entries in `size` bytes at `data`, one after the other
 * with no padding, each `int32_t key`, `int32_t length`, then (unless `length` is -1, an absent
 * text) `length` bytes of UTF-8 and a NUL byte; integers in the machine's byte order. Read the
 * entries with `sf_packed_next` (or decode the bytes directly, as the Java binding does).
 *
 * `data` points into the caller's buffer when the entries fit in it, else into a block the
 * library allocated (`allocated`, the same address). Call `sf_packed_free` once done with every
 * result, whichever it is: it frees only a block of the library's, and does nothing for a
 * zeroed `sf_packed` (what every failed call leaves). The fields are read-only for the caller.
 * May be read from several threads at once; not freed while another thread reads it.
 */
typedef struct sf_packed {
  /**
   * The first entry; NULL only when `size` is 0 and the caller passed no buffer.
   */
  const uint8_t *data;
  /**
   * The entries' total size in bytes.
   */
  size_t size;
  /**
   * The number of entries.
   */
  size_t count;
  /**
   * The block the library allocated for the entries (equal to `data`), or NULL when they are
   * in the caller's buffer. Freed by `sf_packed_free`, never by `free`.
   */
  uint8_t *allocated;
} sf_packed;

/**
 * What one entry of `sf_execute_batch` does: one of the `SF_BATCH_*` values.
 */
typedef int32_t sf_batch_kind;

/**
 * One operation of `sf_execute_batch`: its arguments (set by the caller) and its outcome
 * (written by the call). The arguments are those of the single function the kind names;
 * fields the kind does not use are ignored (they may hold anything, NULL included).
 */
typedef struct sf_batch_op {
  /**
   * Which operation: one of the `SF_BATCH_*` values.
   */
  sf_batch_kind kind;
  /**
   * The namespace (every kind).
   */
  const char *ns;
  /**
   * The uid (the link kinds).
   */
  const char *uid;
  /**
   * The service (every kind but `SF_BATCH_GET_LINK_SERVICES`).
   */
  const char *service;
  /**
   * The state (`SF_BATCH_SET_SERVICE_STATE`, `SF_BATCH_SET_WORKLOAD_STATE`).
   */
  const char *state;
  /**
   * The pod (the set kinds, `SF_BATCH_REMOVE_LINKED_POD_WITH_ID`, `SF_BATCH_TOUCH_LINKED_POD`).
   */
  int32_t pod;
  /**
   * `persist_seconds` of the three link setters and of the touch, `keep_seconds` of the two
   * removes.
   */
  int32_t seconds;
  /**
   * Out: this operation's status (`SF_OK`, or why it failed).
   */
  sf_status status;
  /**
   * Out: the pod result; `SF_NO_POD` when none or on failure.
   */
  int32_t out_pod;
  /**
   * Out: the flag result (linked, removed, touched); false on failure.
   */
  bool out_flag;
  /**
   * Out: the workload state, a new string the caller owns (`sf_string_free`); NULL when
   * absent, on failure and for the other kinds.
   */
  char *out_text;
  /**
   * Out: the pod states, owned by the caller (`sf_pod_states_free`); NULL on failure and for
   * the other kinds.
   */
  struct sf_pod_states *out_states;
  /**
   * Out: the service links, owned by the caller (`sf_service_links_free`); NULL on failure
   * and for the other kinds.
   */
  struct sf_service_links *out_links;
  /**
   * Out: this operation's error detail, as an `err` argument receives it.
   */
  struct sf_error error;
} sf_batch_op;

/**
 * `sf_set_service_state(ns, service, pod, state)`.
 */
#define SF_BATCH_SET_SERVICE_STATE 1

/**
 * `sf_get_service_state(ns, service)`: the result in `out_states`.
 */
#define SF_BATCH_GET_SERVICE_STATE 2

/**
 * `sf_set_workload_state(ns, service, state)`.
 */
#define SF_BATCH_SET_WORKLOAD_STATE 3

/**
 * `sf_get_workload_state(ns, service)`: the result in `out_text`.
 */
#define SF_BATCH_GET_WORKLOAD_STATE 4

/**
 * `sf_set_linked_pod(ns, uid, service, pod, seconds)`: the previous pod in `out_pod`.
 */
#define SF_BATCH_SET_LINKED_POD 5

/**
 * `sf_try_set_linked_pod(ns, uid, service, pod, seconds)`: linked in `out_flag`, the current
 * pod in `out_pod`.
 */
#define SF_BATCH_TRY_SET_LINKED_POD 6

/**
 * `sf_set_linked_pod_if_absent(ns, uid, service, pod, seconds)`: the current pod in `out_pod`.
 */
#define SF_BATCH_SET_LINKED_POD_IF_ABSENT 7

/**
 * `sf_get_linked_pod(ns, uid, service)`: the pod in `out_pod`.
 */
#define SF_BATCH_GET_LINKED_POD 8

/**
 * `sf_get_linked_pod_if_persist(ns, uid, service)`: the pod in `out_pod`.
 */
#define SF_BATCH_GET_LINKED_POD_IF_PERSIST 9

/**
 * `sf_remove_linked_pod(ns, uid, service, seconds)`: removed in `out_flag`.
 */
#define SF_BATCH_REMOVE_LINKED_POD 10

/**
 * `sf_remove_linked_pod_with_id(ns, uid, service, seconds, pod)`: removed in `out_flag`.
 */
#define SF_BATCH_REMOVE_LINKED_POD_WITH_ID 11

/**
 * `sf_get_link_services(ns, uid)`: the result in `out_links`.
 */
#define SF_BATCH_GET_LINK_SERVICES 12

/**
 * `sf_touch_linked_pod(ns, uid, service, pod, seconds)`: touched in `out_flag` (0.3).
 */
#define SF_BATCH_TOUCH_LINKED_POD 13

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The name of a status code as a static NUL-terminated string: `"SF_OK"`,
 * `"SF_INVALID_ARGUMENT"`, ..., `"SF_INTERNAL"`; `"SF_UNKNOWN"` for a value that is not an
 * `sf_status` code.
 *
 * Never NULL; the string is static storage: do not free it. Thread-safe.
 */
const char *sf_status_name(sf_status status);

/**
 * The library's version, e.g. `"0.3.0"` (the Rust crate's version), as a static
 * NUL-terminated string.
 *
 * Never NULL; the string is static storage: do not free it. Thread-safe.
 */
const char *sf_version(void);

/**
 * Creates a configuration for one Redis server, with the default pool and timeouts (pool of
 * at most 16 connections, 0 kept idle, connect / command / pool-wait timeouts of 1000 ms).
 *
 * `url`: `"redis://[user:password@]host:port[/db]"`, `"rediss://..."` for TLS (verified against the
 * system's trust store, or the CA of `sf_config_set_tls_ca_file`), or `"unix:///path/to/socket"`. Nothing is connected
 * yet.
 *
 * On success `*out` receives a new config that the caller owns and frees with
 * `sf_config_free`. On failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when `url`
 * or `out` is NULL or `url` is not UTF-8, and with `SF_CONFIG` when the URL is malformed (the
 * message never shows the password). Thread-safe.
 *
 * # Safety
 * `url` is NULL or a NUL-terminated string; `out` is NULL or writable; `err` is NULL or points
 * to a writable `sf_error`.
 */
sf_status sf_config_new(const char *url,
                        struct sf_config **out,
                        struct sf_error *err);

/**
 * Creates a configuration for a Redis Cluster, with the default pool and timeouts.
 *
 * `seed_urls`: an array of `count` (at least 1) URLs of any reachable subset of the cluster's
 * nodes, `"redis://[user:password@]host:port"` or `"rediss://..."` for TLS, all with the same
 * scheme and credentials. The other nodes are discovered from the cluster when connecting and
 * whenever slots move. Nothing is connected yet.
 *
 * On success `*out` receives a new config that the caller owns and frees with
 * `sf_config_free`; on failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when
 * `out`, `seed_urls` (with `count > 0`) or one of its strings is NULL or not UTF-8, and with
 * `SF_CONFIG` when `count` is 0 or a URL is malformed, a unix socket, selects a database other
 * than 0, or differs from the others in scheme or credentials (messages never show passwords).
 * The strings are only read during the call. Thread-safe.
 *
 * # Safety
 * `seed_urls` is NULL or points to `count` pointers, each NULL or a NUL-terminated string;
 * `out` is NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_config_new_cluster(const char *const *seed_urls,
                                size_t count,
                                struct sf_config **out,
                                struct sf_error *err);

/**
 * Creates a configuration for a primary monitored by Redis Sentinel, with the default pool
 * and timeouts. Each new connection asks the sentinels, in order, for the current primary, so
 * after a failover the executor reaches the new primary without being reopened.
 *
 * `sentinel_urls`: an array of `count` (at least 1) sentinel URLs,
 * `"redis://[user:password@]host:port[/db]"` or `"rediss://..."`. Their credentials log in to
 * the sentinels and, unless `sf_config_set_sentinel_master_auth` says otherwise, to the
 * primary; the `/db` of the first URL selects the primary's database; `rediss://` means TLS to
 * both. `master_name`: the name the sentinels monitor the primary under.
 *
 * On success `*out` receives a new config that the caller owns and frees with
 * `sf_config_free`; on failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when
 * `out`, `master_name`, `sentinel_urls` (with `count > 0`) or one of its strings is NULL or not
 * UTF-8, and with `SF_CONFIG` when `count` is 0, a URL is malformed, or `master_name` is empty
 * or holds spaces or control characters. The strings are only read during the call.
 * Thread-safe.
 *
 * # Safety
 * `sentinel_urls` is NULL or points to `count` pointers, each NULL or a NUL-terminated string;
 * `master_name` is NULL or a NUL-terminated string; `out` is NULL or writable; `err` is NULL
 * or points to a writable `sf_error`.
 */
sf_status sf_config_new_sentinel(const char *const *sentinel_urls,
                                 size_t count,
                                 const char *master_name,
                                 struct sf_config **out,
                                 struct sf_error *err);

/**
 * Sets the largest number of pooled connections (default 16). Fails with
 * `SF_INVALID_ARGUMENT` when `max_size` is 0, above 10000 (Redis's default `maxclients`) or
 * below the pool's min idle, or when `cfg` is NULL; the config is then unchanged. Not
 * thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_pool_max_size(struct sf_config *cfg,
                                      uint32_t max_size,
                                      struct sf_error *err);

/**
 * Sets how many idle connections the pool keeps open in advance (default 0). Fails with
 * `SF_INVALID_ARGUMENT` when `min_idle` exceeds the pool's max size, or when `cfg` is NULL; the
 * config is then unchanged. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_pool_min_idle(struct sf_config *cfg,
                                      uint32_t min_idle,
                                      struct sf_error *err);

/**
 * Sets the longest time, in milliseconds, that opening one connection may take: the TCP or
 * unix connect, TLS and the Redis handshake together (default 1000).
 * Fails with `SF_INVALID_ARGUMENT` when `ms` is 0 or `cfg` is NULL; the config is then
 * unchanged. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_connect_timeout_ms(struct sf_config *cfg,
                                           uint32_t ms,
                                           struct sf_error *err);

/**
 * Sets the longest time, in milliseconds, that one command may take: writing it and reading
 * its whole reply, under one deadline (default 1000). A call that exceeds it fails with
 * `SF_TIMEOUT`. Fails with `SF_INVALID_ARGUMENT` when `ms` is 0 or `cfg`
 * is NULL; the config is then unchanged. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_command_timeout_ms(struct sf_config *cfg,
                                           uint32_t ms,
                                           struct sf_error *err);

/**
 * Turns auto-pipelining on or off (default on, or as the environment variable `SF_PIPELINING`
 * says when set to `on`, `off` or `always`). On: while enough calls of the executor are in
 * flight at once (see `sf_config_set_pipelining_min_in_flight`), commands that threads issue
 * at the same moment to the same Redis node share one connection, one write and one read, and
 * each thread gets its own reply; fewer calls at once each hold a pooled connection, as with
 * it off. Off: each call holds a pooled connection for one command per round trip. Fails with `SF_INVALID_ARGUMENT` when
 * `cfg` is NULL. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_pipelining(struct sf_config *cfg,
                                   bool enabled,
                                   struct sf_error *err);

/**
 * With auto-pipelining on: the least number of calls of the executor in flight at once (the
 * call itself included) for a call to go through the shared connection (default 12; 1: every
 * call, even a lone caller's). Below it a call holds a pooled connection, as with pipelining
 * off (keep the pool's max size at least this minus one, as the defaults are). Fails with `SF_INVALID_ARGUMENT` when
 * `calls` is 0 or `cfg` is NULL; the config is then unchanged. Not thread-safe for the same
 * `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_pipelining_min_in_flight(struct sf_config *cfg,
                                                 uint32_t calls,
                                                 struct sf_error *err);

/**
 * Turns on the client-side cache of reads (default off): up to `max_entries` answers of
 * `sf_get_linked_pod`, `sf_get_linked_pod_if_persist`, `sf_batch_get_linked_pods`,
 * `sf_get_service_state`, `sf_get_workload_state(s)` and `sf_get_link_services` (and their
 * packed forms) are kept in the executor, each for at most `max_age_ms` and never past its
 * key's own TTL, and answered without a round trip while Redis's invalidations (`CLIENT
 * TRACKING`: Redis >= 6 or Valkey) say they are current. A cached answer was the key's value
 * at some moment at most `min(max_age_ms, 1000)` milliseconds before the call began; when that
 * cannot be guaranteed (an invalidation connection lost or silent, a failover under way)
 * calls read from Redis. The executor's own writes drop their entries before they return.
 * `max_entries` 0 turns the cache off (`max_age_ms` is then ignored). `sf_executor_open` then
 * fails with `SF_CONFIG` when the server has no `CLIENT TRACKING` and with `SF_AUTH` when the
 * ACL user may not use it. Fails with `SF_INVALID_ARGUMENT` when `cfg` is NULL, or when
 * `max_age_ms` is 0 while `max_entries` is not; the config is then unchanged. Not thread-safe
 * for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_client_cache(struct sf_config *cfg,
                                     uint32_t max_entries,
                                     uint32_t max_age_ms,
                                     struct sf_error *err);

/**
 * Sets the longest wait, in milliseconds, for a pooled connection to become free (default
 * 1000). A call that exceeds it fails with `SF_POOL_TIMEOUT`. Fails with `SF_INVALID_ARGUMENT`
 * when `ms` is 0 or `cfg` is NULL; the config is then unchanged. Not thread-safe for the same
 * `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
 */
sf_status sf_config_set_pool_wait_timeout_ms(struct sf_config *cfg,
                                             uint32_t ms,
                                             struct sf_error *err);

/**
 * Sentinel only: the credentials for the primary when they differ from the sentinels'.
 * `username` NULL means the `default` user; `password` NULL logs in without a password. Fails
 * with `SF_CONFIG` when `cfg` is not a sentinel configuration, with `SF_INVALID_ARGUMENT` when
 * `cfg` is NULL or a given string is not UTF-8; the config is then unchanged. The strings are
 * copied. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a live config; `username` and `password` are NULL or NUL-terminated
 * strings; `err` is NULL or writable.
 */
sf_status sf_config_set_sentinel_master_auth(struct sf_config *cfg,
                                             const char *username,
                                             const char *password,
                                             struct sf_error *err);

/**
 * TLS: trusts only the CA certificates of the PEM file at `path` (instead of the system's
 * trust store) when verifying the servers of `rediss://` URLs, in every topology. The file is
 * read now. Fails with `SF_CONFIG` when it is missing, unreadable or holds no certificate, with
 * `SF_INVALID_ARGUMENT` when `cfg` or `path` is NULL or `path` is not UTF-8; the config is then
 * unchanged. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a live config; `path` is NULL or a NUL-terminated string; `err` is NULL or
 * writable.
 */
sf_status sf_config_set_tls_ca_file(struct sf_config *cfg, const char *path, struct sf_error *err);

/**
 * TLS: presents the client certificate chain at `cert_path` and its private key at `key_path`
 * (PEM files) to servers that verify clients, in every topology. The files are read now.
 * Fails with `SF_CONFIG` when a file is unreadable or holds no certificate or key, with
 * `SF_INVALID_ARGUMENT` when an argument is NULL or a path is not UTF-8; the config is then
 * unchanged. Not thread-safe for the same `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a live config; the paths are NULL or NUL-terminated strings; `err` is NULL
 * or writable.
 */
sf_status sf_config_set_tls_client_cert(struct sf_config *cfg,
                                        const char *cert_path,
                                        const char *key_path,
                                        struct sf_error *err);

/**
 * Frees a config. NULL is accepted and does nothing. Executors opened with it stay valid.
 * Must not be called while another thread uses `cfg`.
 *
 * # Safety
 * `cfg` is NULL or a config from `sf_config_new` not yet freed; it must not be used afterwards.
 */
void sf_config_free(struct sf_config *cfg);

/**
 * Opens an executor: connects to the configured server, checks that it answers, and loads the
 * Lua scripts. Blocks for at most about the connect timeout plus the command timeout.
 *
 * `cfg` stays owned by the caller (it may be freed right after this call). On success `*out`
 * receives a new executor that the caller owns and closes with `sf_executor_close`. On failure
 * `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` (`cfg` or `out` NULL),
 * `SF_CONNECTION` (server unreachable), `SF_AUTH` (credentials refused), `SF_TIMEOUT`,
 * `SF_REDIS` or `SF_CONFIG`. Thread-safe.
 *
 * # Safety
 * `cfg` is NULL or a live config not changed during the call; `out` is NULL or writable; `err`
 * is NULL or points to a writable `sf_error`.
 */
sf_status sf_executor_open(const struct sf_config *cfg,
                           struct sf_executor **out,
                           struct sf_error *err);

/**
 * Closes an executor: closes its connections and returns once the pool's background threads
 * have exited (so unloading the library right after is safe). NULL is accepted and does
 * nothing, and so is an executor already closed (as long as no later `sf_executor_open` reused
 * its memory). Every other call on `ex` must have returned before, and none may start after:
 * this is the one function that is not thread-safe with respect to its executor. A call on a
 * closed executor fails with `SF_INVALID_ARGUMENT` ("not an open executor") where the library
 * can tell, but that is a safety net, not a contract.
 *
 * # Safety
 * `ex` is NULL or an executor from `sf_executor_open`; no other call on it may run
 * concurrently or start afterwards.
 */
void sf_executor_close(struct sf_executor *ex);

/**
 * Checks that the server answers (PING). Fails with `SF_INVALID_ARGUMENT` (`ex` NULL or not
 * open), `SF_CONNECTION`, `SF_TIMEOUT`, `SF_POOL_TIMEOUT`, `SF_AUTH` or `SF_REDIS`.
 * Thread-safe.
 *
 * # Safety
 * `ex` is NULL or an executor from `sf_executor_open`; `err` is NULL or points to a writable
 * `sf_error`.
 */
sf_status sf_ping(const struct sf_executor *ex, struct sf_error *err);

/**
 * Reads an executor's statistics into `*out`, without blocking calls in flight or sending
 * anything to Redis: cheap enough to poll every second. On failure `*out` is zeroed. Fails
 * with `SF_INVALID_ARGUMENT` when `ex` or `out` is NULL or `ex` is not open. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or an executor from `sf_executor_open`; `out` is NULL or writable; `err` is
 * NULL or points to a writable `sf_error`.
 */
sf_status sf_executor_stats(const struct sf_executor *ex,
                            struct sf_stats *out,
                            struct sf_error *err);

/**
 * Reads an executor's extended statistics into `*out` (see `sf_stats_ext`): set `out->size` to
 * `sizeof(sf_stats_ext)` first. Sends nothing to Redis and blocks no call. Fails with
 * `SF_INVALID_ARGUMENT` when `ex` or `out` is NULL, `ex` is not open, or `out->size` is below
 * 80 (the 0.3 fields up to `pipelined_calls`); `*out` is then left as it was. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or an executor from `sf_executor_open`; `out` is NULL or points to at least
 * `out->size` writable bytes; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_executor_stats_ext(const struct sf_executor *ex,
                                struct sf_stats_ext *out,
                                struct sf_error *err);

/**
 * Sends the library's log records to `fn`: those at `max_level` and more severe
 * (`SF_LOG_WARN` gives errors and warnings). Process-wide: it replaces the callback set by an
 * earlier call, atomically; `fn == NULL` turns logging off.
 *
 * `fn` is called from any thread (pool threads included), possibly concurrently, with
 * `user_data` as given. When this function returns, no call of a previous callback is still
 * running, so its user_data may be freed then. No record or error message ever holds a
 * password (URLs appear with the password masked).
 *
 * What is logged: `SF_LOG_WARN` for a retried call, a script reloaded after NOSCRIPT, a
 * connection or node dropped, a topology change; `SF_LOG_INFO` for an executor opened or
 * closed and a failover; `SF_LOG_DEBUG` for each operation and each connection opened.
 *
 * The first call installs the library's logger into the process's Rust `log` facade. Fails
 * with `SF_CONFIG` when another Rust logger is already installed there (that one keeps the
 * records), with `SF_INVALID_ARGUMENT` when `max_level` is not `SF_LOG_ERROR` ...
 * `SF_LOG_TRACE` (with a non-NULL `fn`) or when called from inside a log callback.
 * Thread-safe.
 *
 * # Safety
 * `fn` is NULL or a function that may be called as described with `user_data` until a later
 * `sf_set_logger` returns; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_set_logger(sf_log_fn fn, void *user_data, int32_t max_level, struct sf_error *err);

/**
 * Publishes the state of one pod of a service (`HSET` of the pod's field in
 * `sf:{ns:state:service}`).
 *
 * `ns`: 1-253 bytes of UTF-8 without `:`, `{`, `}` or ASCII control characters; `service`: the
 * same, `:` allowed; `pod`: `0..=2147483647`; `state`: 1-4096 bytes of UTF-8. Anything else, or a NULL `ex`, `ns`, `service` or `state`, fails with
 * `SF_INVALID_ARGUMENT` before anything is sent. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `err` is NULL or
 * points to a writable `sf_error`.
 */
sf_status sf_set_service_state(const struct sf_executor *ex,
                               const char *ns,
                               const char *service,
                               int32_t pod,
                               const char *state,
                               struct sf_error *err);

/**
 * Reads the states of all pods of a service. Fields of the hash that are not pod ordinals are
 * skipped.
 *
 * On success `*out` receives a new `sf_pod_states` (with 0 entries when the service has none)
 * that the caller owns and frees with `sf_pod_states_free`. On failure `*out` is set to NULL.
 * Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `service` or `out` or a bad name, and
 * with `SF_UNEXPECTED_REPLY` when a state is not UTF-8 or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out` is NULL or
 * writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_service_state(const struct sf_executor *ex,
                               const char *ns,
                               const char *service,
                               struct sf_pod_states **out,
                               struct sf_error *err);

/**
 * Publishes the state of a whole service (`SET` of `sf:{ns:workload:service}`, no expiry).
 *
 * Same argument rules as `sf_set_service_state` (state: 1-4096 bytes of UTF-8). Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `err` is NULL or
 * points to a writable `sf_error`.
 */
sf_status sf_set_workload_state(const struct sf_executor *ex,
                                const char *ns,
                                const char *service,
                                const char *state,
                                struct sf_error *err);

/**
 * Reads the state of a whole service.
 *
 * On success `*out_state` receives a new NUL-terminated string that the caller owns and frees
 * with `sf_string_free`, or NULL when no state was published (absence is `SF_OK`, not an
 * error). On failure `*out_state` is set to NULL. Fails with `SF_INVALID_ARGUMENT` for a NULL
 * `ex`, `ns`, `service` or `out_state` or a bad name, and with `SF_UNEXPECTED_REPLY` when the
 * stored value is not UTF-8 or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_state` is NULL
 * or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_workload_state(const struct sf_executor *ex,
                                const char *ns,
                                const char *service,
                                char **out_state,
                                struct sf_error *err);

/**
 * Reads the workload states of `count` services in one round trip.
 *
 * `services`: an array of `count` service names; `out_states`: a caller-provided array of
 * `count` entries. On success entry `i` receives a new string with the state of `services[i]`,
 * which the caller owns and frees with `sf_string_free`, or NULL when that service has none.
 * On failure every entry is set to NULL (nothing is left to free). With `count == 0` the call
 * succeeds without touching Redis, and both arrays may be NULL (`ex` and `ns` are still checked).
 * Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, a NULL array with `count > 0`, a NULL
 * or bad name among `services`, and with `SF_UNEXPECTED_REPLY` when a stored value is not UTF-8
 * or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; `ns` is NULL or NUL-terminated; `services` is NULL or holds
 * `count` pointers, each NULL or NUL-terminated; `out_states` is NULL or has room for `count`
 * pointers; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_workload_states(const struct sf_executor *ex,
                                 const char *ns,
                                 const char *const *services,
                                 size_t count,
                                 char **out_states,
                                 struct sf_error *err);

/**
 * Reads the states of all pods of a service, as `sf_get_service_state` does, into one packed
 * result instead of one allocation per entry: an extra of 0.2.
 *
 * On success `*out` describes `count` entries sorted by pod ordinal, each with the pod as `key`
 * and its state as text (see `sf_packed`; 0 entries when the service has none). They are
 * written into `buffer` when they fit in its `capacity` bytes, else into one block the library
 * allocates (the read is never repeated); either way call `sf_packed_free(out)` when done.
 * `buffer` may be NULL when `capacity` is 0. On failure `*out` is zeroed and `buffer`'s
 * contents are unspecified. Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `service`
 * or `out`, a NULL `buffer` with `capacity > 0`, or a bad name, and with `SF_UNEXPECTED_REPLY`
 * when a state is not UTF-8 or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `buffer` is NULL or
 * writable for `capacity` bytes; `out` is NULL or writable; `err` is NULL or points to a
 * writable `sf_error`.
 */
sf_status sf_get_service_state_packed(const struct sf_executor *ex,
                                      const char *ns,
                                      const char *service,
                                      uint8_t *buffer,
                                      size_t capacity,
                                      struct sf_packed *out,
                                      struct sf_error *err);

/**
 * Reads the workload states of `count` services in one round trip, as `sf_get_workload_states`
 * does, into one packed result instead of one allocation per entry: an extra of 0.2.
 *
 * On success `*out` describes `count` entries in input order, entry `i` with `i` as `key` and
 * the state of `services[i]` as text, or an absent text (length -1, `sf_packed_next` gives
 * NULL) when that service has none. Buffer, `sf_packed_free` and failures as for
 * `sf_get_service_state_packed`. With `count == 0` the call succeeds with 0 entries without
 * touching Redis, and `services` may be NULL (`ex`, `ns` and `out` are still checked). Fails
 * with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns` or `out`, a NULL `services` with
 * `count > 0`, a NULL `buffer` with `capacity > 0`, a NULL or bad name among `services`, and
 * with `SF_UNEXPECTED_REPLY` when a stored value is not UTF-8 or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; `ns` is NULL or NUL-terminated; `services` is NULL or holds
 * `count` pointers, each NULL or NUL-terminated; `buffer` is NULL or writable for `capacity`
 * bytes; `out` is NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_workload_states_packed(const struct sf_executor *ex,
                                        const char *ns,
                                        const char *const *services,
                                        size_t count,
                                        uint8_t *buffer,
                                        size_t capacity,
                                        struct sf_packed *out,
                                        struct sf_error *err);

/**
 * Links `uid` to `pod` for `service`, whatever was there, in one atomic script.
 *
 * `persist_seconds`: `-1` for a persistent link (no expiry, listed by `sf_get_link_services`),
 * or `1..=2147483647` for a temporary link that expires after that many seconds. On success
 * `*out_previous` receives the pod of the link replaced, or `SF_NO_POD` when there was none; on
 * failure it is set to `SF_NO_POD`.
 *
 * `ns`: 1-253 bytes of UTF-8 without `:`, `{`, `}` or ASCII control characters; `service`:
 * the same, `:` allowed; `uid`: 1-512 bytes of UTF-8 without `{`, `}` or control characters;
 * `pod`: `0..=2147483647`. Anything else, or a NULL pointer other
 * than `err`, fails with `SF_INVALID_ARGUMENT` before anything is sent. A stored link that is
 * not a pod ordinal fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_previous` is
 * NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_set_linked_pod(const struct sf_executor *ex,
                            const char *ns,
                            const char *uid,
                            const char *service,
                            int32_t pod,
                            int32_t persist_seconds,
                            int32_t *out_previous,
                            struct sf_error *err);

/**
 * Links `uid` to `pod` for `service` unless a *persistent* link to a different pod exists, in
 * one atomic script.
 *
 * On success `*out_linked` says whether the link was written and `*out_current` receives the
 * pod linked now: `pod`, or the pod of the persistent link that refused it (`*out_linked` false,
 * nothing changed). On failure `*out_linked` is false and `*out_current` is `SF_NO_POD`.
 * Arguments as for `sf_set_linked_pod`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; the output pointers
 * are NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_try_set_linked_pod(const struct sf_executor *ex,
                                const char *ns,
                                const char *uid,
                                const char *service,
                                int32_t pod,
                                int32_t persist_seconds,
                                bool *out_linked,
                                int32_t *out_current,
                                struct sf_error *err);

/**
 * Links `uid` to `pod` for `service` only when it has no link (persistent or temporary), in one
 * atomic script. Of any number of concurrent callers for the same (ns, uid, service), exactly
 * one writes and all get the same pod.
 *
 * On success `*out_current` receives the pod linked now: the existing link's, or `pod`. On
 * failure it is set to `SF_NO_POD`. Arguments as for `sf_set_linked_pod`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_current` is
 * NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_set_linked_pod_if_absent(const struct sf_executor *ex,
                                      const char *ns,
                                      const char *uid,
                                      const char *service,
                                      int32_t pod,
                                      int32_t persist_seconds,
                                      int32_t *out_current,
                                      struct sf_error *err);

/**
 * Reads the pod `uid` is linked to for `service`, persistent or temporary.
 *
 * On success `*out_pod` receives the pod, or `SF_NO_POD` when there is no link (absence is
 * `SF_OK`). On failure it is set to `SF_NO_POD`. A stored link that is not a pod ordinal fails
 * with `SF_UNEXPECTED_REPLY`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_pod` is NULL or
 * writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_linked_pod(const struct sf_executor *ex,
                            const char *ns,
                            const char *uid,
                            const char *service,
                            int32_t *out_pod,
                            struct sf_error *err);

/**
 * Reads the pod `uid` is linked to for `service`, only when the link is persistent.
 *
 * On success `*out_pod` receives the pod, or `SF_NO_POD` when there is no link or it is
 * temporary. On failure it is set to `SF_NO_POD`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_pod` is NULL or
 * writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_linked_pod_if_persist(const struct sf_executor *ex,
                                       const char *ns,
                                       const char *uid,
                                       const char *service,
                                       int32_t *out_pod,
                                       struct sf_error *err);

/**
 * Reads the linked pods of `count` uids for `service` in one round trip.
 *
 * `uids`: an array of `count` uids; `out_pods`: a caller-provided array of `count` entries. On
 * success entry `i` receives the pod of `uids[i]`, or `SF_NO_POD` when it has no link; on
 * failure every entry is set to `SF_NO_POD`. With `count == 0` the call succeeds without touching
 * Redis, and both arrays may be NULL (`ex`, `ns` and `service` are still checked). A NULL array
 * with `count > 0`, or a NULL or bad uid, fails with `SF_INVALID_ARGUMENT`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; `ns` and `service` are NULL or NUL-terminated; `uids` is NULL
 * or holds `count` pointers, each NULL or NUL-terminated; `out_pods` is NULL or has room for
 * `count` entries; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_batch_get_linked_pods(const struct sf_executor *ex,
                                   const char *ns,
                                   const char *service,
                                   const char *const *uids,
                                   size_t count,
                                   int32_t *out_pods,
                                   struct sf_error *err);

/**
 * Removes the link of `uid` to `service`, in one atomic script: the uid's persistent-link entry
 * goes, and the link is deleted (`keep_seconds` -1 or 0) or kept as a temporary link that
 * expires in `keep_seconds` seconds (so a user who comes back soon returns to the same pod).
 *
 * On success `*out_removed` says whether a link existed; on failure it is false. `keep_seconds`
 * below -1 fails with `SF_INVALID_ARGUMENT`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_removed` is
 * NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_remove_linked_pod(const struct sf_executor *ex,
                               const char *ns,
                               const char *uid,
                               const char *service,
                               int32_t keep_seconds,
                               bool *out_removed,
                               struct sf_error *err);

/**
 * As `sf_remove_linked_pod`, but only when the link currently points to `pod`; otherwise
 * nothing changes and `*out_removed` is false. On failure `*out_removed` is false. A negative
 * `pod` fails with `SF_INVALID_ARGUMENT`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_removed` is
 * NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_remove_linked_pod_with_id(const struct sf_executor *ex,
                                       const char *ns,
                                       const char *uid,
                                       const char *service,
                                       int32_t keep_seconds,
                                       int32_t pod,
                                       bool *out_removed,
                                       struct sf_error *err);

/**
 * Extends the temporary link of `uid` to `service` only while it points at `pod`, in one
 * atomic script: a temporary link to `pod` then expires `persist_seconds` from now; a
 * persistent link to `pod` is left as it is; a link to another pod, or no link, is left as it
 * is. For a gateway keeping an active session's link alive without overwriting a pod another
 * gateway set meanwhile (which calling `sf_set_linked_pod` again could do). An addition of 0.3.
 *
 * On success `*out_touched` says whether the link points at `pod` (true for a temporary link,
 * now extended, and for a persistent one); on failure it is false. `persist_seconds`:
 * `1..=2147483647`, the link's new TTL (anything else, `-1` included, fails with
 * `SF_INVALID_ARGUMENT`); the other arguments as for `sf_set_linked_pod`. A stored link that is
 * not a pod ordinal fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_touched` is
 * NULL or writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_touch_linked_pod(const struct sf_executor *ex,
                              const char *ns,
                              const char *uid,
                              const char *service,
                              int32_t pod,
                              int32_t persist_seconds,
                              bool *out_touched,
                              struct sf_error *err);

/**
 * Reads the persistent links of `uid`: service -> pod.
 *
 * On success `*out` receives a new `sf_service_links` (with 0 entries when the uid has none)
 * that the caller owns and frees with `sf_service_links_free`. On failure `*out` is set to
 * NULL. A stored pod that is not a pod ordinal, or a service name that is not UTF-8 or holds a
 * NUL byte, fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out` is NULL or
 * writable; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_get_link_services(const struct sf_executor *ex,
                               const char *ns,
                               const char *uid,
                               struct sf_service_links **out,
                               struct sf_error *err);

/**
 * Returns the existing link of `uid` for `service`; without one, links `uid` to the candidate
 * with the lowest load (ties: the lowest pod ordinal) as `sf_set_linked_pod_if_absent` does,
 * atomically, and returns that pod.
 *
 * `candidate_pods` and `candidate_loads`: two caller arrays of `candidate_count` entries, pod
 * `candidate_pods[i]` having load `candidate_loads[i]` (any figure where lower is better). With
 * `candidate_count == 0` both may be NULL: the existing link is returned, or `SF_NO_POD` and
 * nothing is written. On success `*out_pod` receives the pod; on failure it is set to
 * `SF_NO_POD`. A NULL array with `candidate_count > 0` or a negative candidate pod fails with
 * `SF_INVALID_ARGUMENT`; `persist_seconds` as for `sf_set_linked_pod`. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; the candidate arrays
 * are NULL or hold `candidate_count` entries; `out_pod` is NULL or writable; `err` is NULL or
 * points to a writable `sf_error`.
 */
sf_status sf_compute_linked_pod(const struct sf_executor *ex,
                                const char *ns,
                                const char *uid,
                                const char *service,
                                const int32_t *candidate_pods,
                                const int64_t *candidate_loads,
                                size_t candidate_count,
                                int32_t persist_seconds,
                                int32_t *out_pod,
                                struct sf_error *err);

/**
 * Reads the persistent links of `uid`, as `sf_get_link_services` does, into one packed result
 * instead of one allocation per entry: an extra of 0.2.
 *
 * On success `*out` describes `count` entries sorted by service name (bytewise), each with the
 * pod as `key` and the service name as text (see `sf_packed`; 0 entries when the uid has none).
 * Buffer, `sf_packed_free` and failures as for `sf_get_service_state_packed`. Fails with
 * `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `uid` or `out`, a NULL `buffer` with
 * `capacity > 0`, or a bad name, and with `SF_UNEXPECTED_REPLY` when a stored pod is not a pod
 * ordinal or a service name is not UTF-8 or holds a NUL byte. Thread-safe.
 *
 * # Safety
 * `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `buffer` is NULL or
 * writable for `capacity` bytes; `out` is NULL or writable; `err` is NULL or points to a
 * writable `sf_error`.
 */
sf_status sf_get_link_services_packed(const struct sf_executor *ex,
                                      const char *ns,
                                      const char *uid,
                                      uint8_t *buffer,
                                      size_t capacity,
                                      struct sf_packed *out,
                                      struct sf_error *err);

/**
 * The number of entries; 0 when `s` is NULL. Thread-safe (the object is immutable).
 *
 * # Safety
 * `s` is NULL or a live `sf_pod_states`.
 */
size_t sf_pod_states_len(const struct sf_pod_states *s);

/**
 * The pod ordinal of entry `i` (entries are sorted by pod ordinal); `SF_NO_POD` when `s` is NULL
 * or `i` is out of range. Thread-safe (the object is immutable).
 *
 * # Safety
 * `s` is NULL or a live `sf_pod_states`.
 */
int32_t sf_pod_states_pod(const struct sf_pod_states *s, size_t i);

/**
 * The state of entry `i` as a NUL-terminated UTF-8 string; NULL when `s` is NULL or `i` is out
 * of range. The string belongs to `s`: it stays valid until `sf_pod_states_free(s)` and must not
 * be freed by the caller. Thread-safe (the object is immutable).
 *
 * # Safety
 * `s` is NULL or a live `sf_pod_states`.
 */
const char *sf_pod_states_state(const struct sf_pod_states *s, size_t i);

/**
 * Frees pod states and every string they hold. NULL is accepted and does nothing. Must not be
 * called while another thread still reads `s`.
 *
 * # Safety
 * `s` is NULL or a live `sf_pod_states`, not used afterwards.
 */
void sf_pod_states_free(struct sf_pod_states *s);

/**
 * The number of entries; 0 when `l` is NULL. Thread-safe (the object is immutable).
 *
 * # Safety
 * `l` is NULL or a live `sf_service_links`.
 */
size_t sf_service_links_len(const struct sf_service_links *l);

/**
 * The service name of entry `i` (entries are sorted by service name) as a NUL-terminated
 * string; NULL when `l` is NULL or `i` is out of range. The string belongs to `l`: it stays
 * valid until `sf_service_links_free(l)` and must not be freed by the caller. Thread-safe (the
 * object is immutable).
 *
 * # Safety
 * `l` is NULL or a live `sf_service_links`.
 */
const char *sf_service_links_service(const struct sf_service_links *l, size_t i);

/**
 * The pod of entry `i`; `SF_NO_POD` when `l` is NULL or `i` is out of range. Thread-safe (the
 * object is immutable).
 *
 * # Safety
 * `l` is NULL or a live `sf_service_links`.
 */
int32_t sf_service_links_pod(const struct sf_service_links *l, size_t i);

/**
 * Frees service links and every string they hold. NULL is accepted and does nothing. Must not
 * be called while another thread still reads `l`.
 *
 * # Safety
 * `l` is NULL or a live `sf_service_links`, not used afterwards.
 */
void sf_service_links_free(struct sf_service_links *l);

/**
 * Frees a string returned by the library (`sf_get_workload_state`, `sf_get_workload_states`).
 * NULL is accepted and does nothing. Never pass it a string that belongs to a result object
 * (`sf_pod_states_state`, `sf_service_links_service`) or one the library did not allocate.
 * Thread-safe (each string is freed once, by whichever thread owns it).
 *
 * # Safety
 * `s` is NULL or a string returned by the library as caller-owned, not yet freed.
 */
void sf_string_free(char *s);

/**
 * Runs `count` independent operations together and gives each its own outcome, exactly as its
 * single function would (same argument rules, same results, same errors); outcome `i` is
 * written to `ops[i]`. The entries are concurrent, not a sequence: they usually run in input
 * order, but an entry the server refused (a lost script, a retry) runs again after the others,
 * so do not put an entry in the batch that must see the effect of another one.
 *
 * On one server (standalone, unix socket, TLS, Sentinel) the operations share one pooled
 * connection: every command is written at once and the replies are read back in order, so a
 * batch costs about one round trip (one more when the server lost a script; see below). On a
 * Redis Cluster the batch is split by node: each node's commands are written at once on the
 * pooled connection's link to it (one round trip per node, the nodes' replies read in turn),
 * and an entry answered with a redirect (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) is sent again
 * alone, following it as its single call does; an unreachable node fails only its own
 * entries (reads among them retried as below). Bounds and retries are a
 * single call's, applied to the batch: the whole batch ends within pool wait + connect +
 * command timeout; after a failure the operations the server refused before running them and
 * the reads whose reply was lost are sent once more, on a new connection, while a write whose
 * reply was lost fails with `SF_CONNECTION` (it may have run). An entry with an unknown
 * `kind`, a NULL or invalid argument fails alone with `SF_INVALID_ARGUMENT`, and nothing is
 * sent for it. Each operation counts as one call in `sf_executor_stats`.
 *
 * `ops`: a caller-provided array of `count` entries (NULL only with `count == 0`). Every
 * entry's outputs are written, failures included; the result objects and strings it receives
 * are the caller's to free, and the call never reads the old values of the outputs (fill them
 * with anything). Returns `SF_OK` when the operations ran (each entry's `status` then tells its
 * own outcome), and fails only when the batch itself is unusable (`ex` NULL or closed, `ops`
 * NULL with `count > 0`): then every entry, when there is an array, gets that status and
 * error. The strings the entries point to must stay valid during the call. Thread-safe; the
 * entries of one call must not be shared with another call running at the same time.
 *
 * # Safety
 * `ex` is NULL or a live executor; `ops` is NULL or points to `count` writable entries whose
 * string fields are NULL or NUL-terminated; `err` is NULL or points to a writable `sf_error`.
 */
sf_status sf_execute_batch(const struct sf_executor *ex,
                           struct sf_batch_op *ops,
                           size_t count,
                           struct sf_error *err);

/**
 * Reads the entry at `*cursor` of a packed result and moves `*cursor` past it; start with
 * `*cursor == 0`. Returns true with the entry's key in `*out_key`, its text in `*out_text` (a
 * NUL-terminated UTF-8 string inside `p`'s bytes, valid until `sf_packed_free(p)`; NULL for an
 * absent workload state) and the text's length in bytes, without the NUL, in `*out_length` (0
 * when absent). Returns false after the last entry, and when `p` or `cursor` is NULL or the
 * bytes at `*cursor` are not a whole entry (`*cursor` is left as it was); the outputs are then
 * `SF_NO_POD`, NULL and 0. Each output pointer may be NULL when that part is not wanted.
 * Thread-safe (reads `p` only).
 *
 * # Safety
 * `p` is NULL or a result filled by a `*_packed` function and not freed; `cursor` and the output
 * pointers are NULL or writable.
 */
bool sf_packed_next(const struct sf_packed *p,
                    size_t *cursor,
                    int32_t *out_key,
                    const char **out_text,
                    size_t *out_length);

/**
 * Frees the block a `*_packed` function allocated for `p`'s entries, if it did, and zeroes
 * `*p`; a result in the caller's own buffer, a zeroed `sf_packed` and NULL are accepted and
 * need nothing (the caller's buffer stays the caller's). Freeing twice is harmless, as the
 * first call zeroes `*p`. Must not be called while another thread still reads `p`.
 *
 * # Safety
 * `p` is NULL or points to an `sf_packed` that is zeroed or was filled by a `*_packed` function
 * and not modified since.
 */
void sf_packed_free(struct sf_packed *p);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* STATEFUL_EXECUTOR_H */
