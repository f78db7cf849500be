/*
 * Tests of the C API through the public header, against real redis-server processes started
 * on free loopback ports (never 6379). Every function, and every status code a C caller can
 * provoke: SF_INTERNAL (a caught panic) cannot be provoked through the API and is covered by
 * the Rust unit tests of src/ffi/.
 *
 * Run by `make c-test`, also under valgrind (SF_TEST_SLOW=1 widens the time bounds there).
 * Closes with "N passed, M failed".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "stateful_executor.h"

#ifndef SF_EXPECTED_VERSION
#error "compile with -DSF_EXPECTED_VERSION=\"x.y.z\" (the crate version)"
#endif

static server main_server;
static char main_url[64];
static sf_executor *ex; /* shared by the tests on main_server */

/* Shorthands; each test declares `sf_error err;`. */
#define OK(expr) CHECK_STATUS((expr), SF_OK, &err)
#define FAILS(expr, status) CHECK_STATUS((expr), (status), &err)
#define INVALID(expr) CHECK_STATUS((expr), SF_INVALID_ARGUMENT, &err)

#define DUMMY_PTR ((void *)&main_server) /* a non-NULL value that outputs must overwrite */

static const char BAD_UTF8[] = "ab\xff\xfe";

/* Garbage in err, so that every call must overwrite it. */
static void scribble(sf_error *err) {
  memset(err, 'x', sizeof *err);
  err->code = SF_INTERNAL;
}

/* Opens an executor on url with the given timeouts (0: default) and pool max size (0: default). */
static sf_status open_executor(const char *url, uint32_t connect_ms, uint32_t command_ms,
                               uint32_t wait_ms, uint32_t max_size, sf_executor **out,
                               sf_error *err) {
  sf_config *cfg = NULL;
  sf_status status = sf_config_new(url, &cfg, err);
  *out = NULL;
  if (status != SF_OK) return status;
  if (connect_ms > 0) sf_config_set_connect_timeout_ms(cfg, connect_ms, NULL);
  if (command_ms > 0) sf_config_set_command_timeout_ms(cfg, command_ms, NULL);
  if (wait_ms > 0) sf_config_set_pool_wait_timeout_ms(cfg, wait_ms, NULL);
  if (max_size > 0) sf_config_set_pool_max_size(cfg, max_size, NULL);
  status = sf_executor_open(cfg, out, err);
  sf_config_free(cfg); /* the executor does not need it any more */
  return status;
}

static int32_t get_pod(const char *ns, const char *uid, const char *service) {
  int32_t pod = 12345;
  if (sf_get_linked_pod(ex, ns, uid, service, &pod, NULL) != SF_OK) return -100;
  return pod;
}

static long ttl_of(const char *key) {
  char reply[64];
  if (raw(&main_server, reply, sizeof reply, "TTL", key, NULL) != ':') return -100;
  return strtol(reply, NULL, 10);
}

static int key_exists(const char *key) {
  char reply[64];
  raw(&main_server, reply, sizeof reply, "EXISTS", key, NULL);
  return strcmp(reply, "1") == 0;
}

/* ------------------------------------------------------------------------------------------ */

static void test_version_and_status_names(void) {
  static const char *const names[] = {
      "SF_OK",        "SF_INVALID_ARGUMENT", "SF_CONNECTION",       "SF_TIMEOUT", "SF_POOL_TIMEOUT",
      "SF_AUTH",      "SF_REDIS",            "SF_UNEXPECTED_REPLY", "SF_CONFIG",  "SF_INTERNAL"};
  int i;
  sf_error e;
  CHECK(sf_version() != NULL);
  CHECK(strcmp(sf_version(), SF_EXPECTED_VERSION) == 0);
  CHECK(sf_version() == sf_version()); /* static storage */
  for (i = 0; i <= 9; i++) CHECK(strcmp(sf_status_name((sf_status)i), names[i]) == 0);
  CHECK(SF_OK == 0 && SF_INVALID_ARGUMENT == 1 && SF_CONNECTION == 2 && SF_TIMEOUT == 3);
  CHECK(SF_POOL_TIMEOUT == 4 && SF_AUTH == 5 && SF_REDIS == 6 && SF_UNEXPECTED_REPLY == 7);
  CHECK(SF_CONFIG == 8 && SF_INTERNAL == 9);
  CHECK(strcmp(sf_status_name((sf_status)10), "SF_UNKNOWN") == 0);
  CHECK(strcmp(sf_status_name((sf_status)-1), "SF_UNKNOWN") == 0);
  CHECK(strcmp(sf_status_name((sf_status)123456), "SF_UNKNOWN") == 0);
  CHECK(SF_NO_POD == -1);
  CHECK(sizeof e.message == 256);
  CHECK(-SF_NO_POD == 1); /* the macro is parenthesized */
  {
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", SF_VERSION_MAJOR, SF_VERSION_MINOR,
             SF_VERSION_PATCH);
    CHECK(strcmp(version, SF_VERSION_STRING) == 0);
    CHECK(strcmp(sf_version(), SF_VERSION_STRING) == 0);
  }
  CHECK(sizeof(sf_status) == 4 && (sf_status)-1 < 0); /* a signed 32-bit integer */
  CHECK(SF_LOG_ERROR == 1 && SF_LOG_WARN == 2 && SF_LOG_INFO == 3 && SF_LOG_DEBUG == 4);
  CHECK(SF_LOG_TRACE == 5);
}

static void test_config(void) {
  static const char *const malformed[] = {"http://127.0.0.1:1",
                                          "",
                                          "not a url",
                                          "redis://127.0.0.1:notaport",
                                          "redis://127.0.0.1:99999",
                                          "redis://[::1",
                                          NULL};
  sf_error err;
  sf_config *cfg = DUMMY_PTR;
  int i;

  scribble(&err);
  INVALID(sf_config_new(NULL, &cfg, &err));
  CHECK(cfg == NULL);
  CHECK(strstr(err.message, "url") != NULL);
  INVALID(sf_config_new(main_url, NULL, &err));
  cfg = DUMMY_PTR;
  INVALID(sf_config_new(BAD_UTF8, &cfg, &err));
  CHECK(cfg == NULL);
  CHECK(strstr(err.message, "UTF-8") != NULL);
  for (i = 0; malformed[i] != NULL; i++) {
    cfg = DUMMY_PTR;
    scribble(&err);
    FAILS(sf_config_new(malformed[i], &cfg, &err), SF_CONFIG);
    CHECK(cfg == NULL);
  }
  /* The password never shows in a message. */
  FAILS(sf_config_new("http://app:hunter2@127.0.0.1:1", &cfg, &err), SF_CONFIG);
  CHECK(strstr(err.message, "hunter2") == NULL);
  /* err is optional. */
  CHECK(sf_config_new("nope", &cfg, NULL) == SF_CONFIG);
  CHECK(cfg == NULL);

  scribble(&err);
  OK(sf_config_new("redis://app:secret@127.0.0.1:1/2", &cfg, &err));
  CHECK(cfg != NULL);
  CHECK(err.code == SF_OK && err.message[0] == '\0');
  sf_config_free(cfg);
  OK(sf_config_new("unix:///tmp/redis.sock", &cfg, &err));
  sf_config_free(cfg);

  OK(sf_config_new(main_url, &cfg, &err));
  INVALID(sf_config_set_pool_max_size(NULL, 4, &err));
  INVALID(sf_config_set_pool_min_idle(NULL, 1, &err));
  INVALID(sf_config_set_connect_timeout_ms(NULL, 10, &err));
  INVALID(sf_config_set_command_timeout_ms(NULL, 10, &err));
  INVALID(sf_config_set_pool_wait_timeout_ms(NULL, 10, &err));
  INVALID(sf_config_set_pipelining(NULL, false, &err));
  INVALID(sf_config_set_pipelining_min_in_flight(NULL, 1, &err));
  INVALID(sf_config_set_pipelining_min_in_flight(cfg, 0, &err));
  INVALID(sf_config_set_pool_max_size(cfg, 0, &err));
  INVALID(sf_config_set_pool_min_idle(cfg, 17, &err)); /* above the default max of 16 */
  OK(sf_config_set_pool_min_idle(cfg, 2, &err));
  INVALID(sf_config_set_pool_max_size(cfg, 1, &err)); /* below min idle */
  /* The pool reserves room for max size connections when it opens: a huge size would abort. */
  INVALID(sf_config_set_pool_max_size(cfg, UINT32_MAX, &err));
  INVALID(sf_config_set_pool_max_size(cfg, 10001, &err));
  OK(sf_config_set_pool_max_size(cfg, 10000, &err));
  OK(sf_config_set_pool_max_size(cfg, 2, &err));
  INVALID(sf_config_set_connect_timeout_ms(cfg, 0, &err));
  INVALID(sf_config_set_command_timeout_ms(cfg, 0, &err));
  INVALID(sf_config_set_pool_wait_timeout_ms(cfg, 0, &err));
  OK(sf_config_set_connect_timeout_ms(cfg, 2000, &err));
  OK(sf_config_set_command_timeout_ms(cfg, 2000, &err));
  OK(sf_config_set_pool_wait_timeout_ms(cfg, 2000, &err));
  CHECK(sf_config_set_pool_max_size(cfg, 0, NULL) == SF_INVALID_ARGUMENT);
  CHECK(sf_config_set_pool_max_size(cfg, 3, NULL) == SF_OK);
  {
    /* The configured pool works: min idle 2 of max 3, with pipelining off (each call on a
       pooled connection) and on. */
    sf_executor *e2 = DUMMY_PTR;
    int32_t pod = 0;
    OK(sf_config_set_pipelining(cfg, false, &err));
    OK(sf_executor_open(cfg, &e2, &err));
    OK(sf_ping(e2, &err));
    OK(sf_set_linked_pod(e2, "cfg", "u", "chat", 4, -1, &pod, &err));
    OK(sf_get_linked_pod(e2, "cfg", "u", "chat", &pod, &err));
    CHECK(pod == 4);
    sf_executor_close(e2);
    OK(sf_config_set_pipelining(cfg, true, &err));
    OK(sf_executor_open(cfg, &e2, &err));
    OK(sf_get_linked_pod(e2, "cfg", "u", "chat", &pod, &err));
    CHECK(pod == 4);
    sf_executor_close(e2);
    /* Every call through the shared connection, even this lone one. */
    OK(sf_config_set_pipelining_min_in_flight(cfg, 1, &err));
    OK(sf_executor_open(cfg, &e2, &err));
    OK(sf_get_linked_pod(e2, "cfg", "u", "chat", &pod, &err));
    CHECK(pod == 4);
    sf_executor_close(e2);
  }
  sf_config_free(cfg);
  sf_config_free(NULL);
}

/* Cluster, Sentinel and TLS configuration: argument checks and config errors (the topologies
 * themselves run in the Rust suites tests/cluster.rs, sentinel.rs and tls.rs). */
static void test_topology_configs(void) {
  const char *seeds[] = {"redis://127.0.0.1:7000", "redis://127.0.0.1:7001"};
  const char *with_null[] = {"redis://127.0.0.1:7000", NULL};
  const char *with_bad_utf8[] = {BAD_UTF8};
  const char *unix_seed[] = {"unix:///tmp/redis.sock"};
  const char *mixed[] = {"redis://127.0.0.1:7000", "rediss://127.0.0.1:7001"};
  const char *one_server[] = {main_url};
  char not_pem[] = "/tmp/sf-c-test-not-pem-XXXXXX";
  sf_error err;
  sf_config *cfg = DUMMY_PTR;
  sf_executor *e2 = DUMMY_PTR;
  int fd;

  /* Cluster. */
  INVALID(sf_config_new_cluster(seeds, 2, NULL, &err));
  INVALID(sf_config_new_cluster(NULL, 2, &cfg, &err));
  CHECK(cfg == NULL);
  cfg = DUMMY_PTR;
  INVALID(sf_config_new_cluster(with_null, 2, &cfg, &err));
  CHECK(cfg == NULL);
  CHECK(strstr(err.message, "seed_urls[1]") != NULL);
  INVALID(sf_config_new_cluster(with_bad_utf8, 1, &cfg, &err));
  FAILS(sf_config_new_cluster(NULL, 0, &cfg, &err), SF_CONFIG);
  FAILS(sf_config_new_cluster(unix_seed, 1, &cfg, &err), SF_CONFIG);
  FAILS(sf_config_new_cluster(mixed, 2, &cfg, &err), SF_CONFIG);
  OK(sf_config_new_cluster(seeds, 2, &cfg, &err));
  CHECK(cfg != NULL);
  OK(sf_config_set_pool_max_size(cfg, 4, &err));
  FAILS(sf_config_set_sentinel_master_auth(cfg, NULL, "pw", &err), SF_CONFIG);
  sf_config_free(cfg);
  /* A server without cluster support is not a cluster: opening fails and says why. */
  OK(sf_config_new_cluster(one_server, 1, &cfg, &err));
  scribble(&err);
  CHECK(sf_executor_open(cfg, &e2, &err) != SF_OK);
  CHECK(e2 == NULL);
  CHECK(err.code != SF_OK && err.message[0] != '\0');
  sf_config_free(cfg);

  /* Sentinel. */
  INVALID(sf_config_new_sentinel(seeds, 2, NULL, &cfg, &err));
  INVALID(sf_config_new_sentinel(seeds, 2, "mymaster", NULL, &err));
  INVALID(sf_config_new_sentinel(NULL, 1, "mymaster", &cfg, &err));
  INVALID(sf_config_new_sentinel(seeds, 2, BAD_UTF8, &cfg, &err));
  FAILS(sf_config_new_sentinel(seeds, 0, "mymaster", &cfg, &err), SF_CONFIG);
  FAILS(sf_config_new_sentinel(seeds, 2, "", &cfg, &err), SF_CONFIG);
  FAILS(sf_config_new_sentinel(seeds, 2, "my master", &cfg, &err), SF_CONFIG);
  OK(sf_config_new_sentinel(seeds, 2, "mymaster", &cfg, &err));
  INVALID(sf_config_set_sentinel_master_auth(NULL, NULL, NULL, &err));
  INVALID(sf_config_set_sentinel_master_auth(cfg, BAD_UTF8, "pw", &err));
  OK(sf_config_set_sentinel_master_auth(cfg, "app", "pw", &err));
  OK(sf_config_set_sentinel_master_auth(cfg, NULL, NULL, &err));
  sf_config_free(cfg);
  /* A plain server is no sentinel: opening fails. */
  OK(sf_config_new_sentinel(one_server, 1, "mymaster", &cfg, &err));
  OK(sf_config_set_connect_timeout_ms(cfg, 500, &err));
  e2 = DUMMY_PTR;
  CHECK(sf_executor_open(cfg, &e2, &err) != SF_OK);
  CHECK(e2 == NULL);
  sf_config_free(cfg);

  /* TLS files are read and checked when set. */
  fd = mkstemp(not_pem);
  CHECK(fd >= 0);
  CHECK(write(fd, "hello\n", 6) == 6);
  close(fd);
  OK(sf_config_new("rediss://127.0.0.1:1", &cfg, &err));
  INVALID(sf_config_set_tls_ca_file(NULL, not_pem, &err));
  INVALID(sf_config_set_tls_ca_file(cfg, NULL, &err));
  INVALID(sf_config_set_tls_ca_file(cfg, BAD_UTF8, &err));
  FAILS(sf_config_set_tls_ca_file(cfg, "/nonexistent/ca.pem", &err), SF_CONFIG);
  FAILS(sf_config_set_tls_ca_file(cfg, not_pem, &err), SF_CONFIG);
  INVALID(sf_config_set_tls_client_cert(NULL, not_pem, not_pem, &err));
  INVALID(sf_config_set_tls_client_cert(cfg, NULL, not_pem, &err));
  INVALID(sf_config_set_tls_client_cert(cfg, not_pem, NULL, &err));
  FAILS(sf_config_set_tls_client_cert(cfg, "/nonexistent/c.pem", not_pem, &err), SF_CONFIG);
  FAILS(sf_config_set_tls_client_cert(cfg, not_pem, not_pem, &err), SF_CONFIG);
  sf_config_free(cfg);
  unlink(not_pem);
}

