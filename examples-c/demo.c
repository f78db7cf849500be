/*
 * A gateway in front of a stateful chat service, in C99 through the public header, against the
 * Redis at $REDIS_URL (the same scenario as examples/demo.rs).
 *
 * Pods publish their states, users are linked to the least-loaded running pod, reconnects
 * stick, a pod drains and its users are released with a grace period, and a batch lookup shows
 * where everyone is. The library's warnings go to stderr through sf_set_logger, and the
 * executor's statistics are printed at the end. Run with `make demo` (static build:
 * `make demo-static`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateful_executor.h"

#define NS "demo"
#define SERVICE "chat"
#define USERS 6
#define MAX_PODS 64

/* Every call passes &err; on failure the demo stops with the status and message. */
#define TRY(call)                                                                          \
  do {                                                                                     \
    sf_status status_ = (call);                                                            \
    if (status_ != SF_OK) {                                                                \
      fprintf(stderr, "demo failed: %s: %s\n", sf_status_name(status_), err.message);    \
      goto done;                                                                           \
    }                                                                                      \
  } while (0)

static const char *const users[USERS + 1] = {"user-1", "user-2", "user-3", "user-4",
                                             "user-5", "user-6", "user-7"};

/* A pod for printing: its ordinal, or "none". */
static const char *show(int32_t pod, char *buf, size_t size) {
  if (pod == SF_NO_POD) return "none";
  snprintf(buf, size, "%d", (int)pod);
  return buf;
}

/* Candidates for a new user: running pods, loaded by how many of the first USERS users each
 * serves. Fills pods/loads and returns the status; *count receives the number of candidates. */
static sf_status running_candidates(sf_executor *ex, int32_t *pods, int64_t *loads,
                                    size_t *count, sf_error *err) {
  sf_pod_states *states = NULL;
  int32_t placed[USERS];
  size_t i, u;
  sf_status status = sf_get_service_state(ex, NS, SERVICE, &states, err);
  *count = 0;
  if (status != SF_OK) return status;
  status = sf_batch_get_linked_pods(ex, NS, SERVICE, users, USERS, placed, err);
  if (status == SF_OK) {
    for (i = 0; i < sf_pod_states_len(states) && *count < MAX_PODS; i++) {
      int32_t pod = sf_pod_states_pod(states, i);
      if (strcmp(sf_pod_states_state(states, i), "Running") != 0) continue;
      pods[*count] = pod;
      loads[*count] = 0;
      for (u = 0; u < USERS; u++)
        if (placed[u] == pod) loads[*count]++;
      (*count)++;
    }
  }
  sf_pod_states_free(states);
  return status;
}

/* The library's log records (retries, reloaded scripts, dropped connections) on stderr. */
static void log_to_stderr(void *user_data, int32_t level, const char *target,
                          const char *message) {
  static const char *const names[] = {"?", "error", "warn", "info", "debug", "trace"};
  (void)user_data;
  fprintf(stderr, "[%s] %s: %s\n", names[level >= 1 && level <= 5 ? level : 0], target, message);
}

