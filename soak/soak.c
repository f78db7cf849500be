/*
 * Soak test of the C API (make soak): one million mixed calls from 16 threads sharing one
 * executor, against REDIS_URL (make soak starts a throwaway redis-server unless REDIS_URL is set;
 * the keys live under a namespace of their own, "soak-PID-TIME", and are left behind).
 *
 * Every result is checked, not only the status: each thread works on its own uids and services
 * and keeps a model of them, so a set then a get of the same uid returns that pod, a removal
 * reports whether the link existed, the persistent links of a uid are exactly those set, and so
 * on; all threads also race to link a few shared uids with set-if-absent and must all see the
 * same winner. Reports the throughput, the number of errors, and the resident memory (VmRSS) at
 * the start, after the warm-up (the first 10% of the calls) and at the end.
 *
 * Fails (exit code 1) on any error or when the resident memory grew by 1 MiB or more after the
 * warm-up. SOAK_OPS and SOAK_THREADS change the size (defaults 1000000 and 16).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stateful_executor.h"

#define MAX_THREADS 64
#define UIDS 64      /* per thread */
#define SERVICES 2   /* per thread: link services */
#define SHARED 8     /* uids all threads race for */
#define BATCH 8
#define TTL 3600     /* temporary links outlive the run */
#define MAX_GROWTH_KIB 1024

static char NS[64]; /* soak-PID-TIME: a fresh namespace, so that the models start empty */
static const char *const SERVICE_NAMES[SERVICES] = {"chat", "video"};

static sf_executor *ex;
static long ops_per_thread, warmup_per_thread;
static pthread_barrier_t warm_barrier, go_barrier;
static int32_t shared_winner[SHARED]; /* -1 until a thread saw the winner */
static long total_errors;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  fclose(f);
  return kib;
}

/* ---- one thread ---- */

struct link {
  bool exists, persistent;
  int32_t pod;
};

struct worker {
  int id;
  uint64_t rng;
  long errors, ops;
  char uids[UIDS][32];
  char state_service[32], workload_service[32];
  struct link links[UIDS][SERVICES];
  int32_t pod_state_version[8]; /* last version published per pod, -1 for none */
  int32_t workload_version;
};

static uint32_t next(struct worker *w) {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return (uint32_t)(w->rng >> 11);
}