static void test_open_close_ping(void) {
  sf_error err;
  sf_config *cfg = NULL;
  sf_executor *e2 = DUMMY_PTR;
  OK(sf_config_new(main_url, &cfg, &err));
  INVALID(sf_executor_open(NULL, &e2, &err));
  CHECK(e2 == NULL);
  INVALID(sf_executor_open(cfg, NULL, &err));
  scribble(&err);
  OK(sf_executor_open(cfg, &e2, &err));
  CHECK(e2 != NULL);
  sf_config_free(cfg); /* the caller's to free, at any time */
  scribble(&err);
  OK(sf_ping(e2, &err));
  CHECK(sf_ping(e2, NULL) == SF_OK);
  INVALID(sf_ping(NULL, &err));
  CHECK(sf_ping(NULL, NULL) == SF_INVALID_ARGUMENT);
  sf_executor_close(e2);
  sf_executor_close(NULL);
}

/* The process's thread count (Linux). */
static int thread_count(void) {
  char line[128];
  int threads = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "Threads:", 8) == 0) threads = atoi(line + 8);
  fclose(f);
  return threads;
}

/* sf_executor_close returns after its pool's background threads exited: the thread count is
 * back at once, with no waiting (so unloading the library right after close is safe). */
static void test_close_releases_threads(void) {
  sf_error err;
  int before = thread_count(), i;
  CHECK(before > 0);
  for (i = 0; i < 20; i++) {
    sf_executor *e2 = NULL;
    OK(open_executor(main_url, 0, 0, 0, 0, &e2, &err));
    OK(sf_ping(e2, &err));
    CHECK(thread_count() >= before + 3); /* the pool's threads */
    sf_executor_close(e2);
    CHECK(thread_count() == before);
  }
}

/* A pool thread is still opening a connection (to a server stopped with SIGSTOP: the kernel
 * accepts, nobody answers) when the executor closes: close waits for it, and nothing leaks
 * (valgrind and LeakSanitizer check that in the other runs of this suite). */
static void test_close_while_a_connection_is_opening(void) {
  static const char *const args[] = {"--requirepass", "opening-pw", NULL};
  server s;
  char url[128];
  sf_error err;
  sf_executor *e2 = NULL;
  int before = thread_count();
  if (server_start(&s, args) != 0) {
    CHECK(!"cannot start redis-server");
    return;
  }
  snprintf(url, sizeof url, "redis://:opening-pw@127.0.0.1:%d", s.port);
  OK(open_executor(url, 1000, 1000, 100, 0, &e2, &err));
  CHECK(kill(s.pid, SIGSTOP) == 0);
  CHECK(sf_ping(e2, &err) != SF_OK); /* its checkout started a connect in the background */
  sf_executor_close(e2);
  CHECK(thread_count() == before);
  kill(s.pid, SIGCONT);
  server_stop(&s);
}

/* The magic field: a closed or foreign executor pointer gives SF_INVALID_ARGUMENT, never
 * undefined behaviour, where the library can tell; closing twice is harmless. */
static void test_closed_and_foreign_executors(void) {
  static uint64_t foreign[64]; /* zeros, aligned */
  sf_error err;
  sf_executor *e2 = NULL, *e3 = NULL;
  sf_stats stats;
  int32_t pod = 7;
  unsigned char *garbage[16];
  int i;
  OK(open_executor(main_url, 0, 0, 0, 0, &e2, &err));
  OK(sf_ping(e2, &err));
  sf_executor_close(e2);
  /* Memory freed and reused by the program right after close does not touch the handle. */
  for (i = 0; i < 16; i++) {
    garbage[i] = malloc(16 + (size_t)i * 24);
    if (garbage[i] != NULL) memset(garbage[i], 0xA5, 16 + (size_t)i * 24);
  }
  scribble(&err);
  INVALID(sf_ping(e2, &err));
  CHECK(strstr(err.message, "not an open executor") != NULL);
  INVALID(sf_get_linked_pod(e2, "prod", "u", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);
  INVALID(sf_executor_stats(e2, &stats, &err));
  CHECK(stats.calls == 0 && stats.connections == 0);
  INVALID(sf_set_workload_state(e2, "prod", "chat", "READY", &err));
  sf_executor_close(e2); /* twice: nothing happens */
  for (i = 0; i < 16; i++) free(garbage[i]);

  INVALID(sf_ping((const sf_executor *)(const void *)foreign, &err));
  CHECK(strstr(err.message, "not an open executor") != NULL);
  INVALID(sf_ping((const sf_executor *)(const void *)((const char *)foreign + 1), &err));
  memset(foreign, 0xA5, sizeof foreign);
  INVALID(sf_ping((const sf_executor *)(const void *)foreign, &err));
  sf_executor_close((sf_executor *)(void *)foreign); /* foreign: ignored */

  /* The next open reuses the closed handle: the old pointer is then that executor (the check is
   * a safety net, not a contract). */
  OK(open_executor(main_url, 0, 0, 0, 0, &e3, &err));
  CHECK(e3 == e2);
  OK(sf_ping(e3, &err));
  sf_executor_close(e3);
}

/* ---- statistics ---- */

static void test_stats(void) {
  sf_error err;
  sf_executor *e2 = NULL;
  const sf_executor *shared;
  sf_stats s0, s1, s2;
  int32_t pod;
  char reply[64];
  int i;
  OK(open_executor(main_url, 0, 0, 0, 2, &e2, &err));
  shared = e2; /* every call but close takes a const executor */
  memset(&s0, 0xFF, sizeof s0);
  OK(sf_executor_stats(shared, &s0, &err));
  CHECK(s0.calls == 0 && s0.failed_calls == 0 && s0.retries == 0 && s0.pool_timeouts == 0);
  CHECK(s0.connects == 1 && s0.connect_failures == 0 && s0.script_reloads == 0);
  INVALID(sf_executor_stats(NULL, &s0, &err));
  INVALID(sf_executor_stats(shared, NULL, &err));

  for (i = 0; i < 10; i++) OK(sf_set_linked_pod(shared, "st", "u", "chat", i, -1, &pod, &err));
  for (i = 0; i < 5; i++) OK(sf_get_linked_pod(shared, "st", "u", "chat", &pod, &err));
  INVALID(sf_get_linked_pod(shared, "st:x", "u", "chat", &pod, &err));
  INVALID(sf_set_linked_pod(shared, "st", "u", "chat", -5, -1, &pod, &err));
  /* Refused by the C layer before reaching the executor (a NULL output): not an operation. */
  INVALID(sf_get_linked_pod(shared, "st", "u", "chat", NULL, &err));
  OK(sf_executor_stats(shared, &s1, &err));
  CHECK(s1.calls == 17);
  CHECK(s1.failed_calls == 2);
  CHECK(s1.retries == 0 && s1.pool_timeouts == 0 && s1.script_reloads == 0);
  CHECK(s1.connections >= 1 && s1.connections <= 2);
  CHECK(s1.idle_connections == s1.connections);

  /* One NOSCRIPT answered by sending the script; one read retried after its connection died. */
  CHECK(raw(&main_server, reply, sizeof reply, "SCRIPT", "FLUSH", NULL) == '+');
  OK(sf_set_linked_pod(shared, "st", "u", "chat", 3, -1, &pod, &err));
  CHECK(raw(&main_server, reply, sizeof reply, "CLIENT", "KILL", "TYPE", "normal", "SKIPME",
            "yes", NULL) == ':');
  OK(sf_get_linked_pod(shared, "st", "u", "chat", &pod, &err));
  CHECK(pod == 3);
  OK(sf_executor_stats(shared, &s2, &err));
  CHECK(s2.calls == s1.calls + 2);
  CHECK(s2.failed_calls == s1.failed_calls);
  CHECK(s2.script_reloads == 1);
  CHECK(s2.retries == 1);
  CHECK(s2.connects > s1.connects);
  sf_executor_close(e2);
  /* The executor `ex` is unaffected: the counters are per executor. */
  OK(sf_executor_stats(ex, &s2, &err));
  CHECK(s2.script_reloads <= s2.calls);
}

/* The extended statistics: a size-versioned struct that leaves the 0.2 sf_stats alone. */
static void test_stats_ext(void) {
  sf_error err;
  sf_stats_ext ext;
  sf_stats base;
  unsigned char small[96];
  memset(&ext, 0, sizeof ext);
  ext.size = sizeof ext;
  OK(sf_executor_stats_ext(ex, &ext, &err));
  CHECK(ext.size == sizeof ext && ext.reserved == 0);
  OK(sf_executor_stats(ex, &base, &err));
  CHECK(ext.base.calls <= base.calls && ext.base.connects <= base.connects);
  CHECK(ext.pipelined_calls <= ext.base.calls);
  /* No cache on this executor: its figures stay 0. */
  CHECK(ext.cache_hits == 0 && ext.cache_misses == 0 && ext.cache_invalidations == 0);
  CHECK(ext.cache_flushes == 0 && ext.cache_evictions == 0);
  /* An older caller's smaller struct: only its bytes are written, and `size` says how many. */
  memset(small, 0xAB, sizeof small);
  ext.size = 88; /* up to cache_hits */
  memcpy(small, &ext.size, sizeof ext.size);
  OK(sf_executor_stats_ext(ex, (sf_stats_ext *)(void *)small, &err));
  memcpy(&ext.size, small, sizeof ext.size);
  CHECK(ext.size == 88);
  CHECK(small[88] == 0xAB && small[95] == 0xAB);
  /* A size below the 0.3 fields, NULLs, a closed executor: refused, nothing written. */
  memset(&ext, 0x5A, sizeof ext);
  ext.size = sizeof(sf_stats);
  INVALID(sf_executor_stats_ext(ex, &ext, &err));
  CHECK(strstr(err.message, "sizeof(sf_stats_ext)") != NULL);
  CHECK(ext.size == sizeof(sf_stats) && ext.pipelined_calls == 0x5A5A5A5A5A5A5A5AULL);
  ext.size = sizeof ext;
  INVALID(sf_executor_stats_ext(NULL, &ext, &err));
  INVALID(sf_executor_stats_ext(ex, NULL, &err));
}

/* The client cache: the setter's rules, hits counted, another client's write invalidating. */
static void test_client_cache(void) {
  sf_error err;
  sf_config *cfg = NULL;
  sf_executor *cached = NULL;
  sf_stats_ext ext;
  char reply[64];
  int32_t pod = 0;
  int i;
  long long deadline;
  OK(sf_config_new(main_url, &cfg, &err));
  INVALID(sf_config_set_client_cache(NULL, 10, 1000, &err));
  INVALID(sf_config_set_client_cache(cfg, 10, 0, &err));
  OK(sf_config_set_client_cache(cfg, 0, 0, &err)); /* off */
  OK(sf_config_set_client_cache(cfg, 1000, 60000, &err));
  CHECK(raw(&main_server, reply, sizeof reply, "SET", "sf:{cc:lk:u}chat", "4", NULL) == '+');
  OK(sf_executor_open(cfg, &cached, &err));
  sf_config_free(cfg);
  for (i = 0; i < 20; i++) {
    OK(sf_get_linked_pod(cached, "cc", "u", "chat", &pod, &err));
    CHECK(pod == 4);
  }
  memset(&ext, 0, sizeof ext);
  ext.size = sizeof ext;
  OK(sf_executor_stats_ext(cached, &ext, &err));
  CHECK(ext.cache_misses == 1 && ext.cache_hits == 19);
  /* Another client's write reaches the cache through Redis's invalidation. */
  CHECK(raw(&main_server, reply, sizeof reply, "SET", "sf:{cc:lk:u}chat", "6", NULL) == '+');
  deadline = now_ms() + 2000 * slow_factor();
  do {
    OK(sf_get_linked_pod(cached, "cc", "u", "chat", &pod, &err));
  } while (pod != 6 && now_ms() < deadline);
  CHECK(pod == 6);
  /* Its own write, at once. */
  OK(sf_set_linked_pod(cached, "cc", "u", "chat", 8, -1, &pod, &err));
  OK(sf_get_linked_pod(cached, "cc", "u", "chat", &pod, &err));
  CHECK(pod == 8);
  OK(sf_executor_stats_ext(cached, &ext, &err));
  CHECK(ext.cache_invalidations >= 1);
  sf_executor_close(cached);
}

/* ---- logging ---- */

#define SECRET "Cl0g-s3cret"

struct log_ctx {
  pthread_mutex_t lock;
  long by_level[6];
  long from_pool_threads;
  long leaked_secret;
  long bad_records;
  long opened, closed;
  int in_flight; /* __atomic */
};


static void log_ctx_init(struct log_ctx *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
}

static void record_log(void *user_data, int32_t level, const char *target, const char *message) {
  struct log_ctx *c = user_data;
  char name[32] = "";
  __atomic_add_fetch(&c->in_flight, 1, __ATOMIC_SEQ_CST);
  pthread_getname_np(pthread_self(), name, sizeof name);
  pthread_mutex_lock(&c->lock);
  if (level >= SF_LOG_ERROR && level <= SF_LOG_TRACE) c->by_level[level]++;
  if (target == NULL || message == NULL || strncmp(target, "stateful_executor", 17) != 0)
    c->bad_records++;
  if (message != NULL && strstr(message, SECRET) != NULL) c->leaked_secret++;
  if (strncmp(name, "r2d2-worker", 11) == 0) c->from_pool_threads++;
  if (message != NULL && level == SF_LOG_INFO && strncmp(message, "executor opened", 15) == 0)
    c->opened++;
  if (message != NULL && level == SF_LOG_INFO && strncmp(message, "executor closed", 15) == 0)
    c->closed++;
  pthread_mutex_unlock(&c->lock);
  __atomic_sub_fetch(&c->in_flight, 1, __ATOMIC_SEQ_CST);
}

static void test_logger(void) {
  static const char *const args[] = {"--requirepass", SECRET, NULL};
  struct log_ctx c;
  server s;
  char url[128];
  sf_error err;
  sf_executor *e2 = NULL;
  sf_config *cfg = NULL;
  int32_t pod;
  long long deadline;
  log_ctx_init(&c);
  INVALID(sf_set_logger(record_log, &c, 0, &err));
  INVALID(sf_set_logger(record_log, &c, 6, &err));
  OK(sf_set_logger(record_log, &c, SF_LOG_DEBUG, &err));
  if (server_start(&s, args) != 0) {
    CHECK(!"cannot start redis-server");
    return;
  }
  snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", SECRET, s.port);
  OK(sf_config_new(url, &cfg, &err));
  OK(sf_config_set_pool_min_idle(cfg, 2, &err));
  OK(sf_executor_open(cfg, &e2, &err));
  sf_config_free(cfg);
  OK(sf_set_linked_pod(e2, "lg", "u", "chat", 1, -1, &pod, &err));
  /* The pool's threads open the idle connections and log from there. */
  deadline = now_ms() + 5000LL * slow_factor();
  while (now_ms() < deadline) {
    long seen;
    pthread_mutex_lock(&c.lock);
    seen = c.from_pool_threads;
    pthread_mutex_unlock(&c.lock);
    if (seen > 0) break;
    sleep_ms(10);
  }
  sf_executor_close(e2);
  /* A refused password: neither the error nor a record shows it. */
  snprintf(url, sizeof url, "redis://:wrong-%s@127.0.0.1:%d", SECRET, s.port);
  OK(sf_config_new(url, &cfg, &err));
  FAILS(sf_executor_open(cfg, &e2, &err), SF_AUTH);
  CHECK(strstr(err.message, SECRET) == NULL);
  sf_config_free(cfg);
  OK(sf_set_logger(NULL, NULL, 0, &err));
  server_stop(&s);

  CHECK(c.from_pool_threads > 0);
  CHECK(c.by_level[SF_LOG_DEBUG] > 0);
  CHECK(c.opened == 1 && c.closed == 1);
  CHECK(c.leaked_secret == 0);
  CHECK(c.bad_records == 0);
  CHECK(c.by_level[SF_LOG_TRACE] == 0);
  /* Off: nothing more arrives. */
  {
    long before = c.by_level[SF_LOG_DEBUG];
    OK(sf_ping(ex, &err));
    CHECK(c.by_level[SF_LOG_DEBUG] == before);
  }
  pthread_mutex_destroy(&c.lock);
}

struct log_worker {
  volatile int stop;
  long calls, failures;
};

static void *log_worker_main(void *arg) {
  struct log_worker *w = arg;
  int32_t pod;
  while (!__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST)) {
    if (sf_get_linked_pod(ex, "lg", "u", "chat", &pod, NULL) != SF_OK) w->failures++;
    w->calls++;
  }
  return NULL;
}

