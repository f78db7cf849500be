/*
 * The ABI's layout, checked at compile time (C11 _Static_assert; the header itself is C99):
 * the sizes and offsets every binding (cgo, JNI, C#, ...) hard-codes or mirrors. A change here
 * is an ABI break. Run by `make c-test`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stateful_executor.h"

/* sf_status: a signed 32-bit integer whatever the compiler, never an enum. */
_Static_assert(sizeof(sf_status) == 4, "sf_status is 32 bits");
_Static_assert((sf_status)-1 < 0, "sf_status is signed");
_Static_assert(SF_OK == 0 && SF_INVALID_ARGUMENT == 1 && SF_CONNECTION == 2 && SF_TIMEOUT == 3,
               "status values are fixed");
_Static_assert(SF_POOL_TIMEOUT == 4 && SF_AUTH == 5 && SF_REDIS == 6 && SF_UNEXPECTED_REPLY == 7,
               "status values are fixed");
_Static_assert(SF_CONFIG == 8 && SF_INTERNAL == 9, "status values are fixed");

/* sf_error: the code, then the message buffer, nothing else. */
_Static_assert(offsetof(sf_error, code) == 0, "sf_error.code first");
_Static_assert(offsetof(sf_error, message) == 4, "sf_error.message after the code");
_Static_assert(sizeof(((sf_error *)0)->message) == SF_ERROR_MESSAGE_SIZE, "message size");
_Static_assert(SF_ERROR_MESSAGE_SIZE == 256, "message size");
_Static_assert(sizeof(sf_error) == 260, "sf_error size");

/* sf_stats: two uint32_t, then seven uint64_t, no padding. */
_Static_assert(offsetof(sf_stats, connections) == 0, "sf_stats layout");
_Static_assert(offsetof(sf_stats, idle_connections) == 4, "sf_stats layout");
_Static_assert(offsetof(sf_stats, calls) == 8, "sf_stats layout");
_Static_assert(offsetof(sf_stats, failed_calls) == 16, "sf_stats layout");
_Static_assert(offsetof(sf_stats, retries) == 24, "sf_stats layout");
_Static_assert(offsetof(sf_stats, pool_timeouts) == 32, "sf_stats layout");
_Static_assert(offsetof(sf_stats, connects) == 40, "sf_stats layout");
_Static_assert(offsetof(sf_stats, connect_failures) == 48, "sf_stats layout");
_Static_assert(offsetof(sf_stats, script_reloads) == 56, "sf_stats layout");
_Static_assert(sizeof(sf_stats) == 64, "sf_stats size");

/* sf_stats_ext (0.3): its size first, then sf_stats whole, then uint64_t figures appended. */
_Static_assert(offsetof(sf_stats_ext, size) == 0, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, reserved) == 4, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, base) == 8, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, pipelined_calls) == 72, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, cache_hits) == 80, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, cache_misses) == 88, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, cache_invalidations) == 96, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, cache_flushes) == 104, "sf_stats_ext layout");
_Static_assert(offsetof(sf_stats_ext, cache_evictions) == 112, "sf_stats_ext layout");
_Static_assert(sizeof(sf_stats_ext) == 120, "sf_stats_ext size");

/* sf_packed (extras of 0.2): data, size, count, allocated; pointer-sized fields, no padding. */
_Static_assert(offsetof(sf_packed, data) == 0, "sf_packed layout");
_Static_assert(offsetof(sf_packed, size) == sizeof(void *), "sf_packed layout");
_Static_assert(offsetof(sf_packed, count) == 2 * sizeof(void *), "sf_packed layout");
_Static_assert(offsetof(sf_packed, allocated) == 3 * sizeof(void *), "sf_packed layout");
_Static_assert(sizeof(sf_packed) == 4 * sizeof(void *), "sf_packed size");

/* Log levels and the version macros. */
_Static_assert(SF_LOG_ERROR == 1 && SF_LOG_WARN == 2 && SF_LOG_INFO == 3, "log levels");
_Static_assert(SF_LOG_DEBUG == 4 && SF_LOG_TRACE == 5, "log levels");
_Static_assert(SF_VERSION_MAJOR >= 0 && SF_VERSION_MINOR >= 0 && SF_VERSION_PATCH >= 0,
               "numeric version macros");
_Static_assert(SF_NO_POD == -1, "SF_NO_POD");

/* The callback type has exactly the documented signature (-Werror rejects a mismatch). */
static void log_callback(void *user_data, int32_t level, const char *target,
                         const char *message) {
  (void)user_data, (void)level, (void)target, (void)message;
}
static const sf_log_fn callback = log_callback;

/* Functions that only share the executor take it const (these assignments check it). */
static sf_status (*const ping)(const sf_executor *, sf_error *) = sf_ping;
static sf_status (*const stats)(const sf_executor *, sf_stats *, sf_error *) = sf_executor_stats;
static void (*const close_executor)(sf_executor *) = sf_executor_close;
/* The packed readers' signatures. */
static sf_status (*const packed_states)(const sf_executor *, const char *, const char *, uint8_t *,
                                        size_t, sf_packed *, sf_error *) =
    sf_get_service_state_packed;
static bool (*const packed_next)(const sf_packed *, size_t *, int32_t *, const char **,
                                 size_t *) = sf_packed_next;

int main(void) {
  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", SF_VERSION_MAJOR, SF_VERSION_MINOR,
           SF_VERSION_PATCH);
  if (strcmp(version, SF_VERSION_STRING) != 0 || strcmp(sf_version(), SF_VERSION_STRING) != 0 ||
      callback == NULL || ping == NULL || stats == NULL || close_executor == NULL ||
      packed_states == NULL || packed_next == NULL) {
    printf("layout: 0 passed, 1 failed (version %s, header %s)\n", sf_version(),
           SF_VERSION_STRING);
    return 1;
  }
  printf("layout: 1 passed, 0 failed\n");
  return 0;
}