static int run(const char *url) {
  sf_error err;
  sf_config *cfg = NULL;
  sf_executor *ex = NULL;
  sf_pod_states *states = NULL;
  sf_service_links *links = NULL;
  char *workload = NULL;
  int32_t pods[MAX_PODS], all_pods[USERS + 1], pod;
  int64_t loads[MAX_PODS];
  size_t count, i;
  bool removed, linked;
  char b1[16], b2[16];
  sf_stats stats;
  int ok = 0;

  TRY(sf_set_logger(log_to_stderr, NULL, SF_LOG_WARN, &err));
  TRY(sf_config_new(url, &cfg, &err));
  TRY(sf_executor_open(cfg, &ex, &err));
  TRY(sf_ping(ex, &err));
  printf("== gateway connected (stateful-executor %s)\n", sf_version());
  /* Start from a clean slate when run twice against the same Redis. */
  for (i = 0; i < USERS + 1; i++)
    TRY(sf_remove_linked_pod(ex, NS, users[i], SERVICE, -1, &removed, &err));

  printf("\n== pods of %s/%s publish their states\n", NS, SERVICE);
  for (pod = 0; pod < 3; pod++) TRY(sf_set_service_state(ex, NS, SERVICE, pod, "Running", &err));
  TRY(sf_set_workload_state(ex, NS, SERVICE, "Available", &err));
  TRY(sf_get_service_state(ex, NS, SERVICE, &states, &err));
  for (i = 0; i < sf_pod_states_len(states); i++)
    printf("   pod %d: %s\n", (int)sf_pod_states_pod(states, i), sf_pod_states_state(states, i));
  TRY(sf_get_workload_state(ex, NS, SERVICE, &workload, &err));
  printf("   workload: %s\n", workload != NULL ? workload : "");

  printf("\n== users connect and go to the least-loaded running pod\n");
  for (i = 0; i < USERS; i++) {
    TRY(running_candidates(ex, pods, loads, &count, &err));
    TRY(sf_compute_linked_pod(ex, NS, users[i], SERVICE, pods, loads, count, -1, &pod, &err));
    printf("   %s -> pod %s\n", users[i], show(pod, b1, sizeof b1));
  }

  printf("\n== user-1 reconnects: the link sticks\n");
  TRY(running_candidates(ex, pods, loads, &count, &err));
  TRY(sf_compute_linked_pod(ex, NS, "user-1", SERVICE, pods, loads, count, -1, &pod, &err));
  printf("   user-1 -> pod %s (unchanged)\n", show(pod, b1, sizeof b1));
  TRY(sf_get_link_services(ex, NS, "user-1", &links, &err));
  printf("   user-1's persistent links:");
  for (i = 0; i < sf_service_links_len(links); i++)
    printf(" %s -> pod %d", sf_service_links_service(links, i),
           (int)sf_service_links_pod(links, i));
  printf("\n");

  printf("\n== pod 2 drains: its users are released with a 30 s grace period\n");
  TRY(sf_set_service_state(ex, NS, SERVICE, 2, "Draining", &err));
  TRY(sf_batch_get_linked_pods(ex, NS, SERVICE, users, USERS, all_pods, &err));
  for (i = 0; i < USERS; i++) {
    int32_t now, persistent;
    if (all_pods[i] != 2) continue;
    TRY(sf_remove_linked_pod_with_id(ex, NS, users[i], SERVICE, 30, 2, &removed, &err));
    TRY(sf_get_linked_pod(ex, NS, users[i], SERVICE, &now, &err));
    TRY(sf_get_linked_pod_if_persist(ex, NS, users[i], SERVICE, &persistent, &err));
    printf("   %s: released=%s; still on pod %s for the grace period, persistent now: %s\n",
           users[i], removed ? "true" : "false", show(now, b1, sizeof b1),
           show(persistent, b2, sizeof b2));
  }

  printf("\n== a new user cannot land on the draining pod\n");
  TRY(running_candidates(ex, pods, loads, &count, &err));
  TRY(sf_compute_linked_pod(ex, NS, "user-7", SERVICE, pods, loads, count, 600, &pod, &err));
  printf("   user-7 -> pod %s (temporary link, 600 s)\n", show(pod, b1, sizeof b1));

  printf("\n== another gateway tries to move user-1, but its persistent link wins\n");
  TRY(sf_try_set_linked_pod(ex, NS, "user-1", SERVICE, 1, -1, &linked, &pod, &err));
  printf("   linked=%s current pod %d\n", linked ? "true" : "false", (int)pod);

  printf("\n== batch lookup of every user\n");
  TRY(sf_batch_get_linked_pods(ex, NS, SERVICE, users, USERS + 1, all_pods, &err));
  {
    /* Group by pod, in pod order ("none" first), users in input order. */
    int32_t last = SF_NO_POD - 1;
    for (;;) {
      int32_t next = last;
      int printed = 0;
      for (i = 0; i < USERS + 1; i++)
        if (all_pods[i] > last && (next == last || all_pods[i] < next)) next = all_pods[i];
      if (next == last) break;
      for (i = 0; i < USERS + 1; i++) {
        if (all_pods[i] != next) continue;
        if (printed)
          printf(", %s", users[i]);
        else
          printf("   pod %s: %s", show(next, b1, sizeof b1), users[i]);
        printed = 1;
      }
      printf("\n");
      last = next;
    }
  }
  TRY(sf_executor_stats(ex, &stats, &err));
  printf("\n== statistics: %llu calls, %llu failed, %llu retried, %u connections (%u idle)\n",
         (unsigned long long)stats.calls, (unsigned long long)stats.failed_calls,
         (unsigned long long)stats.retries, stats.connections, stats.idle_connections);
  printf("\ndone\n");
  ok = 1;

done:
  sf_string_free(workload);
  sf_service_links_free(links);
  sf_pod_states_free(states);
  sf_executor_close(ex);
  sf_config_free(cfg);
  return ok;
}

int main(void) {
  const char *url = getenv("REDIS_URL");
  if (url == NULL || url[0] == '\0') url = "redis://127.0.0.1:6379";
  return run(url) ? EXIT_SUCCESS : EXIT_FAILURE;
}