/* The callback is replaced (and the old user_data freed) while records flow from 4 threads:
 * sf_set_logger returns only once no call of the old callback runs, so a late call would be a
 * use after free that valgrind and AddressSanitizer report. */
static void test_logger_replaced_while_records_flow(void) {
  enum { WORKERS = 4, SWAPS = 100 };
  pthread_t threads[WORKERS];
  struct log_worker workers[WORKERS];
  struct log_ctx *current = NULL;
  sf_error err;
  long delivered = 0;
  int i;
  for (i = 0; i < WORKERS; i++) {
    memset(&workers[i], 0, sizeof workers[i]);
    CHECK(pthread_create(&threads[i], NULL, log_worker_main, &workers[i]) == 0);
  }
  for (i = 0; i < SWAPS; i++) {
    struct log_ctx *next = malloc(sizeof *next);
    if (next == NULL) break;
    log_ctx_init(next);
    OK(sf_set_logger(record_log, next, SF_LOG_DEBUG, &err));
    if (current != NULL) {
      CHECK(__atomic_load_n(&current->in_flight, __ATOMIC_SEQ_CST) == 0);
      delivered += current->by_level[SF_LOG_DEBUG];
      pthread_mutex_destroy(&current->lock);
      free(current);
    }
    current = next;
    sleep_ms(2);
  }
  OK(sf_set_logger(NULL, NULL, 0, &err));
  if (current != NULL) {
    CHECK(__atomic_load_n(&current->in_flight, __ATOMIC_SEQ_CST) == 0);
    delivered += current->by_level[SF_LOG_DEBUG];
    pthread_mutex_destroy(&current->lock);
    free(current);
  }
  for (i = 0; i < WORKERS; i++) __atomic_store_n(&workers[i].stop, 1, __ATOMIC_SEQ_CST);
  for (i = 0; i < WORKERS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(workers[i].failures == 0);
    CHECK(workers[i].calls > 0);
  }
  CHECK(delivered > SWAPS); /* records really flowed during the swaps */
}

/* Names the Java and Go services use (data-model.md, revised in 0.2) land in their keys. */
static void test_revised_names(void) {
  sf_error err;
  int32_t pod = 0;
  char reply[64];
  OK(sf_set_linked_pod(ex, "prod/eu", "\xe7\x94\xa8\xe6\x88\xb7 1", "chat:v2", 4, -1, &pod, &err));
  CHECK(raw(&main_server, reply, sizeof reply, "GET",
            "sf:{prod/eu:lk:\xe7\x94\xa8\xe6\x88\xb7 1}chat:v2", NULL) == '$');
  CHECK(strcmp(reply, "4") == 0);
  OK(sf_set_workload_state(ex, "prod eu", "game/room", "READY", &err));
  CHECK(raw(&main_server, reply, sizeof reply, "GET", "sf:{prod eu:workload:game/room}", NULL) ==
        '$');
  CHECK(strcmp(reply, "READY") == 0);
  OK(sf_get_linked_pod(ex, "prod/eu", "\xe7\x94\xa8\xe6\x88\xb7 1", "chat:v2", &pod, &err));
  CHECK(pod == 4);
  OK(sf_set_service_state(ex, "default", "\xe8\x81\x8a\xe5\xa4\xa9", 0, "Running", &err));
  OK(sf_set_service_state(ex, "default", "chat svc", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "pro:d", "chat", 0, "Running", &err));
}

static void test_connection_errors(void) {
  sf_error err;
  sf_executor *e2 = DUMMY_PTR;
  server doomed;
  char url[64];
  int port = free_port();
  long long started;
  int32_t pod = 7;

  /* Nothing listens on the port: refused at once, well within the connect timeout. */
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  started = now_ms();
  FAILS(open_executor(url, 500, 0, 0, 0, &e2, &err), SF_CONNECTION);
  CHECK(e2 == NULL);
  CHECK(now_ms() - started < 3000LL * slow_factor());

  /* A server that dies under an open executor. */
  if (server_start(&doomed, NULL) != 0) {
    CHECK(!"server started");
    return;
  }
  server_url(&doomed, url, sizeof url);
  OK(open_executor(url, 500, 500, 500, 0, &e2, &err));
  OK(sf_ping(e2, &err));
  server_kill(&doomed);
  started = now_ms();
  FAILS(sf_ping(e2, &err), SF_CONNECTION);
  FAILS(sf_get_linked_pod(e2, "ns", "u", "chat", &pod, &err), SF_CONNECTION);
  CHECK(pod == SF_NO_POD);
  CHECK(now_ms() - started < 5000LL * slow_factor());
  sf_executor_close(e2);
  server_stop(&doomed);
}

static void test_auth(void) {
  static const char *const args[] = {"--requirepass", "s3cret-pw", NULL};
  sf_error err;
  server locked;
  sf_executor *e2 = DUMMY_PTR;
  char url[128];
  if (server_start(&locked, args) != 0) {
    CHECK(!"server started");
    return;
  }
  /* No password: the server answers NOAUTH. */
  server_url(&locked, url, sizeof url);
  FAILS(open_executor(url, 0, 0, 0, 0, &e2, &err), SF_AUTH);
  CHECK(e2 == NULL);
  /* A wrong password: refused, and not shown. */
  snprintf(url, sizeof url, "redis://:wrong-pw@127.0.0.1:%d", locked.port);
  FAILS(open_executor(url, 0, 0, 0, 0, &e2, &err), SF_AUTH);
  CHECK(e2 == NULL);
  CHECK(strstr(err.message, "wrong-pw") == NULL);
  snprintf(url, sizeof url, "redis://default:wrong-pw@127.0.0.1:%d", locked.port);
  FAILS(open_executor(url, 0, 0, 0, 0, &e2, &err), SF_AUTH);
  /* The right one. */
  snprintf(url, sizeof url, "redis://:s3cret-pw@127.0.0.1:%d", locked.port);
  OK(open_executor(url, 0, 0, 0, 0, &e2, &err));
  OK(sf_ping(e2, &err));
  OK(sf_set_workload_state(e2, "auth", "chat", "Available", &err));
  sf_executor_close(e2);
  server_stop(&locked);
}