static void error_at(struct worker *w, const char *what, const sf_error *err, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

static void error_at(struct worker *w, const char *what, const sf_error *err, const char *fmt,
                     ...) {
  va_list ap;
  w->errors++;
  pthread_mutex_lock(&report_lock);
  total_errors++;
  if (total_errors <= 20) {
    fprintf(stderr, "thread %d op %ld: %s: ", w->id, w->ops, what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (err != NULL && err->code != SF_OK)
      fprintf(stderr, " (%s: %s)", sf_status_name(err->code), err->message);
    fprintf(stderr, "\n");
  }
  pthread_mutex_unlock(&report_lock);
}

#define EXPECT(cond, what, ...)                              \
  do {                                                      \
    if (!(cond)) error_at(w, what, &err, __VA_ARGS__);      \
  } while (0)
#define CALL_OK(expr, what) EXPECT((expr) == SF_OK, what, "status not SF_OK")

static void link_written(struct link *l, int32_t pod, int32_t seconds) {
  l->exists = true;
  l->pod = pod;
  l->persistent = seconds == -1;
}

static void one_op(struct worker *w) {
  sf_error err;
  uint32_t r = next(w);
  int k = (int)(next(w) % UIDS), s = (int)(next(w) % SERVICES);
  const char *uid = w->uids[k], *svc = SERVICE_NAMES[s];
  struct link *l = &w->links[k][s];
  int32_t pod = (int32_t)(next(w) % 16), seconds = next(w) % 2 ? -1 : TTL, got = -7;
  bool flag = false;
  memset(&err, 0, sizeof err);
  switch (r % 16) {
    case 0:
    case 1: /* set, and the previous pod is the one set before */
      CALL_OK(sf_set_linked_pod(ex, NS, uid, svc, pod, seconds, &got, &err), "set_linked_pod");
      EXPECT(got == (l->exists ? l->pod : SF_NO_POD), "set_linked_pod", "previous %d, expected %d",
             got, l->exists ? l->pod : SF_NO_POD);
      link_written(l, pod, seconds);
      break;
    case 2:
    case 3: /* get: the pod this thread set */
      CALL_OK(sf_get_linked_pod(ex, NS, uid, svc, &got, &err), "get_linked_pod");
      EXPECT(got == (l->exists ? l->pod : SF_NO_POD), "get_linked_pod", "pod %d, expected %d", got,
             l->exists ? l->pod : SF_NO_POD);
      break;
    case 4: { /* try set: refused only by a persistent link to another pod */
      bool refuse = l->exists && l->persistent && l->pod != pod;
      CALL_OK(sf_try_set_linked_pod(ex, NS, uid, svc, pod, seconds, &flag, &got, &err),
              "try_set_linked_pod");
      EXPECT(flag == !refuse && got == (refuse ? l->pod : pod), "try_set_linked_pod",
             "(%d, %d), expected (%d, %d)", flag, got, !refuse, refuse ? l->pod : pod);
      if (!refuse) link_written(l, pod, seconds);
      break;
    }
    case 5: /* set if absent */
      CALL_OK(sf_set_linked_pod_if_absent(ex, NS, uid, svc, pod, seconds, &got, &err),
              "set_linked_pod_if_absent");
      EXPECT(got == (l->exists ? l->pod : pod), "set_linked_pod_if_absent", "pod %d, expected %d",
             got, l->exists ? l->pod : pod);
      if (!l->exists) link_written(l, pod, seconds);
      break;
    case 6: /* persistent only */
      CALL_OK(sf_get_linked_pod_if_persist(ex, NS, uid, svc, &got, &err),
              "get_linked_pod_if_persist");
      EXPECT(got == (l->exists && l->persistent ? l->pod : SF_NO_POD), "get_linked_pod_if_persist",
             "pod %d", got);
      break;
    case 7: { /* remove, deleting or keeping a temporary link */
      int32_t keep = next(w) % 2 ? 0 : TTL;
      CALL_OK(sf_remove_linked_pod(ex, NS, uid, svc, keep, &flag, &err), "remove_linked_pod");
      EXPECT(flag == l->exists, "remove_linked_pod", "removed %d, expected %d", flag, l->exists);
      if (l->exists && keep > 0)
        link_written(l, l->pod, keep);
      else
        l->exists = false;
      break;
    }
    case 8: { /* remove with id: only when it points to that pod */
      bool match = l->exists && l->pod == pod;
      CALL_OK(sf_remove_linked_pod_with_id(ex, NS, uid, svc, 0, pod, &flag, &err),
              "remove_linked_pod_with_id");
      EXPECT(flag == match, "remove_linked_pod_with_id", "removed %d, expected %d", flag, match);
      if (match) l->exists = false;
      break;
    }
    case 9: { /* batch of this thread's uids */
      const char *uids[BATCH];
      int32_t pods[BATCH];
      int i, first = (int)(next(w) % (UIDS - BATCH));
      for (i = 0; i < BATCH; i++) uids[i] = w->uids[first + i];
      CALL_OK(sf_batch_get_linked_pods(ex, NS, svc, uids, BATCH, pods, &err), "batch_get");
      for (i = 0; i < BATCH; i++) {
        const struct link *m = &w->links[first + i][s];
        EXPECT(pods[i] == (m->exists ? m->pod : SF_NO_POD), "batch_get", "pods[%d] = %d", i,
               pods[i]);
      }
      break;
    }
    case 10: { /* the persistent links of a uid */
      sf_service_links *links = NULL;
      size_t i, expected = 0;
      CALL_OK(sf_get_link_services(ex, NS, uid, &links, &err), "get_link_services");
      for (i = 0; i < SERVICES; i++) expected += w->links[k][i].exists && w->links[k][i].persistent;
      EXPECT(sf_service_links_len(links) == expected, "get_link_services", "%zu entries, expected %zu",
             sf_service_links_len(links), expected);
      for (i = 0; i < sf_service_links_len(links); i++) {
        const char *name = sf_service_links_service(links, i);
        int j = name != NULL && strcmp(name, SERVICE_NAMES[1]) == 0;
        const struct link *m = &w->links[k][j];
        EXPECT(name != NULL && strcmp(name, SERVICE_NAMES[j]) == 0 && m->exists && m->persistent &&
                   sf_service_links_pod(links, i) == m->pod,
               "get_link_services", "entry %zu (%s, %d)", i, name ? name : "(null)",
               sf_service_links_pod(links, i));
      }
      sf_service_links_free(links);
      break;
    }
    case 11: { /* compute: the existing link, else the least-loaded candidate */
      int32_t cpods[3];
      int64_t loads[3];
      int i, best = 0;
      for (i = 0; i < 3; i++) {
        cpods[i] = (int32_t)(next(w) % 16);
        loads[i] = (int64_t)(next(w) % 5);
        if (loads[i] < loads[best] || (loads[i] == loads[best] && cpods[i] < cpods[best])) best = i;
      }
      CALL_OK(sf_compute_linked_pod(ex, NS, uid, svc, cpods, loads, 3, seconds, &got, &err),
              "compute_linked_pod");
      EXPECT(got == (l->exists ? l->pod : cpods[best]), "compute_linked_pod", "pod %d", got);
      if (!l->exists) link_written(l, cpods[best], seconds);
      break;
    }
    case 12: { /* pod states: publish, read back */
      sf_pod_states *states = NULL;
      char state[32];
      int p = (int)(next(w) % 8);
      size_t i;
      int found = 0;
      w->pod_state_version[p]++;
      snprintf(state, sizeof state, "v%d", w->pod_state_version[p]);
      CALL_OK(sf_set_service_state(ex, NS, w->state_service, p, state, &err), "set_service_state");
      CALL_OK(sf_get_service_state(ex, NS, w->state_service, &states, &err), "get_service_state");
      for (i = 0; i < sf_pod_states_len(states); i++) {
        int32_t q = sf_pod_states_pod(states, i);
        char want[32];
        snprintf(want, sizeof want, "v%d", q >= 0 && q < 8 ? w->pod_state_version[q] : -99);
        EXPECT(q >= 0 && q < 8 && strcmp(sf_pod_states_state(states, i), want) == 0,
               "get_service_state", "pod %d: %s, expected %s", q, sf_pod_states_state(states, i),
               want);
        found += q == p;
      }
      EXPECT(found == 1, "get_service_state", "pod %d not listed", p);
      sf_pod_states_free(states);
      w->ops++; /* two calls */
      break;
    }
    case 13: { /* workload states: publish and read back several, or read one */
      char state[32], *one = NULL, *several[2] = {NULL, NULL};
      const char *names[2];
      names[0] = w->workload_service;
      names[1] = "never-published";
      if (next(w) % 2) {
        snprintf(state, sizeof state, "w%d", ++w->workload_version);
        CALL_OK(sf_set_workload_state(ex, NS, w->workload_service, state, &err),
                "set_workload_state");
        CALL_OK(sf_get_workload_states(ex, NS, names, 2, several, &err), "get_workload_states");
        EXPECT(several[0] != NULL && strcmp(several[0], state) == 0 && several[1] == NULL,
               "get_workload_states", "%s, expected %s", several[0] ? several[0] : "(none)",
               state);
        sf_string_free(several[0]);
        sf_string_free(several[1]);
        w->ops++; /* two calls */
      } else {
        snprintf(state, sizeof state, "w%d", w->workload_version);
        CALL_OK(sf_get_workload_state(ex, NS, w->workload_service, &one, &err),
                "get_workload_state");
        EXPECT(w->workload_version == 0 ? one == NULL : one != NULL && strcmp(one, state) == 0,
               "get_workload_state", "%s, expected %s", one ? one : "(none)", state);
        sf_string_free(one);
      }
      break;
    }
    case 14: { /* shared uids: every thread sees the same winner */
      int i = (int)(next(w) % SHARED);
      char shared_uid[16];
      int32_t expected = -1;
      snprintf(shared_uid, sizeof shared_uid, "shared-%d", i);
      CALL_OK(sf_set_linked_pod_if_absent(ex, NS, shared_uid, "chat", w->id, -1, &got, &err),
              "shared set_if_absent");
      if (!__atomic_compare_exchange_n(&shared_winner[i], &expected, got, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST))
        EXPECT(expected == got, "shared set_if_absent", "winner %d, another thread saw %d", got,
               expected);
      break;
    }
    default: /* a rejected call, mixed in */
      EXPECT(sf_set_linked_pod(ex, NS, "bad{uid}", svc, pod, -1, &got, &err) ==
                 SF_INVALID_ARGUMENT &&
                 got == SF_NO_POD,
             "rejected call", "bad uid not rejected");
      if (next(w) % 4 == 0) CALL_OK(sf_ping(ex, &err), "ping");
      break;
  }
  w->ops++;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  while (w->ops < warmup_per_thread) one_op(w);
  pthread_barrier_wait(&warm_barrier);
  pthread_barrier_wait(&go_barrier);
  while (w->ops < ops_per_thread) one_op(w);
  return NULL;
}

static long env_long(const char *name, long fallback) {
  const char *value = getenv(name);
  return value != NULL && value[0] != '\0' ? strtol(value, NULL, 10) : fallback;
}

int main(void) {
  const char *url = getenv("REDIS_URL");
  static struct worker workers[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  long total_ops, threads_n = env_long("SOAK_THREADS", 16), rss_start, rss_warm, rss_end;
  long calls = 0, warm_calls = 0;
  double t0, t_go, t_end;
  sf_config *cfg = NULL;
  sf_error err;
  int i, failed = 0;

  total_ops = env_long("SOAK_OPS", 1000000);
  if (url == NULL || threads_n < 1 || threads_n > MAX_THREADS || total_ops < threads_n * 100) {
    fprintf(stderr, "soak: set REDIS_URL; SOAK_THREADS 1..%d; SOAK_OPS >= 100 per thread\n",
            MAX_THREADS);
    return 2;
  }
  if (sf_config_new(url, &cfg, &err) != SF_OK || sf_executor_open(cfg, &ex, &err) != SF_OK) {
    fprintf(stderr, "soak: cannot open an executor on %s: %s\n", url, err.message);
    return 2;
  }
  sf_config_free(cfg);
  snprintf(NS, sizeof NS, "soak-%ld-%ld", (long)getpid(), (long)time(NULL));
  for (i = 0; i < SHARED; i++) shared_winner[i] = -1;
  ops_per_thread = total_ops / threads_n;
  warmup_per_thread = ops_per_thread / 10;
  pthread_barrier_init(&warm_barrier, NULL, (unsigned)threads_n + 1);
  pthread_barrier_init(&go_barrier, NULL, (unsigned)threads_n + 1);

  printf("soak: %ld calls from %ld threads on one executor (%s, namespace %s), warm-up %ld "
         "calls\n",
         ops_per_thread * threads_n, threads_n, url, NS, warmup_per_thread * threads_n);
  rss_start = rss_kib();
  t0 = now_s();
  for (i = 0; i < threads_n; i++) {
    struct worker *w = &workers[i];
    int k;
    w->id = i;
    w->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
    for (k = 0; k < UIDS; k++) snprintf(w->uids[k], sizeof w->uids[k], "t%d-u%d", i, k);
    snprintf(w->state_service, sizeof w->state_service, "states-%d", i);
    snprintf(w->workload_service, sizeof w->workload_service, "workload-%d", i);
    for (k = 0; k < 8; k++) w->pod_state_version[k] = 0;
    if (pthread_create(&threads[i], NULL, worker_main, w) != 0) {
      fprintf(stderr, "soak: pthread_create failed\n");
      return 2;
    }
  }
  pthread_barrier_wait(&warm_barrier); /* every thread has done its warm-up */
  rss_warm = rss_kib();
  for (i = 0; i < threads_n; i++) warm_calls += workers[i].ops;
  pthread_barrier_wait(&go_barrier);
  t_go = now_s();
  for (i = 0; i < threads_n; i++) pthread_join(threads[i], NULL);
  t_end = now_s();
  rss_end = rss_kib();
  for (i = 0; i < threads_n; i++) calls += workers[i].ops;

  printf("calls:       %ld (%ld after the warm-up)\n", calls, calls - warm_calls);
  printf("time:        %.2f s (%.2f s after the warm-up)\n", t_end - t0, t_end - t_go);
  printf("throughput:  %.0f calls/s overall, %.0f calls/s after the warm-up\n",
         calls / (t_end - t0), (calls - warm_calls) / (t_end - t_go));
  printf("errors:      %ld\n", total_errors);
  printf("VmRSS:       start %ld KiB, after warm-up %ld KiB, end %ld KiB (growth after warm-up "
         "%+ld KiB, limit %d KiB)\n",
         rss_start, rss_warm, rss_end, rss_end - rss_warm, MAX_GROWTH_KIB);
  sf_executor_close(ex);
  if (total_errors != 0) {
    printf("soak: FAILED: %ld errors\n", total_errors);
    failed = 1;
  }
  if (rss_warm < 0 || rss_end - rss_warm >= MAX_GROWTH_KIB) {
    printf("soak: FAILED: resident memory grew by %ld KiB after the warm-up\n",
           rss_end - rss_warm);
    failed = 1;
  }
  if (!failed) printf("soak: ok\n");
  return failed;
}