static void test_service_states(void) {
  sf_error err;
  sf_pod_states *s = DUMMY_PTR;
  char big[4098];
  char reply[64];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0'; /* 4097 bytes */

  OK(sf_set_service_state(ex, "st", "chat", 2, "Running", &err));
  OK(sf_set_service_state(ex, "st", "chat", 0, "Pending", &err));
  OK(sf_set_service_state(ex, "st", "chat", 10, "3-100", &err));
  OK(sf_set_service_state(ex, "st", "chat", 0, "Running", &err)); /* overwrite */
  big[4096] = '\0';
  OK(sf_set_service_state(ex, "st", "chat", 2147483647, big, &err)); /* 4096 bytes: the limit */
  big[4096] = 'a';
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{st:state:chat}", "not-a-pod", "x", NULL);
  scribble(&err);
  OK(sf_get_service_state(ex, "st", "chat", &s, &err));
  CHECK(s != NULL);
  CHECK(sf_pod_states_len(s) == 4); /* the non-numeric field is skipped */
  CHECK(sf_pod_states_pod(s, 0) == 0 && strcmp(sf_pod_states_state(s, 0), "Running") == 0);
  CHECK(sf_pod_states_pod(s, 1) == 2 && strcmp(sf_pod_states_state(s, 1), "Running") == 0);
  CHECK(sf_pod_states_pod(s, 2) == 10 && strcmp(sf_pod_states_state(s, 2), "3-100") == 0);
  CHECK(sf_pod_states_pod(s, 3) == 2147483647 && strlen(sf_pod_states_state(s, 3)) == 4096);
  CHECK(sf_pod_states_pod(s, 4) == SF_NO_POD);
  CHECK(sf_pod_states_state(s, 4) == NULL);
  CHECK(sf_pod_states_pod(s, (size_t)-1) == SF_NO_POD);
  CHECK(sf_pod_states_state(s, (size_t)-1) == NULL);
  sf_pod_states_free(s);
  CHECK(sf_pod_states_len(NULL) == 0);
  CHECK(sf_pod_states_pod(NULL, 0) == SF_NO_POD);
  CHECK(sf_pod_states_state(NULL, 0) == NULL);
  sf_pod_states_free(NULL);

  /* A service without states: an empty result, not an error. */
  s = NULL;
  OK(sf_get_service_state(ex, "st", "nothing", &s, &err));
  CHECK(s != NULL && sf_pod_states_len(s) == 0 && sf_pod_states_state(s, 0) == NULL);
  sf_pod_states_free(s);

  /* Invalid arguments: nothing is written. */
  INVALID(sf_set_service_state(NULL, "st", "inv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, NULL, "inv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", NULL, 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", "inv", 0, NULL, &err));
  INVALID(sf_set_service_state(ex, "bad:ns", "inv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", "in\tv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", "in{v}", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "", "inv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, BAD_UTF8, "inv", 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", BAD_UTF8, 0, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", "inv", -1, "Running", &err));
  INVALID(sf_set_service_state(ex, "st", "inv", 0, "", &err));
  INVALID(sf_set_service_state(ex, "st", "inv", 0, big, &err));
  INVALID(sf_set_service_state(ex, "st", "inv", 0, BAD_UTF8, &err));
  CHECK(strstr(err.message, "UTF-8") != NULL);
  CHECK(sf_set_service_state(ex, "st", "inv", -1, "Running", NULL) == SF_INVALID_ARGUMENT);
  CHECK(!key_exists("sf:{st:state:inv}"));
  {
    char name[300];
    memset(name, 'n', 254);
    name[254] = '\0'; /* 254 bytes: one too many */
    INVALID(sf_set_service_state(ex, "st", name, 0, "Running", &err));
    name[253] = '\0';
    OK(sf_set_service_state(ex, "st", name, 0, "Running", &err));
  }

  s = DUMMY_PTR;
  INVALID(sf_get_service_state(NULL, "st", "chat", &s, &err));
  CHECK(s == NULL);
  s = DUMMY_PTR;
  INVALID(sf_get_service_state(ex, NULL, "chat", &s, &err));
  CHECK(s == NULL);
  s = DUMMY_PTR;
  INVALID(sf_get_service_state(ex, "st", NULL, &s, &err));
  CHECK(s == NULL);
  s = DUMMY_PTR;
  INVALID(sf_get_service_state(ex, "st", "ch}at", &s, &err));
  CHECK(s == NULL);
  INVALID(sf_get_service_state(ex, "st", "chat", NULL, &err));
  s = DUMMY_PTR;
  INVALID(sf_get_service_state(ex, "st", BAD_UTF8, &s, &err));
  CHECK(s == NULL);
  s = DUMMY_PTR;
  INVALID(sf_get_service_state(ex, BAD_UTF8, "chat", &s, &err));
  CHECK(s == NULL);

  /* Corrupt data: a state that is not UTF-8, or that holds a NUL byte. */
  {
    const char *argv[4] = {"HSET", "sf:{st:state:corrupt}", "1", "\xff\xfe"};
    const char *argv_nul[4] = {"HSET", "sf:{st:state:nul}", "1", "a\0b"};
    size_t lens_nul[4] = {4, 17, 1, 3};
    raw_commandv(&main_server, 4, argv, NULL, reply, sizeof reply);
    raw_commandv(&main_server, 4, argv_nul, lens_nul, reply, sizeof reply);
    s = DUMMY_PTR;
    FAILS(sf_get_service_state(ex, "st", "corrupt", &s, &err), SF_UNEXPECTED_REPLY);
    CHECK(s == NULL);
    s = DUMMY_PTR;
    FAILS(sf_get_service_state(ex, "st", "nul", &s, &err), SF_UNEXPECTED_REPLY);
    CHECK(s == NULL);
    CHECK(strstr(err.message, "NUL") != NULL);
  }

  /* Corrupt data: the key holds another type (WRONGTYPE). */
  raw(&main_server, reply, sizeof reply, "SET", "sf:{st:state:wrongtype}", "x", NULL);
  FAILS(sf_set_service_state(ex, "st", "wrongtype", 0, "Running", &err), SF_UNEXPECTED_REPLY);
  CHECK(strstr(err.message, "WRONGTYPE") != NULL);
  s = DUMMY_PTR;
  FAILS(sf_get_service_state(ex, "st", "wrongtype", &s, &err), SF_UNEXPECTED_REPLY);
  CHECK(s == NULL);
}

static void test_workload_states(void) {
  sf_error err;
  char *state = DUMMY_PTR;
  char *states[4];
  const char *services[4];
  char reply[64];
  int i;

  OK(sf_set_workload_state(ex, "wl", "chat", "Available", &err));
  scribble(&err);
  OK(sf_get_workload_state(ex, "wl", "chat", &state, &err));
  CHECK(state != NULL && strcmp(state, "Available") == 0);
  sf_string_free(state);
  OK(sf_set_workload_state(ex, "wl", "chat", "Degraded", &err));
  OK(sf_get_workload_state(ex, "wl", "chat", &state, &err));
  CHECK(state != NULL && strcmp(state, "Degraded") == 0);
  sf_string_free(state);
  CHECK(ttl_of("sf:{wl:workload:chat}") == -1); /* no expiry */
  state = DUMMY_PTR;
  OK(sf_get_workload_state(ex, "wl", "absent", &state, &err));
  CHECK(state == NULL); /* absence is SF_OK with NULL */
  sf_string_free(NULL);

  INVALID(sf_set_workload_state(NULL, "wl", "chat", "x", &err));
  INVALID(sf_set_workload_state(ex, NULL, "chat", "x", &err));
  INVALID(sf_set_workload_state(ex, "wl", NULL, "x", &err));
  INVALID(sf_set_workload_state(ex, "wl", "chat", NULL, &err));
  INVALID(sf_set_workload_state(ex, "wl", "chat", "", &err));
  INVALID(sf_set_workload_state(ex, "wl", "chat", BAD_UTF8, &err));
  INVALID(sf_set_workload_state(ex, "w:l", "chat", "x", &err));
  INVALID(sf_set_workload_state(ex, "wl", "c}hat", "x", &err));
  state = DUMMY_PTR;
  INVALID(sf_get_workload_state(NULL, "wl", "chat", &state, &err));
  CHECK(state == NULL);
  state = DUMMY_PTR;
  INVALID(sf_get_workload_state(ex, NULL, "chat", &state, &err));
  CHECK(state == NULL);
  state = DUMMY_PTR;
  INVALID(sf_get_workload_state(ex, "wl", NULL, &state, &err));
  CHECK(state == NULL);
  state = DUMMY_PTR;
  INVALID(sf_get_workload_state(ex, "wl", BAD_UTF8, &state, &err));
  CHECK(state == NULL);
  INVALID(sf_get_workload_state(ex, "wl", "chat", NULL, &err));

  /* Batch, in input order, NULL for absent. */
  OK(sf_set_workload_state(ex, "wl", "video", "READY", &err));
  services[0] = "chat";
  services[1] = "absent";
  services[2] = "video";
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  scribble(&err);
  OK(sf_get_workload_states(ex, "wl", services, 3, states, &err));
  CHECK(states[0] != NULL && strcmp(states[0], "Degraded") == 0);
  CHECK(states[1] == NULL);
  CHECK(states[2] != NULL && strcmp(states[2], "READY") == 0);
  for (i = 0; i < 3; i++) sf_string_free(states[i]);

  /* count == 0: success, arrays untouched and may be NULL. */
  OK(sf_get_workload_states(ex, "wl", NULL, 0, NULL, &err));
  states[0] = DUMMY_PTR;
  OK(sf_get_workload_states(ex, "wl", services, 0, states, &err));
  CHECK(states[0] == DUMMY_PTR);
  INVALID(sf_get_workload_states(ex, NULL, NULL, 0, NULL, &err));
  INVALID(sf_get_workload_states(NULL, "wl", NULL, 0, NULL, &err));

  /* Failures leave every entry NULL. */
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  INVALID(sf_get_workload_states(ex, "wl", NULL, 3, states, &err));
  CHECK(states[0] == NULL && states[1] == NULL && states[2] == NULL);
  INVALID(sf_get_workload_states(ex, "wl", services, 3, NULL, &err));
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  INVALID(sf_get_workload_states(NULL, "wl", services, 3, states, &err));
  CHECK(states[0] == NULL && states[1] == NULL && states[2] == NULL);
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  INVALID(sf_get_workload_states(ex, NULL, services, 3, states, &err));
  CHECK(states[0] == NULL && states[2] == NULL);
  services[1] = NULL;
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  INVALID(sf_get_workload_states(ex, "wl", services, 3, states, &err));
  CHECK(states[0] == NULL && states[1] == NULL && states[2] == NULL);
  CHECK(strstr(err.message, "services[1]") != NULL);
  services[1] = "bad{name";
  INVALID(sf_get_workload_states(ex, "wl", services, 3, states, &err));
  services[1] = BAD_UTF8;
  INVALID(sf_get_workload_states(ex, "wl", services, 3, states, &err));
  CHECK(states[0] == NULL && states[1] == NULL && states[2] == NULL);

  /* Corrupt data in one entry: the whole call fails, nothing is handed out (or leaked). */
  {
    const char *argv[3] = {"SET", "sf:{wl:workload:corrupt}", "\xff"};
    raw_commandv(&main_server, 3, argv, NULL, reply, sizeof reply);
  }
  services[1] = "corrupt";
  for (i = 0; i < 3; i++) states[i] = DUMMY_PTR;
  FAILS(sf_get_workload_states(ex, "wl", services, 3, states, &err), SF_UNEXPECTED_REPLY);
  CHECK(states[0] == NULL && states[1] == NULL && states[2] == NULL);
  state = DUMMY_PTR;
  FAILS(sf_get_workload_state(ex, "wl", "corrupt", &state, &err), SF_UNEXPECTED_REPLY);
  CHECK(state == NULL);
  {
    const char *argv[3] = {"SET", "sf:{wl:workload:nul}", "a\0b"};
    size_t lens[3] = {3, 20, 3};
    raw_commandv(&main_server, 3, argv, lens, reply, sizeof reply);
  }
  FAILS(sf_get_workload_state(ex, "wl", "nul", &state, &err), SF_UNEXPECTED_REPLY);
  CHECK(state == NULL);

  /* A server error. */
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{wl:workload:wrongtype}", "f", "v", NULL);
  FAILS(sf_get_workload_state(ex, "wl", "wrongtype", &state, &err), SF_UNEXPECTED_REPLY);
  CHECK(state == NULL);
}

static void test_links(void) {
  sf_error err;
  int32_t pod = 42, current = 42;
  bool linked = true, removed = true;
  long ttl;

  OK(sf_set_linked_pod(ex, "lk", "u1", "chat", 3, -1, &pod, &err));
  CHECK(pod == SF_NO_POD);
  CHECK(ttl_of("sf:{lk:lk:u1}chat") == -1);
  OK(sf_set_linked_pod(ex, "lk", "u1", "chat", 4, 30, &pod, &err));
  CHECK(pod == 3);
  ttl = ttl_of("sf:{lk:lk:u1}chat");
  CHECK(ttl > 0 && ttl <= 30);
  CHECK(get_pod("lk", "u1", "chat") == 4);
  OK(sf_get_linked_pod_if_persist(ex, "lk", "u1", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD); /* temporary */
  OK(sf_set_linked_pod(ex, "lk", "u1", "chat", 5, -1, &pod, &err));
  CHECK(pod == 4);
  OK(sf_get_linked_pod_if_persist(ex, "lk", "u1", "chat", &pod, &err));
  CHECK(pod == 5);
  OK(sf_get_linked_pod(ex, "lk", "nobody", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);
  OK(sf_get_linked_pod_if_persist(ex, "lk", "nobody", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);

  /* try set: refused only by a persistent link to another pod. */
  OK(sf_try_set_linked_pod(ex, "lk", "u1", "chat", 6, -1, &linked, &current, &err));
  CHECK(!linked && current == 5);
  CHECK(get_pod("lk", "u1", "chat") == 5);
  OK(sf_try_set_linked_pod(ex, "lk", "u1", "chat", 5, 60, &linked, &current, &err));
  CHECK(linked && current == 5);
  OK(sf_try_set_linked_pod(ex, "lk", "u1", "chat", 6, -1, &linked, &current, &err));
  CHECK(linked && current == 6); /* the link was temporary */
  OK(sf_try_set_linked_pod(ex, "lk", "u2", "chat", 7, -1, &linked, &current, &err));
  CHECK(linked && current == 7);

  /* if absent */
  OK(sf_set_linked_pod_if_absent(ex, "lk", "u1", "chat", 9, -1, &current, &err));
  CHECK(current == 6);
  OK(sf_set_linked_pod_if_absent(ex, "lk", "u3", "chat", 9, 60, &current, &err));
  CHECK(current == 9);
  OK(sf_set_linked_pod_if_absent(ex, "lk", "u3", "chat", 1, -1, &current, &err));
  CHECK(current == 9); /* a temporary link counts too */
  OK(sf_get_linked_pod_if_persist(ex, "lk", "u3", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);

  /* remove: at once, or with a grace period. */
  OK(sf_remove_linked_pod(ex, "lk", "u1", "chat", -1, &removed, &err));
  CHECK(removed);
  CHECK(get_pod("lk", "u1", "chat") == SF_NO_POD);
  removed = true;
  OK(sf_remove_linked_pod(ex, "lk", "u1", "chat", -1, &removed, &err));
  CHECK(!removed);
  OK(sf_set_linked_pod(ex, "lk", "u4", "chat", 2, -1, &pod, &err));
  OK(sf_remove_linked_pod(ex, "lk", "u4", "chat", 30, &removed, &err));
  CHECK(removed);
  CHECK(get_pod("lk", "u4", "chat") == 2); /* kept for the grace period */
  OK(sf_get_linked_pod_if_persist(ex, "lk", "u4", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);
  ttl = ttl_of("sf:{lk:lk:u4}chat");
  CHECK(ttl > 0 && ttl <= 30);
  OK(sf_remove_linked_pod(ex, "lk", "u4", "chat", 0, &removed, &err));
  CHECK(removed && get_pod("lk", "u4", "chat") == SF_NO_POD);

  /* remove with id: only when the link points to that pod. */
  removed = true;
  OK(sf_remove_linked_pod_with_id(ex, "lk", "u2", "chat", -1, 99, &removed, &err));
  CHECK(!removed && get_pod("lk", "u2", "chat") == 7);
  OK(sf_remove_linked_pod_with_id(ex, "lk", "u2", "chat", 20, 7, &removed, &err));
  CHECK(removed && get_pod("lk", "u2", "chat") == 7);
  ttl = ttl_of("sf:{lk:lk:u2}chat");
  CHECK(ttl > 0 && ttl <= 20);
  OK(sf_remove_linked_pod_with_id(ex, "lk", "u2", "chat", 0, 7, &removed, &err));
  CHECK(removed && get_pod("lk", "u2", "chat") == SF_NO_POD);
}

static void test_link_services(void) {
  sf_error err;
  sf_service_links *l = DUMMY_PTR;
  int32_t pod;
  char reply[64];

  OK(sf_set_linked_pod(ex, "ls", "u1", "video", 2, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "ls", "u1", "chat", 1, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "ls", "u1", "audio", 0, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "ls", "u1", "temp", 8, 60, &pod, &err)); /* not listed */
  scribble(&err);
  OK(sf_get_link_services(ex, "ls", "u1", &l, &err));
  CHECK(l != NULL && sf_service_links_len(l) == 3);
  CHECK(strcmp(sf_service_links_service(l, 0), "audio") == 0 && sf_service_links_pod(l, 0) == 0);
  CHECK(strcmp(sf_service_links_service(l, 1), "chat") == 0 && sf_service_links_pod(l, 1) == 1);
  CHECK(strcmp(sf_service_links_service(l, 2), "video") == 0 && sf_service_links_pod(l, 2) == 2);
  CHECK(sf_service_links_service(l, 3) == NULL && sf_service_links_pod(l, 3) == SF_NO_POD);
  CHECK(sf_service_links_service(l, (size_t)-1) == NULL);
  sf_service_links_free(l);
  CHECK(sf_service_links_len(NULL) == 0);
  CHECK(sf_service_links_service(NULL, 0) == NULL);
  CHECK(sf_service_links_pod(NULL, 0) == SF_NO_POD);
  sf_service_links_free(NULL);

  l = NULL;
  OK(sf_get_link_services(ex, "ls", "nobody", &l, &err));
  CHECK(l != NULL && sf_service_links_len(l) == 0);
  sf_service_links_free(l);

  l = DUMMY_PTR;
  INVALID(sf_get_link_services(NULL, "ls", "u1", &l, &err));
  CHECK(l == NULL);
  l = DUMMY_PTR;
  INVALID(sf_get_link_services(ex, NULL, "u1", &l, &err));
  CHECK(l == NULL);
  l = DUMMY_PTR;
  INVALID(sf_get_link_services(ex, "ls", NULL, &l, &err));
  CHECK(l == NULL);
  l = DUMMY_PTR;
  INVALID(sf_get_link_services(ex, "ls", "u{1}", &l, &err));
  CHECK(l == NULL);
  INVALID(sf_get_link_services(ex, "ls", "u1", NULL, &err));
  l = DUMMY_PTR;
  INVALID(sf_get_link_services(ex, "ls", BAD_UTF8, &l, &err));
  CHECK(l == NULL);
  l = DUMMY_PTR;
  INVALID(sf_get_link_services(ex, "l:s", "u1", &l, &err));
  CHECK(l == NULL);
  CHECK(sf_get_link_services(ex, "ls", "", &l, NULL) == SF_INVALID_ARGUMENT && l == NULL);

  /* Corrupt data: a pod that is not a pod ordinal. */
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{ls:lk:bad}", "chat", "x1", NULL);
  l = DUMMY_PTR;
  FAILS(sf_get_link_services(ex, "ls", "bad", &l, &err), SF_UNEXPECTED_REPLY);
  CHECK(l == NULL);
  raw(&main_server, reply, sizeof reply, "SET", "sf:{ls:lk:wrongtype}", "x", NULL);
  l = DUMMY_PTR;
  FAILS(sf_get_link_services(ex, "ls", "wrongtype", &l, &err), SF_UNEXPECTED_REPLY);
  CHECK(l == NULL);
}

/* Every link function rejects each bad argument, sets its outputs to the failure values, and
 * writes nothing. */
static void test_link_invalid_arguments(void) {
  static const char *const bad_uids[] = {"", "a{b", "a}b", "a\nb", "a\x7f" "b", BAD_UTF8, NULL};
  sf_error err;
  int32_t pod = 42, current = 42, pods[2] = {42, 42};
  bool linked = true, removed = true;
  sf_service_links *l = DUMMY_PTR;
  char long_uid[514];
  const char *uids[2];
  int32_t cpods[2] = {0, 1};
  int64_t cloads[2] = {0, 0};
  int i;

  memset(long_uid, 'u', 513);
  long_uid[513] = '\0';

#define RESET() (pod = 42, current = 42, linked = true, removed = true, l = DUMMY_PTR)
#define ALL_INVALID(NS, UID, SVC)                                                             \
  do {                                                                                      \
    RESET();                                                                                \
    INVALID(sf_set_linked_pod(ex, NS, UID, SVC, 1, -1, &pod, &err));                        \
    CHECK(pod == SF_NO_POD);                                                                \
    INVALID(sf_try_set_linked_pod(ex, NS, UID, SVC, 1, -1, &linked, &current, &err));       \
    CHECK(!linked && current == SF_NO_POD);                                                 \
    current = 42;                                                                           \
    INVALID(sf_set_linked_pod_if_absent(ex, NS, UID, SVC, 1, -1, &current, &err));          \
    CHECK(current == SF_NO_POD);                                                            \
    pod = 42;                                                                               \
    INVALID(sf_get_linked_pod(ex, NS, UID, SVC, &pod, &err));                               \
    CHECK(pod == SF_NO_POD);                                                                \
    pod = 42;                                                                               \
    INVALID(sf_get_linked_pod_if_persist(ex, NS, UID, SVC, &pod, &err));                    \
    CHECK(pod == SF_NO_POD);                                                                \
    INVALID(sf_remove_linked_pod(ex, NS, UID, SVC, -1, &removed, &err));                    \
    CHECK(!removed);                                                                        \
    removed = true;                                                                         \
    INVALID(sf_remove_linked_pod_with_id(ex, NS, UID, SVC, -1, 1, &removed, &err));         \
    CHECK(!removed);                                                                        \
    pod = 42;                                                                               \
    INVALID(sf_compute_linked_pod(ex, NS, UID, SVC, cpods, cloads, 2, -1, &pod, &err));     \
    CHECK(pod == SF_NO_POD);                                                                \
  } while (0)

  ALL_INVALID(NULL, "u", "chat");
  ALL_INVALID("li", NULL, "chat");
  ALL_INVALID("li", "u", NULL);
  ALL_INVALID("l:i", "u", "chat");
  ALL_INVALID("l{i", "u", "chat");
  ALL_INVALID("li", "u", "ch{at");
  ALL_INVALID("li", "u", "ch\nat");
  ALL_INVALID("li", "u", "");
  ALL_INVALID(BAD_UTF8, "u", "chat");
  ALL_INVALID("li", long_uid, "chat");
  for (i = 0; bad_uids[i] != NULL; i++) ALL_INVALID("li", bad_uids[i], "chat");
  {
    sf_executor *none = NULL;
    sf_executor *saved = ex;
    ex = none;
    ALL_INVALID("li", "u", "chat");
    ex = saved;
  }
  long_uid[512] = '\0'; /* 512 bytes: the limit */
  OK(sf_set_linked_pod(ex, "li", long_uid, "chat", 1, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "li", "caf\xc3\xa9 \xe2\x9c\x93", "chat", 1, -1, &pod, &err));

  /* NULL outputs. */
  INVALID(sf_set_linked_pod(ex, "li", "u", "chat", 1, -1, NULL, &err));
  current = 42;
  INVALID(sf_try_set_linked_pod(ex, "li", "u", "chat", 1, -1, NULL, &current, &err));
  CHECK(current == SF_NO_POD);
  linked = true;
  INVALID(sf_try_set_linked_pod(ex, "li", "u", "chat", 1, -1, &linked, NULL, &err));
  CHECK(!linked);
  INVALID(sf_set_linked_pod_if_absent(ex, "li", "u", "chat", 1, -1, NULL, &err));
  INVALID(sf_get_linked_pod(ex, "li", "u", "chat", NULL, &err));
  INVALID(sf_get_linked_pod_if_persist(ex, "li", "u", "chat", NULL, &err));
  INVALID(sf_remove_linked_pod(ex, "li", "u", "chat", -1, NULL, &err));
  INVALID(sf_remove_linked_pod_with_id(ex, "li", "u", "chat", -1, 1, NULL, &err));
  INVALID(sf_compute_linked_pod(ex, "li", "u", "chat", cpods, cloads, 2, -1, NULL, &err));

  /* Out-of-range numbers. */
  RESET();
  INVALID(sf_set_linked_pod(ex, "li", "u", "chat", -1, -1, &pod, &err));
  INVALID(sf_set_linked_pod(ex, "li", "u", "chat", 1, 0, &pod, &err));
  INVALID(sf_set_linked_pod(ex, "li", "u", "chat", 1, -2, &pod, &err));
  INVALID(sf_set_linked_pod(ex, "li", "u", "chat", 1, INT32_MIN, &pod, &err));
  INVALID(sf_try_set_linked_pod(ex, "li", "u", "chat", -5, -1, &linked, &current, &err));
  INVALID(sf_try_set_linked_pod(ex, "li", "u", "chat", 1, 0, &linked, &current, &err));
  INVALID(sf_set_linked_pod_if_absent(ex, "li", "u", "chat", -1, -1, &current, &err));
  INVALID(sf_set_linked_pod_if_absent(ex, "li", "u", "chat", 1, -3, &current, &err));
  INVALID(sf_remove_linked_pod(ex, "li", "u", "chat", -2, &removed, &err));
  INVALID(sf_remove_linked_pod_with_id(ex, "li", "u", "chat", -2, 1, &removed, &err));
  INVALID(sf_remove_linked_pod_with_id(ex, "li", "u", "chat", -1, -1, &removed, &err));
  cpods[1] = -1;
  INVALID(sf_compute_linked_pod(ex, "li", "u", "chat", cpods, cloads, 2, -1, &pod, &err));
  cpods[1] = 1;
  INVALID(sf_compute_linked_pod(ex, "li", "u", "chat", cpods, cloads, 2, 0, &pod, &err));
  INVALID(sf_compute_linked_pod(ex, "li", "u", "chat", NULL, cloads, 2, -1, &pod, &err));
  INVALID(sf_compute_linked_pod(ex, "li", "u", "chat", cpods, NULL, 2, -1, &pod, &err));
  CHECK(sf_set_linked_pod(ex, "li", "u", "chat", -1, -1, &pod, NULL) == SF_INVALID_ARGUMENT);
  CHECK(!key_exists("sf:{li:lk:u}chat") && !key_exists("sf:{li:lk:u}"));

  /* Batch. */
  uids[0] = "u";
  uids[1] = NULL;
  pods[0] = pods[1] = 42;
  INVALID(sf_batch_get_linked_pods(ex, "li", "chat", uids, 2, pods, &err));
  CHECK(pods[0] == SF_NO_POD && pods[1] == SF_NO_POD);
  CHECK(strstr(err.message, "uids[1]") != NULL);
  uids[1] = "a{b";
  pods[0] = pods[1] = 42;
  INVALID(sf_batch_get_linked_pods(ex, "li", "chat", uids, 2, pods, &err));
  CHECK(pods[0] == SF_NO_POD && pods[1] == SF_NO_POD);
  uids[1] = BAD_UTF8;
  pods[0] = pods[1] = 42;
  INVALID(sf_batch_get_linked_pods(ex, "li", "chat", uids, 2, pods, &err));
  CHECK(pods[0] == SF_NO_POD && pods[1] == SF_NO_POD);
  uids[1] = "v";
  INVALID(sf_batch_get_linked_pods(NULL, "li", "chat", uids, 2, pods, &err));
  INVALID(sf_batch_get_linked_pods(ex, NULL, "chat", uids, 2, pods, &err));
  INVALID(sf_batch_get_linked_pods(ex, "li", NULL, uids, 2, pods, &err));
  INVALID(sf_batch_get_linked_pods(ex, "li", "c}hat", uids, 2, pods, &err));
  pods[0] = pods[1] = 42;
  INVALID(sf_batch_get_linked_pods(ex, "li", "chat", NULL, 2, pods, &err));
  CHECK(pods[0] == SF_NO_POD && pods[1] == SF_NO_POD);
  INVALID(sf_batch_get_linked_pods(ex, "li", "chat", uids, 2, NULL, &err));
  INVALID(sf_batch_get_linked_pods(ex, "li", NULL, NULL, 0, NULL, &err));
  (void)l;
#undef ALL_INVALID
#undef RESET
}

static void test_batch(void) {
  sf_error err;
  const char *uids[4] = {"b1", "nobody", "b2", "b1"};
  int32_t pods[4] = {42, 42, 42, 42};
  int32_t pod;
  OK(sf_set_linked_pod(ex, "bt", "b1", "chat", 1, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "bt", "b2", "chat", 2, 60, &pod, &err));
  scribble(&err);
  OK(sf_batch_get_linked_pods(ex, "bt", "chat", uids, 4, pods, &err));
  CHECK(pods[0] == 1 && pods[1] == SF_NO_POD && pods[2] == 2 && pods[3] == 1);
  OK(sf_batch_get_linked_pods(ex, "bt", "chat", NULL, 0, NULL, &err));
  pods[0] = 42;
  OK(sf_batch_get_linked_pods(ex, "bt", "chat", uids, 0, pods, &err));
  CHECK(pods[0] == 42);
}

/* sf_execute_batch: every kind in one call, each entry with its own outcome; bad entries fail
 * alone; the batch's own arguments. */
static void test_execute_batch(void) {
  sf_error err;
  sf_batch_op ops[14];
  int32_t pod;
  size_t i;
  OK(sf_set_service_state(ex, "xb", "chat", 4, "Running", &err));
  OK(sf_set_workload_state(ex, "xb", "chat", "Available", &err));
  OK(sf_set_linked_pod(ex, "xb", "u1", "chat", 3, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "xb", "u2", "chat", 5, 60, &pod, &err));
  memset(ops, 'x', sizeof ops); /* every output must be written */
  for (i = 0; i < 14; i++) {
    ops[i].ns = "xb";
    ops[i].uid = "u1";
    ops[i].service = "chat";
    ops[i].state = NULL;
    ops[i].pod = 0;
    ops[i].seconds = -1;
  }
  ops[0].kind = SF_BATCH_SET_SERVICE_STATE;
  ops[0].service = "game";
  ops[0].pod = 1;
  ops[0].state = "Up";
  ops[1].kind = SF_BATCH_GET_SERVICE_STATE;
  ops[2].kind = SF_BATCH_SET_WORKLOAD_STATE;
  ops[2].service = "game";
  ops[2].state = "Draining";
  ops[3].kind = SF_BATCH_GET_WORKLOAD_STATE;
  ops[4].kind = SF_BATCH_SET_LINKED_POD;
  ops[4].uid = "u3";
  ops[4].pod = 7;
  ops[5].kind = SF_BATCH_TRY_SET_LINKED_POD;
  ops[5].pod = 9;
  ops[6].kind = SF_BATCH_SET_LINKED_POD_IF_ABSENT;
  ops[6].uid = "u2";
  ops[6].pod = 8;
  ops[7].kind = SF_BATCH_GET_LINKED_POD;
  ops[7].uid = "u2";
  ops[8].kind = SF_BATCH_GET_LINKED_POD_IF_PERSIST;
  ops[8].uid = "u2";
  ops[9].kind = SF_BATCH_GET_LINK_SERVICES;
  ops[9].service = NULL; /* unused by this kind */
  ops[10].kind = SF_BATCH_REMOVE_LINKED_POD_WITH_ID;
  ops[10].pod = 4; /* u1 is linked to 3: nothing removed */
  ops[11].kind = 99; /* unknown */
  ops[12].kind = SF_BATCH_GET_LINKED_POD;
  ops[12].uid = "a{b"; /* invalid */
  ops[13].kind = SF_BATCH_REMOVE_LINKED_POD;
  ops[13].uid = "u3"; /* linked by ops[4], earlier in the same batch */
  scribble(&err);
  OK(sf_execute_batch(ex, ops, 14, &err));
  for (i = 0; i < 14; i++) {
    if (i == 11 || i == 12) continue;
    CHECK(ops[i].status == SF_OK && ops[i].error.code == SF_OK && ops[i].error.message[0] == 0);
  }
  CHECK(ops[1].out_states != NULL && sf_pod_states_len(ops[1].out_states) == 1 &&
        sf_pod_states_pod(ops[1].out_states, 0) == 4 &&
        strcmp(sf_pod_states_state(ops[1].out_states, 0), "Running") == 0);
  CHECK(ops[3].out_text != NULL && strcmp(ops[3].out_text, "Available") == 0);
  CHECK(ops[4].out_pod == SF_NO_POD);
  CHECK(ops[5].out_flag == false && ops[5].out_pod == 3);
  CHECK(ops[6].out_pod == 5);
  CHECK(ops[7].out_pod == 5 && ops[8].out_pod == SF_NO_POD);
  CHECK(ops[9].out_links != NULL && sf_service_links_len(ops[9].out_links) == 1 &&
        strcmp(sf_service_links_service(ops[9].out_links, 0), "chat") == 0 &&
        sf_service_links_pod(ops[9].out_links, 0) == 3);
  CHECK(ops[10].out_flag == false && ops[13].out_flag == true);
  /* Outputs a kind does not fill are NULL. */
  CHECK(ops[0].out_text == NULL && ops[0].out_states == NULL && ops[0].out_links == NULL);
  CHECK(ops[11].status == SF_INVALID_ARGUMENT && ops[11].error.code == SF_INVALID_ARGUMENT &&
        strstr(ops[11].error.message, "kind 99") != NULL);
  CHECK(ops[12].status == SF_INVALID_ARGUMENT && ops[12].out_pod == SF_NO_POD);
  for (i = 0; i < 14; i++) {
    sf_string_free(ops[i].out_text);
    sf_pod_states_free(ops[i].out_states);
    sf_service_links_free(ops[i].out_links);
  }
  /* The writes are there. */
  CHECK(get_pod("xb", "u3", "chat") == SF_NO_POD);
  CHECK(get_pod("xb", "u1", "chat") == 3);
  {
    char *state = NULL;
    OK(sf_get_workload_state(ex, "xb", "game", &state, &err));
    CHECK(state != NULL && strcmp(state, "Draining") == 0);
    sf_string_free(state);
  }

  /* The batch's own arguments: an empty batch, a NULL array, a NULL executor. */
  OK(sf_execute_batch(ex, NULL, 0, &err));
  INVALID(sf_execute_batch(ex, NULL, 2, &err));
  ops[0].kind = SF_BATCH_GET_LINKED_POD;
  ops[0].out_pod = 42;
  INVALID(sf_execute_batch(NULL, ops, 1, &err));
  CHECK(ops[0].status == SF_INVALID_ARGUMENT && ops[0].out_pod == SF_NO_POD &&
        strstr(ops[0].error.message, "ex is NULL") != NULL);
  CHECK(sf_execute_batch(ex, ops, 1, NULL) == SF_OK && ops[0].status == SF_OK);
}

/* sf_touch_linked_pod (0.3): extends a temporary link only while it points at the pod. */
static void test_touch_linked_pod(void) {
  static const char *const bad_uids[] = {NULL, "", "a{b", "a\nb", BAD_UTF8};
  sf_error err;
  char reply[64];
  int32_t pod;
  bool touched;
  long ttl;
  size_t i;
  sf_batch_op ops[4];

  OK(sf_set_linked_pod(ex, "tc", "temp", "chat", 4, 30, &pod, &err));
  OK(sf_set_linked_pod(ex, "tc", "pers", "chat", 4, -1, &pod, &err));

  /* A temporary link to the pod: its TTL is set (longer, or shorter). */
  touched = false;
  OK(sf_touch_linked_pod(ex, "tc", "temp", "chat", 4, 900, &touched, &err));
  ttl = ttl_of("sf:{tc:lk:temp}chat");
  CHECK(touched && ttl > 800 && ttl <= 900);
  OK(sf_touch_linked_pod(ex, "tc", "temp", "chat", 4, 20, &touched, &err));
  ttl = ttl_of("sf:{tc:lk:temp}chat");
  CHECK(touched && ttl > 0 && ttl <= 20);
  /* A persistent link to the pod: true, and it stays persistent. */
  touched = false;
  OK(sf_touch_linked_pod(ex, "tc", "pers", "chat", 4, 900, &touched, &err));
  CHECK(touched && ttl_of("sf:{tc:lk:pers}chat") == -1);
  /* Another pod, or no link: false, nothing changes. */
  touched = true;
  OK(sf_touch_linked_pod(ex, "tc", "temp", "chat", 5, 900, &touched, &err));
  ttl = ttl_of("sf:{tc:lk:temp}chat");
  CHECK(!touched && ttl > 0 && ttl <= 20 && get_pod("tc", "temp", "chat") == 4);
  touched = true;
  OK(sf_touch_linked_pod(ex, "tc", "pers", "chat", 0, 900, &touched, &err));
  CHECK(!touched && ttl_of("sf:{tc:lk:pers}chat") == -1);
  touched = true;
  OK(sf_touch_linked_pod(ex, "tc", "nobody", "chat", 4, 900, &touched, &err));
  CHECK(!touched && !key_exists("sf:{tc:lk:nobody}chat"));
  /* The largest TTL. */
  OK(sf_touch_linked_pod(ex, "tc", "temp", "chat", 4, INT32_MAX, &touched, &err));
  CHECK(touched && ttl_of("sf:{tc:lk:temp}chat") > INT32_MAX - 100L);

  /* Invalid arguments: SF_INVALID_ARGUMENT, out_touched false, nothing changed. */
#define TOUCH_INVALID(NS, UID, SVC, POD, SECONDS)                                            \
  do {                                                                                     \
    touched = true;                                                                        \
    INVALID(sf_touch_linked_pod(ex, NS, UID, SVC, POD, SECONDS, &touched, &err));          \
    CHECK(!touched);                                                                       \
  } while (0)
  TOUCH_INVALID("tc", "temp", "chat", 4, 0);
  TOUCH_INVALID("tc", "temp", "chat", 4, -1); /* "persistent" is no TTL to set */
  TOUCH_INVALID("tc", "temp", "chat", 4, -2);
  TOUCH_INVALID("tc", "temp", "chat", 4, INT32_MIN);
  TOUCH_INVALID("tc", "temp", "chat", -1, 900);
  TOUCH_INVALID(NULL, "temp", "chat", 4, 900);
  TOUCH_INVALID("t:c", "temp", "chat", 4, 900);
  TOUCH_INVALID("tc", "temp", NULL, 4, 900);
  TOUCH_INVALID("tc", "temp", "ch}at", 4, 900);
  for (i = 0; i < sizeof bad_uids / sizeof bad_uids[0]; i++)
    TOUCH_INVALID("tc", bad_uids[i], "chat", 4, 900);
#undef TOUCH_INVALID
  CHECK(strstr(err.message, "uid") != NULL);
  INVALID(sf_touch_linked_pod(ex, "tc", "temp", "chat", 4, 900, NULL, &err));
  INVALID(sf_touch_linked_pod(NULL, "tc", "temp", "chat", 4, 900, &touched, &err));
  CHECK(sf_touch_linked_pod(ex, "tc", "temp", "chat", 4, 0, &touched, NULL) ==
        SF_INVALID_ARGUMENT);
  ttl = ttl_of("sf:{tc:lk:temp}chat");
  CHECK(ttl > INT32_MAX - 100L); /* untouched by the rejected calls */

  /* A corrupt link is reported, never taken as "no link". */
  raw(&main_server, reply, sizeof reply, "SET", "sf:{tc:lk:bad}chat", "abc", NULL);
  touched = true;
  FAILS(sf_touch_linked_pod(ex, "tc", "bad", "chat", 4, 900, &touched, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(!touched && strstr(err.message, "abc") != NULL);

  /* In sf_execute_batch: SF_BATCH_TOUCH_LINKED_POD, its result in out_flag. */
  OK(sf_set_linked_pod(ex, "tc", "temp", "chat", 6, 30, &pod, &err));
  memset(ops, 'x', sizeof ops); /* every output must be written */
  for (i = 0; i < 4; i++) {
    ops[i].kind = SF_BATCH_TOUCH_LINKED_POD;
    ops[i].ns = "tc";
    ops[i].uid = "temp";
    ops[i].service = "chat";
    ops[i].state = NULL;
    ops[i].pod = 6;
    ops[i].seconds = 600;
  }
  ops[1].pod = 7;      /* another pod */
  ops[2].seconds = 0;  /* invalid: fails alone */
  ops[3].uid = "pers"; /* persistent, another pod */
  OK(sf_execute_batch(ex, ops, 4, &err));
  CHECK(ops[0].status == SF_OK && ops[0].out_flag == true && ops[0].out_pod == SF_NO_POD);
  CHECK(ops[1].status == SF_OK && ops[1].out_flag == false);
  CHECK(ops[2].status == SF_INVALID_ARGUMENT && ops[2].out_flag == false &&
        strstr(ops[2].error.message, "persist_seconds") != NULL);
  CHECK(ops[3].status == SF_OK && ops[3].out_flag == false);
  for (i = 0; i < 4; i++)
    CHECK(ops[i].out_text == NULL && ops[i].out_states == NULL && ops[i].out_links == NULL);
  ttl = ttl_of("sf:{tc:lk:temp}chat");
  CHECK(ttl > 500 && ttl <= 600);
  CHECK(ttl_of("sf:{tc:lk:pers}chat") == -1);
}

static void test_compute(void) {
  sf_error err;
  int32_t cpods[3] = {0, 2, 1};
  int64_t cloads[3] = {10, 5, 5};
  int32_t pod = 42;
  sf_service_links *l = NULL;

  scribble(&err);
  OK(sf_compute_linked_pod(ex, "cp", "u1", "chat", cpods, cloads, 3, -1, &pod, &err));
  CHECK(pod == 1); /* lowest load, ties to the lowest pod */
  cloads[0] = -100;
  OK(sf_compute_linked_pod(ex, "cp", "u1", "chat", cpods, cloads, 3, -1, &pod, &err));
  CHECK(pod == 1); /* the link sticks */
  OK(sf_compute_linked_pod(ex, "cp", "u1", "chat", NULL, NULL, 0, -1, &pod, &err));
  CHECK(pod == 1); /* no candidates: the existing link */
  OK(sf_get_link_services(ex, "cp", "u1", &l, &err));
  CHECK(sf_service_links_len(l) == 1 && sf_service_links_pod(l, 0) == 1);
  sf_service_links_free(l);

  /* No candidates and no link: none, nothing written. */
  pod = 42;
  OK(sf_compute_linked_pod(ex, "cp", "u2", "chat", NULL, NULL, 0, -1, &pod, &err));
  CHECK(pod == SF_NO_POD);
  CHECK(!key_exists("sf:{cp:lk:u2}chat"));

  /* A temporary link. */
  OK(sf_compute_linked_pod(ex, "cp", "u3", "chat", cpods, cloads, 3, 60, &pod, &err));
  CHECK(pod == 0);
  CHECK(ttl_of("sf:{cp:lk:u3}chat") > 0);
  OK(sf_get_linked_pod_if_persist(ex, "cp", "u3", "chat", &pod, &err));
  CHECK(pod == SF_NO_POD);
}

/* Data written by someone else in a format that is not the documented one. */
static void test_corrupt_links(void) {
  sf_error err;
  char reply[64];
  int32_t pod = 42, current = 42, pods[2] = {42, 42};
  bool linked = true, removed = true;
  int32_t cpods[1] = {1};
  int64_t cloads[1] = {1};
  const char *uids[2] = {"fine", "bad"};

  raw(&main_server, reply, sizeof reply, "SET", "sf:{cr:lk:bad}chat", "abc", NULL);
  raw(&main_server, reply, sizeof reply, "SET", "sf:{cr:lk:fine}chat", "3", NULL);
  FAILS(sf_get_linked_pod(ex, "cr", "bad", "chat", &pod, &err), SF_UNEXPECTED_REPLY);
  CHECK(pod == SF_NO_POD);
  CHECK(strstr(err.message, "abc") != NULL);
  pod = 42;
  FAILS(sf_get_linked_pod_if_persist(ex, "cr", "bad", "chat", &pod, &err), SF_UNEXPECTED_REPLY);
  CHECK(pod == SF_NO_POD);
  pod = 42;
  FAILS(sf_set_linked_pod(ex, "cr", "bad", "chat", 1, -1, &pod, &err), SF_UNEXPECTED_REPLY);
  CHECK(pod == SF_NO_POD);
  FAILS(sf_try_set_linked_pod(ex, "cr", "bad", "chat", 1, -1, &linked, &current, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(!linked && current == SF_NO_POD);
  current = 42;
  FAILS(sf_set_linked_pod_if_absent(ex, "cr", "bad", "chat", 1, -1, &current, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(current == SF_NO_POD);
  FAILS(sf_remove_linked_pod(ex, "cr", "bad", "chat", 10, &removed, &err), SF_UNEXPECTED_REPLY);
  CHECK(!removed);
  removed = true;
  FAILS(sf_remove_linked_pod_with_id(ex, "cr", "bad", "chat", 10, 1, &removed, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(!removed);
  pod = 42;
  FAILS(sf_compute_linked_pod(ex, "cr", "bad", "chat", cpods, cloads, 1, -1, &pod, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(pod == SF_NO_POD);
  FAILS(sf_batch_get_linked_pods(ex, "cr", "chat", uids, 2, pods, &err), SF_UNEXPECTED_REPLY);
  CHECK(pods[0] == SF_NO_POD && pods[1] == SF_NO_POD);
  /* Nothing was changed. */
  raw(&main_server, reply, sizeof reply, "GET", "sf:{cr:lk:bad}chat", NULL);
  CHECK(strcmp(reply, "abc") == 0);

  /* Corrupt data: the link key holds a hash (WRONGTYPE). */
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{cr:lk:wt}chat", "f", "v", NULL);
  FAILS(sf_get_linked_pod(ex, "cr", "wt", "chat", &pod, &err), SF_UNEXPECTED_REPLY);
  FAILS(sf_set_linked_pod(ex, "cr", "wt", "chat", 1, -1, &pod, &err), SF_UNEXPECTED_REPLY);
  CHECK(pod == SF_NO_POD);
  FAILS(sf_batch_get_linked_pods(ex, "cr", "chat", uids, 1, pods, &err), SF_OK);
  CHECK(pods[0] == 3);
}

/* ---- packed results (extras of 0.2) ---- */

/* Garbage in a packed result, so that every call must overwrite it. */
static void scribble_packed(sf_packed *p) {
  memset(p, 0x5a, sizeof *p);
}

static int packed_is_zeroed(const sf_packed *p) {
  return p->data == NULL && p->size == 0 && p->count == 0 && p->allocated == NULL;
}

/* Walks a packed result with sf_packed_next, checking each entry's NUL and the cursor's end. */
static size_t packed_walk(const sf_packed *p, int32_t *keys, const char **texts, size_t *lengths,
                          size_t max) {
  size_t cursor = 0, n = 0;
  int32_t key;
  const char *text;
  size_t length;
  while (n < max && sf_packed_next(p, &cursor, &key, &text, &length)) {
    CHECK(text == NULL || text[length] == '\0');
    CHECK(text == NULL || strlen(text) == length);
    CHECK(text != NULL || length == 0);
    keys[n] = key;
    texts[n] = text;
    lengths[n] = length;
    n++;
  }
  CHECK(cursor == p->size);
  return n;
}

static void test_packed_service_states(void) {
  sf_error err;
  sf_packed p;
  sf_pod_states *s = NULL;
  unsigned char buffer[512];
  unsigned char exact[512];
  char reply[64];
  int32_t keys[16];
  const char *texts[16];
  size_t lengths[16], n, i, size;
  const char *states[] = {"\xf0\x9f\x9a\x80Up", "\xe8\xbf\x90\xe8\xa1\x8c\xe4\xb8\xad", "Running"};

  OK(sf_set_service_state(ex, "pk", "chat", 10, states[0], &err));
  OK(sf_set_service_state(ex, "pk", "chat", 0, states[1], &err));
  OK(sf_set_service_state(ex, "pk", "chat", 2147483647, states[2], &err));
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{pk:state:chat}", "7", "", NULL);
  raw(&main_server, reply, sizeof reply, "HSET", "sf:{pk:state:chat}", "not-a-pod", "x", NULL);

  /* The same entries, in the same order, as sf_get_service_state. */
  scribble(&err);
  scribble_packed(&p);
  OK(sf_get_service_state_packed(ex, "pk", "chat", buffer, sizeof buffer, &p, &err));
  CHECK(p.data == buffer && p.allocated == NULL && p.count == 4);
  OK(sf_get_service_state(ex, "pk", "chat", &s, &err));
  n = packed_walk(&p, keys, texts, lengths, 16);
  CHECK(n == 4 && n == sf_pod_states_len(s));
  for (i = 0; i < n && i < sf_pod_states_len(s); i++) {
    CHECK(keys[i] == sf_pod_states_pod(s, i));
    CHECK(strcmp(texts[i], sf_pod_states_state(s, i)) == 0);
    CHECK((const unsigned char *)texts[i] >= buffer && (const unsigned char *)texts[i] < buffer + p.size);
  }
  sf_pod_states_free(s);
  CHECK(keys[0] == 0 && strcmp(texts[0], states[1]) == 0 && lengths[0] == 9);
  CHECK(keys[1] == 7 && lengths[1] == 0 && texts[1][0] == '\0');
  CHECK(keys[2] == 10 && strcmp(texts[2], states[0]) == 0);
  CHECK(keys[3] == 2147483647 && strcmp(texts[3], "Running") == 0);
  size = p.size;
  CHECK(size == (8 + 9 + 1) + (8 + 0 + 1) + (8 + 6 + 1) + (8 + 7 + 1));
  {
    /* The layout, read directly: key, length, bytes, NUL. */
    int32_t key, length;
    memcpy(&key, p.data, 4);
    memcpy(&length, p.data + 4, 4);
    CHECK(key == 0 && length == 9 && memcmp(p.data + 8, states[1], 9) == 0 && p.data[17] == 0);
  }
  memcpy(exact, buffer, size);
  sf_packed_free(&p); /* nothing of the library's to free: just zeroes */
  CHECK(packed_is_zeroed(&p));
  sf_packed_free(&p);
  sf_packed_free(NULL);

  /* Exactly the size fits; one byte less, and no buffer at all, get a block of the library's
   * (the read is not repeated) with the same bytes. */
  OK(sf_get_service_state_packed(ex, "pk", "chat", buffer, size, &p, &err));
  CHECK(p.data == buffer && p.allocated == NULL && p.size == size);
  sf_packed_free(&p);
  scribble_packed(&p);
  OK(sf_get_service_state_packed(ex, "pk", "chat", buffer, size - 1, &p, &err));
  CHECK(p.allocated != NULL && p.data == p.allocated && p.size == size && p.count == 4);
  CHECK(memcmp(p.data, exact, size) == 0);
  n = packed_walk(&p, keys, texts, lengths, 16);
  CHECK(n == 4 && strcmp(texts[2], states[0]) == 0);
  sf_packed_free(&p);
  CHECK(packed_is_zeroed(&p));
  sf_packed_free(&p); /* twice: harmless */
  OK(sf_get_service_state_packed(ex, "pk", "chat", NULL, 0, &p, &err));
  CHECK(p.allocated != NULL && p.size == size && memcmp(p.data, exact, size) == 0);
  sf_packed_free(&p);

  /* No states: 0 entries, also with no buffer. */
  scribble_packed(&p);
  OK(sf_get_service_state_packed(ex, "pk", "nothing", NULL, 0, &p, &err));
  CHECK(p.count == 0 && p.size == 0 && p.allocated == NULL);
  CHECK(packed_walk(&p, keys, texts, lengths, 16) == 0);
  sf_packed_free(&p);
  OK(sf_get_service_state_packed(ex, "pk", "nothing", buffer, sizeof buffer, &p, &err));
  CHECK(p.count == 0 && p.size == 0 && p.allocated == NULL);
  sf_packed_free(&p);

  /* Invalid arguments: *out zeroed. */
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(NULL, "pk", "chat", buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(ex, NULL, "chat", buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(ex, "pk", NULL, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(ex, "pk", "chat", NULL, 16, &p, &err));
  CHECK(packed_is_zeroed(&p));
  CHECK(strstr(err.message, "buffer") != NULL);
  INVALID(sf_get_service_state_packed(ex, "pk", "chat", buffer, sizeof buffer, NULL, &err));
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(ex, "p:k", "chat", buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_service_state_packed(ex, "pk", BAD_UTF8, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  CHECK(sf_get_service_state_packed(ex, "pk", "", NULL, 0, &p, NULL) == SF_INVALID_ARGUMENT);

  /* Corrupt data: not UTF-8, a NUL byte, another type. */
  {
    const char *argv[4] = {"HSET", "sf:{pk:state:corrupt}", "1", "\xff\xfe"};
    const char *argv_nul[4] = {"HSET", "sf:{pk:state:nul}", "1", "a\0b"};
    size_t lens_nul[4] = {4, 17, 1, 3};
    raw_commandv(&main_server, 4, argv, NULL, reply, sizeof reply);
    raw_commandv(&main_server, 4, argv_nul, lens_nul, reply, sizeof reply);
    scribble_packed(&p);
    FAILS(sf_get_service_state_packed(ex, "pk", "corrupt", buffer, sizeof buffer, &p, &err),
          SF_UNEXPECTED_REPLY);
    CHECK(packed_is_zeroed(&p));
    scribble_packed(&p);
    FAILS(sf_get_service_state_packed(ex, "pk", "nul", NULL, 0, &p, &err), SF_UNEXPECTED_REPLY);
    CHECK(packed_is_zeroed(&p));
    CHECK(strstr(err.message, "NUL") != NULL);
    raw(&main_server, reply, sizeof reply, "SET", "sf:{pk:state:wrongtype}", "x", NULL);
    scribble_packed(&p);
    FAILS(sf_get_service_state_packed(ex, "pk", "wrongtype", buffer, sizeof buffer, &p, &err),
          SF_UNEXPECTED_REPLY);
    CHECK(packed_is_zeroed(&p));
    CHECK(strstr(err.message, "WRONGTYPE") != NULL);
  }
}

static void test_packed_workload_states(void) {
  sf_error err;
  sf_packed p;
  unsigned char buffer[256];
  char *states[5];
  const char *services[5] = {"chat", "absent", "\xe8\xa7\x86\xe9\xa2\x91", "blank", "chat"};
  char reply[64];
  int32_t keys[8];
  const char *texts[8];
  size_t lengths[8], n, i;

  OK(sf_set_workload_state(ex, "pkw", "chat", "\xf0\x9f\x9a\x80" "Available", &err));
  OK(sf_set_workload_state(ex, "pkw", services[2], "\xe5\x8f\xaf\xe7\x94\xa8", &err));
  raw(&main_server, reply, sizeof reply, "SET", "sf:{pkw:workload:blank}", "", NULL);

  scribble_packed(&p);
  OK(sf_get_workload_states_packed(ex, "pkw", services, 5, buffer, sizeof buffer, &p, &err));
  CHECK(p.count == 5 && p.data == buffer && p.allocated == NULL);
  OK(sf_get_workload_states(ex, "pkw", services, 5, states, &err));
  n = packed_walk(&p, keys, texts, lengths, 8);
  CHECK(n == 5);
  for (i = 0; i < n; i++) {
    CHECK(keys[i] == (int32_t)i);
    CHECK((texts[i] == NULL) == (states[i] == NULL));
    CHECK(texts[i] == NULL || strcmp(texts[i], states[i]) == 0);
    sf_string_free(states[i]);
  }
  CHECK(texts[1] == NULL && lengths[1] == 0);          /* absent */
  CHECK(texts[3] != NULL && lengths[3] == 0);          /* an empty state */
  CHECK(strcmp(texts[4], "\xf0\x9f\x9a\x80" "Available") == 0);
  {
    /* An absent entry: its index, length -1, no bytes. */
    int32_t key, length;
    size_t at = 8 + 13 + 1;
    memcpy(&key, p.data + at, 4);
    memcpy(&length, p.data + at + 4, 4);
    CHECK(key == 1 && length == -1);
  }
  sf_packed_free(&p);

  /* Too small: the library's block, same entries. */
  OK(sf_get_workload_states_packed(ex, "pkw", services, 5, buffer, 20, &p, &err));
  CHECK(p.allocated != NULL && p.count == 5);
  n = packed_walk(&p, keys, texts, lengths, 8);
  CHECK(n == 5 && texts[1] == NULL && strcmp(texts[2], "\xe5\x8f\xaf\xe7\x94\xa8") == 0);
  sf_packed_free(&p);

  /* count == 0: 0 entries without touching Redis; services and buffer may be NULL. */
  scribble_packed(&p);
  OK(sf_get_workload_states_packed(ex, "pkw", NULL, 0, NULL, 0, &p, &err));
  CHECK(p.count == 0 && p.size == 0 && p.allocated == NULL);
  sf_packed_free(&p);
  scribble_packed(&p);
  INVALID(sf_get_workload_states_packed(ex, NULL, NULL, 0, NULL, 0, &p, &err));
  CHECK(packed_is_zeroed(&p));
  INVALID(sf_get_workload_states_packed(NULL, "pkw", NULL, 0, NULL, 0, &p, &err));
  INVALID(sf_get_workload_states_packed(ex, "pkw", NULL, 0, NULL, 0, NULL, &err));

  /* Invalid arguments. */
  scribble_packed(&p);
  INVALID(sf_get_workload_states_packed(ex, "pkw", NULL, 3, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  INVALID(sf_get_workload_states_packed(ex, "pkw", services, 3, NULL, 1, &p, &err));
  services[1] = NULL;
  scribble_packed(&p);
  INVALID(sf_get_workload_states_packed(ex, "pkw", services, 3, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  CHECK(strstr(err.message, "services[1]") != NULL);
  services[1] = "bad{name";
  INVALID(sf_get_workload_states_packed(ex, "pkw", services, 3, buffer, sizeof buffer, &p, &err));
  services[1] = BAD_UTF8;
  INVALID(sf_get_workload_states_packed(ex, "pkw", services, 3, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));

  /* Corrupt data in one entry: the whole call fails. */
  {
    const char *argv[3] = {"SET", "sf:{pkw:workload:corrupt}", "\xff"};
    const char *argv_nul[3] = {"SET", "sf:{pkw:workload:nul}", "a\0b"};
    size_t lens_nul[3] = {3, 21, 3};
    raw_commandv(&main_server, 3, argv, NULL, reply, sizeof reply);
    raw_commandv(&main_server, 3, argv_nul, lens_nul, reply, sizeof reply);
  }
  services[1] = "corrupt";
  scribble_packed(&p);
  FAILS(sf_get_workload_states_packed(ex, "pkw", services, 3, buffer, sizeof buffer, &p, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(packed_is_zeroed(&p));
  services[1] = "nul";
  scribble_packed(&p);
  FAILS(sf_get_workload_states_packed(ex, "pkw", services, 3, NULL, 0, &p, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(packed_is_zeroed(&p));
}

static void test_packed_link_services(void) {
  sf_error err;
  sf_packed p;
  sf_service_links *l = NULL;
  unsigned char buffer[256];
  char reply[64];
  int32_t pod, keys[8];
  const char *texts[8];
  size_t lengths[8], n, i;
  const char *uid = "user-\xf0\x9f\x9a\x80";

  OK(sf_set_linked_pod(ex, "pkl", uid, "video", 2, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "pkl", uid, "\xe8\x81\x8a\xe5\xa4\xa9", 1, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "pkl", uid, "audio", 0, -1, &pod, &err));
  OK(sf_set_linked_pod(ex, "pkl", uid, "temp", 8, 60, &pod, &err)); /* not listed */

  scribble_packed(&p);
  OK(sf_get_link_services_packed(ex, "pkl", uid, buffer, sizeof buffer, &p, &err));
  CHECK(p.count == 3 && p.data == buffer);
  OK(sf_get_link_services(ex, "pkl", uid, &l, &err));
  n = packed_walk(&p, keys, texts, lengths, 8);
  CHECK(n == 3 && n == sf_service_links_len(l));
  for (i = 0; i < n && i < sf_service_links_len(l); i++) {
    CHECK(keys[i] == sf_service_links_pod(l, i));
    CHECK(strcmp(texts[i], sf_service_links_service(l, i)) == 0);
  }
  sf_service_links_free(l);
  CHECK(strcmp(texts[0], "audio") == 0 && keys[0] == 0);
  CHECK(strcmp(texts[2], "\xe8\x81\x8a\xe5\xa4\xa9") == 0 && keys[2] == 1);
  sf_packed_free(&p);

  OK(sf_get_link_services_packed(ex, "pkl", uid, buffer, 8, &p, &err));
  CHECK(p.allocated != NULL && p.count == 3);
  n = packed_walk(&p, keys, texts, lengths, 8);
  CHECK(n == 3 && strcmp(texts[1], "video") == 0 && keys[1] == 2);
  sf_packed_free(&p);

  OK(sf_get_link_services_packed(ex, "pkl", "nobody", NULL, 0, &p, &err));
  CHECK(p.count == 0 && p.size == 0);
  sf_packed_free(&p);

  scribble_packed(&p);
  INVALID(sf_get_link_services_packed(NULL, "pkl", uid, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_link_services_packed(ex, NULL, uid, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  scribble_packed(&p);
  INVALID(sf_get_link_services_packed(ex, "pkl", NULL, buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));
  INVALID(sf_get_link_services_packed(ex, "pkl", uid, buffer, sizeof buffer, NULL, &err));
  INVALID(sf_get_link_services_packed(ex, "pkl", uid, NULL, 4, &p, &err));
  INVALID(sf_get_link_services_packed(ex, "pkl", "u{1}", buffer, sizeof buffer, &p, &err));
  CHECK(packed_is_zeroed(&p));

  raw(&main_server, reply, sizeof reply, "HSET", "sf:{pkl:lk:bad}", "chat", "x1", NULL);
  scribble_packed(&p);
  FAILS(sf_get_link_services_packed(ex, "pkl", "bad", buffer, sizeof buffer, &p, &err),
        SF_UNEXPECTED_REPLY);
  CHECK(packed_is_zeroed(&p));
  CHECK(strstr(err.message, "x1") != NULL);
}

/* sf_packed_next on odd input: NULLs, the end, a cursor past it, bytes that are not an entry. */
static void test_packed_next_edges(void) {
  sf_error err;
  sf_packed p;
  unsigned char buffer[64];
  size_t cursor = 0, length = 99;
  int32_t key = 42;
  const char *text = DUMMY_PTR;

  OK(sf_set_service_state(ex, "pkn", "chat", 3, "abc", &err));
  OK(sf_get_service_state_packed(ex, "pkn", "chat", buffer, sizeof buffer, &p, &err));
  CHECK(p.size == 12 && p.count == 1);

  CHECK(!sf_packed_next(NULL, &cursor, &key, &text, &length));
  CHECK(key == SF_NO_POD && text == NULL && length == 0);
  CHECK(!sf_packed_next(&p, NULL, &key, &text, &length));
  /* Outputs not wanted may be NULL. */
  CHECK(sf_packed_next(&p, &cursor, NULL, NULL, NULL) && cursor == 12);
  key = 42;
  text = DUMMY_PTR;
  length = 99;
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length)); /* the end */
  CHECK(key == SF_NO_POD && text == NULL && length == 0 && cursor == 12);
  cursor = 1000;
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length) && cursor == 1000);
  cursor = (size_t)-1;
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length));
  /* A length running past the end, or a missing NUL: not an entry. */
  cursor = 0;
  buffer[4] = 200;
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length) && cursor == 0);
  buffer[4] = 3;
  buffer[11] = 'x';
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length) && cursor == 0);
  buffer[11] = '\0';
  CHECK(sf_packed_next(&p, &cursor, &key, &text, &length));
  CHECK(key == 3 && strcmp(text, "abc") == 0 && length == 3);
  sf_packed_free(&p);
  CHECK(!sf_packed_next(&p, &cursor, &key, &text, &length)); /* zeroed: no entries */
}

/* Threads sharing one executor, each with its own buffer, spilling and not. */
static void *packed_worker(void *arg) {
  long failures = 0;
  int i;
  (void)arg;
  for (i = 0; i < 200; i++) {
    unsigned char buffer[64];
    sf_packed p;
    size_t cursor = 0, n = 0;
    const char *text;
    size_t capacity = (i % 2) ? sizeof buffer : 0;
    if (sf_get_service_state_packed(ex, "pkt", "chat", buffer, capacity, &p, NULL) != SF_OK) {
      failures++;
      continue;
    }
    while (sf_packed_next(&p, &cursor, NULL, &text, NULL)) {
      if (strcmp(text, "Running") != 0) failures++;
      n++;
    }
    if (n != 8) failures++;
    sf_packed_free(&p);
  }
  return (void *)failures;
}

static void test_packed_threads(void) {
  sf_error err;
  pthread_t threads[4];
  int i;
  for (i = 0; i < 8; i++) OK(sf_set_service_state(ex, "pkt", "chat", i, "Running", &err));
  for (i = 0; i < 4; i++) CHECK(pthread_create(&threads[i], NULL, packed_worker, NULL) == 0);
  for (i = 0; i < 4; i++) {
    void *failures = NULL;
    pthread_join(threads[i], &failures);
    CHECK(failures == NULL);
  }
}

/* A command that does not complete within the command timeout. */
static void test_timeout(void) {
  sf_error err;
  sf_executor *e2 = NULL;
  char reply[64];
  long long started, elapsed;
  OK(open_executor(main_url, 0, 300, 0, 0, &e2, &err));
  OK(sf_ping(e2, &err)); /* a pooled connection, ready before the pause */
  CHECK(raw(&main_server, reply, sizeof reply, "CLIENT", "PAUSE", "2500", "ALL", NULL) == '+');
  started = now_ms();
  FAILS(sf_ping(e2, &err), SF_TIMEOUT);
  elapsed = now_ms() - started;
  if (slow_factor() == 1) CHECK(elapsed >= 250 && elapsed < 2000);
  /* Wait out the pause; then the executor works again on a new connection. */
  while (now_ms() - started < 2600) sleep_ms(50);
  raw(&main_server, reply, sizeof reply, "PING", NULL);
  OK(sf_ping(e2, &err));
  sf_executor_close(e2);
}

struct ping_job {
  sf_executor *ex;
  sf_status status;
  sf_error err;
};

static void *ping_thread(void *arg) {
  struct ping_job *job = arg;
  job->status = sf_ping(job->ex, &job->err);
  return NULL;
}

/* No pooled connection becomes free within the pool wait timeout. */
static void test_pool_timeout(void) {
  sf_error err;
  sf_executor *e2 = NULL;
  char reply[64];
  struct ping_job jobs[2];
  pthread_t threads[2];
  long long started;
  int i, ok = 0, pool_timeouts = 0;
  /* One connection; a command timeout longer than the pause; a short pool wait. */
  OK(open_executor(main_url, 0, 5000, 300, 1, &e2, &err));
  OK(sf_ping(e2, &err));
  CHECK(raw(&main_server, reply, sizeof reply, "CLIENT", "PAUSE", "2000", "ALL", NULL) == '+');
  started = now_ms();
  for (i = 0; i < 2; i++) {
    jobs[i].ex = e2;
    pthread_create(&threads[i], NULL, ping_thread, &jobs[i]);
  }
  for (i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  /* One thread holds the only connection until the pause ends; the other gives up. */
  for (i = 0; i < 2; i++) {
    if (jobs[i].status == SF_OK) ok++;
    if (jobs[i].status == SF_POOL_TIMEOUT) {
      pool_timeouts++;
      CHECK(jobs[i].err.code == SF_POOL_TIMEOUT && jobs[i].err.message[0] != '\0');
    }
  }
  if (ok != 1 || pool_timeouts != 1)
    fprintf(stderr, "    statuses: %s (%s), %s (%s)\n", sf_status_name(jobs[0].status),
            jobs[0].err.message, sf_status_name(jobs[1].status), jobs[1].err.message);
  CHECK(ok == 1 && pool_timeouts == 1);
  while (now_ms() - started < 2100) sleep_ms(50);
  sf_executor_close(e2);
}

/* A server error: writes to a read-only replica are refused (READONLY), also after the core's
 * one retry on a fresh connection. */
static void test_readonly_replica(void) {
  sf_error err;
  server primary, replica;
  char url[64], port[16], info[4096];
  const char *replica_args[4];
  sf_executor *e2 = NULL;
  int32_t pod = 42;
  char *state = NULL;
  long long deadline;
  if (server_start(&primary, NULL) != 0) {
    CHECK(!"primary started");
    return;
  }
  snprintf(port, sizeof port, "%d", primary.port);
  replica_args[0] = "--replicaof";
  replica_args[1] = "127.0.0.1";
  replica_args[2] = port;
  replica_args[3] = NULL;
  if (server_start(&replica, replica_args) != 0) {
    CHECK(!"replica started");
    server_stop(&primary);
    return;
  }
  deadline = now_ms() + 10000LL * slow_factor();
  while (now_ms() < deadline) {
    raw(&replica, info, sizeof info, "INFO", "replication", NULL);
    if (strstr(info, "master_link_status:up") != NULL) break;
    sleep_ms(50);
  }
  CHECK(strstr(info, "master_link_status:up") != NULL);
  server_url(&primary, url, sizeof url);
  OK(open_executor(url, 0, 0, 0, 0, &e2, &err));
  OK(sf_set_workload_state(e2, "ro", "chat", "Available", &err));
  sf_executor_close(e2);

  server_url(&replica, url, sizeof url);
  OK(open_executor(url, 0, 0, 0, 0, &e2, &err));
  FAILS(sf_set_service_state(e2, "ro", "chat", 0, "Running", &err), SF_REDIS);
  CHECK(strstr(err.message, "read only replica") != NULL);
  FAILS(sf_set_workload_state(e2, "ro", "chat", "Down", &err), SF_REDIS);
  FAILS(sf_set_linked_pod(e2, "ro", "u", "chat", 1, -1, &pod, &err), SF_REDIS);
  CHECK(pod == SF_NO_POD);
  /* Reads work, and see the primary's data once replicated. */
  deadline = now_ms() + 5000LL * slow_factor();
  do {
    sf_string_free(state);
    state = NULL;
    OK(sf_get_workload_state(e2, "ro", "chat", &state, &err));
  } while (state == NULL && now_ms() < deadline && (sleep_ms(20), 1));
  CHECK(state != NULL && strcmp(state, "Available") == 0);
  sf_string_free(state);
  sf_executor_close(e2);
  server_stop(&replica);
  server_stop(&primary);
}

/* ---- one executor, 16 threads ---- */

#define THREADS 16
#define ROUNDS 12

struct worker {
  int id;
  int failures;
  int32_t shared_pod;
  pthread_barrier_t *barrier;
};

#define W_CHECK(cond)                                                                     \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      w->failures++;                                                                      \
      fprintf(stderr, "    thread %d round %d: %s failed (%s)\n", w->id, round, #cond,     \
              err.message);                                                               \
    }                                                                                     \
  } while (0)

static void *worker_main(void *arg) {
  struct worker *w = arg;
  sf_error err;
  int round = -1;
  char svc[32], uid[48], other[48], state[48];
  char *got = NULL;
  char *gots[2];
  const char *names[2];
  const char *uids[2];
  int32_t pod, current, pods[2];
  int32_t cpods[3];
  int64_t cloads[3];
  bool flag;
  sf_pod_states *s;
  sf_service_links *l;
  size_t i;
  int seen;

  /* Every thread races to link the same uid: exactly one pod wins and all see it. */
  pthread_barrier_wait(w->barrier);
  W_CHECK(sf_set_linked_pod_if_absent(ex, "mt", "shared-user", "chat", w->id, -1, &w->shared_pod,
                                      &err) == SF_OK);

  snprintf(svc, sizeof svc, "svc-%d", w->id);
  for (round = 0; round < ROUNDS; round++) {
    snprintf(uid, sizeof uid, "user-%d-%d", w->id, round);
    snprintf(other, sizeof other, "nobody-%d-%d", w->id, round);
    snprintf(state, sizeof state, "state-%d-%d", w->id, round);

    W_CHECK(sf_set_service_state(ex, "mt", "chat", w->id, state, &err) == SF_OK);
    s = NULL;
    W_CHECK(sf_get_service_state(ex, "mt", "chat", &s, &err) == SF_OK);
    seen = 0;
    for (i = 0; i < sf_pod_states_len(s); i++)
      if (sf_pod_states_pod(s, i) == w->id) seen = strcmp(sf_pod_states_state(s, i), state) == 0;
    W_CHECK(seen);
    sf_pod_states_free(s);

    W_CHECK(sf_set_workload_state(ex, "mt", svc, state, &err) == SF_OK);
    W_CHECK(sf_get_workload_state(ex, "mt", svc, &got, &err) == SF_OK);
    W_CHECK(got != NULL && strcmp(got, state) == 0);
    sf_string_free(got);
    names[0] = svc;
    names[1] = "never-set";
    W_CHECK(sf_get_workload_states(ex, "mt", names, 2, gots, &err) == SF_OK);
    W_CHECK(gots[0] != NULL && strcmp(gots[0], state) == 0 && gots[1] == NULL);
    sf_string_free(gots[0]);
    sf_string_free(gots[1]);

    W_CHECK(sf_set_linked_pod(ex, "mt", uid, "chat", w->id, -1, &pod, &err) == SF_OK);
    W_CHECK(pod == SF_NO_POD);
    W_CHECK(sf_set_linked_pod(ex, "mt", uid, "chat", w->id, -1, &pod, &err) == SF_OK);
    W_CHECK(pod == w->id);
    W_CHECK(sf_get_linked_pod(ex, "mt", uid, "chat", &pod, &err) == SF_OK && pod == w->id);
    W_CHECK(sf_try_set_linked_pod(ex, "mt", uid, "chat", w->id + 100, -1, &flag, &current,
                                  &err) == SF_OK);
    W_CHECK(!flag && current == w->id);
    W_CHECK(sf_set_linked_pod_if_absent(ex, "mt", uid, "chat", 999, 30, &current, &err) ==
            SF_OK);
    W_CHECK(current == w->id);
    cpods[0] = 1;
    cpods[1] = 2;
    cpods[2] = 3;
    cloads[0] = cloads[1] = cloads[2] = 0;
    W_CHECK(sf_compute_linked_pod(ex, "mt", uid, "chat", cpods, cloads, 3, -1, &pod, &err) ==
            SF_OK);
    W_CHECK(pod == w->id);
    W_CHECK(sf_compute_linked_pod(ex, "mt", other, "video", cpods, cloads, 3, 60, &pod, &err) ==
            SF_OK);
    W_CHECK(pod == 1);
    uids[0] = uid;
    uids[1] = other;
    W_CHECK(sf_batch_get_linked_pods(ex, "mt", "chat", uids, 2, pods, &err) == SF_OK);
    W_CHECK(pods[0] == w->id && pods[1] == SF_NO_POD);
    l = NULL;
    W_CHECK(sf_get_link_services(ex, "mt", uid, &l, &err) == SF_OK);
    W_CHECK(sf_service_links_len(l) == 1 && sf_service_links_pod(l, 0) == w->id &&
            strcmp(sf_service_links_service(l, 0), "chat") == 0);
    sf_service_links_free(l);
    W_CHECK(sf_get_linked_pod_if_persist(ex, "mt", uid, "chat", &pod, &err) == SF_OK &&
            pod == w->id);
    W_CHECK(sf_remove_linked_pod_with_id(ex, "mt", uid, "chat", -1, w->id + 1, &flag, &err) ==
                SF_OK &&
            !flag);
    W_CHECK(sf_remove_linked_pod_with_id(ex, "mt", uid, "chat", 30, w->id, &flag, &err) ==
                SF_OK &&
            flag);
    W_CHECK(sf_get_linked_pod_if_persist(ex, "mt", uid, "chat", &pod, &err) == SF_OK &&
            pod == SF_NO_POD);
    W_CHECK(sf_remove_linked_pod(ex, "mt", uid, "chat", 0, &flag, &err) == SF_OK && flag);
    W_CHECK(sf_get_linked_pod(ex, "mt", uid, "chat", &pod, &err) == SF_OK && pod == SF_NO_POD);
    W_CHECK(sf_ping(ex, &err) == SF_OK);
    /* A rejected call in the mix changes nothing for the others. */
    W_CHECK(sf_set_linked_pod(ex, "mt", "bad{uid}", "chat", 1, -1, &pod, &err) ==
            SF_INVALID_ARGUMENT);
  }
  return NULL;
}

static void test_threads_share_one_executor(void) {
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  pthread_barrier_t barrier;
  int i, total = 0;
  int32_t winner;
  pthread_barrier_init(&barrier, NULL, THREADS);
  for (i = 0; i < THREADS; i++) {
    workers[i].id = i;
    workers[i].failures = 0;
    workers[i].shared_pod = -7;
    workers[i].barrier = &barrier;
    CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
  }
  for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&barrier);
  winner = workers[0].shared_pod;
  CHECK(winner >= 0 && winner < THREADS);
  for (i = 0; i < THREADS; i++) {
    total += workers[i].failures;
    CHECK(workers[i].shared_pod == winner);
  }
  CHECK(get_pod("mt", "shared-user", "chat") == winner);
  CHECK(total == 0);
}

int main(void) {
  sf_error err;
  int code;
  atexit(servers_stop_all);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("C API tests, stateful-executor %s\n", sf_version());

  run_test("version_and_status_names", test_version_and_status_names);
  if (server_start(&main_server, NULL) != 0) {
    printf("cannot start redis-server\n0 passed, 1 failed\n");
    return 1;
  }
  server_url(&main_server, main_url, sizeof main_url);
  if (open_executor(main_url, 0, 0, 0, 0, &ex, &err) != SF_OK) {
    printf("cannot open the executor: %s\n0 passed, 1 failed\n", err.message);
    return 1;
  }
  run_test("config", test_config);
  run_test("topology_configs", test_topology_configs);
  run_test("open_close_ping", test_open_close_ping);
  run_test("close_releases_threads", test_close_releases_threads);
  run_test("close_while_a_connection_is_opening", test_close_while_a_connection_is_opening);
  run_test("closed_and_foreign_executors", test_closed_and_foreign_executors);
  run_test("stats", test_stats);
  run_test("stats_ext", test_stats_ext);
  run_test("client_cache", test_client_cache);
  run_test("revised_names", test_revised_names);
  run_test("logger", test_logger);
  run_test("logger_replaced_while_records_flow", test_logger_replaced_while_records_flow);
  run_test("connection_errors", test_connection_errors);
  run_test("auth", test_auth);
  run_test("service_states", test_service_states);
  run_test("workload_states", test_workload_states);
  run_test("links", test_links);
  run_test("link_services", test_link_services);
  run_test("link_invalid_arguments", test_link_invalid_arguments);
  run_test("batch", test_batch);
  run_test("execute_batch", test_execute_batch);
  run_test("touch_linked_pod", test_touch_linked_pod);
  run_test("compute", test_compute);
  run_test("corrupt_links", test_corrupt_links);
  run_test("packed_service_states", test_packed_service_states);
  run_test("packed_workload_states", test_packed_workload_states);
  run_test("packed_link_services", test_packed_link_services);
  run_test("packed_next_edges", test_packed_next_edges);
  run_test("packed_threads", test_packed_threads);
  run_test("timeout", test_timeout);
  run_test("pool_timeout", test_pool_timeout);
  run_test("readonly_replica", test_readonly_replica);
  run_test("threads_share_one_executor", test_threads_share_one_executor);

  sf_executor_close(ex);
  servers_stop_all();
  code = harness_summary();
  return code;
}
